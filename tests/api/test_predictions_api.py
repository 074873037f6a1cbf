"""GET /v1/endpoints/{name}/predictions against a real server: the newest rows first with
inputs, outputs and labels, every filter, refusals naming the parameter, and privacy rules
holding for rows logged before they were added."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelport.config import Settings
from modelport.predlog.privacy import REDACTED
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import LiveServer, churn_instance

from .conftest import make_churn_project
from .helpers import PREDICTORS, register_python
from .predictors import CURSED

REQUESTS = 6
ROWS_PER_REQUEST = 3
# (request, row) pairs that get a label, and the label.
LABELS = {("pred-1", 0): 1, ("pred-3", 2): 0}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """Endpoints ``churn`` and ``quiet`` (churn:1; nothing is sent to ``quiet``) and
    ``explodes`` (fails on tenure 666). The log is written once a minute, so rows seen
    at once prove the API writes the queue first."""
    folder = make_churn_project(tmp_path_factory.mktemp("predictions"), churn_files)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
    EndpointStore(db, registry).create("quiet", "churn", 1)
    db.dispose()
    register_python(folder, "explodes", f"{PREDICTORS}:Explodes", ("explodes",))
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "60"}).start()
    try:
        yield live
    finally:
        live.stop()


def instance(request: int, row: int) -> dict[str, Any]:
    return churn_instance(tenure=10 * request + row, charges=50.0 + request, plan="plus")


@pytest.fixture(scope="module")
def answers(server: LiveServer) -> dict[str, dict[str, Any]]:
    """Request id -> the predict answer, sent in order; then the labels."""
    sent = {}
    with server.client() as client:
        for request in range(REQUESTS):
            request_id = f"pred-{request}"
            response = client.post(
                "/v1/endpoints/churn/predict",
                json={"instances": [instance(request, row) for row in range(ROWS_PER_REQUEST)]},
                headers={"X-Request-ID": request_id},
            )
            assert response.status_code == 200, response.text
            sent[request_id] = response.json()
        labels = [
            {"request_id": request_id, "row": row, "label": label}
            for (request_id, row), label in LABELS.items()
        ]
        assert client.post("/v1/feedback", json=labels).json()["matched"] == len(LABELS)
    return sent


def newest(server: LiveServer, endpoint: str = "churn", **params: Any) -> dict[str, Any]:
    with server.client() as client:
        response = client.get(f"/v1/endpoints/{endpoint}/predictions", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_newest_rows_first_with_inputs_outputs_and_latency(
    server: LiveServer, answers: dict[str, dict[str, Any]]
) -> None:
    body = newest(server, limit=5)
    rows = body["predictions"]
    assert body["endpoint"] == "churn" and body["limit"] == 5
    # The newest five rows, newest request first, each request's rows in order.
    assert [(r["request_id"], r["row"]) for r in rows] == [
        ("pred-5", 0),
        ("pred-5", 1),
        ("pred-5", 2),
        ("pred-4", 1),
        ("pred-4", 2),
    ]
    assert body["features"] == ["tenure", "charges", "plan"]
    for row in rows:
        request = int(row["request_id"].split("-")[1])
        answer = answers[row["request_id"]]
        assert row["inputs"] == instance(request, row["row"])
        assert row["output"]["prediction"] == str(answer["predictions"][row["row"]])
        expected = dict(zip(answer["classes"], answer["probabilities"][row["row"]], strict=True))
        assert row["output"]["probabilities"] == pytest.approx(expected)
        assert (row["model"], row["version"], row["role"], row["status"]) == (
            "churn",
            1,
            "primary",
            "ok",
        )
        assert row["latency_ms"] > 0 and row["error"] is None
        assert row["label"] is None and row["label_received_at"] is None
    assert rows[0]["ts"] >= rows[3]["ts"]


def test_labels_join_their_rows_and_filter(
    server: LiveServer, answers: dict[str, dict[str, Any]]
) -> None:
    every = newest(server)["predictions"]
    labelled = newest(server, labelled="true")["predictions"]
    unlabelled = newest(server, labelled="false")["predictions"]
    assert len(every) == REQUESTS * ROWS_PER_REQUEST
    assert {(r["request_id"], r["row"]): r["label"] for r in labelled} == {
        key: str(label) for key, label in LABELS.items()
    }
    assert all(r["label_received_at"] for r in labelled)
    assert len(unlabelled) == len(every) - len(LABELS)
    assert all(r["label"] is None for r in unlabelled)
    # The unfiltered answer carries the same labels on the same rows.
    assert [r for r in every if r["label"] is not None] == labelled


def test_version_role_and_since_filters(
    server: LiveServer, answers: dict[str, dict[str, Any]]
) -> None:
    assert newest(server, version=1, limit=2)["predictions"][0]["request_id"] == "pred-5"
    assert newest(server, version=2)["predictions"] == []
    assert len(newest(server, role="primary")["predictions"]) == REQUESTS * ROWS_PER_REQUEST
    assert newest(server, role="shadow")["predictions"] == []
    assert len(newest(server, since="1h")["predictions"]) == REQUESTS * ROWS_PER_REQUEST
    assert newest(server, since="2099-01-01T00:00:00")["predictions"] == []


def test_status_filter_finds_failed_rows(server: LiveServer) -> None:
    with server.client() as client:
        fine = client.post(
            "/v1/endpoints/explodes/predict",
            json={"instances": [churn_instance()]},
            headers={"X-Request-ID": "fine-1"},
        )
        broken = client.post(
            "/v1/endpoints/explodes/predict",
            json={"instances": [churn_instance(tenure=CURSED)]},
            headers={"X-Request-ID": "cursed-1"},
        )
    assert (fine.status_code, broken.status_code) == (200, 500)
    failed = newest(server, "explodes", status="error")["predictions"]
    ok = newest(server, "explodes", status="ok")["predictions"]
    assert [r["request_id"] for r in failed] == ["cursed-1"]
    assert "cursed" in failed[0]["error"] and failed[0]["output"] is None
    assert [r["request_id"] for r in ok] == ["fine-1"]
    assert ok[0]["output"]["prediction"] == "0"


def test_an_endpoint_without_traffic_answers_an_empty_list(server: LiveServer) -> None:
    body = newest(server, "quiet")
    assert body["predictions"] == [] and body["features"] == []
    assert body["exhausted"] is True and body["scanned"] == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "ten"),
        ("version", "0"),
        ("role", "boss"),
        ("status", "fine"),
        ("labelled", "maybe"),
        ("since", "last tuesday"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(server: LiveServer, key: str, value: str) -> None:
    with server.client() as client:
        response = client.get("/v1/endpoints/churn/predictions", params={key: value})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == key
    assert set(body) >= {"code", "message", "field"}


def test_an_unknown_endpoint_is_404(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/v1/endpoints/nobody/predictions")
    assert response.status_code == 404
    assert response.json()["code"] == "endpoint_not_found"


# --- privacy -----------------------------------------------------------------------------

SECRET = "predictions-key-" + uuid.uuid4().hex
RULES = """
[privacy.endpoints.churn]
plan = "redact"
charges = "drop"
tenure = "hash"
"""
PLAN_MARKER = "zq-plan-" + uuid.uuid4().hex[:12]


def digest(value: float) -> str:
    return hmac.new(SECRET.encode(), repr(float(value)).encode(), hashlib.sha256).hexdigest()


def predict(server: LiveServer, request_id: str, tenure: int) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance(tenure=tenure, plan=PLAN_MARKER)]},
            headers={"X-Request-ID": request_id},
        )
    assert response.status_code == 200, response.text


def test_privacy_rules_hold_for_rows_logged_before_them(
    tmp_path: Path, churn_files: tuple[Path, Path]
) -> None:
    """Rows logged with no rule, then served again under rules: old and new rows alike
    show the hash, the redaction marker and no dropped feature."""
    folder = make_churn_project(tmp_path, churn_files)
    env = {"MODELPORT_HASH_SECRET": SECRET, "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}
    before = LiveServer(folder, env=env).start()
    try:
        predict(before, "before-rules", tenure=7)
        assert newest(before)["predictions"][0]["inputs"]["plan"] == PLAN_MARKER
    finally:
        before.stop()
    with (folder / "modelport.toml").open("a") as toml:
        toml.write(RULES)
    after = LiveServer(folder, env=env).start()
    try:
        predict(after, "after-rules", tenure=8)
        with after.client() as client:
            text = client.get("/v1/endpoints/churn/predictions").text
        rows = newest(after)["predictions"]
    finally:
        after.stop()
    assert [r["request_id"] for r in rows] == ["after-rules", "before-rules"]
    assert [r["inputs"] for r in rows] == [
        {"tenure": digest(8), "plan": REDACTED},
        {"tenure": digest(7), "plan": REDACTED},
    ]
    assert PLAN_MARKER not in text
