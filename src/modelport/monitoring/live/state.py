"""One live window's mergeable state, and its verdicts without re-reading the log.

A :class:`WindowState` holds, for one endpoint, version and window, per compared column
(features, ``__prediction__``, ``__proba__<class>``) a
:class:`~modelport.monitoring.stats.BinnedCounts` on the baseline profile's buckets, the
numeric values below/above the quality bounds, the rows and failed rows, the requests
refused at the API by code, and the labelled-performance sums
(:class:`~modelport.monitoring.metrics.counts.PerformanceCounts`). Every part adds up, so the
states of several server processes, or of a window's stretches, ``merge``; they
round-trip through JSON into ``monitoring_states``.

:meth:`WindowState.from_log` counts the same things from the prediction log, which is
how backfilled windows are computed and how tests check that the streaming state
equals the batch computation on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow.compute as pc

from modelport.monitoring.metrics.counts import PerformanceCounts
from modelport.monitoring.stats import BinnedCounts
from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.drift import FeatureDrift, summarise
from modelport.monitoring.stats.histogram import Histogram
from modelport.monitoring.stats.settings import DriftSettings
from modelport.predlog import columns as col
from modelport.predlog.reader import LogWindow
from modelport.registry.profile import ReferenceProfile
from modelport.schema import InputSchema, OutputSpec

Bounds = dict[str, tuple[float, float]]


def quality_bounds(schema: InputSchema, profile: ReferenceProfile) -> Bounds:
    """Declared bounds where the schema has them, else the reference's min/max."""
    bounds: Bounds = {}
    for spec in schema.features:
        feature = profile.features_.get(spec.name)
        if spec.minimum is not None or spec.maximum is not None:
            bounds[spec.name] = (
                -np.inf if spec.minimum is None else spec.minimum,
                np.inf if spec.maximum is None else spec.maximum,
            )
        elif feature is not None and feature.minimum is not None and feature.maximum is not None:
            bounds[spec.name] = (feature.minimum, feature.maximum)
    return bounds


