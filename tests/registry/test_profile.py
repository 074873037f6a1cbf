import json

import numpy as np
import pandas as pd
import pytest

from modelport.errors import ProfileError, ReferenceDataError
from modelport.registry.profile import OTHER, ReferenceProfile
from modelport.schema import FeatureSpec, InputSchema, OutputSpec


def make_schema(numeric: int, categorical: int) -> InputSchema:
    features = [FeatureSpec(name=f"x{i}", kind="float") for i in range(numeric)]
    features += [FeatureSpec(name=f"c{i}", kind="category") for i in range(categorical)]
    return InputSchema(features=features)


def make_frame(rows: int, numeric: int, categorical: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {f"x{i}": rng.normal(i, 1 + i, rows) for i in range(numeric)}
    for i in range(categorical):
        columns[f"c{i}"] = rng.choice(["a", "b", "c", "d"], rows).astype(object)
    return pd.DataFrame(columns)


def test_numeric_profile_has_quantile_bins_with_open_outer_bins() -> None:
    frame = make_frame(10_000, 1, 0)
    profile = ReferenceProfile(n_bins=10, tails=False).fit(frame, make_schema(1, 0))
    feature = profile.features_["x0"]
    assert feature.kind == "numeric"
    assert feature.count == 10_000 and feature.missing == 0
    assert len(feature.cut_points) == 9
    assert feature.bin_edges[0] == -np.inf and feature.bin_edges[-1] == np.inf
    assert sum(feature.bin_counts) == 10_000
    assert all(abs(c - 1_000) <= 1 for c in feature.bin_counts)
    assert feature.mean == pytest.approx(frame["x0"].mean())
    assert feature.std == pytest.approx(frame["x0"].std(ddof=0))


def test_numeric_profile_has_tail_bins_and_bins_beyond_the_range() -> None:
    frame = make_frame(100_000, 1, 0)
    feature = ReferenceProfile(n_bins=10).fit(frame, make_schema(1, 0)).features_["x0"]
    values = frame["x0"].to_numpy()
    # min, 0.1 %, 1 %, the 9 interior deciles, 99 %, 99.9 %, just above the max
    assert len(feature.cut_points) == 15
    assert feature.cut_points[0] == values.min()
    assert feature.cut_points[-1] == np.nextafter(values.max(), np.inf)
    assert feature.cut_points[1] == pytest.approx(np.quantile(values, 0.001))
    assert feature.cut_points[-2] == pytest.approx(np.quantile(values, 0.999))
    counts = feature.bin_counts
    assert counts[0] == 0 and counts[-1] == 0  # below the minimum, above the maximum
    assert counts[1:3] == [100, 900] and counts[-3:-1] == [900, 100]
    assert sum(counts) == 100_000


def test_profile_round_trip_keeps_the_tail_setting_and_old_profiles_stay_as_fitted() -> None:
    frame = make_frame(1_000, 1, 0)
    profile = ReferenceProfile(n_bins=5).fit(frame, make_schema(1, 0))
    again = ReferenceProfile.from_dict(profile.to_dict())
    assert again.tails and again.features_["x0"].cut_points == profile.features_["x0"].cut_points
    stored = profile.to_dict()
    del stored["tails"]  # a profile stored before tail bins existed
    assert ReferenceProfile.from_dict(stored).tails is False


def test_missing_values_are_counted_not_binned() -> None:
    values = np.array([1.0, np.nan, 2.0, np.nan, 3.0])
    categories = np.array(["a", None, "a", "b", None], dtype=object)
    frame = pd.DataFrame({"x0": values, "c0": categories})
    profile = ReferenceProfile(n_bins=2).fit(frame, make_schema(1, 1))
    assert profile.features_["x0"].missing == 2
    assert profile.features_["x0"].missing_rate == pytest.approx(0.4)
    assert sum(profile.features_["x0"].bin_counts) == 3
    assert profile.features_["c0"].frequencies == {"a": 2, "b": 1}
    assert profile.features_["c0"].missing == 2


def test_constant_and_all_missing_columns() -> None:
    frame = pd.DataFrame({"x0": np.full(100, 7.0), "x1": np.full(100, np.nan)})
    profile = ReferenceProfile().fit(frame, make_schema(2, 0))
    constant = profile.features_["x0"]
    assert constant.cut_points == [7.0, float(np.nextafter(7.0, np.inf))]
    assert constant.bin_counts == [0, 100, 0]
    assert constant.std == 0.0
    empty = profile.features_["x1"]
    assert empty.count == 0 and empty.missing == 100 and empty.missing_rate == 1.0
    assert empty.cut_points == [] and empty.bin_counts == [0]
    assert empty.mean is None


def test_long_tail_of_categories_is_lumped_into_other() -> None:
    values = np.array([f"v{i % 50}" for i in range(1_000)] + ["top"] * 100, dtype=object)
    frame = pd.DataFrame({"c0": values})
    feature = ReferenceProfile(max_categories=5).fit(frame, make_schema(0, 1)).features_["c0"]
    assert list(feature.frequencies)[0] == "top"
    assert len(feature.frequencies) == 6
    assert feature.frequencies[OTHER] == 1_100 - sum(
        v for k, v in feature.frequencies.items() if k != OTHER
    )


def test_empty_frame_is_a_clear_error() -> None:
    frame = pd.DataFrame({"x0": np.array([], dtype=float)})
    with pytest.raises(ValueError, match="empty"):
        ReferenceProfile().fit(frame, make_schema(1, 0))
    with pytest.raises(ReferenceDataError):
        ReferenceProfile().fit(frame, make_schema(1, 0))


def test_missing_schema_column_is_an_error() -> None:
    with pytest.raises(ProfileError, match="x1"):
        ReferenceProfile().fit(make_frame(10, 1, 0), make_schema(2, 0))


def test_classification_predictions_and_probabilities() -> None:
    rng = np.random.default_rng(1)
    frame = make_frame(1_000, 2, 1)
    predictions = rng.choice([0, 1], 1_000)
    probability_one = rng.uniform(size=1_000)
    probabilities = np.column_stack([1 - probability_one, probability_one])
    output = OutputSpec(kind="classification", classes=["0", "1"], has_probabilities=True)
    profile = ReferenceProfile().fit(frame, make_schema(2, 1), predictions, probabilities, output)
    assert profile.prediction_ is not None
    assert profile.prediction_.kind == "categorical"
    assert set(profile.prediction_.frequencies) == {"0", "1"}
    assert profile.probabilities_ is not None
    assert set(profile.probabilities_) == {"0", "1"}
    assert profile.probabilities_["1"].kind == "numeric"


def test_regression_predictions_are_numeric() -> None:
    frame = make_frame(500, 1, 0)
    predictions = np.linspace(0, 1, 500)
    profile = ReferenceProfile().fit(frame, make_schema(1, 0), predictions)
    assert profile.prediction_ is not None and profile.prediction_.kind == "numeric"
    assert profile.probabilities_ is None


def test_predictions_of_wrong_length_are_refused() -> None:
    with pytest.raises(ProfileError, match="predictions"):
        ReferenceProfile().fit(make_frame(10, 1, 0), make_schema(1, 0), np.zeros(9))


def test_round_trip_through_strict_json_and_stays_small() -> None:
    frame = make_frame(100_000, 25, 5)
    profile = ReferenceProfile().fit(frame, make_schema(25, 5), frame["x0"].to_numpy())
    text = json.dumps(profile.to_dict(), allow_nan=False)
    assert len(text) < 40_000
    restored = ReferenceProfile.from_dict(json.loads(text))
    assert restored.to_dict() == profile.to_dict()
    assert restored.features_["c0"].frequencies == profile.features_["c0"].frequencies
