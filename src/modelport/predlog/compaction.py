"""Merge a day's small log segments into one file, atomically, without duplicates or loss.

The writer leaves one segment per flush (up to 86,400 a day at one flush a second) and a
reader pays a fixed cost per file and column: a drift report over a million rows spread
over 1,000 segments spends seconds opening files. ``compact_day`` merges a day folder's
segments into one ``<first-ts-ms>-compacted-<pid>-<n>.parquet`` whose Parquet metadata
lists every file it replaces:

1. read the segments present now (unreadable ones are left alone and not listed);
2. write the merged rows under a temporary name, then rename it into place;
3. delete the replaced files.

A reader that lists the folder between 2 and 3 skips every file named in a merged
file's list (:func:`live_segments`), so it never counts a row twice; a crash before 2
leaves the old segments, a crash after it leaves leftovers that readers ignore and the
next compaction deletes. Segments written while a compaction runs are not listed and
stay as they are. One compaction per folder at a time, guarded by an ``flock`` on
``.compact.lock`` (several processes on one machine; on a shared filesystem run it from
one of them).

>>> import pyarrow as pa, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> for start in (0, 2):
...     pq.write_table(pa.table({"x": [start, start + 1]}), folder / f"{start:013d}-1-1.parquet")
>>> result = compact_day(folder)
>>> (result.rows, result.replaced), [p.name[:23] for p in live_segments(_listing(folder))]
((4, 2), ['0000000000000-compacted'])
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from modelport.names import inside
from modelport.predlog.tables import concat

logger = logging.getLogger(__name__)

REPLACES_KEY = b"modelport.replaces"
COMPACTED_MARK = "-compacted-"
# Row groups of this many rows let a reader skip most of a day by its time statistics
# while keeping per-group overhead negligible.
ROW_GROUP_ROWS = 262_144


@dataclass(frozen=True)
class CompactionResult:
    folder: Path
    merged: Path | None
    replaced: int
    rows: int
    skipped: tuple[str, ...] = ()


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


def compact_day(folder: Path, *, compression: str = "lz4", min_files: int = 2) -> CompactionResult:
    """Merge the folder's live segments (and earlier merged files) into one file."""
    with _folder_lock(folder) as locked:
        if not locked:
            return CompactionResult(folder, None, 0, 0)
        # With the lock held no other compaction runs: its temporary files are stale.
        _remove(list(folder.glob(f".*{COMPACTED_MARK}*.tmp")))
        listing = _listing(folder)
        current = live_segments(listing)
        leftovers = sorted(set(listing) - set(current))
        if len(current) < min_files:
            _remove(leftovers)
            return CompactionResult(folder, None, 0, 0)
        tables, merged_names, skipped = [], [], []
        for path in current:
            try:
                tables.append(pq.read_table(path))
            except (pa.ArrowException, OSError) as exc:
                logger.warning("not compacting unreadable segment %s: %s", path, exc)
                skipped.append(path.name)
                continue
            merged_names.append(path.name)
            # A merged file being merged again passes on what it replaced, so leftovers
            # of an interrupted earlier run stay hidden after it is gone.
            merged_names.extend(sorted(_replaced_names(path)))
        if not tables:
            return CompactionResult(folder, None, 0, 0, tuple(skipped))
        table = concat(tables)
        metadata = dict(table.schema.metadata or {})
        metadata[REPLACES_KEY] = json.dumps(sorted(set(merged_names))).encode()
        table = table.replace_schema_metadata(metadata)
        stem = merged_names[0].split("-", 1)[0]
        name = f"{stem}-compacted-{os.getpid()}-{datetime.now(UTC):%H%M%S%f}.parquet"
        target, temporary = folder / name, folder / f".{name}.tmp"
        pq.write_table(table, temporary, compression=compression, row_group_size=ROW_GROUP_ROWS)
        os.replace(temporary, target)
        replaced = [folder / n for n in set(merged_names)]
        _remove(replaced + leftovers)
        return CompactionResult(
            folder, target, len(current) - len(skipped), table.num_rows, tuple(skipped)
        )


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def compact_endpoint(
    root: Path, endpoint: str, *, before: date | None = None, compression: str = "lz4"
) -> list[CompactionResult]:
    """Compact every day folder of ``endpoint`` older than ``before`` (default: today, UTC)."""
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
        if day < before:
            result = compact_day(day_folder, compression=compression)
            if result.merged is not None:
                results.append(result)
    return results
