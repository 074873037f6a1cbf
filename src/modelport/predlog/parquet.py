"""The prediction log on disk: immutable Parquet segments per endpoint and day.

``<root>/<endpoint>/<YYYY-MM-DD>/<first-ts-ms>-<pid>-<seq>.parquet``

Each flush of the background writer adds one segment, written to a temporary name and
renamed, so a reader never sees half a file. Features are typed columns, so reading one
feature over a million rows touches only that column. A segment that cannot be read
(truncated, corrupted) is reported and skipped; it never stops a reader or the server.

:class:`ParquetPredictionLog` is the Parquet :class:`~modelport.predlog.reader.PredictionLog`:
windows are :class:`~modelport.predlog.window.ParquetWindow`, cursors
:class:`~modelport.predlog.cursor.ParquetCursor`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.errors import UnsafePath
from modelport.names import inside
from modelport.predlog import columns as col
from modelport.predlog.compaction import live_segments
from modelport.predlog.cursor import ParquetCursor
from modelport.predlog.files import make_folder, write_durably
from modelport.predlog.reader import WindowSpec
from modelport.predlog.records import PredictionRecord, records_to_table
from modelport.predlog.window import ParquetWindow

_SEQUENCE = itertools.count(1)


@dataclass
class ReadReport:
    """What a read skipped, so callers can say so instead of silently losing rows."""

    skipped: list[tuple[str, str]] = field(default_factory=list)


class ParquetPredictionLog:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.last_read = ReadReport()

    # -- writing ------------------------------------------------------------------------
    def write(self, records: Sequence[PredictionRecord], *, segment: str | None = None) -> int:
        """Persist records as one durable segment per endpoint; returns rows written.

        ``segment`` names the write: writing the same records again under the same name
        replaces the segment instead of adding one, so a retried write never logs a
        record twice. Without it every call adds new segments.
        """
        by_endpoint: dict[str, list[PredictionRecord]] = {}
        for record in records:
            by_endpoint.setdefault(record.endpoint, []).append(record)
        written = 0
        for endpoint, group in by_endpoint.items():
            table = records_to_table(group)
            self._write_segment(endpoint, min(r.ts for r in group), table, segment)
            written += table.num_rows
        return written

    def _write_segment(
        self, endpoint: str, first_ts: float, table: pa.Table, segment: str | None
    ) -> Path:
        if any(c in endpoint for c in "/\\\0"):
            raise UnsafePath(
                f"endpoint name {endpoint!r} cannot name a log folder", field="endpoint"
            )
        day = datetime.fromtimestamp(first_ts, UTC).strftime("%Y-%m-%d")
        folder = inside(self.root, endpoint) / day
        make_folder(folder)
        if segment is None:
            # One counter for the whole process: two logs on one folder never collide.
            segment = f"{next(_SEQUENCE):06d}"
        name = f"{int(first_ts * 1000):013d}-{os.getpid()}-{segment}.parquet"
        # Dictionaries only for text (ids, roles, labels, categories): on float columns
        # Arrow builds one up to its size limit and then falls back, which costs several
        # times the whole write and gives larger files.
        text = [f.name for f in table.schema if pa.types.is_string(f.type)]
        return write_durably(
            folder / name,
            lambda handle: pq.write_table(table, handle, compression="zstd", use_dictionary=text),
        )

    # -- reading ------------------------------------------------------------------------
    def endpoints(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def segments(
        self, endpoint: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Path]:
        """The live segments of ``endpoint``, oldest first; with ``since``/``until``, those
        of the day folders (UTC) that can hold rows of that span."""
        folder = inside(self.root, endpoint)
        if not folder.is_dir():
            return []
        # One day of slack: a segment is filed under the day of its first row.
        first_day = _utc_day(since - timedelta(days=1)) if since else None
        last_day = _utc_day(until) if until else None
        paths: list[Path] = []
        for day_folder in sorted(folder.iterdir()):
            day = _parse_day(day_folder.name)
            if day is None or (first_day and day < first_day) or (last_day and day > last_day):
                continue
            # A merged (compacted) file hides the segments it replaces until they are gone.
            paths.extend(live_segments(sorted(day_folder.glob("*.parquet"))))
        return paths

    def window(
        self,
        endpoint: str,
        spec: WindowSpec | None = None,
        *,
        versions: Collection[int] | None = None,
        roles: Collection[str] | None = None,
        workers: int = 2,
    ) -> ParquetWindow:
        """The rows of ``spec`` (default: all) for these versions and roles (None: all);
        ``last_read`` reports what it skips."""
        spec = spec or WindowSpec()
        paths = self.segments(endpoint, spec.since, spec.until)
        window = ParquetWindow(
            paths,
            spec,
            versions,
            roles,
            workers,
            relist=lambda: self.segments(endpoint, spec.since, spec.until),
        )
        self.last_read = ReadReport(window.skipped)
        return window

    def read(
        self,
        endpoint: str,
        *,
        columns: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        version: int | None = None,
        role: str | None = None,
    ) -> pa.Table:
        """Rows of one endpoint, oldest first, as one table of ``columns`` (default:
        every column; one no segment holds comes back as typed nulls, also when nothing
        is logged). ``last`` keeps only the newest N rows that pass the other filters."""
        window = self.window(
            endpoint,
            WindowSpec(since, until, last),
            versions=None if version is None else [version],
            roles=None if role is None else [role],
        )
        return window.table(columns)

    def follow(
        self,
        endpoint: str,
        since: datetime | None = None,
        columns: Sequence[str] | None = None,
        *,
        roles: Collection[str] | None = None,
        last: int | None = None,
    ) -> ParquetCursor:
        """A cursor over the rows of ``ts >= since``, or (``since`` None) over the rows
        written from now on, the first read adding the newest ``last`` logged ones."""
        if since is not None:
            return ParquetCursor(lambda: self.segments(endpoint, since), since, columns, roles)
        opened = datetime.now(UTC)
        return ParquetCursor(
            lambda: self.segments(endpoint, opened),
            None,
            columns,
            roles,
            present=self.segments(endpoint),
            last=last,
        )

    def find_request_ids(self, request_ids: Iterable[str]) -> dict[str, str]:
        """Which of these request ids are logged, and under which endpoint."""
        wanted = pa.array(list(set(request_ids)), type=pa.string())
        found: dict[str, str] = {}
        for endpoint in self.endpoints():
            ids = self.read(endpoint, columns=[col.REQUEST_ID])[col.REQUEST_ID]
            hits = pc.unique(ids.filter(pc.is_in(ids, value_set=wanted)))
            for request_id in hits.to_pylist():
                found[request_id] = endpoint
        return found


def _utc_day(moment: datetime) -> date:
    return (moment.astimezone(UTC) if moment.tzinfo is not None else moment).date()


def _parse_day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None
