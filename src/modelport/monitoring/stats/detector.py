"""Per-feature drift detectors: streaming on a profile's bins, or exact on raw data.

:class:`FeatureDriftDetector` is fitted on a :class:`ReferenceProfile` (kilobytes) and
keeps one :class:`BinnedCounts` per feature: ``update`` adds live rows, ``get`` gives the
verdicts, ``merge`` combines windows or processes. :class:`ExactFeatureDriftDetector` is
fitted on the raw reference frame and computes exact KS/Wasserstein per numeric column,
spreading columns over threads (numpy sorts and searches release the GIL). Both share
the configuration: the deciding statistic per kind, the statistics reported beside it,
and threshold overrides by statistic name.

>>> import pandas as pd
>>> from modelport.monitoring.profile import ReferenceProfile
>>> from modelport.schema import FeatureSpec, InputSchema
>>> schema = InputSchema(features=[FeatureSpec(name="x", kind="float")])
>>> rng = np.random.default_rng(0)
>>> profile = ReferenceProfile().fit(pd.DataFrame({"x": rng.normal(size=10_000)}), schema)
>>> detector = FeatureDriftDetector().fit(profile)
>>> detector.update(pd.DataFrame({"x": rng.normal(1.0, 1.0, size=2_000)}))
>>> detector.get()["x"].drifted
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from modelport.monitoring.profile import FeatureProfile, ReferenceProfile, profile_categorical
from modelport.monitoring.stats.binned import BinnedCounts
from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.drift import FeatureDrift, summarise
from modelport.monitoring.stats.histogram import Kind
from modelport.monitoring.stats.numeric import NumericReference, prepare_numeric
from modelport.monitoring.stats.registry import DEFAULT_DECISION, DEFAULT_STATS, get_stat
from modelport.schema import InputSchema

Columns = pd.DataFrame | Mapping[str, np.ndarray[Any, Any]]


class _DriftConfig:
    def __init__(
        self,
        decision: Mapping[Kind, str] | None = None,
        stats: Mapping[Kind, Sequence[str]] | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.decision = dict(decision or DEFAULT_DECISION)
        self.stats = {kind: tuple(names) for kind, names in (stats or DEFAULT_STATS).items()}
        self.thresholds = dict(thresholds or {})
        for name in [*self.decision.values(), *self.thresholds]:
            get_stat(name)  # fail at configuration time on a misspelt name

    def _names(self, kind: Kind) -> list[str]:
        decision = self.decision[kind]
        return [decision, *(name for name in self.stats.get(kind, ()) if name != decision)]


class FeatureDriftDetector(_DriftConfig):
    """Streaming per-feature drift on the reference profile's bins."""

    states_: dict[str, BinnedCounts]

    def fit(self, profile: ReferenceProfile | Mapping[str, FeatureProfile]) -> FeatureDriftDetector:
        """Track every feature of ``profile`` (or any name→profile mapping, e.g. outputs)."""
        profiles = profile.features_ if isinstance(profile, ReferenceProfile) else profile
        self.states_ = {name: BinnedCounts().fit(p) for name, p in profiles.items()}
        return self

    def update(self, columns: Columns) -> None:
        for name, state in self.states_.items():
            state.update(np.asarray(columns[name]))

    def get(self) -> dict[str, FeatureDrift]:
        verdicts = {}
        for name, state in self.states_.items():
            histogram = state.histogram()
            results = compute_stats(histogram, self._names(state.kind_), self.thresholds)
            verdicts[name] = summarise(name, histogram, results, self.decision[state.kind_])
        return verdicts

    def detect(self, columns: Columns) -> dict[str, FeatureDrift]:
        """Verdicts on ``columns`` alone, leaving this detector's own counts untouched."""
        fresh = self._with_states({name: s.fresh() for name, s in self.states_.items()})
        fresh.update(columns)
        return fresh.get()

    def reset(self) -> None:
        for state in self.states_.values():
            state.reset()

    def merge(self, other: FeatureDriftDetector) -> FeatureDriftDetector:
        return self._with_states(
            {name: state.merge(other.states_[name]) for name, state in self.states_.items()}
        )

    def _with_states(self, states: dict[str, BinnedCounts]) -> FeatureDriftDetector:
        detector = FeatureDriftDetector(self.decision, self.stats, self.thresholds)
        detector.states_ = states
        return detector

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "stats": {kind: list(names) for kind, names in self.stats.items()},
            "thresholds": self.thresholds,
            "states": {name: state.to_dict() for name, state in self.states_.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDriftDetector:
        detector = cls(data["decision"], data["stats"], data["thresholds"])
        detector.states_ = {
            name: BinnedCounts.from_dict(state) for name, state in data["states"].items()
        }
        return detector


class ExactFeatureDriftDetector(_DriftConfig):
    """Per-feature drift with exact KS/Wasserstein against the raw reference."""

    numeric_: dict[str, NumericReference]
    categorical_: dict[str, BinnedCounts]

    def __init__(
        self,
        decision: Mapping[Kind, str] | None = None,
        stats: Mapping[Kind, Sequence[str]] | None = None,
        thresholds: Mapping[str, float] | None = None,
        n_bins: int = 20,
        n_jobs: int = 2,
    ) -> None:
        super().__init__(decision, stats, thresholds)
        self.n_bins = n_bins
        self.n_jobs = n_jobs

    def fit(self, reference: Columns, schema: InputSchema) -> ExactFeatureDriftDetector:
        self.numeric_, self.categorical_ = {}, {}
        for spec in schema.features:
            values = np.asarray(reference[spec.name])
            if spec.numeric:
                self.numeric_[spec.name] = NumericReference(self.n_bins).fit(
                    values.astype(np.float64)
                )
            else:
                profile = profile_categorical(values, max_categories=len(values) + 1)
                self.categorical_[spec.name] = BinnedCounts().fit(profile)
        return self

    def detect(self, current: Columns) -> dict[str, FeatureDrift]:
        names = [*self.numeric_, *self.categorical_]
        with ThreadPoolExecutor(max_workers=max(self.n_jobs, 1)) as pool:
            verdicts = pool.map(lambda name: self._detect_one(name, current[name]), names)
            return dict(zip(names, verdicts, strict=True))

    def _detect_one(self, name: str, values: Any) -> FeatureDrift:
        if name in self.numeric_:
            histogram, exact = prepare_numeric(
                self.numeric_[name], np.asarray(values, dtype=np.float64)
            )
            results = compute_stats(histogram, self._names("numeric"), self.thresholds, exact)
            return summarise(name, histogram, results, self.decision["numeric"])
        state = self.categorical_[name].fresh()
        state.update(np.asarray(values, dtype=object))
        histogram = state.histogram()
        results = compute_stats(histogram, self._names("categorical"), self.thresholds)
        return summarise(name, histogram, results, self.decision["categorical"])
