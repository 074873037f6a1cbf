"""GET /v1/endpoints/{name}/service through a real server: request rate, error rate and
latency per time bucket from the prediction log, each request counted once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import pytest

from modelport.batch import Batch, Prediction
from modelport.config import Settings
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import LiveServer, churn_instance

from .conftest import make_churn_project

# An hour two hours back, on a minute boundary: its buckets are known in advance.
BASE = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("service"), churn_files)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
    EndpointStore(db, registry).create("logged", "churn", 1)
    db.dispose()
    # A long flush interval: only the handler's own flush brings fresh requests in.
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "600"}).start()
    try:
        yield live
    finally:
        live.stop()


def request(
    request_id: str,
    seconds: float,
    latency_ms: float,
    *,
    rows: int = 2,
    status: str = "ok",
    version: int = 1,
    role: str = "primary",
    label: str = "0",
) -> PredictionRecord:
    batch = Batch(
        {
            "tenure": np.full(rows, 3.0),
            "charges": np.full(rows, 50.5),
            "plan": np.array(["basic"] * rows, dtype=object),
        },
        rows,
    )
    return PredictionRecord(
        request_id=request_id,
        endpoint="logged",
        model="churn",
        version=version,
        role=role,
        ts=(BASE + timedelta(seconds=seconds)).timestamp(),
        latency_ms=latency_ms,
        features=batch,
        prediction=None if status == "error" else Prediction(np.array([label] * rows)),
        classes=("0", "1"),
        status=status,
        error="prediction_failed: boom" if status == "error" else None,
    )


@pytest.fixture(scope="module")
def logged(server: LiveServer) -> None:
    """Requests of endpoint ``logged`` written to the server's log at known times."""
    ParquetPredictionLog(server.cwd / ".modelport" / "logs").write(
        [
            # minute 0: three answered requests of two rows, one failed, one shadow copy
            request("a", 1, 10.0),
            request("b", 20, 20.0),
            request("c", 40, 30.0),
            request("d", 50, 999.0, status="error"),
            request("a", 2, 5.0, role="shadow"),
            # minute 1: the canary's
            request("e", 61, 40.0, version=2, role="canary"),
            # minute 3
            request("f", 200, 50.0, rows=5, label="1"),
        ]
    )


def service(server: LiveServer, **params: Any) -> Any:
    with server.client() as client:
        return client.get("/v1/endpoints/logged/service", params=params)


def span(**params: Any) -> dict[str, Any]:
    return {
        "since": BASE.isoformat(),
        "until": (BASE + timedelta(minutes=5)).isoformat(),
        "step": "60s",
        **params,
    }


def test_buckets_count_each_request_once(server: LiveServer, logged: None) -> None:
    answer = service(server, **span())

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["since"], body["step_s"], body["roles"]) == (
        BASE.isoformat(),
        60,
        ["primary", "canary"],
    )
    buckets = body["buckets"]
    assert [b["start"] for b in buckets] == [
        (BASE + timedelta(minutes=m)).isoformat() for m in range(5)
    ]
    assert [b["requests"] for b in buckets] == [4, 1, 0, 1, 0]
    assert [b["errors"] for b in buckets] == [1, 0, 0, 0, 0]
    assert [b["error_rate"] for b in buckets] == [0.25, 0.0, None, 0.0, None]
    assert buckets[0]["rate"] == pytest.approx(4 / 60)
    # Latency of the answered requests only: the failed one's 999 ms is left out.
    assert buckets[0]["p50_ms"] == 20.0 and buckets[0]["p99_ms"] == pytest.approx(29.8)
    assert [b["p50_ms"] for b in buckets[1:]] == [40.0, None, 50.0, None]
    totals = body["totals"]
    assert (totals["requests"], totals["errors"], totals["p50_ms"]) == (6, 1, 30.0)
    assert totals["rate"] == pytest.approx(6 / 300)


