"""/v1/alerts and /v1/notifiers on a real server with tokens of three roles: a rule's whole
life over HTTP, bad input refused with the field and nothing stored, who may do what,
and answers that match the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from modelport.api.app import ROUTES
from modelport.api.openapi import build_document
from support import LiveServer

from .conftest import make_churn_project

AUTH = """[auth]
[auth.tokens.ops]
role = "admin"
token = "admin-secret"

[auth.tokens.deploy-bot]
role = "deployer"
token = "deployer-secret"

[auth.tokens.dashboard]
role = "reader"
token = "reader-secret"
"""
ADMIN, DEPLOYER, READER = "admin-secret", "deployer-secret", "reader-secret"
DRIFT_RULE = {
    "name": "churn-drift",
    "endpoint": "churn",
    "metric": "drift.psi",
    "feature": "tenure",
    "above": 0.2,
    "for": "15m",
    "severity": "warning",
}


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("alerts-api"), churn_files)
    config = folder / "modelport.toml"
    text = config.read_text()
    assert "[auth]\nadmin_tokens = []\nclient_tokens = []\n" in text
    config.write_text(text.replace("[auth]\nadmin_tokens = []\nclient_tokens = []\n", AUTH))
    live = LiveServer(folder).start()
    try:
        yield live
    finally:
        live.stop()


def as_role(server: LiveServer, token: str) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def deployer(secured: LiveServer) -> Iterator[httpx.Client]:
    """A deployer's client; every rule and notifier a test adds is gone after it."""
    with as_role(secured, DEPLOYER) as client:
        yield client
    with as_role(secured, ADMIN) as admin:
        for rule in admin.get("/v1/alerts").json()["rules"]:
            admin.delete(f"/v1/alerts/{rule['name']}")
        for notifier in admin.get("/v1/notifiers").json()["notifiers"]:
            admin.delete(f"/v1/notifiers/{notifier['name']}")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document(ROUTES)


def conforms(document: dict[str, Any], schema: str, body: Any) -> None:
    root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    jsonschema_rs.Draft202012Validator(root).validate(body)


def names(client: httpx.Client) -> list[str]:
    response = client.get("/v1/alerts")
    assert response.status_code == 200, response.text
    return sorted(rule["name"] for rule in response.json()["rules"])


def test_a_rule_added_listed_silenced_acked_and_deleted(
    deployer: httpx.Client, secured: LiveServer, document: dict[str, Any]
) -> None:
    added = deployer.post("/v1/alerts", json=DRIFT_RULE)
    assert added.status_code == 201, added.text
    assert added.json()["name"] == "churn-drift" and added.json()["for_s"] == 900.0
    conforms(document, "AlertRule", added.json())

    with as_role(secured, READER) as reader:
        listed = reader.get("/v1/alerts")
        shown = reader.get("/v1/alerts/churn-drift")
        active = reader.get("/v1/alerts/active")
    assert listed.status_code == shown.status_code == active.status_code == 200
    conforms(document, "AlertRuleList", listed.json())
    [rule] = listed.json()["rules"]
    assert (rule["name"], rule["source"], rule["orphaned"]) == ("churn-drift", "api", False)
    assert rule["threshold"]["above"] == 0.2 and rule["feature"] == "tenure"
    conforms(document, "AlertDetail", shown.json())
    assert shown.json()["alerts"] == [] and shown.json()["silences"] == []
    conforms(document, "ActiveAlerts", active.json())

    silenced = deployer.post(
        "/v1/alerts/churn-drift/silence",
        json={"for": "2h", "reason": "planned backfill", "labels": {"feature": "tenure"}},
    )
    assert silenced.status_code == 201, silenced.text
    conforms(document, "SilenceInfo", silenced.json())
    assert silenced.json()["by"] == "deploy-bot"
    assert silenced.json()["labels"] == {"feature": "tenure"}
    until = datetime.fromisoformat(silenced.json()["until"])
    later = datetime.now(UTC) + timedelta(hours=2)
    assert later - timedelta(minutes=5) < until <= later
    [silence] = deployer.get("/v1/alerts/churn-drift").json()["silences"]
    assert silence["reason"] == "planned backfill"

    acked = deployer.post("/v1/alerts/churn-drift/ack", json={})
    assert acked.status_code == 200, acked.text
    assert acked.json() == {"rule": "churn-drift", "acknowledged": []}  # nothing is firing

    history = deployer.get("/v1/alerts/churn-drift/history", params={"since": "1h"})
    assert history.status_code == 200, history.text
    conforms(document, "AlertHistory", history.json())
    entries = history.json()["history"]
    assert any(
        e.get("by") == "deploy-bot" and e.get("reason") == "planned backfill" for e in entries
    )
    everything = deployer.get("/v1/alerts/history", params={"limit": 1})
    assert everything.status_code == 200 and len(everything.json()["history"]) == 1

    before = deployer.get("/v1/alerts/churn-drift").json()
    tested = deployer.post("/v1/alerts/churn-drift/test")
    assert tested.status_code == 200, tested.text
    conforms(document, "AlertTest", tested.json())
    after = deployer.get("/v1/alerts/churn-drift").json()
    assert (after["history"], after["alerts"]) == (before["history"], before["alerts"])

    deleted = deployer.delete("/v1/alerts/churn-drift")
    assert deleted.status_code == 204
    gone = deployer.get("/v1/alerts/churn-drift")
    assert (gone.status_code, gone.json()["code"]) == (404, "alert_not_found")
    assert names(deployer) == []


