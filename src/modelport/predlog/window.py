"""One window of the Parquet log, read column by column (the Parquet ``LogWindow``).

A report needs a few columns of many rows, one feature at a time, so that reading the
next column overlaps with the statistics of the last (pyarrow and numpy release the
GIL). :class:`ParquetWindow` first decides which rows belong to the window, per file and
row group, from Parquet statistics where it can: a merged day whose timestamps, versions
and roles all qualify needs no ``ts``/``version``/``role`` column at all; only row
groups that straddle a boundary read them. Columns are then read on demand from those
row groups only, and masked.

Many small segments (a day not yet compacted) cost a fixed overhead per file and column,
so with many files every column a report needs is read in one pass per file instead
(:meth:`ParquetWindow.prefetch`).

Compaction replaces a day's segments by one merged file and, a grace period later,
deletes them. A window given ``relist`` (a fresh listing of the endpoint's live files)
that finds a listed file gone while selecting rows, or while reading a table, selects
again from a fresh listing, so a read racing a compaction returns every row exactly
once: never a file's rows and the merged file's copy of them, never neither.

A file that cannot be read is logged as a warning, listed in ``skipped`` and never fails
a read. One whose footer is gone (truncated, garbage, empty) is left out of the window
when it is opened. One whose footer reads but whose data does not (damage inside the
file) is found only when its columns are read: :meth:`~ParquetWindow.table` then selects
the window again without it, while :meth:`~ParquetWindow.column` (whose callers line
several columns up row by row) reads its rows as missing values.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.predlog import columns as col
from modelport.predlog.reader import Segment, SegmentKey, WindowSpec

logger = logging.getLogger(__name__)

# Above this many files, read every needed column of a file in one go.
MANY_FILES = 32
# Footers kept between windows (about 3 KB each): more than a busy day's segments.
FOOTERS_KEPT = 16_384
# Fresh listings tried when files vanish under a read (each means a compaction finished).
RELISTS = 5
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Mask = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class _Facts:
    """What selecting rows needs of a file's footer: its columns, the rows of each row
    group and their ``ts``/``version``/``role`` statistics (min, max; None if unknown)."""

    names: tuple[str, ...]
    group_rows: tuple[int, ...]
    group_stats: tuple[dict[str, tuple[Any, Any] | None], ...]

    @classmethod
    def of(cls, metadata: pq.FileMetaData) -> _Facts:
        names = metadata.schema.to_arrow_schema().names
        groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
        stats = []
        for group in groups:
            found = {name: _stats(group, names, name) for name in (col.TS, col.VERSION, col.ROLE)}
            bounds = found[col.TS]
            if bounds is not None:
                found[col.TS] = (_aware(bounds[0]), _aware(bounds[1]))
            stats.append(found)
        return cls(tuple(names), tuple(g.num_rows for g in groups), tuple(stats))


class _FactsCache:
    """Footers already read, by file identity: a report over a day of segments would
    otherwise read a thousand footers again each time. About 3 KB per file. (Not
    ``functools.lru_cache``: the identity comes from a ``stat`` the caller needs too.)"""

    def __init__(self, size: int) -> None:
        self.size = size
        self._facts: OrderedDict[SegmentKey, _Facts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: SegmentKey) -> _Facts | None:
        with self._lock:
            found = self._facts.get(key)
            if found is not None:
                self._facts.move_to_end(key)
            return found

    def put(self, key: SegmentKey, facts: _Facts) -> None:
        with self._lock:
            self._facts[key] = facts
            while len(self._facts) > self.size:
                self._facts.popitem(last=False)


_FOOTERS = _FactsCache(FOOTERS_KEPT)


@dataclass
class _Part:
    """The selected rows of one file: whole row groups, then an optional row mask.
    ``metadata`` is the footer when this selection read it (None when its facts were
    known); ``key`` the file's identity, taken before anything of it was read, when
    every row of the file is selected."""

    path: Path
    facts: _Facts
    metadata: pq.FileMetaData | None
    row_groups: list[int]
    mask: Mask | None
    rows: int
    key: SegmentKey | None = None


class ParquetWindow:
    """Rows of one endpoint's segments in a window, for some versions and roles."""

    def __init__(
        self,
        paths: list[Path],
        spec: WindowSpec,
        versions: Collection[int] | None = None,
        roles: Collection[str] | None = None,
        workers: int = 2,
        *,
        relist: Callable[[], list[Path]] | None = None,
    ) -> None:
        self.spec = spec
        self.versions = None if versions is None else frozenset(versions)
        self.roles = None if roles is None else frozenset(str(r) for r in roles)
        self.workers = workers
        self.skipped: list[tuple[str, str]] = []
        self._paths = paths
        self._relist = relist
        self._relists = 0
        self._vanished = False
        self._open()

    # -- which rows -----------------------------------------------------------------------
    def _open(self) -> None:
        """Select the rows of every file not skipped (from a fresh listing when one of
        the listed files is gone and ``relist`` is given)."""
        while True:
            skipped = {path for path, _ in self.skipped}
            self._cache: dict[str, pa.ChunkedArray | None] = {}
            try:
                self.parts = self._select([p for p in self._paths if str(p) not in skipped])
                break
            except _Vanished:
                self._take_fresh_listing()
        if self.spec.last is not None:
            self._keep_newest(self.spec.last, self.spec.skip)
        self.n_rows = sum(part.rows for part in self.parts)
        self.available = {name for part in self.parts for name in part.facts.names}

    def _select(self, paths: list[Path]) -> list[_Part]:
        parts: list[_Part] = []
        ordered = list(reversed(paths)) if self.spec.last is not None else paths
        wanted = None if self.spec.last is None else self.spec.last + self.spec.skip
        total = 0
        for path in ordered:
            try:
                part = self._select_file(path)
            except FileNotFoundError as exc:
                if self._can_relist():
                    raise _Vanished from exc
                self._skip(path, exc)
                continue
            except (pa.ArrowException, OSError) as exc:
                self._skip(path, exc)
                continue
            if part.rows:
                parts.append(part)
                total += part.rows
            if wanted is not None and total >= wanted:
                break
        return list(reversed(parts)) if self.spec.last is not None else parts

    def _select_file(self, path: Path) -> _Part:
        key, facts, metadata = _footer(path)
        groups, masks, rows = [], [], 0
        for index, group_rows in enumerate(facts.group_rows):
            verdict = self._group_verdict(facts.group_stats[index])
            if verdict == "none":
                continue
            mask = None
            if verdict != "all":
                mask = self._row_mask(path, facts, metadata, index)
            count = group_rows if mask is None else int(mask.sum())
            if count == 0:
                continue
            groups.append(index)
            masks.append(mask)
            rows += count
        combined = None
        if any(mask is not None for mask in masks):
            combined = np.concatenate(
                [
                    np.ones(facts.group_rows[g], dtype=bool) if m is None else m
                    for g, m in zip(groups, masks, strict=True)
                ]
            )
        whole = combined is None and len(groups) == len(facts.group_rows)
        return _Part(path, facts, metadata, groups, combined, rows, key if whole else None)

    def _group_verdict(self, stats: dict[str, tuple[Any, Any] | None]) -> str:
        """ "all", "none" or "some" of the group's rows qualify, from its statistics."""
        verdicts = []
        if self.spec.since is not None or self.spec.until is not None:
            verdicts.append(_range_verdict(stats[col.TS], self.spec))
        if self.versions is not None:
            verdicts.append(_set_verdict(stats[col.VERSION], self.versions))
        if self.roles is not None:
            verdicts.append(_set_verdict(stats[col.ROLE], self.roles))
        if "none" in verdicts:
            return "none"
        return "some" if "some" in verdicts else "all"

    def _row_mask(
        self, path: Path, facts: _Facts, metadata: pq.FileMetaData | None, index: int
    ) -> Mask:
        needed = [c for c in (col.TS, col.VERSION, col.ROLE) if c in facts.names]
        table = pq.ParquetFile(path, metadata=metadata).read_row_group(index, columns=needed)
        mask = np.ones(table.num_rows, dtype=bool)
        if col.TS in needed:
            ts = table[col.TS]
            if self.spec.since is not None:
                mask &= _bools(pc.greater_equal(ts, _timestamp(self.spec.since)))
            if self.spec.until is not None:
                mask &= _bools(pc.less(ts, _timestamp(self.spec.until)))
        for name, allowed in ((col.VERSION, self.versions), (col.ROLE, self.roles)):
            if allowed is None:
                continue
            kind = col.column_type(name)
            column = table[name] if name in needed else pa.nulls(len(mask), kind)
            values = pa.array(sorted(allowed), kind)
            mask &= _bools(pc.is_in(column, value_set=values))
        return mask

    def _can_relist(self) -> bool:
        return self._relist is not None and self._relists < RELISTS

    def _take_fresh_listing(self) -> None:
        assert self._relist is not None
        self._relists += 1
        self._vanished = False
        self._paths = self._relist()

    def _keep_newest(self, last: int, skip: int) -> None:
        """Keep rows ``[total - skip - last, total - skip)`` of the selection, in order."""
        total = sum(part.rows for part in self.parts)
        start, stop = max(total - skip - last, 0), max(total - skip, 0)
        offset = 0
        kept: list[_Part] = []
        for part in self.parts:
            low, high = max(start - offset, 0), min(stop - offset, part.rows)
            offset += part.rows
            if high <= low:
                continue
            if low > 0 or high < part.rows:
                rows_in_groups = sum(part.facts.group_rows[g] for g in part.row_groups)
                chosen = (
                    np.flatnonzero(part.mask)
                    if part.mask is not None
                    else np.arange(rows_in_groups)
                )
                mask = np.zeros(rows_in_groups, dtype=bool)
                mask[chosen[low:high]] = True
                part = _Part(
                    part.path, part.facts, part.metadata, part.row_groups, mask, high - low
                )
            kept.append(part)
        self.parts = kept

    # -- columns --------------------------------------------------------------------------
    def prefetch(self, names: Iterable[str], *, always: bool = False) -> None:
        """Read these columns now, one pass per file (worth it with many small files;
        ``always`` when every column will be read anyway)."""
        wanted = [n for n in dict.fromkeys(names) if n not in self._cache and n in self.available]
        if not wanted or (len(self.parts) <= MANY_FILES and not always) or not self.parts:
            return
        tables = self._read_parts(wanted)
        for name in wanted:
            self._cache[name] = _join(
                [_pick(table, name) for table in tables], [p.rows for p in self.parts]
            )

    def column(self, name: str) -> pa.ChunkedArray | None:
        """The column over the window's rows (None if no file has it; the rows of a
        file whose data cannot be read are nulls)."""
        if name in self._cache:
            return self._cache[name]
        if name not in self.available:
            return None
        tables = [self._read_part(part, [name]) for part in self.parts]
        return _join([_pick(table, name) for table in tables], [p.rows for p in self.parts])

    def table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The window's rows as one table of ``columns`` (default: every column), oldest
        first; a column no segment holds comes back as typed nulls. A file whose data
        cannot be read is left out, and the window is selected again without it."""
        while True:
            names = list(dict.fromkeys(columns)) if columns is not None else self._all_columns()
            read = [n for n in names if n in self.available]
            tables = (
                self._read_parts(read, relisting=True)
                if read
                else [pa.table({}) for _ in self.parts]
            )
            if all(table is not None for table in tables):
                break
            if self._vanished:
                self._take_fresh_listing()
            self._open()
        sizes = [p.rows for p in self.parts]
        joined = {name: _join([_pick(t, name) for t in tables], sizes) for name in read}
        return pa.table({name: _or_nulls(joined.get(name), self.n_rows, name) for name in names})

    def _all_columns(self) -> list[str]:
        """Every column, in the order the segments hold them (meta, features, outputs)."""
        ordered: dict[str, None] = dict.fromkeys(col.META)
        for part in self.parts:
            ordered.update(dict.fromkeys(part.facts.names))
        return [name for name in ordered if name in self.available or not self.parts]

    def _read_parts(self, columns: list[str], *, relisting: bool = False) -> list[pa.Table | None]:
        """These columns of every selected file, in order (None where a file's data
        cannot be read)."""
        if len(self.parts) <= 1:
            return [self._read_part(part, columns, relisting=relisting) for part in self.parts]
        with ThreadPoolExecutor(max_workers=max(self.workers, 1) * 2) as pool:
            return list(
                pool.map(
                    lambda part: self._read_part(part, columns, relisting=relisting), self.parts
                )
            )

    def _read_part(
        self, part: _Part, columns: list[str], *, relisting: bool = False
    ) -> pa.Table | None:
        """The part's columns; None if its file cannot be read (reported in
        ``skipped``, or, ``relisting``, flagged for a fresh listing when it is gone)."""
        try:
            return _read_part(part, columns)
        except FileNotFoundError as exc:
            if relisting and self._can_relist():
                self._vanished = True  # table() selects again from a fresh listing
                return None
            self._skip(part.path, exc)
            return None
        except (pa.ArrowException, OSError) as exc:
            self._skip(part.path, exc)
            return None

    def _skip(self, path: Path, exc: Exception) -> None:
        if any(skipped == str(path) for skipped, _ in self.skipped):
            return
        logger.warning("skipping unreadable log segment %s: %s", path, exc)
        self.skipped.append((str(path), str(exc)))

    def segments(self) -> list[Segment]:
        """The window's files, oldest first: a key (path and ``stat``) for each file
        whose every row is in the window, and how many of its rows the window holds.

        ``stat`` comes before any read of the file's data, so whatever is computed from
        the rows read later is never filed under a newer version of the file."""
        return [Segment(part.key, part.rows) for part in self.parts]

    def read_segment(self, index: int, columns: Sequence[str]) -> pa.Table | None:
        """These columns (those the file has) of the window's rows of file ``index``;
        None when its data cannot be read (listed in ``skipped``)."""
        return self._read_part(self.parts[index], list(dict.fromkeys(columns)))

    def numeric(self, name: str) -> FloatArray:
        """A column as float64 with NaN for missing (text that is not a number too)."""
        return self.numeric_checked(name)[0]

    def numeric_checked(self, name: str) -> tuple[FloatArray, int]:
        """The column as float64, and how many logged values were not numbers (another
        version logged the feature as text): those read as missing."""
        column = self.column(name)
        if column is None:
            return np.full(self.n_rows, np.nan), 0
        return numeric_checked(column)

    def text(self, name: str) -> pa.ChunkedArray:
        """A column as strings (nulls for missing)."""
        column = self.column(name)
        if column is None:
            return pa.chunked_array([pa.nulls(self.n_rows, pa.string())])
        if not pa.types.is_string(column.type):
            return pc.cast(column, pa.string())
        return column


def numeric_checked(column: pa.ChunkedArray) -> tuple[FloatArray, int]:
    """A logged column as float64 (NaN for missing), and how many of its values were
    not numbers (text another version logged): those read as missing."""
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        values: FloatArray = column.to_numpy().astype(np.float64, copy=False)
        return values, 0
    import pandas as pd  # here: commands that only import this module skip pandas

    logged = pd.Series(column.to_pylist(), dtype=object)
    parsed = pd.to_numeric(logged, errors="coerce")
    # Numbers that went through text (a missing one reads "nan") are not violations.
    wrong = parsed.isna() & logged.notna() & (logged.astype(str).str.lower() != "nan")
    coerced: FloatArray = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    return coerced, int(wrong.sum())


class _Vanished(Exception):
    """A listed file is gone: a compaction merged it since the listing was taken."""


def _footer(path: Path) -> tuple[SegmentKey, _Facts, pq.FileMetaData | None]:
    """The file's identity (``stat`` first, so nothing read later is filed under a newer
    version of the file) and its footer's facts: kept ones, or read (with the footer)."""
    found = os.stat(path)
    key = SegmentKey(str(path), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)
    facts = _FOOTERS.get(key)
    if facts is not None:
        return key, facts, None
    metadata = pq.read_metadata(path)
    facts = _Facts.of(metadata)
    _FOOTERS.put(key, facts)
    return key, facts, metadata


