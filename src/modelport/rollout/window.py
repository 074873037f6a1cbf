"""The prediction log since a moment, read incrementally.

The controller looks at a step's evidence every second; re-reading the whole window
each time would make analysis cost grow with traffic and steal the primary's CPU. A
``LogWindow`` remembers which segments it has read and reads only new ones. Segments
last written before the window opened cannot hold rows of it (a segment is written after
its rows arrived), so they are never opened. When compaction replaces segments already
read by a merged file, the rows read twice are dropped again by their key.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.predlog.parquet import ParquetPredictionLog

logger = logging.getLogger(__name__)

KEY = ["request_id", "row", "role", "version"]
# File times and request times come from the same clock, but allow for coarse mtimes.
MTIME_SLACK_S = 2.0


class LogWindow:
    def __init__(
        self,
        log: ParquetPredictionLog,
        endpoint: str,
        since: datetime,
        columns: list[str],
        role: str | None = None,
    ) -> None:
        self.log = log
        self.endpoint = endpoint
        self.since = since
        self.columns = list(dict.fromkeys([*KEY, *columns, "ts"]))
        self.role = role
        self._read: set[Path] = set()
        self._old: set[Path] = set()  # written before the window opened: never needed
        self._parts: list[pd.DataFrame] = []
        self._frame: pd.DataFrame | None = None

    def rows(self) -> pd.DataFrame:
        """Every row of the window so far (reads only what is new since the last call)."""
        listed = [
            path
            for path in self.log.segments(self.endpoint, since=self.since)
            if path not in self._old and self._recent(path)
        ]
        new = [path for path in listed if path not in self._read]
        replaced = bool(self._read - set(listed))
        for path in new:
            part = self._read_one(path)
            self._read.add(path)
            if part is not None and not part.empty:
                self._parts.append(part)
        if new or self._frame is None:
            earlier = self._frame if self._frame is not None and not self._frame.empty else None
            parts = ([earlier] if earlier is not None else []) + self._parts
            self._parts = []
            empty = pd.DataFrame({c: pd.Series(dtype=object) for c in self.columns if c != "ts"})
            frame = pd.concat(parts, ignore_index=True) if parts else empty
            if replaced and not frame.empty:
                frame = frame.drop_duplicates(subset=KEY, ignore_index=True)
            self._frame = frame
        self._read &= set(listed)
        return self._frame

    def _recent(self, path: Path) -> bool:
        try:
            recent = path.stat().st_mtime >= self.since.timestamp() - MTIME_SLACK_S
        except OSError:  # removed by compaction meanwhile
            return False
        if not recent:
            self._old.add(path)
        return recent

    def _read_one(self, path: Path) -> pd.DataFrame | None:
        try:
            available = set(pq.read_schema(path).names)
            table = pq.read_table(path, columns=[c for c in self.columns if c in available])
        except (pa.ArrowException, OSError) as exc:
            logger.warning("rollout analysis skips unreadable log segment %s: %s", path, exc)
            return None
        mask = pc.greater_equal(table["ts"], pa.scalar(self.since, pa.timestamp("us", tz="UTC")))
        if self.role is not None:
            mask = pc.and_(mask, pc.equal(table["role"], self.role))
        frame: pd.DataFrame = table.filter(mask).drop_columns(["ts"]).to_pandas()
        return frame
