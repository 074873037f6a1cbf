"""One sorted pass that exact KS and Wasserstein share.

Both statistics are functions of the two empirical CDFs and are symmetric in the two
samples. The larger sample is kept "dense": sorted, with prefix sums of its values (the
reference is prepared once at fit time). The smaller sample is reduced to its distinct
values ``u`` (its jump points) and two binary searches of ``u`` into the dense sample
give both CDFs at every jump. That is all KS needs, and with the prefix sums it is all
Wasserstein-1 needs too, so neither touches the union of both samples: the cost is
``O(s log s + s log d)`` for ``s`` small-side and ``d`` dense-side values.

>>> reference = SortedReference.from_values(np.array([3.0, 1.0, 2.0]))
>>> alignment = align(reference, np.array([2.0, 2.0, 5.0]))
>>> alignment.points.tolist(), alignment.jump_le.tolist(), alignment.dense_le.tolist()
([2.0, 5.0], [2, 3], [2, 3])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class SortedReference:
    """Sorted non-missing values and ``prefix[k] = sum(values[:k] - center)``.

    Centring on the median keeps the prefix sums small, so differences of them (used by
    Wasserstein) lose no precision for data far from zero, such as timestamps.
    ``points``/``le`` are the distinct values and how many values are ``<=`` each.
    """

    values: FloatArray
    prefix: FloatArray
    center: float
    points: FloatArray
    le: IntArray

    @classmethod
    def from_values(cls, values: FloatArray) -> SortedReference:
        return cls.from_sorted(sort_values(values))

    @classmethod
    def from_sorted(cls, ordered: FloatArray, with_jumps: bool = True) -> SortedReference:
        # Any value amid the data keeps the sums small; the middle one costs no pass.
        center = float(ordered[len(ordered) // 2]) if len(ordered) else 0.0
        # One buffer, filled in place: on a million values every extra temporary costs
        # as much as the cumulative sum itself.
        prefix = np.empty(len(ordered) + 1, dtype=np.float64)
        prefix[0] = 0.0
        np.subtract(ordered, center, out=prefix[1:])
        np.cumsum(prefix[1:], out=prefix[1:])
        points, le = jumps(ordered) if with_jumps else (ordered[:0], np.empty(0, np.int64))
        return cls(ordered, prefix, center, points, le)

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True, slots=True)
class EcdfAlignment:
    """Both empirical CDFs (as counts) at the jump points of the smaller sample.

    ``jump_le[j]`` counts values of the jump sample ``<= points[j]``; ``dense_le`` and
    ``dense_lt`` count values of ``dense`` that are ``<=`` and ``<`` ``points[j]``.
    ``dense_is_reference`` says which way round the samples are.
    """

    dense: SortedReference
    points: FloatArray
    jump_le: IntArray
    dense_le: IntArray
    dense_lt: IntArray
    dense_is_reference: bool

    @property
    def n_dense(self) -> int:
        return self.dense.n

    @property
    def n_jump(self) -> int:
        return int(self.jump_le[-1]) if len(self.jump_le) else 0

    def samples(self) -> tuple[FloatArray, FloatArray]:
        """The reference and current samples back, sorted (for small-sample fallbacks)."""
        jump_values = np.repeat(self.points, np.diff(self.jump_le, prepend=0))
        if self.dense_is_reference:
            return self.dense.values, jump_values
        return jump_values, self.dense.values


def sort_values(values: FloatArray, overwrite: bool = False) -> FloatArray:
    """Non-missing values, sorted; ``overwrite`` sorts a writable float64 array in place.

    NaN sorts last, so the non-missing values are a prefix of the sorted array (a view):
    no mask and no second copy of a million-row column.

    >>> sort_values(np.array([3.0, np.nan, 1.0])).tolist()
    [1.0, 3.0]
    """
    values = np.asarray(values, dtype=np.float64)
    if overwrite and values.flags.writeable:
        values.sort()
        ordered = values
    else:
        ordered = np.sort(values)
    if len(ordered) and np.isnan(ordered[-1]):
        ordered = ordered[: int(np.searchsorted(ordered, np.nan, side="left"))]
    return ordered


def jumps(ordered: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct values of a sorted sample and how many values are ``<=`` each."""
    if len(ordered) == 0:
        return ordered, np.empty(0, dtype=np.int64)
    last = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    return ordered[last], (last + 1).astype(np.int64)


def align(reference: SortedReference, current_sorted: FloatArray) -> EcdfAlignment:
    """Align a sorted, NaN-free current sample with the reference (either way round)."""
    if len(current_sorted) <= reference.n:
        points, jump_le = jumps(current_sorted)
        return _search(reference, points, jump_le, dense_is_reference=True)
    current = SortedReference.from_sorted(current_sorted, with_jumps=False)
    return _search(current, reference.points, reference.le, dense_is_reference=False)


def _search(
    dense: SortedReference, points: FloatArray, jump_le: IntArray, dense_is_reference: bool
) -> EcdfAlignment:
    dense_le = np.searchsorted(dense.values, points, side="right").astype(np.int64)
    # A strict count differs only where a jump point also occurs in the dense sample,
    # so the second search is limited to those (few, unless the data is discrete).
    dense_lt = dense_le.copy()
    tied = np.flatnonzero(dense_le > 0)
    tied = tied[dense.values[dense_le[tied] - 1] == points[tied]]
    dense_lt[tied] = np.searchsorted(dense.values, points[tied], side="left")
    return EcdfAlignment(dense, points, jump_le, dense_le, dense_lt, dense_is_reference)
