"""Per-feature detectors: streaming state combines and persists; exact and binned agree."""

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from modelport.errors import ConfigError
from modelport.monitoring.profile import ReferenceProfile
from modelport.monitoring.stats import ExactFeatureDriftDetector, FeatureDriftDetector
from modelport.schema import InputSchema

Generator = Callable[[int, int], pd.DataFrame]


@pytest.fixture
def detector(mixed_frame: Generator, mixed_schema: InputSchema) -> FeatureDriftDetector:
    return FeatureDriftDetector().fit(ReferenceProfile().fit(mixed_frame(20_000, 0), mixed_schema))


def plain(verdicts: dict) -> dict:
    return {name: verdict.to_dict() for name, verdict in verdicts.items()}


def test_update_in_windows_then_merge_equals_detect_on_all(
    detector: FeatureDriftDetector, mixed_frame: Generator
) -> None:
    live = mixed_frame(6_000, 5)
    first = FeatureDriftDetector.from_dict(detector.to_dict())
    second = FeatureDriftDetector.from_dict(detector.to_dict())
    first.update(live.iloc[:2_500])
    second.update(live.iloc[2_500:])
    assert plain(first.merge(second).get()) == plain(detector.detect(live))


def test_detect_leaves_the_running_state_alone(
    detector: FeatureDriftDetector, mixed_frame: Generator
) -> None:
    detector.update(mixed_frame(1_000, 6))
    detector.detect(mixed_frame(5_000, 7))
    assert all(state.n_ == 1_000 for state in detector.states_.values())
    detector.reset()
    assert all(state.n_ == 0 for state in detector.states_.values())


def test_state_survives_json(detector: FeatureDriftDetector, mixed_frame: Generator) -> None:
    detector.update(mixed_frame(3_000, 8))
    restored = FeatureDriftDetector.from_dict(json.loads(json.dumps(detector.to_dict())))
    assert plain(restored.get()) == plain(detector.get())


def test_configuration_overrides(mixed_frame: Generator, mixed_schema: InputSchema) -> None:
    profile = ReferenceProfile().fit(mixed_frame(20_000, 0), mixed_schema)
    detector = FeatureDriftDetector(
        decision={"numeric": "wasserstein", "categorical": "total_variation"},
        thresholds={"wasserstein": 0.5},
    ).fit(profile)
    verdict = detector.detect(mixed_frame(5_000, 9))["normal"]
    assert verdict.stat == "wasserstein" and verdict.threshold == 0.5
    assert set(verdict.results) == {"wasserstein", "psi", "ks", "jensenshannon"}
    with pytest.raises(ConfigError):
        FeatureDriftDetector(thresholds={"kolmogorov": 0.1})


def test_exact_and_streaming_share_the_decision(
    mixed_frame: Generator, mixed_schema: InputSchema
) -> None:
    reference, current = mixed_frame(20_000, 0), mixed_frame(5_000, 10)
    streaming = FeatureDriftDetector().fit(ReferenceProfile().fit(reference, mixed_schema))
    exact = ExactFeatureDriftDetector().fit(reference, mixed_schema)
    binned, raw = streaming.detect(current), exact.detect(current)
    for name in ("normal", "lognormal", "counts", "uniform"):
        assert binned[name].statistic == pytest.approx(raw[name].statistic, abs=1e-12)
        ks_binned = binned[name].results["ks"].statistic
        ks_exact = raw[name].results["ks"].statistic
        assert ks_binned is not None and ks_exact is not None
        assert ks_binned <= ks_exact + 1e-12  # the binned KS is a lower bound


def test_mapping_of_columns_is_accepted(
    detector: FeatureDriftDetector, mixed_frame: Generator
) -> None:
    frame = mixed_frame(2_000, 11)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    assert plain(detector.detect(columns)) == plain(detector.detect(frame))


def test_missing_column_is_an_error(detector: FeatureDriftDetector) -> None:
    with pytest.raises(KeyError):
        detector.detect({"normal": np.zeros(10)})
