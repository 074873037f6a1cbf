"""The prediction log on disk: immutable Parquet segments per endpoint and day.

``<root>/<endpoint>/<YYYY-MM-DD>/<first-ts-ms>-<pid>-<seq>.parquet``

Each flush of the background writer adds one segment, written to a temporary name and
renamed, so a reader never sees half a file. Features are typed columns, so reading one
feature over a million rows touches only that column. A segment that cannot be read
(truncated, corrupted) is reported and skipped; it never stops a reader or the server.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.predlog.compaction import live_segments
from modelport.predlog.records import PredictionRecord, records_to_table

logger = logging.getLogger(__name__)

# Segments read at once by the reader threads.
_PARALLEL_READS = 4


@dataclass
class ReadReport:
    """What a read skipped, so callers can say so instead of silently losing rows."""

    skipped: list[tuple[str, str]] = field(default_factory=list)


class ParquetPredictionLog:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._sequence = 0
        self._lock = threading.Lock()
        self.last_read = ReadReport()

    # -- writing ------------------------------------------------------------------------
    def write(self, records: Sequence[PredictionRecord]) -> int:
        """Persist records as one segment per endpoint; returns rows written."""
        by_endpoint: dict[str, list[PredictionRecord]] = {}
        for record in records:
            by_endpoint.setdefault(record.endpoint, []).append(record)
        written = 0
        for endpoint, group in by_endpoint.items():
            table = records_to_table(group)
            self._write_segment(endpoint, min(r.ts for r in group), table)
            written += table.num_rows
        return written

    def _write_segment(self, endpoint: str, first_ts: float, table: pa.Table) -> Path:
        day = datetime.fromtimestamp(first_ts, UTC).strftime("%Y-%m-%d")
        folder = self.root / endpoint / day
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        name = f"{int(first_ts * 1000):013d}-{os.getpid()}-{sequence:06d}.parquet"
        target = folder / name
        temporary = folder / f".{name}.tmp"
        pq.write_table(table, temporary, compression="zstd")
        os.replace(temporary, target)
        return target

    # -- reading ------------------------------------------------------------------------
    def endpoints(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def segments(
        self, endpoint: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Path]:
        folder = self.root / endpoint
        if not folder.is_dir():
            return []
        first_day = (since - timedelta(days=1)).date() if since else None
        last_day = until.date() if until else None
        paths: list[Path] = []
        for day_folder in sorted(folder.iterdir()):
            day = _parse_day(day_folder.name)
            if day is None or (first_day and day < first_day) or (last_day and day > last_day):
                continue
            # A merged (compacted) file hides the segments it replaces until they are gone.
            paths.extend(live_segments(sorted(day_folder.glob("*.parquet"))))
        return paths

    def read(
        self,
        endpoint: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        columns: Sequence[str] | None = None,
        version: int | None = None,
        role: str | None = None,
        last: int | None = None,
    ) -> pa.Table:
        """Rows of one endpoint, oldest first. ``last`` keeps only the newest N rows
        that pass the other filters."""
        self.last_read = ReadReport()
        paths = self.segments(endpoint, since, until)
        needed = None
        if columns is not None:
            needed = list(dict.fromkeys([*columns, "ts", "version", "role"]))

        def matching(table: pa.Table) -> pa.Table:
            mask = None
            for condition in self._conditions(table, since, until, version, role):
                mask = condition if mask is None else pc.and_(mask, condition)
            return table if mask is None else table.filter(mask)

        if last is None:
            tables = [matching(t) for t in self._read_many(paths, needed)]
        else:
            # Newest segments first, a few at a time, until enough rows pass the filters.
            tables = []
            rows = 0
            for stop in range(len(paths), 0, -_PARALLEL_READS):
                chunk = paths[max(0, stop - _PARALLEL_READS) : stop]
                found = [matching(t) for t in self._read_many(chunk, needed)]
                tables[:0] = found
                rows += sum(t.num_rows for t in found)
                if rows >= last:
                    break
        if not tables:
            return pa.table({})
        table = _concat(tables)
        if last is not None and table.num_rows > last:
            table = table.slice(table.num_rows - last)
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        return table

    def _read_many(self, paths: list[Path], columns: list[str] | None) -> list[pa.Table]:
        if not paths:
            return []
        # pyarrow releases the GIL while decoding, so a few threads read segments in
        # parallel; order is kept so rows stay oldest first.
        with ThreadPoolExecutor(max_workers=min(_PARALLEL_READS, len(paths))) as pool:
            results = list(pool.map(lambda p: _read_one(p, columns), paths))
        tables: list[pa.Table] = []
        for path, result in zip(paths, results, strict=True):
            if isinstance(result, pa.Table):
                tables.append(result)
            else:
                logger.warning("skipping unreadable log segment %s: %s", path, result)
                self.last_read.skipped.append((str(path), result))
        return tables

    @staticmethod
    def _conditions(
        table: pa.Table,
        since: datetime | None,
        until: datetime | None,
        version: int | None,
        role: str | None,
    ) -> Iterable[pa.ChunkedArray]:
        if since is not None:
            yield pc.greater_equal(table["ts"], pa.scalar(since, pa.timestamp("us", tz="UTC")))
        if until is not None:
            yield pc.less(table["ts"], pa.scalar(until, pa.timestamp("us", tz="UTC")))
        if version is not None:
            yield pc.equal(table["version"], version)
        if role is not None:
            yield pc.equal(table["role"], role)

    def find_request_ids(self, request_ids: Iterable[str]) -> dict[str, str]:
        """Which of these request ids are logged, and under which endpoint."""
        wanted = pa.array(list(set(request_ids)), type=pa.string())
        found: dict[str, str] = {}
        for endpoint in self.endpoints():
            table = self.read(endpoint, columns=["request_id"])
            if table.num_rows == 0:
                continue
            hits = table.filter(pc.is_in(table["request_id"], value_set=wanted))
            for request_id in hits["request_id"].unique().to_pylist():
                found[request_id] = endpoint
        return found


def _read_one(path: Path, columns: list[str] | None) -> pa.Table | str:
    """The segment's table, or why it cannot be read."""
    try:
        if columns is None:
            return pq.read_table(path)
        available = pq.read_schema(path).names
        return pq.read_table(path, columns=[c for c in columns if c in available])
    except (pa.ArrowException, OSError) as exc:
        return str(exc)


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table from segments whose columns may differ in type.

    A feature can change kind between model versions behind one endpoint (numeric in one
    segment, text in the next); such a column is read back as text rather than failing
    the whole read.
    """
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    types: dict[str, list[pa.DataType]] = {}
    for table in tables:
        for column in table.schema:
            types.setdefault(column.name, []).append(column.type)
    conflicting = set()
    for name, found in types.items():
        try:
            pa.unify_schemas(
                [pa.schema([pa.field(name, t)]) for t in found], promote_options="permissive"
            )
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            conflicting.add(name)
    as_text = []
    for table in tables:
        for name in conflicting.intersection(table.column_names):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.cast(table[name], pa.string()))
        as_text.append(table)
    return pa.concat_tables(as_text, promote_options="permissive")


def _parse_day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None
