"""The server's alert loop on a real database: rounds under the evaluation lease, a
delivery that follows the stored notifiers, outcomes in history, failures counted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from alerts.receiver import Receiver
from alerts.synthetic import SyntheticObserver, database, observer  # noqa: F401  (fixtures)
from modelport.alerts.evaluator import Evaluator
from modelport.alerts.service import AlertService
from modelport.store.db import Database
from modelport.telemetry import Telemetry

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DRIFT = {"name": "churn-drift", "endpoint": "churn", "metric": "drift.psi",
         "feature": "tenure", "above": 0.2}  # fmt: skip


@pytest.fixture
def service(database: Database, observer: SyntheticObserver) -> AlertService:  # noqa: F811
    return AlertService(database, observer, link_base="http://127.0.0.1:8000")


def evaluator(service: AlertService, telemetry: Telemetry | None = None) -> Evaluator:
    telemetry = telemetry or Telemetry()
    return Evaluator(
        service,
        service.store.db,
        interval_s=1.0,
        backoff_s=0.01,
        on_failure=telemetry.alert_notification_failed,
        on_round=telemetry.alert_evaluation,
    )


def deliveries(service: AlertService) -> list[dict[str, object]]:
    return [entry for entry in service.history() if entry["kind"] == "delivery"]


def wait_deliveries(service: AlertService, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = deliveries(service)
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{count} deliveries not recorded: {deliveries(service)}")


def test_a_round_delivers_each_transition_once_and_records_it(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    telemetry = Telemetry()
    with Receiver(failures=[500, 500]) as receiver:
        service.add_notifier({"name": "ops", "kind": "webhook", "url": receiver.url}, by="ops")
        service.add_rule(DRIFT, by="ops")
        loop = evaluator(service, telemetry)
        try:
            observer.set("drift.psi", 0.4, "tenure")
            [sent] = loop.round(T0) or []
            assert sent.status == "firing"
            assert loop.round(T0 + timedelta(minutes=1)) == []  # still firing: nothing new
            [body] = receiver.wait_bodies(1)
            [delivery] = wait_deliveries(service, 1)

            observer.set("drift.psi", 0.01, "tenure")
            [resolved] = loop.round(T0 + timedelta(minutes=2)) or []
            bodies = receiver.wait_bodies(2)
        finally:
            loop.stop()

    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    assert (body["rule"], body["endpoint"], body["feature"]) == ("churn-drift", "churn", "tenure")
    assert (body["value"], body["threshold"], body["metric"]) == (0.4, 0.2, "drift.psi")
    assert body["link"].endswith("/v1/endpoints/churn/monitoring/report?format=html")
    assert receiver.posts == 4  # two refused, then the firing and the resolved one
    assert (delivery["notifier"], delivery["delivered"], delivery["attempts"]) == ("ops", True, 3)
    assert delivery["key"] == 'churn-drift{endpoint="churn",feature="tenure"}'
    failed = telemetry.registry.get_sample_value(
        "modelport_alert_notifications_failed_total", {"notifier": "ops"}
    )
    assert failed == 2
    assert telemetry.registry.get_sample_value("modelport_alert_evaluations_total") == 3
    [ops] = service.notifiers()
    assert (ops["delivered"], ops["failed"]) == (2, 0)


def test_one_process_per_store_evaluates_at_a_time(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(DRIFT, by="ops")
    observer.set("drift.psi", 0.4, "tenure")
    first, second = evaluator(service), evaluator(service)
    try:
        assert first.round(T0) is not None
        assert second.round(T0) is None  # the lease is the first one's
        assert first.round(T0 + timedelta(minutes=1)) == []  # and stays with it
        first.stop()  # gives the lease up
        assert second.round(T0 + timedelta(minutes=2)) == []
    finally:
        first.stop()
        second.stop()
    [transition] = [e for e in service.history() if e["kind"] == "transition"]
    assert transition["to_state"] == "firing"


def test_the_delivery_follows_the_stored_notifiers(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    loop = evaluator(service)
    try:
        loop.round(T0)
        assert loop.delivery is not None and loop.delivery.notifiers == []
        first = loop.delivery
        loop.round(T0)
        assert loop.delivery is first  # nothing changed: the same delivery

        with Receiver() as receiver:
            service.add_notifier({"name": "ops", "kind": "webhook", "url": receiver.url},
                                 by="ops")  # fmt: skip
            service.add_notifier({"name": "log", "kind": "log"}, by="ops")
            service.add_rule(DRIFT, by="ops")
            observer.set("drift.psi", 0.4, "tenure")
            loop.round(T0)
            assert sorted(loop.delivery.notifiers) == ["log", "ops"]
            assert receiver.wait_bodies(1)[0]["status"] == "firing"
            wait_deliveries(service, 2)

        service.delete_notifier("ops", by="ops")
        loop.round(T0 + timedelta(minutes=1))
        assert loop.delivery.notifiers == ["log"]
    finally:
        loop.stop()
    assert loop.delivery is None


def test_a_hanging_receiver_never_holds_up_a_round(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(DRIFT, by="ops")
    with Receiver(hang=True) as hung, Receiver() as healthy:
        service.add_notifier({"name": "slow", "kind": "webhook", "url": hung.url}, by="ops")
        service.add_notifier({"name": "fast", "kind": "webhook", "url": healthy.url}, by="ops")
        loop = evaluator(service)
        try:
            observer.set("drift.psi", 0.4, "tenure")
            assert len(loop.round(T0) or []) == 1
            hung.wait_posts(1)
            observer.set("drift.psi", 0.01, "tenure")
            assert len(loop.round(T0 + timedelta(minutes=1)) or []) == 1  # not waiting
            assert [b["status"] for b in healthy.wait_bodies(2)] == ["firing", "resolved"]
            assert hung.bodies == []
        finally:
            loop.stop(deadline_s=0.1)
