"""The live window's counts: streaming equals batch, states merge across processes."""

from __future__ import annotations

import numpy as np
import pytest

from modelport.batch import Batch
from modelport.monitoring.live.evaluate import live_view
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.stats.settings import DriftSettings
from modelport.registry.profile import ReferenceProfile

from ..conftest import World, shop_frame


def empty_state(world: World) -> WindowState:
    assert world.version.profile is not None
    profile = ReferenceProfile.from_dict(world.version.profile)
    return WindowState.fit(profile, world.version.input_schema, world.version.output)


def counted(world: World, frame, chunks: int = 1) -> WindowState:  # type: ignore[no-untyped-def]
    """Count ``frame`` as the server does: the decoded columns and the model's outputs."""
    state = empty_state(world)
    predictor = world.registry.load(world.version)
    for part in np.array_split(np.arange(len(frame)), chunks):
        batch = Batch.from_frame(frame.iloc[part], world.version.input_schema)
        prediction = predictor.predict(batch)
        state.update(batch.columns, prediction.outputs, prediction.probabilities, batch.n_rows)
    return state


def assert_same_counts(left: WindowState, right: WindowState) -> None:
    assert left.rows == right.rows
    assert left.out_of_range == right.out_of_range
    for name, counts in left.columns.items():
        np.testing.assert_array_equal(counts.counts_, right.columns[name].counts_, err_msg=name)
        assert counts.minimum_ == right.columns[name].minimum_


def test_streaming_counts_equal_the_batch_computation_on_the_log(world: World) -> None:
    frame = shop_frame(3_000, seed=30)
    frame.loc[frame.index % 7 == 0, "a"] = np.nan
    frame.loc[frame.index % 11 == 0, "plan"] = "enterprise"
    world.log_frame(frame, rows_per_request=37)
    profile = ReferenceProfile.from_dict(world.version.profile)  # type: ignore[arg-type]

    streamed = counted(world, frame, chunks=9)
    batch = WindowState.from_log(
        world.window(),
        profile,
        world.version.input_schema,
        world.version.output,
    )

    assert_same_counts(streamed, batch)
    settings = DriftSettings()
    assert live_view(streamed, settings)["features"] == live_view(batch, settings)["features"]


def test_states_of_two_processes_merge_into_the_state_of_all_rows(world: World) -> None:
    frame = shop_frame(2_000, seed=31)
    first, second = counted(world, frame.iloc[:700]), counted(world, frame.iloc[700:])
    second.invalid = {"wrong_type": 2}
    first.failed = 3

    merged = WindowState.from_dict(first.to_dict()).merge(WindowState.from_dict(second.to_dict()))

    assert_same_counts(merged, counted(world, frame))
    assert (merged.invalid, merged.failed) == ({"wrong_type": 2}, 3)


def test_a_window_compared_with_the_one_before_on_the_same_bins(world: World) -> None:
    before = counted(world, shop_frame(3_000, seed=32))
    moved = shop_frame(3_000, seed=33)
    moved["b"] *= 3.0
    same, shifted = counted(world, shop_frame(3_000, seed=34)), counted(world, moved)
    settings = DriftSettings()

    steady = same.drift(settings, previous=before)
    drifted = shifted.drift(settings, previous=before)

    assert not any(d.drifted for d, _ in steady.values())
    assert [name for name, (d, _) in drifted.items() if d.drifted] == ["b"]
    assert drifted["b"][0].n_reference == 3_000  # the previous window, not the reference


def test_quality_from_counts(world: World) -> None:
    frame = shop_frame(1_000, seed=35)
    frame["c"] = 5.0  # out of the declared [-1, 1], and constant
    frame.loc[:99, "region"] = None

    quality = counted(world, frame).quality()

    assert quality["c"]["out_of_range_rate"] == 1.0 and quality["c"]["constant"] is True
    assert quality["region"]["missing_rate"] == pytest.approx(0.1)
    assert quality["a"]["constant"] is False