def test_a_taken_name_is_409_until_replace(deployer: httpx.Client) -> None:
    assert deployer.post("/v1/alerts", json=DRIFT_RULE).status_code == 201
    again = deployer.post("/v1/alerts", json={**DRIFT_RULE, "above": 0.3})
    assert (again.status_code, again.json()["code"]) == (409, "alert_exists")

    by_query = deployer.post("/v1/alerts?replace=1", json={**DRIFT_RULE, "above": 0.3})
    by_body = deployer.post("/v1/alerts", json={**DRIFT_RULE, "above": 0.4, "replace": True})

    assert by_query.status_code == by_body.status_code == 201
    assert deployer.get("/v1/alerts/churn-drift").json()["threshold"]["above"] == 0.4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": "drift.nope"}, "metric"),
        ({"feature": "nope"}, "feature"),
        ({"endpoint": "ghost"}, "endpoint"),
        ({"for": "soon"}, "for"),
        ({"above": "high"}, "above"),
        ({"adaptive": True}, "above"),
        ({"above": None, "adaptive": True, "floor": 10, "ceiling": 5}, "ceiling"),
        ({"below": 0.5}, "below"),
        ({"role": "nobody"}, "role"),
        ({"colour": "red"}, "colour"),
        ({"replace": "yes"}, "replace"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_bad_rules_are_422_naming_the_field_and_store_nothing(
    deployer: httpx.Client, change: dict[str, Any], field: str
) -> None:
    refused = deployer.post("/v1/alerts", json={**DRIFT_RULE, **change})

    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field
    assert names(deployer) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"for": "forever"}, "for"),
        ({}, "for"),
        ({"for": "1h", "labels": ["feature"]}, "labels"),
        ({"for": "1h", "reason": 3}, "reason"),
        ({"for": "1h", "until": "tomorrow"}, "until"),
    ],
)
def test_bad_silences_are_422_and_store_nothing(
    deployer: httpx.Client, body: dict[str, Any], field: str
) -> None:
    assert deployer.post("/v1/alerts", json=DRIFT_RULE).status_code == 201

    refused = deployer.post("/v1/alerts/churn-drift/silence", json=body)

    assert (refused.status_code, refused.json()["field"]) == (422, field), refused.text
    assert deployer.get("/v1/alerts/churn-drift").json()["silences"] == []


@pytest.mark.parametrize(
    ("params", "field"), [({"since": "last week"}, "since"), ({"limit": "0"}, "limit")]
)
def test_bad_history_parameters_are_422(
    deployer: httpx.Client, params: dict[str, str], field: str
) -> None:
    refused = deployer.get("/v1/alerts/history", params=params)

    assert (refused.status_code, refused.json()["field"]) == (422, field)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/alerts/ghost"),
        ("DELETE", "/v1/alerts/ghost"),
        ("GET", "/v1/alerts/ghost/history"),
        ("POST", "/v1/alerts/ghost/silence"),
        ("POST", "/v1/alerts/ghost/ack"),
        ("POST", "/v1/alerts/ghost/test"),
    ],
)
def test_an_unknown_rule_is_404(deployer: httpx.Client, method: str, path: str) -> None:
    body = {"json": {"for": "1h"}} if path.endswith("/silence") else {}

    answer = deployer.request(method, path, **body)

    assert (answer.status_code, answer.json()["code"]) == (404, "alert_not_found"), answer.text


