"""Drift and quality of each column of a window against a baseline, read from the log.

A comparator is prepared once per baseline column (the reference sorted, its bins
taken from the profile) and then compares any window's values: numeric columns are
sorted once and every statistic (exact KS and Wasserstein, PSI/JS/chi-square/TV on the
profile's bins) and the quality figures come from that one sorted array; categorical
columns are counted by Arrow (no Python object per value). Without raw reference values
(a profile only) the numeric statistics are all binned.

:func:`compare_columns` runs one task per column on ``workers`` threads; each task reads
its column from the log and compares it, so reading one column overlaps with the
statistics of another.

>>> from modelport.registry.profile import profile_numeric
>>> rng = np.random.default_rng(0)
>>> reference = rng.normal(size=5_000)
>>> comparator = NumericComparator("x", profile_numeric(reference, 20), reference)
>>> result = comparator.compare(rng.normal(0.5, 1.0, size=2_000), DriftSettings())
>>> result.drift.drifted, result.exact, sorted(result.drift.results)
(True, True, ['jensenshannon', 'ks', 'psi', 'wasserstein'])
>>> result.drift.decided_by, result.drift.p_value < 0.05
('materiality', True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.monitoring.reports.quality import (
    FeatureQuality,
    categorical_quality,
    numeric_quality,
)
from modelport.monitoring.stats import BinnedCounts
from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.drift import FeatureDrift, summarise
from modelport.monitoring.stats.ecdf import align, sort_values
from modelport.monitoring.stats.histogram import Histogram
from modelport.monitoring.stats.numeric import NumericReference, numeric_histogram
from modelport.monitoring.stats.settings import DriftSettings
from modelport.registry.profile import OTHER, FeatureProfile, profile_categorical

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
MAX_PLOTTED_CATEGORIES = 20


@dataclass
class ColumnResult:
    name: str
    drift: FeatureDrift
    quality: FeatureQuality
    histogram: dict[str, Any]
    exact: bool


class NumericComparator:
    """One numeric baseline column: sorted raw values (exact) or only its profile (binned)."""

    def __init__(
        self,
        name: str,
        profile: FeatureProfile,
        values: FloatArray | None = None,
        bounds: tuple[float, float] | None = None,
        bounds_source: str | None = None,
    ) -> None:
        self.name = name
        self.profile = profile
        self.reference = None if values is None else NumericReference().fit(values, profile)
        self.state = BinnedCounts().fit(profile)
        if bounds is None and profile.minimum is not None and profile.maximum is not None:
            bounds, bounds_source = (profile.minimum, profile.maximum), "reference"
        self.bounds, self.bounds_source = bounds, bounds_source

    def compare(
        self,
        values: FloatArray,
        settings: DriftSettings,
        type_violations: int = 0,
        overwrite: bool = False,
        missing_rows: int = 0,
    ) -> ColumnResult:
        """Statistics and quality of ``values`` and ``missing_rows`` more missing ones;
        ``overwrite`` lets it sort them in place."""
        rows = len(values) + missing_rows
        names = settings.names("numeric")
        limits = settings.thresholds_for(self.name)
        if self.reference is None:
            # Binned statistics count the raw values; sorting comes after.
            state = self.state.fresh()
            state.update(values)
            state.counts_[-1] += missing_rows
        ordered = sort_values(values, overwrite=overwrite)
        missing = rows - len(ordered)
        if self.reference is not None:
            histogram = numeric_histogram(self.reference, ordered, missing)
            alignment = align(self.reference.sorted_, ordered)
            results = compute_stats(histogram, names, limits, alignment)
        else:
            histogram = state.histogram()
            results = compute_stats(histogram, names, limits)
        drift = summarise(self.name, histogram, results, settings.decision["numeric"], settings)
        quality = numeric_quality(
            self.name,
            ordered,
            missing,
            self.bounds,
            self.bounds_source,
            self.profile.missing_rate,
            self.profile.minimum is not None and self.profile.minimum == self.profile.maximum,
            type_violations,
        )
        return ColumnResult(
            self.name, drift, quality, _numeric_plot(histogram), self.reference is not None
        )


class CategoricalComparator:
    """One categorical baseline column: every reference category (raw values) or the
    profile's top categories plus ``__other__``."""

    def __init__(
        self,
        name: str,
        profile: FeatureProfile,
        values: np.ndarray[Any, Any] | None = None,
        declared: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.profile = profile
        full = profile if values is None else profile_categorical(values, len(values) + 1)
        self.state = BinnedCounts().fit(full)
        known = set(full.frequencies) | set(declared)
        # A lumped long tail hides which values the reference had.
        self.known = None if OTHER in full.frequencies else known

    def compare(
        self, counts: Mapping[str, int], missing: int, settings: DriftSettings
    ) -> ColumnResult:
        state = self.state.fresh()
        state.update_counts(counts, missing)
        histogram = state.histogram()
        names = settings.names("categorical")
        results = compute_stats(histogram, names, settings.thresholds_for(self.name))
        drift = summarise(self.name, histogram, results, settings.decision["categorical"], settings)
        present = {k: v for k, v in self.profile.frequencies.items() if v}
        quality = categorical_quality(
            self.name, counts, missing, self.known, self.profile.missing_rate, len(present) == 1
        )
        return ColumnResult(
            self.name, drift, quality, _categorical_plot(histogram, state.categories_), True
        )


Comparator = NumericComparator | CategoricalComparator
Task = Callable[[], ColumnResult]


def compare_columns(tasks: Sequence[Task], workers: int = 2) -> list[ColumnResult]:
    """Run per-column tasks (read + compare) on a few threads, results in order."""
    if workers <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda task: task(), tasks))


def _shares(counts: np.ndarray[Any, Any]) -> list[float]:
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def _numeric_plot(histogram: Histogram) -> dict[str, Any]:
    return {
        "kind": "numeric",
        "cut_points": histogram.cut_points.tolist(),
        "reference": _shares(histogram.reference[:-1]),
        "current": _shares(histogram.current[:-1]),
        "missing": [
            float(histogram.reference[-1] / max(histogram.n_reference, 1)),
            float(histogram.current[-1] / max(histogram.n_current, 1)),
        ],
    }


def _categorical_plot(histogram: Histogram, categories: list[str]) -> dict[str, Any]:
    labels = [*categories, "(unseen)", "(missing)"]
    reference, current = _shares(histogram.reference), _shares(histogram.current)
    order = sorted(range(len(labels)), key=lambda i: -(reference[i] + current[i]))
    keep = sorted(order[:MAX_PLOTTED_CATEGORIES])
    return {
        "kind": "categorical",
        "categories": [labels[i] for i in keep],
        "reference": [reference[i] for i in keep],
        "current": [current[i] for i in keep],
    }
