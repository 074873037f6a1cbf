"""One sorted pass that exact KS and Wasserstein share.

The reference is sorted once (at fit time) together with prefix sums of its values.
A current sample is sorted once per report and reduced to its distinct values ``u``;
two binary searches of ``u`` into the reference give both empirical CDFs at every point
where the current CDF jumps. That is all KS needs, and with the prefix sums it is all
Wasserstein-1 needs too, so neither statistic ever touches the union of both samples:
the cost is ``O(m log m + m log n)`` for ``m`` current and ``n`` reference values.

>>> reference = SortedReference.from_values(np.array([3.0, 1.0, 2.0]))
>>> alignment = align(reference, np.array([2.0, 2.0, 5.0]))
>>> alignment.points.tolist(), alignment.current_le.tolist(), alignment.reference_le.tolist()
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
    """Sorted non-missing reference values and ``prefix[k] = sum(values[:k] - center)``.

    Centring on the mean keeps the prefix sums small, so differences of them (used by
    Wasserstein) lose no precision for data far from zero, such as timestamps.
    """

    values: FloatArray
    prefix: FloatArray
    center: float

    @classmethod
    def from_values(cls, values: FloatArray) -> SortedReference:
        values = np.asarray(values, dtype=np.float64)
        ordered = np.sort(values[~np.isnan(values)])
        center = float(ordered.mean()) if len(ordered) else 0.0
        prefix = np.concatenate(([0.0], np.cumsum(ordered - center)))
        return cls(ordered, prefix, center)

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True, slots=True)
class EcdfAlignment:
    """Both empirical CDFs (as counts) at the distinct current values ``points``.

    ``current_le[j]`` counts current values ``<= points[j]``; ``reference_le`` and
    ``reference_lt`` count reference values ``<=`` and ``<`` ``points[j]``.
    """

    points: FloatArray
    current_le: IntArray
    reference_le: IntArray
    reference_lt: IntArray
    n_reference: int
    n_current: int


def sort_values(values: FloatArray) -> FloatArray:
    """Non-missing values, sorted."""
    values = np.asarray(values, dtype=np.float64)
    return np.sort(values[~np.isnan(values)])


def align(reference: SortedReference, current_sorted: FloatArray) -> EcdfAlignment:
    """Align a sorted, NaN-free current sample with the reference."""
    m = len(current_sorted)
    if m == 0:
        empty = np.empty(0, dtype=np.int64)
        return EcdfAlignment(np.empty(0), empty, empty, empty, reference.n, 0)
    # Last index of each run of equal values: the current CDF jumps there.
    last = np.flatnonzero(np.append(current_sorted[1:] != current_sorted[:-1], True))
    points = current_sorted[last]
    reference_le = np.searchsorted(reference.values, points, side="right")
    # A strict count differs only where a current value also occurs in the reference,
    # so the second search is limited to those (few, unless the data is discrete).
    reference_lt = reference_le.copy()
    tied = np.flatnonzero(reference_le > 0)
    tied = tied[reference.values[reference_le[tied] - 1] == points[tied]]
    reference_lt[tied] = np.searchsorted(reference.values, points[tied], side="left")
    return EcdfAlignment(
        points=points,
        current_le=(last + 1).astype(np.int64),
        reference_le=reference_le.astype(np.int64),
        reference_lt=reference_lt.astype(np.int64),
        n_reference=reference.n,
        n_current=m,
    )
