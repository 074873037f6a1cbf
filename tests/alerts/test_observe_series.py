"""The Observer on stored figures: points and window states in a real SQLite or
PostgreSQL store, a real Parquet log, real rollouts and a real Telemetry; no server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.alerts.lifecycle import Observation
from modelport.alerts.observe import Observer
from modelport.alerts.rules import METRICS, parse_rule
from modelport.batch import Batch
from modelport.config import DEFAULT_TOML, Settings
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.monitoring.live.state import WindowState
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.profile import ReferenceProfile
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registration, Registry
from modelport.rollout.spec import build_spec
from modelport.rollout.state import ROLLED_BACK, Change, RolloutStore
from modelport.schema import FeatureSpec, InputSchema
from modelport.serving.policies import CanarySpec, PrimarySpec
from modelport.store.db import Database
from modelport.telemetry import Telemetry
from modelport.vocabulary import Phase

SCORER = """
import numpy as np


class Scorer:
    classes = ["no", "yes"]

    def predict_proba(self, frame):
        a = np.nan_to_num(frame["a"].to_numpy(dtype=float), nan=0.0)
        p = 1.0 / (1.0 + np.exp(-a))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame):
        return np.where(self.predict_proba(frame)[:, 1] > 0.5, "yes", "no")
"""
SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="a", kind="float", nullable=True),
        FeatureSpec(name="plan", kind="category", nullable=True),
    ]
)
NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
WINDOW = "15m"
START = datetime(2026, 3, 2, 12, 15, tzinfo=UTC)


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plans = np.array(["basic", "pro"], dtype=object)
    return pd.DataFrame(
        {"a": rng.normal(shift, 1.0, rows), "plan": plans[rng.choice(2, rows, p=[0.7, 0.3])]}
    )


def point(feature: str, statistic: str, value: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "feature": feature,
        "statistic": statistic,
        "status": extra.pop("status", "ok"),
        "value": value,
        "p_value": None,
        "threshold": None,
        "drifted": extra.pop("drifted", None),
        "rows": extra.pop("rows", 100),
        "baseline": "reference",
    }


@dataclass
class Store:
    folder: Path
    db: Database
    registry: Registry
    endpoints: EndpointStore
    series: SeriesStore
    log: ParquetPredictionLog
    rollouts: RolloutStore
    telemetry: Telemetry
    settings: Settings
    versions: list[ModelVersion]

    def observer(self, telemetry: bool = True) -> Observer:
        return Observer(
            series=self.series,
            log=self.log,
            endpoints=self.endpoints,
            registry=self.registry,
            rollouts=self.rollouts,
            telemetry=self.telemetry if telemetry else None,
            settings=self.settings,
        )

    def key(self, version: int = 1, start: datetime = START) -> WindowKey:
        return WindowKey("shop", version, WINDOW, start, start + timedelta(minutes=15))

    def store_window(self, key: WindowKey, points: list[dict[str, Any]]) -> None:
        """What a server process stores of a window: its counts, then the points."""
        state = self.state(key.version)
        self.series.save_state(key, "process-1", 0, state.to_dict())
        self.series.upsert_points(key, points, False)

    def state(self, version: int, data: pd.DataFrame | None = None) -> WindowState:
        """The counts a server process keeps of ``data`` answered by ``version``."""
        record = self.versions[version - 1]
        assert record.profile is not None
        state = WindowState.fit(
            ReferenceProfile.from_dict(record.profile), record.input_schema, record.output
        )
        if data is None:
            return state
        batch = Batch.from_frame(data, record.input_schema)
        prediction = self.registry.load(record).predict(batch)
        columns = {name: np.asarray(batch.columns[name]) for name in SCHEMA.names}
        state.update(columns, np.asarray(prediction.outputs), prediction.probabilities, len(data))
        return state

    def log_requests(
        self,
        count: int,
        *,
        at: datetime,
        role: str = "primary",
        version: int = 1,
        latency_ms: float = 10.0,
        status: str = "ok",
        prefix: str = "r",
        rows: int = 2,
    ) -> None:
        records = [
            PredictionRecord(
                request_id=f"{prefix}-{index}",
                endpoint="shop",
                model="shop",
                version=version,
                role=role,
                ts=(at + timedelta(seconds=index * 0.01)).timestamp(),
                latency_ms=latency_ms + index,
                features=Batch.from_frame(frame(rows, index), SCHEMA),
                status=status,
            )
            for index in range(count)
        ]
        self.log.write(records)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same figures on every supported database."""
    (tmp_path / "scorer.py").write_text(SCORER)
    config = tmp_path / "modelport.toml"
    config.write_text(
        DEFAULT_TOML.replace('window = "1h"', f'window = "{WINDOW}"').replace(
            "[alerts]\n", "[alerts]\nservice_window_s = 60.0\n"
        )
    )
    settings = Settings.load(config)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'modelport.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    registry = Registry(db, ArtifactStore(tmp_path / "artifacts"))
    reference = tmp_path / "reference.parquet"
    frame(2000, seed=1).to_parquet(reference)
    versions = [
        registry.register(
            Registration(
                name="shop",
                source=f"{tmp_path / 'scorer.py'}:Scorer",
                flavor="python",
                trust_code=True,
                reference=reference,
                schema=SCHEMA,
            )
        )
        for _ in range(2)
    ]
    endpoints = EndpointStore(db, registry)
    endpoints.create("shop", "shop", 1)
    try:
        yield Store(
            tmp_path,
            db,
            registry,
            endpoints,
            SeriesStore(db),
            ParquetPredictionLog(tmp_path / "logs"),
            RolloutStore(db, endpoints),
            Telemetry(),
            settings,
            versions,
        )
    finally:
        db.dispose()


