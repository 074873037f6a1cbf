"""The Observer on what a real server stores: real requests (normal, then shifted),
labels through the feedback API, a refused request, failed requests, a shadow rollout
and its rollback. The observer reads the server's store and log from the test process,
as another replica or ``modelport alerts test`` would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from modelport.alerts.lifecycle import AlertState, Observation, evaluate
from modelport.alerts.observe import Observer
from modelport.alerts.rules import METRICS, parse_rule
from modelport.config import Settings
from modelport.monitoring.live.series import SeriesStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registration, Registry
from modelport.rollout.state import RolloutStore
from modelport.schema import FeatureSpec, InputSchema
from modelport.store.db import Database
from support import LiveServer, run_cli

SCORER = '''
import numpy as np


class Scorer:
    """Says "yes" for positive ``a``; refuses to answer for ``b`` below -100."""

    classes = ["no", "yes"]

    def predict_proba(self, frame):
        if (frame["b"].to_numpy(dtype=float) < -100).any():
            raise ValueError("b is far out of range")
        a = np.nan_to_num(frame["a"].to_numpy(dtype=float), nan=0.0)
        p = 1.0 / (1.0 + np.exp(-2.0 * a))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame):
        return np.where(self.predict_proba(frame)[:, 1] > 0.5, "yes", "no")
'''
SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="a", kind="float"),
        FeatureSpec(name="b", kind="float"),
        FeatureSpec(name="plan", kind="category", nullable=True),
    ]
)
CONFIG = """\
[store]
home = ".modelport"

[log]
flush_interval_s = 0.2

[monitoring]
window = "1000rows"
interval_s = 0.2

[alerts]
service_window_s = 300.0
"""
REQUEST_ROWS = 100
WINDOW_ROWS = 1000
T = TypeVar("T")


def instances(rows: int, seed: int, shift: float = 0.0, missing_plans: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    plans: list[str | None] = list(rng.choice(["basic", "pro"], rows, p=[0.7, 0.3]))
    for index in range(missing_plans):
        plans[index] = None
    return [
        {"a": float(a), "b": float(b), "plan": plan}
        for a, b, plan in zip(
            rng.normal(shift, 1.0, rows), rng.normal(0.0, 1.0, rows), plans, strict=True
        )
    ]


def make_project(folder: Path, versions: int = 1) -> Path:
    """A project whose endpoint ``shop`` serves a python classifier with reference data."""
    folder.mkdir(parents=True)
    (folder / "modelport.toml").write_text(CONFIG)
    (folder / "scorer.py").write_text(SCORER)
    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    home.mkdir()
    import pandas as pd

    reference = folder / "reference.parquet"
    pd.DataFrame(instances(3000, seed=1)).to_parquet(reference)
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        for _ in range(versions):
            registry.register(
                Registration(
                    name="shop",
                    source=f"{folder / 'scorer.py'}:Scorer",
                    flavor="python",
                    trust_code=True,
                    reference=reference,
                    schema=SCHEMA,
                )
            )
        EndpointStore(db, registry).create("shop", "shop", 1)
    finally:
        db.dispose()
    return folder


@dataclass
class Reader:
    """An Observer over the server's store and log, built from the project's settings."""

    db: Database
    observer: Observer

    @classmethod
    def of(cls, project: Path) -> Reader:
        settings = Settings.load(project / "modelport.toml")
        home = project / settings.store.home
        db = Database(f"sqlite:///{home / 'modelport.db'}")
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        endpoints = EndpointStore(db, registry)
        observer = Observer(
            series=SeriesStore(db),
            log=ParquetPredictionLog(home / "logs"),
            endpoints=endpoints,
            registry=registry,
            rollouts=RolloutStore(db, endpoints),
            telemetry=None,
            settings=settings,
        )
        return cls(db, observer)

    def observe(self, metric: str, at: datetime | None = None, **rule: Any) -> list[Observation]:
        given = {"name": "r", "endpoint": "shop", "metric": metric, "above": 1.0, **rule}
        return self.observer.observe(parse_rule(given), at or datetime.now(UTC))

    def one(self, metric: str, at: datetime | None = None, **rule: Any) -> Observation:
        [observation] = self.observe(metric, at, **rule)
        return observation

    def by_feature(self, metric: str, at: datetime | None = None, **rule: Any) -> dict[str, Any]:
        return {o.labels["feature"]: o for o in self.observe(metric, at, **rule)}


def wait_for(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0) -> T:
    """``read()`` again until ``done`` says yes (the collector stores every interval)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s; last value {value!r}")
        time.sleep(0.1)


