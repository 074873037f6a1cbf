"""The simple JSON predict API against a real server."""

from __future__ import annotations

import pyarrow.parquet as pq

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance

from .helpers import logged_ids


def test_instances_answer_with_labels_probabilities_and_request_id(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance(), churn_instance(60, 90.0, "pro")]},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "churn" and body["version"] == 1
    assert len(body["predictions"]) == 2 and len(body["probabilities"]) == 2
    assert body["classes"] == ["0", "1"]
    # A short-tenure basic customer is riskier than a long-tenure pro customer.
    assert body["probabilities"][0][1] > body["probabilities"][1][1]
    assert response.headers["x-request-id"] == body["request_id"]


def test_inputs_in_schema_order_match_instances(server: LiveServer) -> None:
    with server.client() as client:
        by_name = client.post(
            "/v1/endpoints/churn/predict", json={"instances": [churn_instance(5, 40.0, "plus")]}
        ).json()
        by_order = client.post(
            "/v1/endpoints/churn/predict", json={"inputs": [[5, 40.0, "plus"]]}
        ).json()
    assert by_name["probabilities"] == by_order["probabilities"]


def test_caller_request_id_is_echoed_and_logged(server: LiveServer) -> None:
    with server.client() as client:
        header = client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance()]},
            headers={"X-Request-ID": "caller-header-1"},
        )
        field = client.post(
            "/v1/endpoints/churn/predict",
            json={"id": "caller-field-1", "inputs": [[1, 2.0, "pro"]]},
        )
    assert header.json()["request_id"] == "caller-header-1"
    assert field.json()["request_id"] == "caller-field-1"
    server.wait_for(lambda: {"caller-header-1", "caller-field-1"} <= logged_ids(server, "churn"))


def test_every_prediction_is_logged_with_typed_columns(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance(7, 33.5, "plus")]},
            headers={"X-Request-ID": "typed-columns"},
        )
    assert response.status_code == 200
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    server.wait_for(lambda: "typed-columns" in logged_ids(server, "churn"))
    table = log.read("churn")
    row = [r for r in table.to_pylist() if r["request_id"] == "typed-columns"][0]
    assert row["feature.tenure"] == 7.0 and row["feature.plan"] == "plus"
    assert row["version"] == 1 and row["role"] == "primary" and row["status"] == "ok"
    assert row["prediction"] == str(response.json()["predictions"][0])
    assert abs(row["proba.1"] - response.json()["probabilities"][0][1]) < 1e-12
    assert row["latency_ms"] > 0
    segment = next((server.cwd / ".modelport" / "logs" / "churn").rglob("*.parquet"))
    schema = pq.read_schema(segment)
    assert str(schema.field("feature.tenure").type) == "double"
    assert str(schema.field("feature.plan").type) == "string"


def test_many_endpoints_in_one_server_are_independent(server: LiveServer) -> None:
    from support import run_cli

    run_cli("endpoints", "create", "churn-b", "--model", "churn:1", cwd=server.cwd)

    server.wait_ready("churn-b")
    with server.client() as client:
        a = client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
        b = client.post("/v1/endpoints/churn-b/predict", json={"instances": [churn_instance()]})
    assert a.status_code == b.status_code == 200
    assert a.json()["probabilities"] == b.json()["probabilities"]
