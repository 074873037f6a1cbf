"""The domain classifier catches drift that no single feature shows."""

import numpy as np
import pandas as pd

from modelport.monitoring.stats.multivariate import DomainClassifierDrift
from modelport.registry.profile import ReferenceProfile
from modelport.schema import FeatureSpec, InputSchema

from .conftest import live_detect

SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="x", kind="float"),
        FeatureSpec(name="y", kind="float"),
        FeatureSpec(name="colour", kind="category"),
    ]
)


def correlated(rows: int, correlation: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = correlation * x + np.sqrt(1 - correlation**2) * rng.normal(size=rows)
    colour = np.array(["red", "green", "blue"], dtype=object)[rng.integers(0, 3, rows)]
    return pd.DataFrame({"x": x, "y": y, "colour": colour})


def test_correlation_flip_is_caught_although_marginals_are_unchanged() -> None:
    reference = correlated(3_000, 0.8, seed=0)
    flipped = correlated(3_000, -0.8, seed=1)
    per_feature = live_detect(ReferenceProfile().fit(reference, SCHEMA), SCHEMA, flipped)
    assert not any(v.drifted for v in per_feature.values())
    result = DomainClassifierDrift().fit(reference, SCHEMA).score(flipped)
    assert result.status == "ok" and result.drifted
    assert result.auc is not None and result.auc > 0.75


def test_no_drift_on_a_fresh_sample() -> None:
    detector = DomainClassifierDrift().fit(correlated(3_000, 0.8, seed=0), SCHEMA)
    for seed in (1, 2):
        result = detector.score(correlated(3_000, 0.8, seed=seed))
        assert result.drifted is False, result


def test_unseen_and_missing_categories_are_encoded() -> None:
    reference = correlated(2_000, 0.0, seed=0)
    current = correlated(2_000, 0.0, seed=1)
    current.loc[::2, "colour"] = "purple"
    current.loc[1::4, "colour"] = None
    result = DomainClassifierDrift().fit(reference, SCHEMA).score(current)
    assert result.drifted
