"""The comparators of one baseline, each built on first use and then kept.

Building a numeric comparator sorts its reference column; done on first use, that work
happens inside the column's own report task, in parallel with the others, and a server
keeps the built comparators for the next report on the same version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.monitoring.reports.baseline import Baseline
from modelport.monitoring.reports.datadrift import (
    CategoricalComparator,
    Comparator,
    NumericComparator,
)
from modelport.predlog import columns as col
from modelport.registry.profile import FeatureProfile
from modelport.registry.records import ModelVersion
from modelport.schema import FeatureSpec


class Comparators:
    def __init__(self, version: ModelVersion, baseline: Baseline) -> None:
        self.baseline = baseline
        profile = baseline.profile
        self._specs: dict[str, tuple[FeatureProfile, FeatureSpec | None]] = {}
        for spec in version.input_schema.features:
            if spec.name in profile.features_:
                self._specs[spec.name] = (profile.features_[spec.name], spec)
        if profile.prediction_ is not None:
            self._specs[col.series_output()] = (profile.prediction_, None)
        for label, feature in (profile.probabilities_ or {}).items():
            self._specs[col.series_output(label)] = (feature, None)
        self._built: dict[str, Comparator] = {}

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def kind(self, name: str) -> str:
        """``numeric`` or ``categorical``, without building the comparator."""
        return self._specs[name][0].kind

    def get(self, name: str) -> Comparator:
        found = self._built.get(name)
        if found is None:
            found = self._built[name] = self._build(name)
        return found

    def _build(self, name: str) -> Comparator:
        feature, spec = self._specs[name]
        raw = self.baseline.columns
        values: Any = raw[name] if raw is not None and name in raw else None
        if feature.kind == "categorical":
            return CategoricalComparator(name, feature, values, spec.categories if spec else ())
        bounds = None
        if spec is not None and (spec.minimum is not None or spec.maximum is not None):
            bounds = (
                -np.inf if spec.minimum is None else spec.minimum,
                np.inf if spec.maximum is None else spec.maximum,
            )
        return NumericComparator(
            name, feature, values, bounds, "declared" if bounds is not None else None
        )