def predict(client: httpx.Client, request_id: str, rows: list[Any]) -> list[str]:
    answer = client.post(
        "/v1/endpoints/shop/predict",
        json={"instances": rows},
        headers={"X-Request-ID": request_id},
    )
    assert answer.status_code == 200, answer.text
    return [str(label) for label in answer.json()["predictions"]]


def window_rows(reader: Reader) -> int | None:
    return reader.one("quality.missing_rate", feature="plan").samples


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LiveServer, Reader]]:
    project = make_project(tmp_path / "project", versions=2)
    server = LiveServer(project).start()
    reader = Reader.of(project)
    try:
        yield server, reader
    finally:
        server.stop()
        reader.db.dispose()


def test_every_window_family_from_real_traffic(served: tuple[LiveServer, Reader]) -> None:
    server, reader = served
    normal = instances(WINDOW_ROWS, seed=2)
    shifted = instances(WINDOW_ROWS, seed=3, shift=3.0, missing_plans=100)
    with server.client() as client:
        for start in range(0, WINDOW_ROWS, REQUEST_ROWS):
            predict(client, f"normal-{start}", normal[start : start + REQUEST_ROWS])
        wait_for(lambda: window_rows(reader), lambda rows: rows == WINDOW_ROWS)
        before_shift = datetime.now(UTC)
        answers = {"shift-0": predict(client, "shift-0", shifted[:REQUEST_ROWS])}
        # Refused at the API (a feature is missing): counted in the open window.
        refused = client.post("/v1/endpoints/shop/predict", json={"instances": [{"a": 1.0}]})
        assert refused.status_code == 422
        wait_for(
            lambda: reader.one("quality.schema_violations").value,
            lambda value: value == 1.0,
        )
        for start in range(REQUEST_ROWS, WINDOW_ROWS, REQUEST_ROWS):
            request_id = f"shift-{start}"
            answers[request_id] = predict(client, request_id, shifted[start : start + REQUEST_ROWS])
        # Two requests the model fails on.
        for index in range(2):
            failed = client.post(
                "/v1/endpoints/shop/predict",
                json={"instances": [{"a": 0.0, "b": -1000.0, "plan": "pro"}]},
                headers={"X-Request-ID": f"fails-{index}"},
            )
            assert failed.status_code >= 500
        wait_for(lambda: window_rows(reader), lambda rows: rows == WINDOW_ROWS)

        # Input drift: rises on the shifted feature, not on the others.
        drift = reader.by_feature("drift.psi")
        earlier = reader.by_feature("drift.psi", at=before_shift)
        assert set(drift) == {"a", "b", "plan"}
        assert drift["a"].value > 1.0 > 0.1 > earlier["a"].value
        assert drift["a"].samples == WINDOW_ROWS
        assert drift["b"].value < 0.1
        decisions = reader.by_feature("drift.decision")
        assert decisions["a"].value == 1.0 and decisions["b"].value == 0.0
        assert reader.by_feature("drift.decision", at=before_shift)["a"].value == 0.0
        # Quality: 100 of 1000 plans were null.
        missing = reader.one("quality.missing_rate", feature="plan")
        assert missing.value == pytest.approx(100 / WINDOW_ROWS)
        assert reader.one("quality.missing_rate", feature="a").value == 0.0
        assert reader.one("quality.unseen_categories", feature="plan").value == 0.0
        # Output: the shift moved answers to "yes"; the shares add up.
        shares = reader.by_feature("output.class_share")
        assert set(shares) == {"no", "yes"}
        assert sum(s.value for s in shares.values()) == pytest.approx(1.0)
        assert shares["yes"].value > 0.9 and shares["yes"].samples == WINDOW_ROWS
        assert reader.one("prediction_drift.psi").value > 1.0

        # Labels for 50 predictions of the shifted window: 40 right, 10 wrong.
        labels = []
        for row, prediction in enumerate(answers["shift-100"][:50]):
            wrong = row >= 40
            label = ("no" if prediction == "yes" else "yes") if wrong else prediction
            labels.append({"request_id": "shift-100", "row": row, "label": label})
        sent = client.post("/v1/feedback", json=labels)
        assert sent.status_code == 200 and sent.json()["matched"] == 50, sent.text

    accuracy = wait_for(
        lambda: reader.one("performance.accuracy"), lambda found: found.samples == 50
    )
    assert accuracy.value == pytest.approx(0.8)
    assert reader.one("performance.mae").value is None  # a classifier has no MAE
    # min_samples: 50 labels are not enough for a rule asking 51, and are for 50.
    for min_samples, fires in ((51, False), (50, True)):
        rule = parse_rule(
            {"name": "acc", "endpoint": "shop", "metric": "performance.accuracy",
             "below": 0.85, "min_samples": min_samples}
        )  # fmt: skip
        outcome = evaluate(rule, {}, reader.observer.observe(rule, datetime.now(UTC)),
                           at=datetime.now(UTC))  # fmt: skip
        states = [alert.state for alert in outcome.alerts.values()]
        assert states == ([AlertState.FIRING] if fires else [AlertState.INACTIVE])

    # Service figures from the log: 20 answered requests and 2 failed ones.
    requests = wait_for(lambda: reader.one("requests.rate"), lambda found: found.samples == 22)
    assert requests.value == pytest.approx(22 / 300.0)
    assert reader.one("errors.rate").value == pytest.approx(2 / 22)
    p50, p99 = reader.one("latency.p50_ms"), reader.one("latency.p99_ms")
    assert p50.value is not None and p99.value is not None
    assert 0 < p50.value <= p99.value and p50.samples == 20
    # Per-process counters need the serving process's telemetry.
    assert reader.one("log.dropped").value is None

    # Every metric a rule can name is read; the ones without a figure are those that
    # cannot have one here.
    without = set()
    for metric, info in METRICS.items():
        observations = reader.observe(metric, feature="*" if info.per_feature else None)
        assert observations, metric
        if all(o.value is None for o in observations):
            without.add(metric)
    assert without == {
        "log.dropped",  # no serving process's telemetry in the test process
        "performance.mae",  # a classifier
        "prediction_drift.ks",  # the answer is a class label: categorical statistics only
        "prediction_drift.wasserstein",
    }


