"""Alerts end to end on a real server: rules and notifiers declared in modelport.toml,
real HTTP traffic that drifts and comes back, real receivers on 127.0.0.1 (a webhook
receiver started by the test, and Debian's Alertmanager)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerts.receiver import Receiver
from alerts.test_notifiers import alertmanager  # noqa: F401  (fixture: a real Alertmanager)
from modelport.alerts.observe import Observer
from modelport.alerts.service import AlertService
from modelport.config import Settings
from modelport.monitoring.live.series import SeriesStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.rollout.state import RolloutStore
from modelport.store.db import Database
from support import LiveServer, make_churn_data, register_churn

WAIT_S = 90.0  # an upper bound for "never happened", not a performance threshold
WINDOW_ROWS = 200
CONFIG = """\
[store]
home = ".modelport"

[log]
flush_interval_s = 0.2

[monitoring]
window = "200rows"
interval_s = 0.2
compact_log = false

[alerts]
interval_s = 0.3
backoff_s = 0.05
"""
DRIFT_RULE = """
[[alerts.rules]]
name = "churn-drift"
endpoint = "churn"
metric = "drift.ks"
feature = "tenure"
above = 0.5
severity = "critical"
"""
T = TypeVar("T")


def notifier(name: str, kind: str, url: str) -> str:
    return f'\n[alerts.notifiers.{name}]\nkind = "{kind}"\nurl = "{url}"\n'


def normal(rows: int, seed: int) -> list[dict[str, Any]]:
    frame = make_churn_data(rows, seed).drop(columns=["churned"])
    return [
        {"tenure": int(r.tenure), "charges": float(r.charges), "plan": str(r.plan)}
        for r in frame.itertuples()
    ]


def shifted(rows: int, seed: int) -> list[dict[str, Any]]:
    """Tenure far past anything in the reference (0-71 months)."""
    rng = np.random.default_rng(seed)
    return [{**row, "tenure": int(rng.integers(150, 250))} for row in normal(rows, seed)]


def send(client: httpx.Client, rows: list[dict[str, Any]]) -> list[Any]:
    """One window's rows, in requests of 100."""
    answers: list[Any] = []
    for start in range(0, len(rows), 100):
        answer = client.post(
            "/v1/endpoints/churn/predict", json={"instances": rows[start : start + 100]}
        )
        assert answer.status_code == 200, answer.text
        answers += answer.json()["predictions"]
    return answers


