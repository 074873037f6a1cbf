"""AlertService over a real database (SQLite and PostgreSQL): rules, validation, the
lifecycle stored round by round, silences, acknowledgements, notifiers, declarations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts.synthetic import SyntheticObserver, database, observer  # noqa: F401  (fixtures)
from modelport.alerts.service import AlertService
from modelport.errors import ConfigError, ModelportError, ValidationFailed
from modelport.store.db import Database
from modelport.store.tables import AuditRow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DRIFT = {
    "name": "churn-drift",
    "endpoint": "churn",
    "metric": "drift.psi",
    "feature": "tenure",
    "above": 0.2,
}


@pytest.fixture
def service(database: Database, observer: SyntheticObserver) -> AlertService:  # noqa: F811
    return AlertService(database, observer, link_base="http://127.0.0.1:8000")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_rule_is_stored_listed_and_audited(
    service: AlertService,
    database: Database,  # noqa: F811
) -> None:
    rule = service.add_rule({**DRIFT, "for": "15m", "severity": "critical"}, by="ops")

    assert rule.for_s == 900.0
    [listed] = service.rules()
    assert listed["name"] == "churn-drift"
    assert listed["threshold"] == {"kind": "static", "above": 0.2, "below": None,
                                   "resolve_at": None}  # fmt: skip
    assert (listed["source"], listed["orphaned"], listed["state"]) == ("api", False, "inactive")
    assert (listed["firing"], listed["silenced_until"]) == (0, None)
    assert listed["created_by"] == "ops"
    assert service.rule("churn-drift") == rule
    with database.session() as session:
        audit = session.scalars(select(AuditRow).where(AuditRow.subject == "alert:churn-drift"))
        assert [(row.actor, row.action) for row in audit] == [("ops", "create")]
    assert [entry["kind"] for entry in service.history("churn-drift")] == ["rule-added"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"endpoint": "nope"}, "endpoint"),
        ({"feature": "age"}, "feature"),
        ({"metric": "drift.nope"}, "metric"),
        ({"above": "high"}, "above"),
        ({"adaptive": True}, "above"),
        ({"above": None, "adaptive": True, "floor": 2.0, "ceiling": 1.0}, "ceiling"),
        ({"below": 0.5}, "below"),
        ({"for": "soon"}, "for"),
        ({"name": "no spaces"}, "name"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    service: AlertService, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        service.add_rule({**DRIFT, **changes}, by="ops")

    assert raised.value.field == field
    assert raised.value.status == 422
    assert service.rules() == []
    assert service.history() == []


def test_a_taken_name_conflicts_unless_replaced(service: AlertService) -> None:
    service.add_rule(DRIFT, by="ops")
    with pytest.raises(ModelportError) as raised:
        service.add_rule({**DRIFT, "above": 0.3}, by="ops")
    assert (raised.value.status, raised.value.code) == (409, "alert_exists")
    assert service.rule("churn-drift").threshold.to_dict()["above"] == 0.2

    service.add_rule({**DRIFT, "above": 0.3}, by="dev", replace=True)
    assert service.rule("churn-drift").threshold.to_dict()["above"] == 0.3
    assert len(service.rules()) == 1


@pytest.mark.parametrize("call", ["rule", "show", "delete_rule", "silence", "ack", "test"])
def test_an_unknown_rule_is_alert_not_found(service: AlertService, call: str) -> None:
    arguments: dict[str, dict[str, Any]] = {
        "delete_rule": {"by": "ops"},
        "silence": {"for_s": 60, "by": "ops"},
        "ack": {"by": "ops"},
    }
    with pytest.raises(ModelportError) as raised:
        getattr(service, call)("ghost", **arguments.get(call, {}))
    assert (raised.value.status, raised.value.code) == (404, "alert_not_found")


def test_a_static_rule_fires_once_notifies_and_resolves(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule({**DRIFT, "resolve_at": 0.1}, by="ops")
    observer.set("drift.psi", 0.05, "tenure")
    assert service.evaluate(at(0)) == []

    observer.set("drift.psi", 0.31, "tenure")
    [firing] = service.evaluate(at(1))
    assert (firing.status, firing.rule, firing.endpoint) == ("firing", "churn-drift", "churn")
    assert (firing.metric, firing.feature, firing.value, firing.threshold) == (
        "drift.psi",
        "tenure",
        0.31,
        0.2,
    )
    assert firing.labels == {"endpoint": "churn", "feature": "tenure"}
    assert firing.starts_at == at(1)
    assert firing.link == ("http://127.0.0.1:8000/v1/endpoints/churn/monitoring/report?format=html")
    assert service.rules()[0]["state"] == "firing"
    assert service.rules()[0]["firing"] == 1

    # Still firing, between the threshold and the resolve level: nothing new.
    assert service.evaluate(at(2)) == []
    observer.set("drift.psi", 0.15, "tenure")
    assert service.evaluate(at(3)) == []

    observer.set("drift.psi", 0.05, "tenure")
    [resolved] = service.evaluate(at(4))
    assert (resolved.status, resolved.starts_at, resolved.ends_at) == ("resolved", at(1), at(4))
    assert resolved.threshold == 0.2

    transitions = [e for e in service.history("churn-drift") if e["kind"] == "transition"]
    assert [(e["from_state"], e["to_state"]) for e in transitions] == [
        ("firing", "resolved"),
        ("inactive", "firing"),
    ]
    assert transitions[1]["value"] == 0.31
    assert transitions[1]["band"] == {"lower": None, "upper": 0.2}


def test_for_keeps_an_alert_pending_until_it_has_lasted(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule({**DRIFT, "for": "10m"}, by="ops")
    observer.set("drift.psi", 0.5, "tenure")

    assert service.evaluate(at(0)) == []
    assert service.rules()[0]["state"] == "pending"
    assert service.evaluate(at(5)) == []
    [firing] = service.evaluate(at(10))
    assert firing.status == "firing"
    assert [a.state for a in service.alerts(active_only=True)] == ["firing"]


def test_a_rule_on_any_feature_fans_out_one_alert_per_feature(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule({**DRIFT, "feature": None}, by="ops")
    observer.set("drift.psi", 0.4, "charges")
    observer.set("drift.psi", 0.01, "tenure")

    [firing] = service.evaluate(at(0))
    assert firing.feature == "charges"
    keys = sorted(alert.key for alert in service.alerts())
    assert keys == [
        'churn-drift{endpoint="churn",feature="charges"}',
        'churn-drift{endpoint="churn",feature="tenure"}',
    ]


def test_a_silenced_rule_transitions_quietly_and_history_says_who_and_why(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(DRIFT, by="ops")
    silence = service.silence("churn-drift", for_s=7200, reason="deploying", by="ana")
    observer.set("drift.psi", 0.5, "tenure")

    assert service.evaluate(datetime.now(UTC)) == []
    [alert] = service.alerts()
    assert (alert.state, alert.silenced) == ("firing", True)
    [listed] = service.rules()
    assert listed["silenced_until"] == silence.until.isoformat()
    entries = service.history("churn-drift")
    [recorded] = [e for e in entries if e["kind"] == "silence"]
    assert (recorded["by"], recorded["reason"]) == ("ana", "deploying")
    assert service.show("churn-drift")["silences"][0]["reason"] == "deploying"

    # Once the silence has expired, the still-firing alert is sent.
    [late] = service.evaluate(silence.until + timedelta(seconds=1))
    assert late.status == "firing"


@pytest.mark.parametrize("for_s", [0, -5, float("nan"), float("inf")])
def test_a_silence_needs_a_positive_duration(service: AlertService, for_s: float) -> None:
    service.add_rule(DRIFT, by="ops")
    with pytest.raises(ValidationFailed) as raised:
        service.silence("churn-drift", for_s=for_s, by="ops")
    assert raised.value.field == "for"
    assert [e["kind"] for e in service.history()] == ["rule-added"]


def test_ack_marks_firing_alerts_and_records_who(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(DRIFT, by="ops")
    assert service.ack("churn-drift", by="ana") == []  # nothing active yet
    observer.set("drift.psi", 0.5, "tenure")
    service.evaluate(at(0))

    [transition] = service.ack("churn-drift", by="ana", labels={"feature": "tenure"})
    assert (transition.event, transition.by) == ("acknowledged", "ana")
    [alert] = service.alerts()
    assert alert.acked_by == "ana"
    [entry] = [e for e in service.history("churn-drift") if e["kind"] == "ack"]
    assert entry["by"] == "ana"
    assert service.ack("churn-drift", by="bo", labels={"feature": "plan"}) == []


def test_an_orphaned_rule_is_reported_and_never_stops_the_round(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    observer.schema["fraud"] = ["amount"]
    service.add_rule({**DRIFT, "name": "fraud-drift", "endpoint": "fraud", "feature": "amount"},
                     by="ops")  # fmt: skip
    service.add_rule({**DRIFT, "name": "broken"}, by="ops")
    service.add_rule(DRIFT, by="ops")
    del observer.schema["fraud"]  # the endpoint was deleted
    observer.failing.add("broken")
    observer.set("drift.psi", 0.5, "tenure")

    notifications = service.evaluate(at(0))

    assert [n.rule for n in notifications] == ["churn-drift"]
    assert "fraud-drift" not in observer.observed
    orphaned = {rule["name"]: rule["orphaned"] for rule in service.rules()}
    assert orphaned == {"broken": False, "churn-drift": False, "fraud-drift": True}
    assert service.test("fraud-drift") == []


def test_test_evaluates_without_storing_anything(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(DRIFT, by="ops")
    observer.set("drift.psi", 0.5, "tenure")
    before = service.history()

    [result] = service.test("churn-drift", at(0))

    assert result["labels"] == {"endpoint": "churn", "feature": "tenure"}
    assert (result["value"], result["breached"]) == (0.5, True)
    assert (result["from_state"], result["state"], result["notify"]) == (
        "inactive",
        "firing",
        True,
    )
    assert result["band"] == {"lower": None, "upper": 0.2}
    assert service.alerts() == []
    assert service.history() == before


def test_every_evaluation_stores_the_value_and_the_moving_band(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(
        {"name": "p99", "endpoint": "churn", "metric": "latency.p99_ms", "adaptive": True,
         "sigma": 3, "adapt_rate": 0.2, "warmup": 3},
        by="ops",
    )  # fmt: skip
    values = [100.0, 104.0, 98.0, 102.0, 106.0, 130.0, 131.0]
    for minute, value in enumerate(values):
        observer.set("latency.p99_ms", value)
        service.evaluate(at(minute))
    observer.set("latency.p99_ms", None)  # no figure: no point
    service.evaluate(at(9))

    shown = service.show("p99")
    points = shown["points"]
    assert [p["value"] for p in points] == values
    assert [p["at"] for p in points] == [at(minute).isoformat() for minute in range(7)]
    assert {p["key"] for p in points} == {'p99{endpoint="churn"}'}
    bands = [(p["lower"], p["upper"]) for p in points]
    assert bands[:3] == [(None, None)] * 3  # warming up: no band yet
    learning = bands[3:6]
    assert len(set(learning)) == 3  # the band moved as it learned
    assert learning[-1][1] < 130.0 and shown["state"] == "firing"
    assert bands[6] == bands[5]  # firing: it did not learn the incident


def test_deleting_a_rule_drops_its_alerts_and_silences_but_keeps_history(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    service.add_rule(DRIFT, by="ops")
    observer.set("drift.psi", 0.5, "tenure")
    service.evaluate(datetime.now(UTC))
    service.silence("churn-drift", for_s=60, by="ops")

    service.delete_rule("churn-drift", by="ana")

    assert service.rules() == [] and service.alerts() == []
    kinds = [e["kind"] for e in service.history("churn-drift")]
    assert kinds == ["rule-deleted", "silence", "transition", "rule-added"]
    service.add_rule(DRIFT, by="ops")  # the name is free again, with no silence left
    assert service.show("churn-drift")["silences"] == []


def test_notifiers_are_validated_stored_and_counted(service: AlertService) -> None:
    view = service.add_notifier(
        {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x"}, by="ana"
    )
    assert (view["kind"], view["format"], view["source"]) == ("webhook", "json", "api")
    assert (view["delivered"], view["failed"]) == (0, 0)
    service.add_notifier({"name": "am", "kind": "alertmanager", "url": "http://127.0.0.1:9093"},
                         by="ana")  # fmt: skip
    assert [n["name"] for n in service.notifiers()] == ["am", "ops"]

    with pytest.raises(ModelportError) as taken:
        service.add_notifier({"name": "ops", "kind": "log"}, by="ana")
    assert (taken.value.status, taken.value.code) == (409, "notifier_exists")
    replaced = service.add_notifier({"name": "ops", "kind": "log"}, by="ana", replace=True)
    assert (replaced["kind"], replaced["url"]) == ("log", None)

    for bad, field in [
        ({"name": "x", "kind": "webhook", "url": "ftp://h/x"}, "url"),
        ({"name": "x", "kind": "pager", "url": "http://h"}, "kind"),
        ({"name": "x", "kind": "webhook", "url": "http://h", "format": "xml"}, "format"),
    ]:
        with pytest.raises(ValidationFailed) as raised:
            service.add_notifier(bad, by="ana")
        assert raised.value.field == field
    assert [n["name"] for n in service.notifiers()] == ["am", "ops"]

    service.delete_notifier("am", by="ana")
    with pytest.raises(ModelportError) as missing:
        service.notifier("am")
    assert (missing.value.status, missing.value.code) == (404, "notifier_not_found")


def test_declarations_are_stored_as_config_and_follow_the_file(
    service: AlertService,
    observer: SyntheticObserver,  # noqa: F811
) -> None:
    rules = [DRIFT, {**DRIFT, "name": "later", "endpoint": "not-yet"}]
    notifiers = {"ops": {"kind": "webhook", "url": "http://127.0.0.1:9/hook", "format": "slack"}}

    service.declare(rules, notifiers)
    service.declare(rules, notifiers)  # a restart with the same file changes nothing

    listed = {rule["name"]: rule for rule in service.rules()}
    assert {name: rule["source"] for name, rule in listed.items()} == {
        "churn-drift": "config",
        "later": "config",
    }
    assert listed["later"]["orphaned"] is True
    assert len([e for e in service.history() if e["kind"] == "rule-added"]) == 2
    [ops] = service.notifiers()
    assert (ops["source"], ops["format"]) == ("config", "slack")

    service.declare([DRIFT], {})
    assert [rule["name"] for rule in service.rules()] == ["churn-drift"]
    assert service.notifiers() == []


@pytest.mark.parametrize(
    ("rules", "notifiers", "field"),
    [
        ([DRIFT, {**DRIFT, "name": "b", "above": "x"}], {}, "alerts.rules[1].above"),
        ([{**DRIFT, "feature": "age"}], {}, "alerts.rules[0].feature"),
        ([DRIFT, DRIFT], {}, "alerts.rules[1].name"),
        ([DRIFT], {"ops": {"kind": "webhook", "url": "file:///x"}}, "alerts.notifiers.ops.url"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_it_and_nothing_is_stored(
    service: AlertService, rules: list[dict[str, Any]], notifiers: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        service.declare(rules, notifiers)
    assert raised.value.field == field
    assert field in raised.value.message
    assert service.rules() == [] and service.notifiers() == []