def values(observations: list[Observation]) -> dict[str, float | None]:
    return {o.labels.get("feature", ""): o.value for o in observations}


def observe(store: Store, at: datetime = NOW, **rule: Any) -> list[Observation]:
    given = {"name": "r", "endpoint": "shop", "above": 1.0, **rule}
    return store.observer().observe(parse_rule(given), at)


def test_nothing_stored_yet_gives_no_value_for_every_metric(store: Store) -> None:
    observer = store.observer(telemetry=False)
    for metric, info in METRICS.items():
        feature = "yes" if metric == "output.class_share" else "a" if info.per_feature else None
        rule = parse_rule(
            {"name": "r", "endpoint": "shop", "metric": metric, "feature": feature, "above": 1}
        )
        [observation] = observer.observe(rule, NOW)
        expected_labels = {"endpoint": "shop", **({"feature": feature} if feature else {})}
        assert observation.labels == expected_labels
        if metric == "requests.rate":
            assert observation.value == 0.0 and observation.samples == 0, metric
        elif info.family == "rollout" or metric == "detector.events":
            assert observation.value == 0.0, metric
        else:
            assert observation.value is None, metric


def test_any_feature_fans_out_over_the_schema_and_reads_the_newest_window(store: Store) -> None:
    older = store.key(start=START - timedelta(minutes=15))
    store.store_window(older, [point("a", "psi", 0.01), point("plan", "psi", 0.02)])
    store.store_window(store.key(), [point("a", "psi", 0.4, rows=80)])
    # A window that starts after the evaluation time is not read.
    later = store.key(start=NOW + timedelta(minutes=1))
    store.store_window(later, [point("a", "psi", 9.0)])
    observations = observe(store, metric="drift.psi")
    assert values(observations) == {"a": 0.4, "plan": None}
    assert [o.samples for o in observations] == [80, None]
    earlier = observe(store, at=START, metric="drift.psi")
    assert values(earlier) == {"a": 0.01, "plan": 0.02}


def test_decision_quality_dataset_and_performance_points(store: Store) -> None:
    store.store_window(
        store.key(),
        [
            point("a", "psi", 0.5, drifted=True),
            point("a", "ks", 0.3, drifted=False),
            point("plan", "psi", 0.5, drifted=True),
            point("plan", "cramers_v", 0.01, drifted=False),
            point("a", "missing_rate", 0.25),
            point("plan", "unseen_rate", 0.1),
            point("a", "out_of_range_rate", 0.05),
            point("__dataset__", "invalid_requests", 7.0),
            point("__performance__", "labelled", 40.0, rows=100),
            point("__performance__", "accuracy", 0.75, rows=40),
            point("__performance__", "macro_f1", 0.6, rows=40),
            point("__prediction__", "psi", 0.2),
        ],
    )
    assert values(observe(store, metric="drift.decision")) == {"a": 1.0, "plan": 0.0}
    assert values(observe(store, metric="quality.missing_rate", feature="a")) == {"a": 0.25}
    assert values(observe(store, metric="quality.unseen_categories")) == {"a": None, "plan": 0.1}
    assert values(observe(store, metric="quality.out_of_range_rate", feature="a")) == {"a": 0.05}
    [violations] = observe(store, metric="quality.schema_violations")
    assert violations.value == 7.0
    [accuracy] = observe(store, metric="performance.accuracy")
    assert (accuracy.value, accuracy.samples) == (0.75, 40)
    [f1] = observe(store, metric="performance.f1")
    assert (f1.value, f1.samples) == (0.6, 40)
    [mae] = observe(store, metric="performance.mae")
    assert (mae.value, mae.samples) == (None, 40)
    [psi] = observe(store, metric="prediction_drift.psi")
    assert psi.value == 0.2
    [ks] = observe(store, metric="prediction_drift.ks")
    assert ks.value is None