def wait_for(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {WAIT_S}s; last value {value!r}")
        time.sleep(0.1)


def metric(server: LiveServer, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def more_rounds(server: LiveServer, count: int = 3) -> None:
    """Until the server has run ``count`` more evaluation rounds."""
    name = "modelport_alert_evaluations_total"
    now = metric(server, name)
    wait_for(lambda: metric(server, name), lambda rounds: rounds >= now + count)


@pytest.fixture
def alerting(
    project: Path, churn_files: tuple[Path, Path]
) -> Iterator[Callable[[str], LiveServer]]:
    """Start a server on ``project`` whose modelport.toml is CONFIG plus ``extra``."""
    servers: list[LiveServer] = []

    def start(extra: str, endpoints: tuple[str, ...] = ("churn",)) -> LiveServer:
        (project / "modelport.toml").write_text(CONFIG + extra)
        for endpoint in endpoints:
            register_churn(project, churn_files, endpoint=endpoint)
        server = LiveServer(project).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def alerts_of(project: Path) -> Iterator[AlertService]:
    """The alert service over the project's store, as the CLI would open it."""
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
    try:
        yield AlertService(db, observer)
    finally:
        db.dispose()


def deliveries(service: AlertService) -> list[dict[str, Any]]:
    return [entry for entry in service.history() if entry["kind"] == "delivery"]


def test_drifted_traffic_fires_once_and_normal_traffic_resolves_once(
    alerting: Callable[[str], LiveServer],
) -> None:
    with Receiver() as receiver:
        server = alerting(DRIFT_RULE + notifier("ops", "webhook", receiver.url))
        with server.client() as client:
            send(client, shifted(WINDOW_ROWS, seed=1))
            [firing] = receiver.wait_bodies(1)
            more_rounds(server)  # still drifted, still firing: nothing new
            assert len(receiver.bodies) == 1

            send(client, normal(WINDOW_ROWS, seed=2))
            bodies = receiver.wait_bodies(2)
            more_rounds(server)

    assert [body["status"] for body in receiver.bodies] == ["firing", "resolved"]
    assert (firing["rule"], firing["endpoint"], firing["metric"], firing["feature"]) == (
        "churn-drift",
        "churn",
        "drift.ks",
        "tenure",
    )
    assert firing["value"] > 0.5 and firing["threshold"] == 0.5
    assert firing["severity"] == "critical"
    assert firing["labels"] == {"endpoint": "churn", "feature": "tenure"}
    assert firing["link"] == f"{server.url}/v1/endpoints/churn/monitoring?format=html"
    assert httpx.get(firing["link"], timeout=30).status_code == 200
    assert bodies[1]["value"] < 0.5
    assert bodies[1]["ends_at"] is not None


def test_a_receiver_failing_twice_still_gets_exactly_one_notification(
    alerting: Callable[[str], LiveServer], alerts_of: AlertService
) -> None:
    with Receiver(failures=[500, 500]) as receiver:
        server = alerting(DRIFT_RULE + notifier("ops", "webhook", receiver.url))
        with server.client() as client:
            send(client, shifted(WINDOW_ROWS, seed=1))
        [body] = receiver.wait_bodies(1)
        [delivery] = wait_for(lambda: deliveries(alerts_of), lambda found: len(found) == 1)
        more_rounds(server)

    assert body["status"] == "firing"
    assert receiver.posts == 3 and len(receiver.bodies) == 1
    assert (delivery["notifier"], delivery["delivered"], delivery["attempts"]) == ("ops", True, 3)
    assert metric(server, "modelport_alert_notifications_failed_total", notifier="ops") == 2
    [ops] = alerts_of.notifiers()
    assert (ops["source"], ops["delivered"], ops["failed"]) == ("config", 1, 0)
    [transition] = [e for e in alerts_of.history("churn-drift") if e["kind"] == "transition"]
    assert (transition["to_state"], transition["band"]["upper"]) == ("firing", 0.5)


def test_a_real_alertmanager_lists_the_alert_until_it_resolves(
    alerting: Callable[[str], LiveServer],
    alertmanager: str,  # noqa: F811
) -> None:
    server = alerting(DRIFT_RULE + notifier("am", "alertmanager", alertmanager))

    def listed() -> list[dict[str, Any]]:
        alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=30).json()
        return [a for a in alerts if a["labels"].get("alertname") == "churn-drift"]

    with server.client() as client:
        send(client, shifted(WINDOW_ROWS, seed=1))
        [alert] = wait_for(listed, lambda found: len(found) == 1)
        assert alert["status"]["state"] == "active"
        assert alert["labels"]["endpoint"] == "churn"
        assert alert["labels"]["feature"] == "tenure"
        assert alert["labels"]["severity"] == "critical"
        assert float(alert["annotations"]["value"]) > 0.5
        assert alert["generatorURL"].startswith(server.url)

        send(client, normal(WINDOW_ROWS, seed=2))
        wait_for(listed, lambda found: found == [])


def test_a_hanging_notifier_never_changes_a_prediction(
    alerting: Callable[[str], LiveServer],
) -> None:
    with Receiver(hang=True) as hung, Receiver() as healthy:
        server = alerting(
            DRIFT_RULE
            + notifier("slow", "webhook", hung.url)
            + notifier("fast", "webhook", healthy.url)
        )
        probe = normal(20, seed=7)
        with server.client() as client:
            expected = send(client, probe)
            send(client, shifted(WINDOW_ROWS - len(probe), seed=1))
            hung.wait_posts(1)  # the slow receiver holds its notification
            assert healthy.wait_bodies(1)[0]["status"] == "firing"
            for _ in range(10):
                answer = client.post("/v1/endpoints/churn/predict", json={"instances": probe})
                assert answer.status_code == 200
                assert answer.json()["predictions"] == expected
            more_rounds(server)  # evaluation goes on too
        assert not hung.release.is_set()  # all of it while the receiver still hung
        server.stop()  # and the server stops without waiting for it
        assert "Application shutdown complete" in server.output()


def test_a_rule_whose_endpoint_is_deleted_is_orphaned_and_the_others_go_on(
    alerting: Callable[..., LiveServer], alerts_of: AlertService
) -> None:
    other = DRIFT_RULE.replace('"churn-drift"', '"other-drift"').replace(
        'endpoint = "churn"', 'endpoint = "churn2"'
    )
    with Receiver() as receiver:
        server = alerting(
            DRIFT_RULE + other + notifier("ops", "webhook", receiver.url),
            endpoints=("churn", "churn2"),
        )
        with server.client() as client:
            assert client.delete("/v1/endpoints/churn2").status_code in (200, 204)
            more_rounds(server)
            send(client, shifted(WINDOW_ROWS, seed=1))
            [body] = receiver.wait_bodies(1)
            more_rounds(server)

    assert body["rule"] == "churn-drift"
    rules = {rule["name"]: rule for rule in alerts_of.rules()}
    assert (rules["other-drift"]["orphaned"], rules["other-drift"]["source"]) == (True, "config")
    assert (rules["churn-drift"]["orphaned"], rules["churn-drift"]["state"]) == (False, "firing")
    assert "evaluating alert rule" not in server.output()  # skipped, not failing


def test_a_malformed_declaration_refuses_the_start_naming_the_field(
    alerting: Callable[[str], LiveServer],
) -> None:
    with pytest.raises(AssertionError) as refused:
        alerting(DRIFT_RULE.replace("above = 0.5", 'above = "high"'))
    assert "alerts.rules[0].above" in str(refused.value)
