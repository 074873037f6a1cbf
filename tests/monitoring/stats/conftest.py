"""Samples of a mixed distribution, and per-feature verdicts as each monitoring path
reaches them: live (counted into a window's state on the profile's bins) and exact (the
report's comparators on the raw reference)."""

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.monitoring.live.state import WindowState
from modelport.monitoring.reports.datadrift import CategoricalComparator, NumericComparator
from modelport.monitoring.stats.drift import FeatureDrift
from modelport.monitoring.stats.settings import DriftSettings
from modelport.registry.profile import ReferenceProfile
from modelport.schema import FeatureSpec, InputSchema, OutputSpec

Generator = Callable[[int, int], pd.DataFrame]
Columns = pd.DataFrame | Mapping[str, np.ndarray[Any, Any]]
NO_OUTPUTS = OutputSpec(kind="classification")


def live_state(profile: ReferenceProfile, schema: InputSchema) -> WindowState:
    """An empty live window on the profile's bins."""
    return WindowState.fit(profile, schema, NO_OUTPUTS)


def counted(state: WindowState, columns: Columns) -> WindowState:
    """``state`` after counting ``columns`` as the collector counts a request's features."""
    names = list(state.columns)
    state.update({n: np.asarray(columns[n]) for n in names}, None, None, len(columns[names[0]]))
    return state


def live_verdicts(
    state: WindowState, settings: DriftSettings | None = None
) -> dict[str, FeatureDrift]:
    return {name: drift for name, (drift, _) in state.drift(settings or DriftSettings()).items()}


def live_detect(
    profile: ReferenceProfile,
    schema: InputSchema,
    columns: Columns,
    settings: DriftSettings | None = None,
) -> dict[str, FeatureDrift]:
    """Verdicts of the live path on ``columns`` counted into a fresh window."""
    return live_verdicts(counted(live_state(profile, schema), columns), settings)


def exact_detect(
    reference: pd.DataFrame,
    schema: InputSchema,
    current: pd.DataFrame,
    settings: DriftSettings | None = None,
) -> dict[str, FeatureDrift]:
    """Verdicts of the report path: each column's comparator on the raw reference."""
    settings = settings or DriftSettings()
    profile = ReferenceProfile().fit(reference, schema)
    verdicts = {}
    for spec in schema.features:
        feature = profile.features_[spec.name]
        if spec.numeric:
            numeric = NumericComparator(
                spec.name, feature, reference[spec.name].to_numpy(dtype=np.float64)
            )
            result = numeric.compare(current[spec.name].to_numpy(dtype=np.float64), settings)
        else:
            values = current[spec.name]
            counts = values.dropna().astype(str).value_counts()
            categorical = CategoricalComparator(
                spec.name, feature, reference[spec.name].to_numpy(dtype=object)
            )
            result = categorical.compare(
                {str(k): int(v) for k, v in counts.items()}, int(values.isna().sum()), settings
            )
        verdicts[spec.name] = result.drift
    return verdicts


@pytest.fixture(scope="session")
def mixed_schema() -> InputSchema:
    numeric = ["normal", "lognormal", "counts", "uniform"]
    features = [FeatureSpec(name=name, kind="float", nullable=True) for name in numeric]
    features += [FeatureSpec(name=name, kind="category") for name in ["plan", "region"]]
    return InputSchema(features=features)


@pytest.fixture(scope="session")
def mixed_frame() -> Generator:
    """Samples of one fixed distribution: numeric of several shapes, two categoricals."""

    def generate(rows: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        normal = rng.normal(10.0, 2.0, rows)
        normal[rng.random(rows) < 0.02] = np.nan  # a stable 2 % missing rate
        plans = np.array(["free", "basic", "pro", "team", "enterprise"], dtype=object)
        regions = np.array(["eu", "us", "apac"], dtype=object)
        return pd.DataFrame(
            {
                "normal": normal,
                "lognormal": rng.lognormal(0.0, 1.0, rows),
                "counts": rng.poisson(3.0, rows).astype(float),
                "uniform": rng.uniform(-1.0, 1.0, rows),
                "plan": plans[rng.choice(5, rows, p=[0.5, 0.25, 0.15, 0.07, 0.03])],
                "region": regions[rng.choice(3, rows, p=[0.4, 0.4, 0.2])],
            }
        )

    return generate