def test_version_and_role_choose_the_window(store: Store) -> None:
    store.store_window(store.key(1), [point("a", "psi", 0.1)])
    store.store_window(store.key(2), [point("a", "psi", 0.7)])
    assert values(observe(store, metric="drift.psi", feature="a")) == {"a": 0.1}
    assert values(observe(store, metric="drift.psi", feature="a", version="2")) == {"a": 0.7}
    assert values(observe(store, metric="drift.psi", feature="a", role="primary")) == {"a": 0.1}
    # No canary runs: nothing answers in that role yet.
    assert values(observe(store, metric="drift.psi", feature="a", role="canary")) == {"a": None}
    rollout = store.rollouts.create(
        store.endpoints.get("shop"),
        2,
        build_spec({"strategy": "canary"}),
        phase=Phase.CANARY,
        change=Change(action="start", actor="test", weight=10.0, policy=CanarySpec(2, 10.0, "s")),
    )
    [canary] = observe(store, metric="drift.psi", feature="a", role="canary")
    assert canary.labels == {"endpoint": "shop", "feature": "a", "role": "canary"}
    assert canary.value == 0.7
    # Background copies are not in the live series.
    assert values(observe(store, metric="drift.psi", feature="a", role="shadow")) == {"a": None}
    store.rollouts.transition(
        rollout,
        Change(
            action="rollback",
            actor="test",
            status=ROLLED_BACK,
            policy=PrimarySpec(),
            primary_version=1,
        ),
    )
    assert values(observe(store, metric="drift.psi", feature="a", role="canary")) == {"a": None}


def test_class_shares_merge_every_process_state(store: Store) -> None:
    key = store.key()
    first, second = store.state(1, frame(300, 5)), store.state(1, frame(100, 6, shift=3.0))
    store.series.save_state(key, "process-1", first.rows, first.to_dict())
    store.series.save_state(key, "process-2", second.rows, second.to_dict())
    observations = observe(store, metric="output.class_share")
    shares = values(observations)
    assert set(shares) == {"no", "yes"}
    assert sum(v for v in shares.values() if v is not None) == pytest.approx(1.0)
    assert all(o.samples == 400 for o in observations)
    # The second process saw only high ``a``: every one of its answers is "yes".
    merged_yes = shares["yes"]
    alone = first.columns["__prediction__"]
    first_yes = alone.counts_[alone.categories_.index("yes")] / 300
    assert merged_yes == pytest.approx((first_yes * 300 + 100) / 400)
    assert store.observer().features("shop", "output.class_share") == ["no", "yes"]
    assert store.observer().classes("shop") == ["no", "yes"]


def test_service_figures_come_from_the_log(store: Store) -> None:
    at = NOW - timedelta(seconds=30)
    store.log_requests(6, at=at, latency_ms=10.0)
    store.log_requests(2, at=at, status="error", prefix="failed", latency_ms=1.0)
    store.log_requests(3, at=at, role="shadow", prefix="copy", version=2)
    # Outside the 60 s service window.
    store.log_requests(50, at=NOW - timedelta(minutes=5), prefix="old")
    [rate] = observe(store, metric="requests.rate")
    assert (rate.value, rate.samples) == (8 / 60.0, 8)
    [errors] = observe(store, metric="errors.rate")
    assert errors.value == pytest.approx(2 / 8)
    [p50] = observe(store, metric="latency.p50_ms")
    assert p50.value == pytest.approx(float(np.quantile(np.arange(6) + 10.0, 0.5)))
    assert p50.samples == 6
    [p99] = observe(store, metric="latency.p99_ms")
    assert p50.value is not None and p99.value is not None and p99.value > p50.value
    [shadow] = observe(store, metric="requests.rate", role="shadow")
    assert shadow.samples == 3
    [version_2] = observe(store, metric="requests.rate", version="2")
    assert version_2.samples == 0  # served roles only, unless the rule names a role


