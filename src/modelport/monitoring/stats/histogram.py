"""Aligned bucket counts of a reference and a current sample: the input of binned stats.

Buckets are the value bins (numeric: the profile's quantile bins, in order; categorical:
the profile's categories, then an ``unseen`` bucket) followed by one ``missing`` bucket,
so PSI, Jensen–Shannon, chi-square and total variation also see a change in the share of
missing values. Ordered statistics (KS, Wasserstein) use the value bins only.

>>> h = Histogram.numeric([1, 2, 1], [0, 3, 1], cut_points=[0.0, 1.0],
...                       reference_range=(-1.0, 2.0), current_range=(0.5, 1.5))
>>> h.reference.tolist(), h.current.tolist(), h.n_bins
([1, 2, 1, 0], [0, 3, 1, 0], 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Kind = Literal["numeric", "categorical"]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class Histogram:
    """``reference``/``current`` are counts per bucket; the last bucket is ``missing``."""

    kind: Kind
    reference: IntArray
    current: IntArray
    # Numeric only: finite cut points between value bins, and each sample's value range,
    # which the binned Wasserstein approximation needs for the open outer bins.
    cut_points: FloatArray = field(default_factory=lambda: np.empty(0))
    reference_range: tuple[float, float] | None = None
    current_range: tuple[float, float] | None = None
    # Scale for the normalised Wasserstein distance: the reference standard deviation.
    reference_std: float | None = None
    # Categorical only: current values outside the reference categories.
    unseen: int = 0

    @classmethod
    def numeric(
        cls,
        reference_bins: Sequence[int] | IntArray,
        current_bins: Sequence[int] | IntArray,
        cut_points: Sequence[float] | FloatArray,
        reference_range: tuple[float, float] | None,
        current_range: tuple[float, float] | None,
        reference_missing: int = 0,
        current_missing: int = 0,
        reference_std: float | None = None,
    ) -> Histogram:
        return cls(
            kind="numeric",
            reference=_with_missing(reference_bins, reference_missing),
            current=_with_missing(current_bins, current_missing),
            cut_points=np.asarray(cut_points, dtype=np.float64),
            reference_range=reference_range,
            current_range=current_range,
            reference_std=reference_std,
        )

    @property
    def n_bins(self) -> int:
        """Number of value bins (the ``missing`` bucket excluded)."""
        return len(self.reference) - 1

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())

    @property
    def n_reference_values(self) -> int:
        return int(self.reference[:-1].sum())

    @property
    def n_current_values(self) -> int:
        return int(self.current[:-1].sum())


def _with_missing(bins: Sequence[int] | IntArray, missing: int) -> IntArray:
    return np.append(np.asarray(bins, dtype=np.int64), np.int64(missing))