def _read_part(part: _Part, columns: list[str]) -> pa.Table:
    needed = [c for c in columns if c in part.facts.names]
    # Columns are already read in parallel, one task each: no threads inside a read.
    reader = pq.ParquetFile(part.path, metadata=part.metadata, memory_map=True)
    if len(part.row_groups) == len(part.facts.group_rows):
        table = reader.read(columns=needed, use_threads=False)
    else:
        table = reader.read_row_groups(part.row_groups, columns=needed, use_threads=False)
    if part.mask is not None:
        table = table.filter(pa.array(part.mask))
    return table


def _or_nulls(values: pa.ChunkedArray | None, rows: int, name: str) -> pa.ChunkedArray:
    if values is not None:
        return values
    return pa.chunked_array([pa.nulls(rows, col.column_type(name))])


def _pick(table: pa.Table | None, name: str) -> pa.ChunkedArray | None:
    return table[name] if table is not None and name in table.column_names else None


def _join(chunks: list[pa.ChunkedArray | None], sizes: list[int]) -> pa.ChunkedArray | None:
    """Concatenate per-file pieces; missing pieces become nulls, mixed types become text."""
    present = [c for c in chunks if c is not None]
    if not present:
        return None
    types = {c.type for c in present}
    target = present[0].type if len(types) == 1 else pa.string()
    pieces = []
    for chunk, size in zip(chunks, sizes, strict=True):
        if chunk is None:
            pieces.extend(pa.chunked_array([pa.nulls(size, target)]).chunks)
        elif chunk.type != target:
            pieces.extend(pc.cast(chunk, target).chunks)
        else:
            pieces.extend(chunk.chunks)
    return pa.chunked_array(pieces, type=target)


