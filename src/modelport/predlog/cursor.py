"""The Parquet log since a moment, read incrementally (the Parquet ``LogCursor``).

Rollout analysis looks at a step's evidence every second; re-reading the whole window
each time would make its cost grow with traffic and steal the primary's CPU. A
:class:`ParquetCursor` remembers which segments it has read and reads only new ones.
Segments last written before the cursor's start cannot hold its rows (a segment is
written after its rows arrived), so they are never opened. When compaction replaces
segments already read by a merged file, rows read before are recognised by their key
and returned once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.predlog import columns as col
from modelport.predlog.tables import concat

logger = logging.getLogger(__name__)

# A row of the log, whoever answered it: a request's row by each version and role.
ROW_KEY = [col.REQUEST_ID, col.ROW, col.ROLE, col.VERSION]
# File times and request times come from the same clock, but allow for coarse mtimes.
MTIME_SLACK_S = 2.0


class ParquetCursor:
    def __init__(
        self,
        segments: Callable[[], list[Path]],
        since: datetime,
        columns: Sequence[str],
        roles: Collection[str] | None = None,
    ) -> None:
        self._segments = segments
        self.since = since
        self.columns = list(dict.fromkeys([*ROW_KEY, *columns, col.TS]))
        self.roles = None if roles is None else pa.array(sorted(str(r) for r in roles))
        self.skipped: list[tuple[str, str]] = []
        self._read: set[Path] = set()
        self._old: set[Path] = set()  # written before the cursor's start: never needed
        self._parts: list[pa.Table] = []
        self._rows: pa.Table | None = None

    def read(self) -> pa.Table:
        listed = [path for path in self._segments() if path not in self._old and self._recent(path)]
        new = [path for path in listed if path not in self._read]
        replaced = bool(self._read - set(listed))
        parts = []
        for path in new:
            part = self._read_one(path)
            self._read.add(path)
            if part is not None and part.num_rows:
                parts.append(part)
        self._read &= set(listed)
        fresh = _concat(parts, self.columns)
        if replaced and fresh.num_rows and self._parts:
            # A merged file repeats rows of segments read before it replaced them.
            fresh = fresh.join(
                self.rows().select(ROW_KEY), keys=ROW_KEY, join_type="left anti"
            ).select(self.columns)
        if fresh.num_rows:
            self._parts.append(fresh)
            self._rows = None
        return fresh

    def rows(self) -> pa.Table:
        if self._rows is None:
            self._rows = _concat(self._parts, self.columns)
            self._parts = [self._rows] if self._rows.num_rows else []
        return self._rows

    def _recent(self, path: Path) -> bool:
        try:
            recent = path.stat().st_mtime >= self.since.timestamp() - MTIME_SLACK_S
        except OSError:  # removed by compaction meanwhile
            return False
        if not recent:
            self._old.add(path)
        return recent

    def _read_one(self, path: Path) -> pa.Table | None:
        try:
            available = set(pq.read_schema(path).names)
            table = pq.read_table(path, columns=[c for c in self.columns if c in available])
        except (pa.ArrowException, OSError) as exc:
            logger.warning("skipping unreadable log segment %s: %s", path, exc)
            self.skipped.append((str(path), str(exc)))
            return None
        mask = pc.greater_equal(table[col.TS], pa.scalar(self.since, col.TIMESTAMP))
        if self.roles is not None:
            mask = pc.and_(mask, pc.is_in(table[col.ROLE], value_set=self.roles))
        return table.filter(mask)


def _concat(parts: list[pa.Table], columns: list[str]) -> pa.Table:
    """Parts as one table with every column (absent ones as typed nulls)."""
    if not parts:
        return col.empty_table(columns)
    joined = concat(parts)
    for name in columns:
        if name not in joined.column_names:
            joined = joined.append_column(name, pa.nulls(joined.num_rows, col.column_type(name)))
    return joined.select(columns)
