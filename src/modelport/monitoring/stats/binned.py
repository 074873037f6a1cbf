"""Streaming counts of live values in a reference profile's buckets.

A :class:`BinnedCounts` is fitted on one :class:`FeatureProfile` and then fed live values
in any number of chunks (``update``). States of different windows or server processes
combine with ``merge`` because every statistic here is a function of the counts alone,
and the state round-trips through JSON (``to_dict``/``from_dict``). Numeric values fall
into the profile's quantile bins (the outer bins are open, so nothing is lost);
categorical values into the profile's categories or, when the reference never saw
them, an ``unseen`` bucket that is counted, not dropped. If the profile lumped its
long tail into ``"__other__"``, values outside the kept categories are compared with
that bucket but still reported as ``unseen_``.

>>> from modelport.registry.profile import profile_categorical
>>> profile = profile_categorical(np.array(["a", "b", "a", "b"], dtype=object), 10)
>>> state = BinnedCounts().fit(profile)
>>> state.update(np.array(["a", "c", None], dtype=object))
>>> state.counts_.tolist(), state.unseen_
([1, 0, 1, 1], 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.histogram import FloatArray, Histogram, IntArray, Kind
from modelport.monitoring.stats.registry import DEFAULT_STATS
from modelport.monitoring.stats.result import StatResult
from modelport.registry.profile import OTHER, FeatureProfile

if TYPE_CHECKING:
    import pandas as pd


class BinnedCounts:
    """Live counts aligned with a profile's buckets: value bins, ``unseen``, ``missing``."""

    kind_: Kind
    cut_points_: FloatArray
    categories_: list[str]
    reference_counts_: IntArray
    reference_range_: tuple[float, float] | None
    reference_std_: float | None
    counts_: IntArray
    minimum_: float
    maximum_: float

    def fit(self, profile: FeatureProfile) -> BinnedCounts:
        self.kind_ = profile.kind
        self.cut_points_ = np.asarray(profile.cut_points, dtype=np.float64)
        self.categories_ = list(profile.frequencies)
        if profile.kind == "numeric":
            values = list(profile.bin_counts)
        else:
            values = [*profile.frequencies.values(), 0]  # the reference saw nothing unseen
        self.reference_counts_ = np.array([*values, profile.missing], dtype=np.int64)
        self.reference_range_ = None
        if profile.minimum is not None and profile.maximum is not None:
            self.reference_range_ = (profile.minimum, profile.maximum)
        self.reference_std_ = profile.std
        self.reset()
        return self

    def reset(self) -> None:
        """Forget the live counts, keep the reference."""
        self.counts_ = np.zeros_like(self.reference_counts_)
        self.minimum_, self.maximum_ = np.inf, -np.inf

    def fresh(self) -> BinnedCounts:
        """A state on the same reference with no live counts yet."""
        state = BinnedCounts.from_dict(self.to_dict())
        state.reset()
        return state

    @property
    def n_(self) -> int:
        """Live rows seen, missing included."""
        return int(self.counts_.sum())

    @property
    def missing_(self) -> int:
        return int(self.counts_[-1])

    @property
    def unseen_(self) -> int:
        return int(self.counts_[-2]) if self.kind_ == "categorical" else 0

    def update(self, values: Iterable[Any] | np.ndarray[Any, Any]) -> None:
        if self.kind_ == "numeric":
            self._update_numeric(np.asarray(values, dtype=np.float64))
        else:
            import pandas as pd  # here: commands that only import this module skip pandas

            self._update_categorical(pd.Series(np.asarray(values, dtype=object), dtype=object))

    def _update_numeric(self, values: FloatArray) -> None:
        present = values[~np.isnan(values)]
        bins = np.searchsorted(self.cut_points_, present, side="right")
        self.counts_[:-1] += np.bincount(bins, minlength=len(self.counts_) - 1)
        self.counts_[-1] += len(values) - len(present)
        if len(present):
            self.minimum_ = min(self.minimum_, float(present.min()))
            self.maximum_ = max(self.maximum_, float(present.max()))

    def _update_categorical(self, values: pd.Series[Any]) -> None:
        import pandas as pd

        missing = values.isna()
        present = values[~missing].astype(str)
        codes = pd.Index(self.categories_, dtype=object).get_indexer(pd.Index(present))
        # Index -1 is a value outside the categories: it lands in the ``unseen`` bucket.
        codes = np.where(codes < 0, len(self.categories_), codes)
        self.counts_[:-1] += np.bincount(codes, minlength=len(self.counts_) - 1)
        self.counts_[-1] += int(missing.sum())

    def update_counts(self, counts: Mapping[str, int], missing: int = 0) -> None:
        """Add categorical values already counted (``{"a": 3, "c": 1}``), e.g. by Arrow's
        ``value_counts`` on a million-row column, without a Python object per value.

        >>> from modelport.registry.profile import profile_categorical
        >>> state = BinnedCounts().fit(profile_categorical(np.array(["a", "b"], dtype=object), 5))
        >>> state.update_counts({"a": 3, "c": 1}, missing=2)
        >>> state.counts_.tolist(), state.unseen_
        ([3, 0, 1, 2], 1)
        """
        if self.kind_ != "categorical":
            raise ValueError("update_counts takes category counts; numeric values use update")
        position = {name: index for index, name in enumerate(self.categories_)}
        unseen = len(self.categories_)
        for value, count in counts.items():
            self.counts_[position.get(str(value), unseen)] += int(count)
        self.counts_[-1] += int(missing)

    def merge(self, other: BinnedCounts) -> BinnedCounts:
        """A new state holding the counts of both (same reference profile required)."""
        same = (
            self.kind_ == other.kind_
            and self.categories_ == other.categories_
            and np.array_equal(self.cut_points_, other.cut_points_)
            and np.array_equal(self.reference_counts_, other.reference_counts_)
        )
        if not same:
            raise ValueError("cannot merge counts fitted on different reference profiles")
        merged = BinnedCounts.from_dict(self.to_dict())
        merged.counts_ = self.counts_ + other.counts_
        merged.minimum_ = min(self.minimum_, other.minimum_)
        merged.maximum_ = max(self.maximum_, other.maximum_)
        return merged

    def histogram(self) -> Histogram:
        if self.kind_ == "numeric":
            seen = self.minimum_ <= self.maximum_
            return Histogram.numeric(
                self.reference_counts_[:-1],
                self.counts_[:-1],
                self.cut_points_,
                self.reference_range_,
                (self.minimum_, self.maximum_) if seen else None,
                reference_missing=int(self.reference_counts_[-1]),
                current_missing=self.missing_,
                reference_std=self.reference_std_,
            )
        current = self.counts_.copy()
        if OTHER in self.categories_:
            # The reference's long tail was lumped, so "unseen" may be part of that tail.
            current[self.categories_.index(OTHER)] += current[-2]
            current[-2] = 0
        return Histogram("categorical", self.reference_counts_, current, unseen=self.unseen_)

    def get(
        self, stats: Iterable[str] | None = None, thresholds: Mapping[str, float] | None = None
    ) -> dict[str, StatResult]:
        """The named statistics (default: all that apply to this kind) on the counts so far."""
        names = DEFAULT_STATS[self.kind_] if stats is None else stats
        return compute_stats(self.histogram(), names, thresholds)

    def to_dict(self) -> dict[str, Any]:
        seen = self.minimum_ <= self.maximum_
        return {
            "kind": self.kind_,
            "cut_points": self.cut_points_.tolist(),
            "categories": list(self.categories_),
            "reference_counts": self.reference_counts_.tolist(),
            "reference_range": None
            if self.reference_range_ is None
            else list(self.reference_range_),
            "reference_std": self.reference_std_,
            "counts": self.counts_.tolist(),
            "minimum": self.minimum_ if seen else None,
            "maximum": self.maximum_ if seen else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BinnedCounts:
        state = cls()
        state.kind_ = data["kind"]
        state.cut_points_ = np.asarray(data["cut_points"], dtype=np.float64)
        state.categories_ = list(data["categories"])
        state.reference_counts_ = np.asarray(data["reference_counts"], dtype=np.int64)
        low_high = data["reference_range"]
        state.reference_range_ = None if low_high is None else (low_high[0], low_high[1])
        state.reference_std_ = data["reference_std"]
        state.counts_ = np.asarray(data["counts"], dtype=np.int64)
        seen = data["minimum"] is not None
        state.minimum_ = data["minimum"] if seen else np.inf
        state.maximum_ = data["maximum"] if seen else -np.inf
        return state