def _stats(group: pq.RowGroupMetaData, names: list[str], column: str) -> tuple[Any, Any] | None:
    if column not in names:
        return None
    statistics = group.column(names.index(column)).statistics
    if statistics is None or not statistics.has_min_max or statistics.null_count:
        return None
    return statistics.min, statistics.max


def _range_verdict(bounds: tuple[Any, Any] | None, spec: WindowSpec) -> str:
    if bounds is None:
        return "some"
    low, high = (_aware(b) for b in bounds)
    if (spec.since is not None and high < spec.since) or (
        spec.until is not None and low >= spec.until
    ):
        return "none"
    inside = (spec.since is None or low >= spec.since) and (spec.until is None or high < spec.until)
    return "all" if inside else "some"


def _set_verdict(bounds: tuple[Any, Any] | None, allowed: frozenset[Any]) -> str:
    if bounds is None:
        return "some"
    low, high = bounds
    if low == high:
        return "all" if low in allowed else "none"
    if all(value < low or value > high for value in allowed):
        return "none"
    return "some"


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        import pandas as pd

        moment = pd.Timestamp(value).to_pydatetime()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _timestamp(moment: datetime) -> pa.Scalar:
    return pa.scalar(moment, col.TIMESTAMP)


def _bools(values: pa.ChunkedArray | pa.Array) -> Mask:
    mask: Mask = np.asarray(pc.fill_null(values, False), dtype=bool)
    return mask
