"""Merge a day's small log segments into one file, atomically, without duplicates or loss.

The writer leaves one segment per flush (up to 86,400 a day at one flush a second) and a
reader pays a fixed cost per file and column: a drift report over a million rows spread
over 1,000 segments spends seconds opening files. ``compact_day`` merges a day folder's
segments into one ``<first-ts-ms>-compacted-<pid>-<n>.parquet`` whose Parquet metadata
lists every file it replaces:

1. list the segments present now (unreadable ones are left alone and not listed);
2. stream their rows, one row group at a time, into a temporary file, fsync it, rename
   it into place and fsync the folder: the merged file is durable before anything is
   deleted. Memory is about ``memory_mb`` plus one source row group (a segment is one
   flush), whatever the size of the day;
3. delete the replaced files once the merged file has been in place for ``grace_s``
   seconds (on a later run; at once with ``grace_s=0``), then fsync the folder.

A reader that lists the folder while both a merged file and its sources exist skips
every file named in a merged file's list (:func:`live_segments`), so it never counts a
row twice; and because sources outlive their merged file's appearance by ``grace_s``, a
listing taken while the merged file is being renamed in still finds every row in the
sources. A crash at any step leaves either the old segments (plus a hidden temporary
file the next run removes) or the merged file with leftovers that readers ignore and a
later run deletes. Segments written while a compaction runs are not listed and stay as
they are. One compaction per folder at a time, guarded by an ``flock`` on
``.compact.lock``; servers also take a lease in the control-plane database
(``modelport.store.locks``) so that one process per store compacts at a time.

A day folder holding nothing but one merged file is finished: :func:`compact_endpoint`
skips it by listing it, without reading or locking anything.

>>> import pyarrow as pa, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> for start in (0, 2):
...     pq.write_table(pa.table({"x": [start, start + 1]}), folder / f"{start:013d}-1-1.parquet")
>>> result = compact_day(folder, grace_s=0)
>>> (result.rows, result.replaced), [p.name[:23] for p in live_segments(_listing(folder))]
((4, 2), ['0000000000000-compacted'])
>>> len(_listing(folder))
1
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.names import inside
from modelport.predlog.files import fsync_folder, write_durably
from modelport.predlog.tables import conflicting_columns

logger = logging.getLogger(__name__)

REPLACES_KEY = b"modelport.replaces"
COMPACTED_MARK = "-compacted-"
# Row groups of at most this many rows let a reader skip most of a day by its time
# statistics while keeping per-group overhead negligible.
ROW_GROUP_ROWS = 262_144
# How long replaced files stay after their merged file appeared: longer than any read
# that listed the folder before the merge takes to open its files.
GRACE_S = 600.0
DEFAULT_MEMORY_MB = 256


@dataclass(frozen=True)
class CompactionResult:
    folder: Path
    merged: Path | None
    replaced: int
    rows: int
    skipped: tuple[str, ...] = ()


class CompactionAbandoned(Exception):
    """The caller's ``keep_going`` said stop (its lease was lost): nothing was changed."""


def is_compacted(path: Path) -> bool:
    return COMPACTED_MARK in path.name


def live_segments(paths: list[Path]) -> list[Path]:
    """``paths`` without the files that a merged file in the same list replaces."""
    replaced: set[Path] = set()
    for path in paths:
        replaced.update(replaced_segments(path))
    return [p for p in paths if p not in replaced]


def replaced_segments(path: Path) -> frozenset[Path]:
    """The files a merged file replaces (none for a segment as written)."""
    if not is_compacted(path):
        return frozenset()
    return frozenset(path.parent / name for name in _replaced_names(path))