def test_version_role_and_groups(server: LiveServer, logged: None) -> None:
    canary = service(server, **span(version=2)).json()
    shadow = service(server, **span(role="shadow")).json()
    grouped = service(server, **span(by="version")).json()
    roles = service(server, **span(by="role", role=["primary", "shadow"])).json()

    assert [b["requests"] for b in canary["buckets"]] == [0, 1, 0, 0, 0]
    assert [b["requests"] for b in shadow["buckets"]] == [1, 0, 0, 0, 0]
    assert [(g["version"], g["totals"]["requests"]) for g in grouped["groups"]] == [(1, 5), (2, 1)]
    assert [b["requests"] for b in grouped["groups"][1]["buckets"]] == [0, 1, 0, 0, 0]
    assert [(g["role"], g["totals"]["requests"]) for g in roles["groups"]] == [
        ("primary", 5),
        ("shadow", 1),
    ]


def test_predictions_per_bucket_count_the_answered_rows(server: LiveServer, logged: None) -> None:
    body = service(server, **span(predictions="1")).json()
    plain = service(server, **span()).json()

    predictions = body["predictions"]
    assert (predictions["kind"], predictions["classes"]) == ("classification", ["0", "1"])
    # Rows, not requests: the failed request predicted nothing, the shadow copy is not
    # an answer to a caller.
    assert predictions["rows"] == [6, 2, 0, 5, 0]
    assert predictions["counts"] == [[6, 0], [2, 0], [0, 0], [0, 5], [0, 0]]
    assert "predictions" not in plain


def test_requests_just_answered_count_before_the_log_is_flushed(server: LiveServer) -> None:
    with server.client() as client:
        for _ in range(3):
            answered = client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance()] * 4}
            )
            assert answered.status_code == 200
        body = client.get("/v1/endpoints/churn/service").json()

    assert body["totals"]["requests"] == 3 and body["totals"]["errors"] == 0
    assert body["totals"]["p50_ms"] is not None
    # The default: the last hour in buckets of a minute, aligned to the minute.
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert body["step_s"] == 60 and since.second == 0
    assert timedelta(hours=1) <= until - since < timedelta(hours=1, minutes=1)
    assert len(body["buckets"]) == 61
    assert sum(b["requests"] for b in body["buckets"]) == 3


def test_an_empty_span_has_zero_requests_and_no_figures(server: LiveServer) -> None:
    with server.client() as client:
        body = client.get(
            "/v1/endpoints/churn/service", params={"since": "2020-01-01", "until": "2020-01-02"}
        ).json()
    assert body["step_s"] == 1800 and len(body["buckets"]) == 48
    assert {b["requests"] for b in body["buckets"]} == {0}
    assert body["totals"] == {
        "requests": 0,
        "errors": 0,
        "rate": 0.0,
        "error_rate": None,
        "p50_ms": None,
        "p99_ms": None,
    }


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"since": "2026-01-02", "until": "2026-01-01"}, 422, "since"),
        ({"since": "yesterday"}, 422, "since"),
        ({"until": "soon"}, 422, "until"),
        ({"step": "often"}, 422, "step"),
        ({"since": "30d", "step": "60s"}, 422, "step"),
        ({"role": "everyone"}, 422, "role"),
        ({"by": "colour"}, 422, "by"),
        ({"version": "two"}, 422, "version"),
    ],
)
def test_bad_parameters_name_the_field(
    server: LiveServer, params: dict[str, str], status: int, field: str
) -> None:
    answer = service(server, **params)
    assert (answer.status_code, answer.json()["field"]) == (status, field)


def test_an_unknown_endpoint_is_404(server: LiveServer) -> None:
    with server.client() as client:
        answer = client.get("/v1/endpoints/nobody/service")
    assert (answer.status_code, answer.json()["code"]) == (404, "endpoint_not_found")


def test_answers_match_the_documented_schema(server: LiveServer, logged: None) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/endpoints/{name}/service"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceSeries"
    }
    assert {q["name"] for q in operation["parameters"]} >= {"since", "until", "step", "by"}
    root = {"$ref": "#/components/schemas/ServiceSeries", "components": document["components"]}
    validator = jsonschema_rs.Draft202012Validator(root)
    validator.validate(service(server, **span()).json())
    validator.validate(service(server, **span(by="version")).json())
    validator.validate(service(server, **span(predictions="1")).json())
    assert not validator.is_valid({"endpoint": "logged"})