def test_log_dropped_counts_this_process_over_the_service_window(store: Store) -> None:
    observer = store.observer()
    rule = parse_rule({"name": "d", "endpoint": "shop", "metric": "log.dropped", "above": 0})
    start = datetime.now(UTC)
    assert observer.observe(rule, start)[0].value == 0.0
    store.telemetry.log_drop("shop", "queue_full", 3)
    store.telemetry.log_write_error("shop", "enospc")
    store.telemetry.log_drop("other", "queue_full", 100)
    assert observer.observe(rule, start + timedelta(seconds=1))[0].value == 4.0
    # A window later the same totals are no longer new.
    assert observer.observe(rule, start + timedelta(seconds=62))[0].value == 0.0
    store.telemetry.log_drop("shop", "write_failed", 2)
    assert observer.observe(rule, start + timedelta(seconds=63))[0].value == 2.0


def test_detector_events_in_the_service_window(store: Store) -> None:
    def event(version: int, detected_at: datetime) -> dict[str, Any]:
        return {
            "endpoint": "shop",
            "version": version,
            "detector": "adwin",
            "position": 1,
            "request_id": "r",
            "row": 0,
            "predicted_at": detected_at,
            "label_received_at": detected_at,
            "process": "p",
            "detected_at": detected_at,
        }

    store.series.add_events(
        [
            event(1, NOW - timedelta(seconds=10)),
            event(2, NOW - timedelta(seconds=20)),
            event(1, NOW - timedelta(minutes=10)),  # before the service window
            event(1, NOW + timedelta(minutes=1)),  # after the evaluation time
        ]
    )
    [all_versions] = observe(store, metric="detector.events")
    assert all_versions.value == 2.0
    [second] = observe(store, metric="detector.events", version="2")
    assert second.value == 1.0


def test_rollout_waiting_then_rolled_back(store: Store) -> None:
    rollout = store.rollouts.create(
        store.endpoints.get("shop"),
        2,
        build_spec({"strategy": "canary"}),
        phase=Phase.CANARY,
        change=Change(action="start", actor="test", weight=10.0, policy=CanarySpec(2, 10.0, "s")),
    )
    later = rollout.step_started_at + timedelta(seconds=90)
    [waiting] = observe(store, at=later, metric="rollout.waiting_s")
    assert waiting.value == pytest.approx(90.0)
    [rolled_back] = observe(store, at=later, metric="rollout.rolled_back")
    assert rolled_back.value == 0.0
    ended = store.rollouts.transition(
        rollout,
        Change(
            action="rollback",
            actor="test",
            status=ROLLED_BACK,
            policy=PrimarySpec(),
            primary_version=1,
        ),
    )
    assert ended.finished_at is not None
    soon = ended.finished_at + timedelta(minutes=5)
    assert observe(store, at=soon, metric="rollout.rolled_back")[0].value == 1.0
    assert observe(store, at=soon, metric="rollout.waiting_s")[0].value == 0.0
    hours_later = ended.finished_at + timedelta(hours=2)
    assert observe(store, at=hours_later, metric="rollout.rolled_back")[0].value == 0.0


def test_a_round_reads_each_window_once(store: Store) -> None:
    """Rules evaluated at the same time share one read of the window: a figure stored
    meanwhile shows from the next round on."""
    store.store_window(store.key(), [point("a", "psi", 0.1), point("a", "ks", 0.2)])
    observer = store.observer()

    def rule(metric: str) -> Any:
        return parse_rule({"name": metric, "endpoint": "shop", "metric": metric, "above": 1})

    assert values(observer.observe(rule("drift.psi"), NOW))["a"] == 0.1
    store.store_window(store.key(), [point("a", "psi", 0.3), point("a", "ks", 0.4)])
    assert values(observer.observe(rule("drift.ks"), NOW))["a"] == 0.2
    next_round = NOW + timedelta(seconds=15)
    assert values(observer.observe(rule("drift.psi"), next_round))["a"] == 0.3
    assert values(observer.observe(rule("drift.ks"), next_round))["a"] == 0.4


def test_unknown_endpoint_and_features(store: Store) -> None:
    observer = store.observer()
    assert observer.endpoints() == {"shop"}
    assert observer.features("shop") == ["a", "plan"]
    assert observer.features("gone") == [] and observer.classes("gone") == []
    rule = parse_rule({"name": "r", "endpoint": "gone", "metric": "drift.psi", "above": 1})
    assert observer.observe(rule, NOW) == []
