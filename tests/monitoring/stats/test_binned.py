"""Streaming counts: chunked == batch, merged halves == whole, JSON round trip."""

import json

import numpy as np
import pytest

from modelport.monitoring.stats import BinnedCounts, NumericReference, numeric_drift
from modelport.monitoring.stats.registry import stats_for
from modelport.registry.profile import OTHER, profile_categorical, profile_numeric


@pytest.fixture
def numeric_state() -> BinnedCounts:
    rng = np.random.default_rng(0)
    return BinnedCounts().fit(profile_numeric(rng.normal(size=20_000), n_bins=20))


@pytest.fixture
def live_numeric() -> np.ndarray:
    rng = np.random.default_rng(1)
    values = rng.normal(0.2, 1.3, size=30_000)
    values[::50] = np.nan
    return values


def as_plain(results: dict) -> dict:
    return {name: result.to_dict() for name, result in results.items()}


def test_chunks_give_the_same_counts_and_stats_as_one_batch(
    numeric_state: BinnedCounts, live_numeric: np.ndarray
) -> None:
    batch, chunked = numeric_state.fresh(), numeric_state.fresh()
    batch.update(live_numeric)
    for chunk in np.array_split(live_numeric, 17):
        chunked.update(chunk)
    assert chunked.counts_.tolist() == batch.counts_.tolist()
    names = stats_for("numeric")
    assert as_plain(chunked.get(names)) == as_plain(batch.get(names))


def test_merge_of_two_halves_equals_the_whole(
    numeric_state: BinnedCounts, live_numeric: np.ndarray
) -> None:
    whole, first, second = numeric_state.fresh(), numeric_state.fresh(), numeric_state.fresh()
    whole.update(live_numeric)
    first.update(live_numeric[:12_345])
    second.update(live_numeric[12_345:])
    merged = first.merge(second)
    assert merged.counts_.tolist() == whole.counts_.tolist()
    assert (merged.minimum_, merged.maximum_) == (whole.minimum_, whole.maximum_)
    assert as_plain(merged.get()) == as_plain(whole.get())


def test_binned_stats_equal_the_exact_path_on_shared_bins(live_numeric: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    reference_values = rng.normal(size=20_000)
    state = BinnedCounts().fit(profile_numeric(reference_values, 20))
    state.update(live_numeric)
    streaming = state.get(["psi", "jensenshannon", "chisquare", "total_variation"])
    exact = numeric_drift(
        NumericReference(20).fit(reference_values),
        live_numeric,
        ["psi", "jensenshannon", "chisquare", "total_variation"],
    )
    assert as_plain(streaming) == as_plain(exact)


def test_state_round_trips_through_json(
    numeric_state: BinnedCounts, live_numeric: np.ndarray
) -> None:
    numeric_state.update(live_numeric)
    restored = BinnedCounts.from_dict(json.loads(json.dumps(numeric_state.to_dict())))
    assert restored.to_dict() == numeric_state.to_dict()
    assert as_plain(restored.get()) == as_plain(numeric_state.get())


def test_empty_state_round_trips_too(numeric_state: BinnedCounts) -> None:
    text = json.dumps(numeric_state.to_dict(), allow_nan=False)
    assert BinnedCounts.from_dict(json.loads(text)).n_ == 0


def test_unseen_categories_are_counted_not_dropped() -> None:
    reference = np.array(["a"] * 500 + ["b"] * 500, dtype=object)
    state = BinnedCounts().fit(profile_categorical(reference, 10))
    state.update(np.array(["a"] * 400 + ["b"] * 400 + ["c"] * 150 + [None] * 50, dtype=object))
    assert state.unseen_ == 150 and state.missing_ == 50 and state.n_ == 1_000
    results = state.get()
    assert results["psi"].drifted and results["jensenshannon"].drifted


def test_unseen_values_are_compared_with_the_lumped_tail() -> None:
    reference = np.array([f"v{i}" for i in range(30)] * 40, dtype=object)
    state = BinnedCounts().fit(profile_categorical(reference, max_categories=10))
    assert OTHER in state.categories_
    state.update(np.array([f"v{i}" for i in range(30)] * 40, dtype=object))
    assert state.unseen_ == 800  # the 20 tail categories, reported as outside the top 10
    assert state.get(["psi"])["psi"].statistic == pytest.approx(0.0)


def test_numbers_are_stringified_like_the_profile() -> None:
    state = BinnedCounts().fit(profile_categorical(np.array([1, 2, 2, 1], dtype=object), 5))
    state.update(np.array([1, 2, 3], dtype=object))
    assert state.counts_.tolist() == [1, 1, 1, 0]


def test_merging_states_of_different_references_is_refused(numeric_state: BinnedCounts) -> None:
    other = BinnedCounts().fit(profile_numeric(np.arange(100.0), 5))
    with pytest.raises(ValueError, match="different reference"):
        numeric_state.merge(other)
