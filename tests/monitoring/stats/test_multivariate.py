"""The domain classifier catches drift that no single feature shows."""

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from modelport.monitoring.stats.multivariate import (
    DomainClassifierDrift,
    MultivariateDrift,
    held_out_test,
)
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


TEN = InputSchema(features=[FeatureSpec(name=f"x{i}", kind="float") for i in range(10)])


def normal(rows: int, seed: int, shift: float | np.ndarray = 0.0) -> pd.DataFrame:
    values = np.random.default_rng(seed).normal(size=(rows, 10)) + shift
    return pd.DataFrame(values, columns=TEN.names)


def score(
    rows: int, seed: int, shift: float | np.ndarray = 0.0, **options: Any
) -> MultivariateDrift:
    detector = DomainClassifierDrift(random_state=seed, **options).fit(normal(rows, seed), TEN)
    return detector.score(normal(rows, seed + 10_000, shift))


def test_a_small_shift_in_every_feature_is_found_on_5000_rows_per_side() -> None:
    """Fast version of the acceptance figure (full run: bench/calibrate_multivariate.py)."""
    for seed in (1, 2, 3):
        result = score(5_000, seed, shift=0.05)
        assert result.drifted is True and result.decided_by == "p_value", result
        assert result.p_value is not None and result.p_value < 0.05
        assert result.auc is not None and 0.5 < result.auc < 0.6  # small, yet significant
        assert (result.n_train, result.n_test) == (2_500, 2_500)


def test_no_drift_on_200_rows_per_side_is_rarely_claimed() -> None:
    results = [score(200, seed) for seed in range(20)]
    assert all(r.status == "ok" and r.p_value is not None for r in results)
    assert sum(bool(r.drifted) for r in results) <= 1
    # The p-values of an exact-in-size test spread over (0, 1), not piled at 1.
    assert np.median([r.p_value for r in results]) > 0.2


def test_the_decision_depends_on_the_sample_size_not_on_a_fixed_auc() -> None:
    shift = np.r_[0.3, np.zeros(9)]
    few, many = score(300, 7, shift), score(5_000, 7, shift)
    assert few.auc is not None and many.auc is not None
    assert many.drifted is True and many.p_value is not None and many.p_value < 1e-6
    assert few.p_value is not None and few.p_value > many.p_value


def test_alpha_and_min_auc_are_settable_and_the_report_says_which_decided() -> None:
    default = score(5_000, 4, shift=0.05)
    strict = score(5_000, 4, shift=0.05, alpha=1e-30)
    material = score(5_000, 4, shift=0.05, min_auc=0.7)
    both = score(5_000, 4, shift=0.5, min_auc=0.7)
    assert default.drifted is True and default.alpha == 0.05
    assert strict.drifted is False and strict.decided_by == "p_value" and strict.alpha == 1e-30
    assert strict.p_value == default.p_value and "no drift" in strict.message
    assert material.drifted is False and material.decided_by == "min_auc"
    assert "min_auc 0.7" in material.message
    assert both.drifted is True and both.decided_by == "both"


def test_the_report_names_the_features_the_classifier_leaned_on() -> None:
    shift = np.zeros(10)
    shift[[3, 7]] = (0.4, 0.2)
    result = score(3_000, 5, shift)
    assert result.drifted is True and result.classifier == "logistic"
    top = result.top_features
    assert [f["feature"] for f in top[:2]] == ["x3", "x7"]
    assert top[0]["share"] > top[1]["share"] > 0.1 and top[0]["share"] + top[1]["share"] > 0.8
    assert all(f["auc_drop"] > 0 for f in top) and len(top) <= 5


def test_a_flipped_correlation_is_decided_by_the_trees() -> None:
    result = DomainClassifierDrift().fit(correlated(3_000, 0.8, 0), SCHEMA)
    flipped = result.score(correlated(3_000, -0.8, 1))
    assert flipped.classifier == "trees" and flipped.drifted is True
    trees, linear = flipped.classifiers["trees"], flipped.classifiers["logistic"]
    assert trees["p_value"] < 1e-10 and linear["p_value"] > trees["p_value"]
    # Bonferroni over the two classifiers.
    assert flipped.p_value == min(1.0, 2 * trees["p_value"])
    assert {f["feature"] for f in flipped.top_features[:2]} == {"x", "y"}


def test_held_out_auc_is_the_mann_whitney_u_over_both_sizes() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.uniform(size=400), 1)  # many ties
    labels = np.repeat([0, 1], 200)
    scores[labels == 1] += 0.15
    found = held_out_test(scores, labels)
    assert found["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    reverse = held_out_test(-scores, labels)
    assert found["p_value"] < 0.05 < reverse["p_value"]


def test_missing_and_infinite_values_are_handled_by_both_classifiers() -> None:
    reference = normal(1_000, 0)
    current = normal(1_000, 1)
    reference.loc[::10, "x0"] = np.nan
    current.loc[::3, "x0"] = np.nan  # missing far more often
    current.loc[::50, "x1"] = np.inf
    result = DomainClassifierDrift().fit(reference, TEN).score(current)
    assert result.status == "ok" and result.drifted is True
    assert result.top_features[0]["feature"] == "x0"
