"""What a report keeps of each log file, so the next report over the same files reads
none of them again.

A report over a day not yet compacted reads hundreds of small segments, and most of the
time goes into opening them and decoding their small column chunks. A segment never
changes once written (a rewrite, such as erasing requests, renames a new file over it),
so what a report takes from one segment is the same for every report that reads it
whole. :class:`SegmentCache` keeps it, per column, under the file's
:class:`~modelport.predlog.reader.SegmentKey` (path, device, inode, size and
modification time), whatever the window, baseline or thresholds of the report:

* a numeric column: its non-missing values, **sorted**, with the segment's row count and
  the number of values that were not numbers. The report concatenates the pieces of its
  window and sorts them once, so every statistic is computed from the very same sorted
  array as when the column is read in one go: exact KS and Wasserstein, PSI and JS on
  the profile's bins and the quality figures are unchanged, to the last bit;
* a categorical column: its value counts and missing count;
* the ``status`` column: how many rows failed.

Only files whose every row is in the window are kept (a window's first and last file
may hold rows outside it; those are read again each time, and so is a compacted file a
window cuts through). A file that is no longer listed (compacted, deleted by retention)
is never asked for again and leaves the cache as it ages; a rewritten file has a new key.
A file whose data cannot be read is not kept, so each report says it skipped it.

The cache holds at most ``budget_bytes`` of pieces (8 bytes per row and numeric column,
about 170 MiB for a day of 1,000,000 rows × 22 numeric columns); past that the least
recently used files go. Reports on several threads share it.

>>> cache = SegmentCache(budget_bytes=100)
>>> cache.add("a.parquet", {("x", "numeric"): NumericPiece(2, np.array([1.0, 2.0]), 0)})
>>> cache.get("a.parquet")[("x", "numeric")].ordered.tolist(), cache.used_bytes
([1.0, 2.0], 80)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.predlog import columns as col
from modelport.predlog.reader import LogWindow, Segment
from modelport.predlog.window import numeric_checked

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Kind = Literal["numeric", "text", "failed"]
# What one report server keeps by default: a day of a million rows of 20 features fits.
DEFAULT_BUDGET_BYTES = 256 * 2**20
# Rough bytes of one counted category (its text, its count, the dict slot).
_BYTES_PER_CATEGORY = 120
# A file's numeric columns are read and sorted together up to this many values (32 MB);
# a larger file a few columns at a time.
VALUES_AT_ONCE = 1 << 22
# A file the window cuts through is not kept; from this many rows on, its numeric
# columns are left to the tasks comparing them (see DeferredPiece).
DEFERRED_ROWS = 1 << 16


@dataclass(frozen=True)
class NumericPiece:
    """One file's numeric column: rows, non-missing values sorted, non-numbers."""

    rows: int
    ordered: FloatArray
    violations: int

    @property
    def nbytes(self) -> int:
        # The values are a row of the file's sorted matrix, missing ones included.
        return 8 * max(self.rows, len(self.ordered))


@dataclass(frozen=True)
class TextPiece:
    """One file's categorical column: value counts and missing values."""

    rows: int
    counts: dict[str, int]
    missing: int

    @property
    def nbytes(self) -> int:
        return _BYTES_PER_CATEGORY * len(self.counts)


@dataclass(frozen=True)
class FailedPiece:
    """How many of one file's rows failed (``status`` = error)."""

    rows: int
    failed: int

    @property
    def nbytes(self) -> int:
        return 0


@dataclass(frozen=True)
class DeferredPiece:
    """A numeric column of a large file the window cuts through (a compacted day): it
    is not kept, so the task comparing the column reads it, one column at a time, as a
    report without the cache would."""

    window: LogWindow
    index: int
    name: str
    rows: int

    @property
    def nbytes(self) -> int:
        return 0

    def load(self) -> NumericPiece:
        table = self.window.read_segment(self.index, [self.name])
        ((_, piece),) = _numeric_pieces(table, [self.name], self.rows)
        return piece


Piece = NumericPiece | TextPiece | FailedPiece | DeferredPiece


Found = dict[tuple[str, Kind], Piece]


