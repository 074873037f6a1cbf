"""Too few rows give a clear not-enough-data result, never NaN or a crash."""

import numpy as np
import pandas as pd
import pytest

from modelport.monitoring.stats import NumericReference, categorical_drift, numeric_drift
from modelport.monitoring.stats.multivariate import DomainClassifierDrift
from modelport.registry.profile import ReferenceProfile
from modelport.schema import FeatureSpec, InputSchema

from .conftest import live_detect


@pytest.mark.parametrize("size", [0, 1, 5, 15])
def test_small_current_samples(size: int) -> None:
    reference = NumericReference().fit(np.random.default_rng(0).normal(size=10_000))
    results = numeric_drift(reference, np.random.default_rng(1).normal(size=size))
    for result in results.values():
        assert result.status == "not_enough_data"
        assert result.drifted is None and result.statistic is None
        assert result.message.startswith(f"not enough data (n={size}, need ")


def test_small_reference_is_named_in_the_message() -> None:
    reference = NumericReference().fit(np.arange(10.0))
    result = numeric_drift(reference, np.arange(5_000.0), ["psi"])["psi"]
    assert result.message == "not enough reference data (n=10, need 250)"


def test_all_missing_current_is_missing_value_drift_not_a_crash() -> None:
    reference = NumericReference().fit(np.random.default_rng(0).normal(size=10_000))
    results = numeric_drift(reference, np.full(2_000, np.nan))
    assert results["psi"].status == "ok" and results["psi"].drifted
    assert results["ks"].status == "not_enough_data"
    assert results["wasserstein"].message == "not enough data (n=0, need 500)"


def test_categorical_need_grows_with_the_number_of_categories() -> None:
    reference = np.array([f"c{i % 40}" for i in range(10_000)], dtype=object)
    result = categorical_drift(reference, reference[:1_000], ["jensenshannon"])["jensenshannon"]
    assert result.message == "not enough data (n=1000, need 2000)"


def test_feature_verdict_carries_the_reason() -> None:
    schema = InputSchema(features=[FeatureSpec(name="x", kind="float")])
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=5_000)})
    profile = ReferenceProfile().fit(frame, schema)
    verdict = live_detect(profile, schema, {"x": np.ones(10)})["x"]
    assert verdict.status == "not_enough_data" and verdict.drifted is None
    assert "need" in verdict.message


def test_domain_classifier_with_few_rows() -> None:
    schema = InputSchema(features=[FeatureSpec(name="x", kind="float")])
    frame = pd.DataFrame({"x": np.arange(1_000.0)})
    result = DomainClassifierDrift().fit(frame, schema).score(pd.DataFrame({"x": np.ones(20)}))
    assert result.status == "not_enough_data" and result.auc is None
    assert result.message == "not enough data (n=20, need 200)"
