"""The server's collector, driven the way the data plane drives it (listen, then ticks)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.batch import Batch
from modelport.config import MonitoringSettings
from modelport.monitoring.live.collector import Collector
from modelport.monitoring.live.state import WindowState
from modelport.registry.profile import ReferenceProfile
from modelport.registry.records import ModelVersion
from modelport.vocabulary import PredictionEvent, Role

from ..conftest import World, shop_frame


def collector(world: World, process: str, **settings: Any) -> Collector:
    invalid_counts = settings.pop("invalid_counts", None)
    options = {"window": "1h", "recent_predictions": 50_000, **settings}
    return Collector(
        world.registry,
        world.feedback,
        world.series,
        MonitoringSettings(**options),
        process=process,
        invalid_counts=invalid_counts,
        primary_of=lambda endpoint: 1,
    )


def serve(
    target: Collector,
    world: World,
    frame: pd.DataFrame,
    version: ModelVersion | None = None,
    prefix: str = "r",
    rows: int = 20,
) -> list[tuple[str, np.ndarray]]:
    """Answer ``frame`` in requests of ``rows`` rows and hand each to ``listen``."""
    version = version or world.version
    predictor = world.registry.load(version)
    answered = []
    for start in range(0, len(frame), rows):
        batch = Batch.from_frame(frame.iloc[start : start + rows], version.input_schema)
        prediction = predictor.predict(batch)
        request_id = f"{prefix}-{start // rows}"
        target.listen(
            PredictionEvent(
                request_id, "shop", version, Role.PRIMARY, batch, prediction, 1.0, time.time()
            )
        )
        answered.append((request_id, prediction.outputs))
    return answered


def stored_total(world: World, version: int = 1) -> WindowState:
    """Every stored window of a version, all processes, merged."""
    rows = world.series.states("shop", version)
    merged = None
    for row in rows:
        state = WindowState.from_dict(row.state)
        merged = state if merged is None else merged.merge(state)
    assert merged is not None
    return merged


def test_two_processes_store_states_that_merge_into_the_whole(world: World) -> None:
    frame = shop_frame(1_200, seed=40)
    first, second = collector(world, "a"), collector(world, "b")
    serve(first, world, frame.iloc[:500], prefix="a")
    serve(second, world, frame.iloc[500:], prefix="b")

    first.tick()
    second.tick()

    profile = ReferenceProfile.from_dict(world.version.profile)  # type: ignore[arg-type]
    expected = WindowState.fit(profile, world.version.input_schema, world.version.output)
    batch = Batch.from_frame(frame, world.version.input_schema)
    prediction = world.registry.load(world.version).predict(batch)
    expected.update(batch.columns, prediction.outputs, prediction.probabilities, len(frame))
    total = stored_total(world)
    assert total.rows == 1_200
    for name, counts in expected.columns.items():
        np.testing.assert_array_equal(total.columns[name].counts_, counts.counts_, err_msg=name)
    points = world.series.points("shop", feature="a", statistic="psi")
    assert points and points[-1]["rows"] == 1_200 and points[-1]["final"] is False


def test_count_windows_close_when_full_and_are_stored_final(world: World) -> None:
    live = collector(world, "a", window="500rows")
    for part in range(3):
        serve(live, world, shop_frame(400, seed=41 + part), prefix=f"p{part}", rows=100)
        live.tick()

    starts = sorted({p["window_start"] for p in world.series.points("shop", statistic="psi")})
    finals = {
        p["window_start"]: p["final"]
        for p in world.series.points("shop", feature="a", statistic="psi")
    }
    assert len(starts) == 3  # 500, 500, 200 rows
    assert [finals[s] for s in starts] == [True, True, False]
    assert stored_total(world).rows == 1_200


def test_labels_become_performance_points_and_detector_events(world: World) -> None:
    live = collector(world, "a")
    frame = shop_frame(4_000, seed=42)
    answered = serve(live, world, frame, rows=50)
    live.tick()
    rng = np.random.default_rng(43)
    labels = []
    for index, (request_id, outputs) in enumerate(answered):
        for row, output in enumerate(outputs):
            position = index * 50 + row
            wrong = rng.random() < (0.1 if position < 2_000 else 0.5)
            flipped = "no" if output == "yes" else "yes"
            labels.append((request_id, row, flipped if wrong else output))
    world.label(labels)

    live.tick()

    accuracy = world.series.points("shop", feature="__performance__", statistic="accuracy")
    assert accuracy[-1]["value"] == pytest.approx(0.7, abs=0.03)
    events = world.series.events("shop")
    fired = {event["detector"]: event["position"] for event in reversed(events)}
    assert set(fired) == {"adwin", "ddm", "page_hinkley"}
    assert all(2_000 <= position < 2_400 for position in fired.values())
    # Labels are counted once, however often they are sent.
    world.label(labels[:100])
    live.tick()
    again = world.series.points("shop", feature="__performance__", statistic="labelled")
    assert again[-1]["value"] == 4_000


def test_a_version_without_reference_data_gets_a_baseline_of_its_first_rows(
    world: World,
) -> None:
    bare = world.register(reference=None)
    live = collector(world, "a", bootstrap_rows=300)
    serve(live, world, shop_frame(200, seed=44), version=bare, prefix="early")
    live.tick()
    assert world.series.baseline("shop", bare.version) is None  # 200 rows are not enough
    serve(live, world, shop_frame(400, seed=45), version=bare, prefix="later")
    live.tick()

    stored = world.series.baseline("shop", bare.version)
    assert stored is not None and stored.rows == 600
    assert "first 600 logged rows of shop:2" in stored.source
    points = world.series.points("shop", feature="a", statistic="psi", version=bare.version)
    assert points[-1]["baseline"] == "bootstrap" and points[-1]["rows"] == 600


def test_requests_refused_at_the_api_join_the_primary_window(world: World) -> None:
    refused = {("shop", "wrong_type"): 0.0}
    live = collector(world, "a", invalid_counts=lambda: dict(refused))
    serve(live, world, shop_frame(100, seed=46))
    live.tick()
    refused[("shop", "wrong_type")] = 3.0
    live.tick()

    invalid = world.series.points("shop", feature="__dataset__", statistic="invalid_requests")
    assert invalid[-1]["value"] == 3.0


def test_a_full_queue_skips_and_counts_instead_of_waiting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = collector(world, "a")
    monkeypatch.setattr("modelport.monitoring.live.collector.QUEUE_SIZE", 10)
    serve(live, world, shop_frame(300, seed=47), rows=10)
    assert len(live.queue) == 10 and live.dropped == 20


def test_the_batch_state_of_the_log_equals_what_was_streamed(world: World) -> None:
    frame = shop_frame(1_000, seed=48)
    live = collector(world, "a")
    serve(live, world, frame, rows=25)
    world.log_frame(frame, rows_per_request=25)
    live.tick()

    profile = ReferenceProfile.from_dict(world.version.profile)  # type: ignore[arg-type]
    batch = WindowState.from_log(
        world.window(),
        profile,
        world.version.input_schema,
        world.version.output,
    )
    streamed = stored_total(world)
    for name, counts in batch.columns.items():
        np.testing.assert_array_equal(streamed.columns[name].counts_, counts.counts_)


def test_remembered_predictions_are_not_walked_by_the_garbage_collector(world: World) -> None:
    """Answers kept for labels (50,000 by default) cost a full collection nothing, and
    drains between ticks count what arrived without waiting for a tick."""
    import gc

    live = collector(world, "a")
    frame = shop_frame(2_000, seed=44)
    answered = serve(live, world, frame, rows=1)
    live.drain()
    gc.collect()  # a tuple is untracked once the collector has seen its items untracked
    gc.collect()

    remembered = list(live.recent._requests.values())
    assert len(remembered) == 2_000 and not any(map(gc.is_tracked, remembered))
    assert len(live.queue) == 0 and len(live.recent) == 2_000
    request_id, outputs = answered[7]
    world.label([(request_id, 0, outputs[0])])
    live.tick()
    labelled = world.series.points("shop", feature="__performance__", statistic="labelled")
    assert labelled[-1]["value"] == 1