class SegmentCache:
    """Least recently used files' pieces (by column and kind), at most ``budget_bytes``.

    Hand-written on an ``OrderedDict`` (``functools.lru_cache`` bounds entries, not
    bytes, and cannot add a file's new columns to its entry; ``cachetools`` would be a
    new dependency for these few lines)."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {budget_bytes}")
        self.budget_bytes = budget_bytes
        self._files: OrderedDict[Hashable, tuple[Found, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.used_bytes = 0
        # Files found with every piece a report wanted, files read, files dropped.
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        """Pieces kept."""
        return sum(len(found) for found, _ in self._files.values())

    def __contains__(self, key: object) -> bool:
        return key in self._files

    def get(self, key: Hashable) -> Found:
        """What is kept of file ``key`` (a copy; empty when nothing is)."""
        with self._lock:
            entry = self._files.get(key)
            if entry is None:
                return {}
            self._files.move_to_end(key)
            return dict(entry[0])

    def add(self, key: Hashable, pieces: Found) -> None:
        """Keep these pieces of file ``key`` beside what is kept of it already; then
        drop the least recently used files until the budget holds (a file larger
        than the whole budget is not kept)."""
        with self._lock:
            found, size = self._files.pop(key, ({}, 0))
            self.used_bytes -= size
            found = {**found, **pieces}
            size = sum(_cost(piece) for piece in found.values())
            if size > self.budget_bytes:
                return
            self._files[key] = (found, size)
            self.used_bytes += size
            while self.used_bytes > self.budget_bytes:
                _, (_, dropped) = self._files.popitem(last=False)
                self.used_bytes -= dropped
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self.used_bytes = 0


def _cost(piece: Piece) -> int:
    # A small fixed share for the entry itself, so that empty pieces are bounded too.
    return piece.nbytes + 64


@dataclass
class Gathered:
    """A window's columns, one piece per file, in the window's order."""

    numeric: dict[str, list[NumericPiece | DeferredPiece]] = field(default_factory=dict)
    text: dict[str, list[TextPiece]] = field(default_factory=dict)
    failed: int = 0
    # Files read for this report (not found in the cache), for the report's figures.
    read: int = 0


def gather(
    window: LogWindow,
    cache: SegmentCache | None,
    numeric: Sequence[str] = (),
    text: Sequence[str] = (),
    status: bool = False,
    workers: int = 2,
) -> Gathered:
    """The pieces of these columns of every file of ``window``: from ``cache`` where it
    has them, otherwise read (each file once, every missing column together, on
    ``2 * workers`` threads: pyarrow and numpy release the GIL) and kept."""
    wanted: list[tuple[str, Kind]] = [(name, "numeric") for name in dict.fromkeys(numeric)]
    wanted += [(name, "text") for name in dict.fromkeys(text)]
    if status:
        wanted.append((col.STATUS, "failed"))
    segments = window.segments()
    pieces: list[Found] = []
    to_read: list[int] = []
    for index, segment in enumerate(segments):
        found: Found = {}
        if segment.key is not None and cache is not None:
            found = cache.get(segment.key)
        pieces.append(found)
        if any(item not in found for item in wanted):
            to_read.append(index)
    if cache is not None:
        cache.hits += len(segments) - len(to_read)
        cache.misses += len(to_read)

    def read(index: int) -> None:
        segment = segments[index]
        missing = [item for item in wanted if item not in pieces[index]]
        numbers = [name for name, kind in missing if kind == "numeric"]
        others = [(name, kind) for name, kind in missing if kind != "numeric"]
        new: Found = {}
        if segment.key is None and segment.rows >= DEFERRED_ROWS:
            for name in numbers:
                new[(name, "numeric")] = DeferredPiece(window, index, name, segment.rows)
            numbers = []
        per = max(1, VALUES_AT_ONCE // max(segment.rows, 1))
        groups = [numbers[i : i + per] for i in range(0, len(numbers), per)] or [[]]
        readable = True
        for position, group in enumerate(groups):
            extra = others if position == 0 else []
            if not group and not extra:
                continue
            table = window.read_segment(index, [*group, *(name for name, _ in extra)])
            readable = readable and table is not None
            new.update(_numeric_pieces(table, group, segment.rows))
            for name, kind in extra:
                new[(name, kind)] = _piece(table, name, kind, segment)
        pieces[index].update(new)
        if readable and segment.key is not None and cache is not None:
            cache.add(segment.key, new)

    if len(to_read) <= 1 or workers <= 1:
        for index in to_read:
            read(index)
    else:
        with ThreadPoolExecutor(max_workers=max(workers, 1) * 2) as pool:
            list(pool.map(read, to_read))
    gathered = Gathered(read=len(to_read))
    for name, kind in wanted:
        column = [by_column[(name, kind)] for by_column in pieces]
        if kind == "numeric":
            gathered.numeric[name] = [
                p for p in column if isinstance(p, NumericPiece | DeferredPiece)
            ]
        elif kind == "text":
            gathered.text[name] = [p for p in column if isinstance(p, TextPiece)]
        else:
            gathered.failed = sum(p.failed for p in column if isinstance(p, FailedPiece))
    return gathered


def _numeric_pieces(
    table: pa.Table | None, names: list[str], rows: int
) -> Iterator[tuple[tuple[str, Kind], NumericPiece]]:
    """The numeric columns of one file, sorted together: one ``(columns, rows)`` matrix
    sorted along its rows (NaN last) in one call, each piece a view of its row (all
    missing when the file has no such column or its data could not be read)."""
    if not names:
        return
    # Column positions once: a pyarrow table looks a name up by building its name list.
    where = {} if table is None else {n: i for i, n in enumerate(table.column_names)}
    present = [name for name in names if name in where]
    matrix = np.full((len(present), rows), np.nan)
    violations = {}
    for index, name in enumerate(present):
        assert table is not None
        values, violations[name] = numeric_checked(table.column(where[name]))
        matrix[index] = values
    matrix.sort(axis=1)
    counts = rows - np.count_nonzero(np.isnan(matrix), axis=1)
    empty = np.empty(0, dtype=np.float64)
    at = {name: index for index, name in enumerate(present)}
    for name in names:
        if name not in at:
            yield (name, "numeric"), NumericPiece(rows, empty, 0)
            continue
        index = at[name]
        ordered = matrix[index, : int(counts[index])]
        yield (name, "numeric"), NumericPiece(rows, ordered, violations[name])


def _piece(table: pa.Table | None, name: str, kind: Kind, segment: Segment) -> Piece:
    """What is kept of one text or status column of one file (all missing when the file
    has no such column or its data could not be read)."""
    rows = segment.rows
    index = -1 if table is None else table.schema.get_field_index(name)
    column = None if table is None or index < 0 else table.column(index)
    if kind == "text":
        if column is None:
            return TextPiece(rows, {}, rows)
        values = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
        counted = pc.value_counts(values)
        counts = {
            str(v): int(c)
            for v, c in zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            )
            if v is not None
        }
        return TextPiece(rows, counts, int(values.null_count))
    if column is None:
        return FailedPiece(rows, 0)
    failed = int(pc.sum(pc.equal(column, col.STATUS_ERROR)).as_py() or 0)
    return FailedPiece(rows, failed)


def merged_numeric(
    found: Sequence[NumericPiece | DeferredPiece],
) -> tuple[FloatArray, int, int]:
    """The window's non-missing values (one new array, unsorted across files), its
    missing values and its non-numbers."""
    pieces = [p.load() if isinstance(p, DeferredPiece) else p for p in found]
    if not pieces:
        return np.empty(0, dtype=np.float64), 0, 0
    values = np.concatenate([p.ordered for p in pieces])
    rows = sum(p.rows for p in pieces)
    return values, rows - len(values), sum(p.violations for p in pieces)


def merged_counts(pieces: Sequence[TextPiece]) -> tuple[dict[str, int], int]:
    """The window's value counts and missing values."""
    counts: dict[str, int] = {}
    for piece in pieces:
        for value, count in piece.counts.items():
            counts[value] = counts.get(value, 0) + count
    return counts, sum(p.missing for p in pieces)