def test_roles_reader_reads_deployer_changes_rules_admin_adds_notifiers(
    secured: LiveServer, deployer: httpx.Client
) -> None:
    with as_role(secured, READER) as reader, as_role(secured, ADMIN) as admin:
        refused = reader.post("/v1/alerts", json=DRIFT_RULE)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        assert names(reader) == []
        assert deployer.post("/v1/alerts", json=DRIFT_RULE).status_code == 201
        for method, path in (
            ("POST", "/v1/alerts/churn-drift/silence"),
            ("POST", "/v1/alerts/churn-drift/ack"),
            ("DELETE", "/v1/alerts/churn-drift"),
        ):
            answer = reader.request(method, path, json={"for": "1h"} if "silence" in path else {})
            assert answer.status_code == 403, f"{method} {path}: {answer.text}"
        # A dry run stores nothing: a reader may ask for one.
        assert reader.post("/v1/alerts/churn-drift/test").status_code == 200
        assert reader.get("/v1/alerts/churn-drift").json()["silences"] == []

        notifier = {"name": "ops", "kind": "log"}
        assert deployer.post("/v1/notifiers", json=notifier).status_code == 403
        assert admin.post("/v1/notifiers", json=notifier).status_code == 201
        assert deployer.delete("/v1/notifiers/ops").status_code == 403
        assert [n["name"] for n in reader.get("/v1/notifiers").json()["notifiers"]] == ["ops"]
    with secured.client() as anonymous:
        assert anonymous.get("/v1/alerts").status_code == 401


def test_notifiers_over_http_never_show_a_webhook_path(
    secured: LiveServer, deployer: httpx.Client, document: dict[str, Any]
) -> None:
    secret = "https://hooks.example.com/services/T0/B0/very-secret"
    with as_role(secured, ADMIN) as admin, as_role(secured, READER) as reader:
        added = admin.post(
            "/v1/notifiers",
            json={"name": "ops", "kind": "webhook", "url": secret, "format": "slack"},
        )
        assert added.status_code == 201, added.text
        am = admin.post(
            "/v1/notifiers",
            json={"name": "am", "kind": "alertmanager", "url": "http://127.0.0.1:9093"},
        )
        assert am.status_code == 201, am.text
        listed = reader.get("/v1/notifiers")
        shown = reader.get("/v1/notifiers/ops")
        taken = admin.post("/v1/notifiers", json={"name": "ops", "kind": "log"})
        replaced = admin.post("/v1/notifiers?replace=true", json={"name": "am", "kind": "log"})
        deleted = admin.delete("/v1/notifiers/ops")
        gone = reader.get("/v1/notifiers/ops")

    for answer in (added, listed, shown):
        assert "very-secret" not in answer.text and "/services/" not in answer.text
    conforms(document, "NotifierInfo", added.json())
    conforms(document, "NotifierList", listed.json())
    found = {n["name"]: n for n in listed.json()["notifiers"]}
    assert found["ops"]["url"] == "https://hooks.example.com/..."
    assert (found["ops"]["kind"], found["ops"]["format"]) == ("webhook", "slack")
    assert found["am"]["url"] == "http://127.0.0.1:9093"
    assert shown.json()["url"] == "https://hooks.example.com/..."
    assert (taken.status_code, taken.json()["code"]) == (409, "notifier_exists")
    assert (replaced.status_code, replaced.json()["kind"]) == (201, "log")
    assert deleted.status_code == 204
    assert (gone.status_code, gone.json()["code"]) == (404, "notifier_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "webhook", "url": "ftp://files.example/x"}, "url"),
        ({"name": "x", "kind": "webhook", "url": "file:///etc/passwd"}, "url"),
        ({"name": "x", "kind": "webhook"}, "url"),
        ({"name": "x", "kind": "pager", "url": "https://a.example"}, "kind"),
        ({"name": "x", "kind": "webhook", "url": "https://a.example", "format": "xml"}, "format"),
        ({"name": "x", "kind": "log", "url": "https://a.example"}, "url"),
        ({"name": "x", "kind": "log", "token": "t"}, "token"),
    ],
)
@pytest.mark.usefixtures("deployer")
def test_bad_notifiers_are_422_naming_the_field_and_store_nothing(
    secured: LiveServer, body: dict[str, Any], field: str
) -> None:
    with as_role(secured, ADMIN) as admin:
        refused = admin.post("/v1/notifiers", json=body)
        assert (refused.status_code, refused.json()["field"]) == (422, field), refused.text
        assert admin.get("/v1/notifiers").json()["notifiers"] == []


def test_a_rule_whose_endpoint_is_deleted_is_reported_orphaned(
    secured: LiveServer, deployer: httpx.Client
) -> None:
    assert (
        deployer.post("/v1/endpoints", json={"name": "spare", "model": "churn:1"}).status_code
        == 201
    )
    rule = {"name": "spare-errors", "endpoint": "spare", "metric": "errors.rate", "above": 0.1}
    assert deployer.post("/v1/alerts", json=rule).status_code == 201
    assert deployer.delete("/v1/endpoints/spare").status_code == 204

    [listed] = deployer.get("/v1/alerts").json()["rules"]
    shown = deployer.get("/v1/alerts/spare-errors")

    assert listed["orphaned"] is True
    assert shown.status_code == 200 and shown.json()["orphaned"] is True
    tested = deployer.post("/v1/alerts/spare-errors/test")
    assert tested.status_code == 200, tested.text
