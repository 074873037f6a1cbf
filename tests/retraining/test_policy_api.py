"""Retraining policies over the admin HTTP API of a real server with tokens: who may do
what, refusals naming their field, and the server's own rounds recording decisions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from retraining.policy_support import ALLOW_TRAINERS, RULE, make_policy_project
from support import LiveServer

AUTH = """[auth]
[auth.tokens.ops]
role = "admin"
token = "admin-secret"

[auth.tokens.dashboard]
role = "reader"
token = "reader-secret"
"""
ADMIN = {"Authorization": "Bearer admin-secret"}
READER = {"Authorization": "Bearer reader-secret"}
POLICY: dict[str, Any] = {
    "trainer": "mytrainers:fit",
    "on_alert": RULE,
    "cooldown": "24h",
    "min_labels": 1000,
    "max_attempts": 3,
}
PATH = "/v1/endpoints/churn/retrain/policy"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_policy_project(tmp_path_factory.mktemp("policy-api"), churn_files, AUTH)
    env = {**ALLOW_TRAINERS, "MODELPORT_RETRAIN__INTERVAL_S": "0.3"}
    live = LiveServer(folder, env=env).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def test_admin_sets_reader_reads(client: httpx.Client) -> None:
    answer = client.put(PATH, json=POLICY, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created_by"] == "ops" and answer.json()["enabled"] is True
    shown = client.get(PATH, headers=READER)
    assert shown.status_code == 200
    assert {key: shown.json()[key] for key in ("trainer", "on_alert", "min_labels")} == {
        "trainer": "mytrainers:fit",
        "on_alert": RULE,
        "min_labels": 1000,
    }
    assert shown.json()["cooldown_s"] == 86400
    refused = client.put(PATH, json=POLICY, headers=READER)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.post(f"{PATH}/disable", headers=READER).status_code == 403
    assert client.get(PATH).status_code == 401


def test_the_server_checks_the_policy_and_records_why_it_waits(client: httpx.Client) -> None:
    assert client.put(PATH, json=POLICY, headers=ADMIN).status_code == 200

    def decisions() -> list[dict[str, Any]]:
        answer = client.get("/v1/endpoints/churn/retrain/history", headers=READER)
        assert answer.status_code == 200
        history: list[dict[str, Any]] = answer.json()["history"]
        return history

    deadline = time.monotonic() + 15
    while not decisions() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a few more rounds: the same reason is not written again
    history = decisions()
    assert [(e["decision"], e["cause"]) for e in history] == [("skipped", "not_firing")]
    assert RULE in history[0]["reason"]
    audit = client.get("/v1/endpoints/churn/history", headers=READER).json()["history"]
    assert "retrain-skipped" in [record["action"] for record in audit]


def test_disable(client: httpx.Client) -> None:
    assert client.put(PATH, json=POLICY, headers=ADMIN).status_code == 200
    answer = client.post(f"{PATH}/disable", headers=ADMIN)
    assert answer.status_code == 200 and answer.json()["enabled"] is False
    assert client.get(PATH, headers=READER).json()["enabled"] is False
    assert client.put(PATH, json=POLICY, headers=ADMIN).json()["enabled"] is True


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({**POLICY, "trainer": "os:system"}, 403, "trainer_not_allowed", "trainer"),
        ({**POLICY, "on_alert": "nope"}, 404, "alert_not_found", "on_alert"),
        ({**POLICY, "cooldown": "soon"}, 422, "validation_error", "cooldown"),
        ({**POLICY, "min_labels": "many"}, 422, "validation_error", "min_labels"),
        ({**POLICY, "extra": 1}, 422, "validation_error", "extra"),
        ({k: v for k, v in POLICY.items() if k != "trainer"}, 422, "validation_error", "trainer"),
        ([POLICY], 422, "validation_error", "body"),
    ],
)
def test_bad_policies_are_refused_and_change_nothing(
    client: httpx.Client, body: Any, status: int, code: str, field: str
) -> None:
    assert client.put(PATH, json=POLICY, headers=ADMIN).status_code == 200
    before = client.get(PATH, headers=READER).json()
    answer = client.put(PATH, json=body, headers=ADMIN)
    assert answer.status_code == status, answer.text
    assert (answer.json()["code"], answer.json()["field"]) == (code, field)
    assert client.get(PATH, headers=READER).json() == before


def test_missing_things(client: httpx.Client) -> None:
    missing = client.get("/v1/endpoints/nope/retrain/policy", headers=READER)
    assert missing.status_code == 404 and missing.json()["code"] == "endpoint_not_found"
    answer = client.put("/v1/endpoints/nope/retrain/policy", json=POLICY, headers=ADMIN)
    assert answer.status_code == 404 and answer.json()["code"] == "endpoint_not_found"
    bad_limit = client.get("/v1/endpoints/churn/retrain/history?limit=0", headers=READER)
    assert bad_limit.status_code == 422 and bad_limit.json()["field"] == "limit"