def test_rollout_figures_during_a_shadow_rollout_and_after_its_rollback(
    served: tuple[LiveServer, Reader],
) -> None:
    server, reader = served
    assert reader.one("rollout.waiting_s").value == 0.0
    with server.client() as client:
        started = client.post(
            "/v1/endpoints/shop/rollout", json={"strategy": "shadow", "version": 2}
        )
        assert started.status_code in (200, 201), started.text
        assert reader.observer.features("shop") == ["a", "b", "plan"]
        server.wait_for(
            lambda: client.get("/v1/endpoints/shop/rollout").json()["rollout"]["status"] == "active"
        )
        for index in range(4):
            predict(client, f"during-{index}", instances(5, seed=10 + index))
    waiting = wait_for(
        lambda: reader.one("rollout.waiting_s"), lambda found: (found.value or 0) > 0
    )
    assert waiting.value is not None and waiting.value < 600
    assert reader.one("rollout.rolled_back").value == 0.0
    # The shadow copies are logged beside the answered requests, told apart by role.
    copies = wait_for(
        lambda: reader.one("requests.rate", role="shadow"), lambda found: found.samples == 4
    )
    assert copies.labels == {"endpoint": "shop", "role": "shadow"}
    assert reader.one("requests.rate").samples == 4
    # No live series of background copies.
    assert reader.one("drift.psi", feature="a", role="shadow").value is None

    run_cli("rollout", "rollback", "shop", cwd=server.cwd)
    assert reader.one("rollout.rolled_back").value == 1.0
    assert reader.one("rollout.waiting_s").value == 0.0