class WindowState:
    columns: dict[str, BinnedCounts]

    def __init__(self, output: OutputSpec) -> None:
        self.output = output
        self.columns = {}
        self.bounds: Bounds = {}
        self.out_of_range: dict[str, list[int]] = {}
        self.rows = 0
        self.failed = 0
        self.invalid: dict[str, int] = {}
        self.performance = PerformanceCounts(output.kind, output.classes)

    @classmethod
    def fit(cls, profile: ReferenceProfile, schema: InputSchema, output: OutputSpec) -> WindowState:
        state = cls(output)
        for name, feature in profile.features_.items():
            state.columns[name] = BinnedCounts().fit(feature)
        if profile.prediction_ is not None:
            state.columns[col.SERIES_PREDICTION] = BinnedCounts().fit(profile.prediction_)
        for label, feature in (profile.probabilities_ or {}).items():
            state.columns[col.series_output(label)] = BinnedCounts().fit(feature)
        state.bounds = quality_bounds(schema, profile)
        state.out_of_range = {name: [0, 0] for name in state.bounds}
        return state

    def fresh(self) -> WindowState:
        """A state on the same baseline with nothing counted yet."""
        state = WindowState(self.output)
        state.columns = {name: counts.fresh() for name, counts in self.columns.items()}
        state.bounds = dict(self.bounds)
        state.out_of_range = {name: [0, 0] for name in self.bounds}
        return state

    # -- counting -------------------------------------------------------------------------
    def update(
        self,
        features: Mapping[str, np.ndarray[Any, Any]],
        outputs: np.ndarray[Any, Any] | None,
        probabilities: np.ndarray[Any, Any] | None,
        rows: int,
    ) -> None:
        """Count answered rows: feature columns, model outputs ([rows, classes] probabilities)."""
        self.rows += rows
        for name, values in features.items():
            counts = self.columns.get(name)
            if counts is None:
                continue
            counts.update(values)
            if name in self.bounds:
                low, high = self.bounds[name]
                numbers = np.asarray(values, dtype=np.float64)
                self.out_of_range[name][0] += int(np.count_nonzero(numbers < low))
                self.out_of_range[name][1] += int(np.count_nonzero(numbers > high))
        if outputs is not None and col.SERIES_PREDICTION in self.columns:
            self.columns[col.SERIES_PREDICTION].update(_output_values(outputs, self.output))
        if probabilities is not None:
            for index, label in enumerate(self.output.classes):
                counts = self.columns.get(col.series_output(label))
                if counts is not None:
                    counts.update(probabilities[:, index])

    @classmethod
    def from_log(
        cls,
        window: LogWindow,
        profile: ReferenceProfile,
        schema: InputSchema,
        output: OutputSpec,
    ) -> WindowState:
        """The same counts, computed from the logged rows of a window."""
        state = cls.fit(profile, schema, output)
        features = {}
        for spec in schema.features:
            column = col.feature(spec.name)
            if spec.numeric:
                features[spec.name] = window.numeric(column)
            else:
                text = window.text(column).to_numpy(zero_copy_only=False)
                features[spec.name] = np.asarray(text, dtype=object)
        answer = col.output_column(output.kind)
        if output.kind == "regression":
            outputs = window.numeric(answer)
        else:
            outputs = np.asarray(window.text(answer).to_numpy(zero_copy_only=False), dtype=object)
        probabilities = None
        if output.has_probabilities and output.classes:
            probabilities = np.column_stack([window.numeric(col.proba(c)) for c in output.classes])
        state.update(features, outputs, probabilities, window.n_rows)
        status = window.column(col.STATUS)
        if status is not None:
            state.failed = int(pc.sum(pc.equal(status, col.STATUS_ERROR)).as_py() or 0)
        return state

    # -- combining ---------------------------------------------------------------------------
    def merge(self, other: WindowState) -> WindowState:
        merged = self.fresh()
        merged.columns = {
            name: counts.merge(other.columns[name]) if name in other.columns else counts
            for name, counts in self.columns.items()
        }
        for name in merged.out_of_range:
            mine = self.out_of_range.get(name, [0, 0])
            theirs = other.out_of_range.get(name, [0, 0])
            merged.out_of_range[name] = [mine[0] + theirs[0], mine[1] + theirs[1]]
        merged.rows = self.rows + other.rows
        merged.failed = self.failed + other.failed
        merged.invalid = dict(self.invalid)
        for code, count in other.invalid.items():
            merged.invalid[code] = merged.invalid.get(code, 0) + count
        merged.performance = self.performance.merge(other.performance)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output.model_dump(),
            "columns": {name: counts.to_dict() for name, counts in self.columns.items()},
            "bounds": {name: list(b) for name, b in self.bounds.items()},
            "out_of_range": self.out_of_range,
            "rows": self.rows,
            "failed": self.failed,
            "invalid": self.invalid,
            "performance": self.performance.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowState:
        state = cls(OutputSpec.model_validate(data["output"]))
        state.columns = {n: BinnedCounts.from_dict(c) for n, c in data["columns"].items()}
        state.bounds = {n: (float(b[0]), float(b[1])) for n, b in data["bounds"].items()}
        state.out_of_range = {n: list(v) for n, v in data["out_of_range"].items()}
        state.rows, state.failed = int(data["rows"]), int(data["failed"])
        state.invalid = dict(data["invalid"])
        state.performance = PerformanceCounts.from_dict(data["performance"])
        return state

    # -- verdicts ----------------------------------------------------------------------------
    def drift(
        self, settings: DriftSettings, previous: WindowState | None = None
    ) -> dict[str, tuple[FeatureDrift, Histogram]]:
        """Per column verdicts against the profile, or against ``previous`` (same bins)."""
        verdicts = {}
        # Every column of the window is judged together (one family for the correction).
        settings = settings.with_family(len(self.columns))
        for name, counts in self.columns.items():
            histogram = counts.histogram()
            if previous is not None and name in previous.columns:
                before = previous.columns[name].histogram()
                histogram = Histogram(
                    histogram.kind,
                    before.current,
                    histogram.current,
                    histogram.cut_points,
                    before.current_range,
                    histogram.current_range,
                    histogram.reference_std,
                    histogram.unseen,
                )
            kind = counts.kind_
            limits = settings.thresholds_for(name)
            results = compute_stats(histogram, settings.names(kind), limits)
            verdicts[name] = (
                summarise(name, histogram, results, settings.decision[kind], settings),
                histogram,
            )
        return verdicts

    def quality(self) -> dict[str, dict[str, Any]]:
        """Missing, out-of-range, unseen and constant per feature, from the counts."""
        found = {}
        for name, counts in self.columns.items():
            if col.is_series_output(name):
                continue
            present = counts.n_ - counts.missing_
            low, high = self.out_of_range.get(name, [0, 0])
            entry: dict[str, Any] = {
                "rows": counts.n_,
                "missing_rate": counts.missing_ / counts.n_ if counts.n_ else 0.0,
                "out_of_range_rate": (low + high) / present if present else 0.0,
                "unseen_rate": counts.unseen_ / present if present else 0.0,
            }
            if counts.kind_ == "numeric":
                entry["constant"] = present > 1 and counts.minimum_ == counts.maximum_
            else:
                entry["constant"] = present > 1 and int(np.count_nonzero(counts.counts_[:-1])) == 1
            found[name] = entry
        return found


def _output_values(outputs: np.ndarray[Any, Any], output: OutputSpec) -> np.ndarray[Any, Any]:
    if output.kind == "regression":
        return np.asarray(outputs, dtype=np.float64)
    return np.array([None if v is None else str(v) for v in outputs], dtype=object)