def _replaced_names(path: Path) -> frozenset[str]:
    try:
        stat = path.stat()
    except OSError:
        return frozenset()
    return _replaced_names_cached(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _replaced_names_cached(path: str, size: int, mtime_ns: int) -> frozenset[str]:
    # Keyed by size and mtime: a merged file never changes, so its footer is read once.
    try:
        metadata = pq.read_metadata(path).metadata or {}
    except (pa.ArrowException, OSError):
        return frozenset()
    return frozenset(json.loads(metadata.get(REPLACES_KEY, b"[]")))


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


def is_finished(folder: Path) -> bool:
    """True when ``folder`` holds one merged file and nothing else to merge or remove
    (decided from the listing alone)."""
    names = [
        entry.name
        for entry in os.scandir(folder)
        if entry.name.endswith((".parquet", ".tmp")) and entry.is_file()
    ]
    return len(names) == 1 and names[0].endswith(".parquet") and COMPACTED_MARK in names[0]


@contextmanager
def _folder_lock(folder: Path) -> Iterator[bool]:
    with (folder / ".compact.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compact_day(
    folder: Path,
    *,
    compression: str = "lz4",
    min_files: int = 2,
    memory_mb: int = DEFAULT_MEMORY_MB,
    grace_s: float = GRACE_S,
    keep_going: Callable[[], bool] | None = None,
) -> CompactionResult:
    """Merge the folder's live segments (and earlier merged files) into one file.

    ``keep_going`` is asked between row groups; when it answers False the merge stops,
    its temporary file is removed and :class:`CompactionAbandoned` is raised.
    """
    with _folder_lock(folder) as locked:
        if not locked:
            return CompactionResult(folder, None, 0, 0)
        # With the lock held no other compaction runs here: its temporary files are stale.
        # A writer's are stale once older than any write takes (its process died).
        _remove(sorted(folder.glob(f".*{COMPACTED_MARK}*.tmp")))
        _remove(_older_than(sorted(folder.glob(".*.tmp")), GRACE_S))
        listing = _listing(folder)
        current = live_segments(listing)
        _remove_expired(listing, current, grace_s)
        if len(current) < min_files:
            return CompactionResult(folder, None, 0, 0)
        sources, skipped = _readable(current)
        if not sources:
            return CompactionResult(folder, None, 0, 0, tuple(skipped))
        merged_names: set[str] = set()
        for path, _ in sources:
            merged_names.add(path.name)
            # A merged file being merged again passes on what it replaced, so leftovers
            # of an earlier run stay hidden after it is gone.
            merged_names.update(_replaced_names(path))
        schema = _merged_schema([metadata.schema.to_arrow_schema() for _, metadata in sources])
        schema = schema.with_metadata(
            {**(schema.metadata or {}), REPLACES_KEY: json.dumps(sorted(merged_names)).encode()}
        )
        stem = sources[0][0].name.split("-", 1)[0]
        name = f"{stem}{COMPACTED_MARK}{os.getpid()}-{datetime.now(UTC):%H%M%S%f}.parquet"
        plan = _Plan(sources, schema, compression, memory_mb * 1024 * 1024, keep_going)
        target = write_durably(folder / name, plan.write)
        if grace_s <= 0:
            _remove_all(sorted(folder / n for n in merged_names), folder)
        return CompactionResult(folder, target, len(sources), plan.rows, tuple(skipped))


def _readable(paths: list[Path]) -> tuple[list[tuple[Path, pq.FileMetaData]], list[str]]:
    """The files whose footer reads, with it; the names of those left alone."""
    sources: list[tuple[Path, pq.FileMetaData]] = []
    skipped: list[str] = []
    for path in paths:
        try:
            sources.append((path, pq.read_metadata(path)))
        except (pa.ArrowException, OSError) as exc:
            logger.warning("not compacting unreadable segment %s: %s", path, exc)
            skipped.append(path.name)
    return sources, skipped


def _merged_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for files whose columns may differ in presence and type: absent
    columns are nulls, a column whose types cannot be unified becomes text (as
    :func:`modelport.predlog.tables.concat` reads them)."""
    plain = [schema.remove_metadata() for schema in schemas]
    try:
        return pa.unify_schemas(plain, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    conflicting = conflicting_columns(plain)
    as_text = [
        pa.schema([f.with_type(pa.string()) if f.name in conflicting else f for f in schema])
        for schema in plain
    ]
    return pa.unify_schemas(as_text, promote_options="permissive")


class _Plan:
    """Stream ``sources`` into one Parquet file of ``schema``, a row group at a time.

    About ``budget_bytes`` of rows are held at once: the rows waiting to become the next
    output row group (a third of the budget) and the writer's encoding of one group;
    plus what pyarrow decodes of one source row group while reading it in batches.
    """

    def __init__(
        self,
        sources: list[tuple[Path, pq.FileMetaData]],
        schema: pa.Schema,
        compression: str,
        budget_bytes: int,
        keep_going: Callable[[], bool] | None,
    ) -> None:
        self.sources = sources
        self.schema = schema
        self.compression = compression
        self.keep_going = keep_going
        rows = sum(metadata.num_rows for _, metadata in sources)
        size = sum(
            metadata.row_group(g).total_byte_size
            for _, metadata in sources
            for g in range(metadata.num_row_groups)
        )
        row_bytes = max(size / max(rows, 1), 1.0)
        self.group_rows = int(max(1, min(ROW_GROUP_ROWS, budget_bytes // (3 * row_bytes))))
        self.rows = 0

    def write(self, handle: BinaryIO) -> None:
        with pq.ParquetWriter(handle, self.schema, compression=self.compression) as writer:
            pending: list[pa.RecordBatch] = []
            waiting = 0
            for path, metadata in self.sources:
                source = pq.ParquetFile(path, metadata=metadata)
                for batch in source.iter_batches(batch_size=self.group_rows, use_threads=False):
                    pending.append(_conform(batch, self.schema))
                    waiting += batch.num_rows
                    while waiting >= self.group_rows:
                        table = pa.Table.from_batches(pending, self.schema)
                        _write_group(writer, table.slice(0, self.group_rows))
                        self._check()
                        rest = table.slice(self.group_rows)
                        pending, waiting = rest.to_batches(), rest.num_rows
            if waiting:
                self._check()
                _write_group(writer, pa.Table.from_batches(pending, self.schema))
        self.rows = sum(metadata.num_rows for _, metadata in self.sources)

    def _check(self) -> None:
        if self.keep_going is not None and not self.keep_going():
            raise CompactionAbandoned("compaction stopped: the compaction lease was lost")


def _write_group(writer: pq.ParquetWriter, table: pa.Table) -> None:
    writer.write_table(table, row_group_size=max(table.num_rows, 1))


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly the columns of ``schema``: absent ones as nulls, others cast."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        column = batch.column(index)
        arrays.append(column if column.type == field.type else pc.cast(column, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _remove_expired(listing: list[Path], current: list[Path], grace_s: float) -> None:
    """Delete the files replaced by a merged file that has been in place for ``grace_s``."""
    live = set(current)
    now = time.time()
    expired: set[Path] = set()
    for path in listing:
        replaced = replaced_segments(path)
        if not replaced:
            continue
        try:
            appeared = path.stat().st_mtime
        except OSError:
            continue
        if now - appeared >= grace_s:
            expired.update(p for p in replaced if p not in live)
    if expired:
        _remove_all(sorted(expired), listing[0].parent)


def _older_than(paths: list[Path], age_s: float) -> list[Path]:
    now = time.time()
    old = []
    for path in paths:
        try:
            if now - path.stat().st_mtime >= age_s:
                old.append(path)
        except OSError:
            continue
    return old


def _remove_all(paths: list[Path], folder: Path) -> None:
    _remove(paths)
    fsync_folder(folder)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        _remove_one(path)


def _remove_one(path: Path) -> None:
    path.unlink(missing_ok=True)


def compact_endpoint(
    root: Path,
    endpoint: str,
    *,
    before: date | None = None,
    compression: str = "lz4",
    memory_mb: int = DEFAULT_MEMORY_MB,
    grace_s: float = GRACE_S,
    keep_going: Callable[[], bool] | None = None,
) -> list[CompactionResult]:
    """Compact every unfinished day folder of ``endpoint`` older than ``before``
    (default: today, UTC); finished days are skipped by listing them."""
    before = before or datetime.now(UTC).date()
    folder = inside(root, endpoint)
    results: list[CompactionResult] = []
    if not folder.is_dir():
        return results
    for day_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            day = date.fromisoformat(day_folder.name)
        except ValueError:
            continue
        if day >= before or is_finished(day_folder):
            continue
        if keep_going is not None and not keep_going():
            raise CompactionAbandoned("compaction stopped: the compaction lease was lost")
        result = compact_day(
            day_folder,
            compression=compression,
            memory_mb=memory_mb,
            grace_s=grace_s,
            keep_going=keep_going,
        )
        if result.merged is not None:
            results.append(result)
    return results
