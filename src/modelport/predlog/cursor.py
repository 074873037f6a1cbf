"""The Parquet log read incrementally (the Parquet ``LogCursor``).

Rollout analysis looks at a step's rows every second and ``logs tail --follow`` prints
rows as they are written; re-reading the log each time would make the cost grow with
traffic. A :class:`ParquetCursor` remembers which segments it has consumed and reads
only new ones, so a row is returned once however late it is written: a shadow copy
carries its request's arrival time but often lands in a later segment than newer rows.

Segments a cursor never opens:

* with ``since``, those last written before ``since`` (a segment is written after its
  rows arrived, so it holds no row of ``ts >= since``); rows are filtered by ``ts`` too;
* without ``since``, those present when it opened ("from now on"), except that its first
  read returns the newest ``last`` rows of them.

Compaction replaces segments by one merged file that names them. A merged file whose
segments were all consumed holds nothing new and is not read. One that also holds
segments the cursor never saw (written and merged between two reads) is read, and the
rows already returned are recognised by their key and dropped; rows of segments it
skipped unread (present at opening, or written before ``since``) cannot be told apart
then, and a cursor without ``since`` returns them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.predlog import columns as col
from modelport.predlog.compaction import replaced_segments
from modelport.predlog.reader import WindowSpec
from modelport.predlog.tables import concat
from modelport.predlog.window import ParquetWindow

logger = logging.getLogger(__name__)

# A row of the log, whoever answered it: a request's row by each version and role.
ROW_KEY = [col.REQUEST_ID, col.ROW, col.ROLE, col.VERSION]
# File times and request times come from the same clock, but allow for coarse mtimes.
MTIME_SLACK_S = 2.0
_POSITION = "__position"


class ParquetCursor:
    """Rows of the segments ``segments()`` lists, as they are written.

    ``columns`` None reads every column. ``present`` (without ``since``) is the listing
    taken when the cursor opened; default: ``segments()`` now.
    """

    def __init__(
        self,
        segments: Callable[[], list[Path]],
        since: datetime | None = None,
        columns: Sequence[str] | None = None,
        roles: Collection[str] | None = None,
        *,
        present: list[Path] | None = None,
        last: int | None = None,
    ) -> None:
        if since is not None and (present is not None or last is not None):
            raise ValueError("a cursor starts either at a moment (since) or now (present, last)")
        self._segments = segments
        self.since = since
        self.columns = (
            None if columns is None else list(dict.fromkeys([*ROW_KEY, *columns, col.TS]))
        )
        self.roles = None if roles is None else frozenset(str(r) for r in roles)
        self.skipped: list[tuple[str, str]] = []
        self._consumed: set[Path] = set()
        self._parts: list[pa.Table] = []
        self._rows: pa.Table | None = None
        self._first: pa.Table | None = None
        if since is None:
            present = segments() if present is None else present
            for path in present:
                self._consume(path)
            if last is not None:
                window = ParquetWindow(present, WindowSpec(last=last), roles=self.roles)
                self._first = window.table(self.columns)
                self.skipped.extend(window.skipped)

    def read(self) -> pa.Table:
        """Rows written since the last ``read`` (or ``rows``), each row once, in the
        order they were written."""
        fresh = [] if self._first is None else [self._first]
        self._first = None
        merged_new = False
        for path in self._segments():
            if path in self._consumed:
                continue
            if self.since is not None:
                written = _mtime(path)
                if written is None:  # removed by compaction meanwhile
                    continue
                if written < self.since.timestamp() - MTIME_SLACK_S:
                    self._consume(path)
                    continue
            replaced = replaced_segments(path)
            if replaced and replaced <= self._consumed:
                self._consume(path)  # every row of it was seen already
                continue
            try:
                part = self._read_one(path)
            except FileNotFoundError:
                continue  # merged meanwhile: its rows come with the merged file
            self._consume(path)
            merged_new = merged_new or bool(replaced)
            if part is not None and part.num_rows:
                fresh.append(part)
        table = _concat(fresh, self.columns)
        if merged_new and table.num_rows and self._parts:
            table = _unseen(table, self._returned().select(ROW_KEY))
        if table.num_rows:
            self._parts.append(table)
            self._rows = None
        return table

    def rows(self) -> pa.Table:
        """Every row the cursor has returned, after reading what is new."""
        self.read()
        return self._returned()

    def _returned(self) -> pa.Table:
        if self._rows is None:
            self._rows = _concat(self._parts, self.columns)
            self._parts = [self._rows] if self._rows.num_rows else []
        return self._rows

    def _consume(self, path: Path) -> None:
        self._consumed.add(path)
        self._consumed.update(replaced_segments(path))

    def _read_one(self, path: Path) -> pa.Table | None:
        """The segment's rows of the cursor (None if it cannot be read; a file removed
        meanwhile raises FileNotFoundError)."""
        try:
            if self.columns is None:
                table = pq.read_table(path)
            else:
                available = set(pq.read_schema(path).names)
                table = pq.read_table(path, columns=[c for c in self.columns if c in available])
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as exc:
            logger.warning("skipping unreadable log segment %s: %s", path, exc)
            self.skipped.append((str(path), str(exc)))
            return None
        mask = None
        if self.since is not None:
            mask = pc.greater_equal(table[col.TS], pa.scalar(self.since, col.TIMESTAMP))
        if self.roles is not None:
            allowed = pa.array(sorted(self.roles), pa.string())
            in_roles = pc.is_in(table[col.ROLE], value_set=allowed)
            mask = in_roles if mask is None else pc.and_(mask, in_roles)
        return table if mask is None else table.filter(mask)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _unseen(fresh: pa.Table, seen: pa.Table) -> pa.Table:
    """``fresh`` without the rows whose key is in ``seen``, in their order."""
    probe = fresh.select(ROW_KEY).append_column(
        _POSITION, pa.array(np.arange(fresh.num_rows, dtype=np.int64))
    )
    kept = probe.join(seen, keys=ROW_KEY, join_type="left anti")
    return fresh.take(np.sort(kept[_POSITION].to_numpy()))


def _concat(parts: list[pa.Table], columns: list[str] | None) -> pa.Table:
    """Parts as one table with every column (absent ones as typed nulls)."""
    if not parts:
        return col.empty_table(col.META if columns is None else columns)
    joined = concat(parts)
    if columns is None:
        return joined
    for name in columns:
        if name not in joined.column_names:
            joined = joined.append_column(name, pa.nulls(joined.num_rows, col.column_type(name)))
    return joined.select(columns)
