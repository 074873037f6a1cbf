"""A model that raises answers 500 with the request id; its batch neighbours and other
endpoints are unaffected."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance

from .helpers import PREDICTORS, logged_ids, metric, register_python, scrape
from .predictors import CURSED, SlowExplodes, read_calls


@pytest.fixture(scope="module")
def explodes(server: LiveServer) -> LiveServer:
    """Endpoints ``explodes`` (a fast model, run on the event loop) and ``slow-explodes``
    (25 ms a call, run on a thread), both raising on tenure 666."""
    register_python(server.cwd, "explodes", f"{PREDICTORS}:Explodes", ("explodes",))
    register_python(server.cwd, "slow-explodes", f"{PREDICTORS}:SlowExplodes", ("slow-explodes",))
    server.wait_ready("explodes")
    server.wait_ready("slow-explodes")
    return server


def test_model_error_is_500_logged_and_isolated(explodes: LiveServer) -> None:
    server = explodes
    with server.client() as client:
        fine = client.post("/v1/endpoints/explodes/predict", json={"instances": [churn_instance()]})
        broken = client.post(
            "/v1/endpoints/explodes/predict",
            json={"instances": [churn_instance(tenure=CURSED)]},
            headers={"X-Request-ID": "cursed-1"},
        )
        other = client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
        metrics = client.get("/metrics").text
    assert fine.status_code == 200 and fine.json()["predictions"] == [0]
    assert broken.status_code == 500
    body = broken.json()
    assert body["code"] == "prediction_failed" and body["request_id"] == "cursed-1"
    assert "Traceback" not in broken.text
    assert other.status_code == 200
    failed = metric(
        metrics, "modelport_errors_total", endpoint="explodes", code="prediction_failed"
    )
    assert failed is not None and failed >= 1
    server.wait_for(lambda: "cursed-1" in logged_ids(server, "explodes"))
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    row = [r for r in log.read("explodes").to_pylist() if r["request_id"] == "cursed-1"][0]
    assert row["status"] == "error" and "cursed" in row["error"]
    assert "cursed" in server.output()


def test_batch_neighbours_survive_a_bad_request(explodes: LiveServer) -> None:
    """Concurrent requests share a model call; one failing must fail only itself."""
    server = explodes
    calls_file = server.cwd / SlowExplodes.calls_file
    already = len(read_calls(calls_file))

    def call(tenure: int) -> int:
        response = httpx.post(
            f"{server.url}/v1/endpoints/slow-explodes/predict",
            json={"instances": [churn_instance(tenure=tenure)]},
            timeout=30,
        )
        if response.status_code != 200:
            assert response.json()["code"] == "prediction_failed", response.text
        return response.status_code

    # Tenures 1..80 (a tenure of 0 is the server's warm-up row), every 8th one cursed.
    tenures = [CURSED if i % 8 == 0 else i for i in range(1, 81)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(call, tenures))

    assert statuses == [500 if tenure == CURSED else 200 for tenure in tenures]
    calls = [c for c in read_calls(calls_file)[already:] if any(t != 0 for t in c["tenure"])]
    merged_failures = [c for c in calls if c["failed"] and len(c["tenure"]) > 1]
    sizes = [len(c["tenure"]) for c in calls]
    assert merged_failures, f"no cursed request shared a model call; rows per call: {sizes}"
    # Every row was answered by a successful call of its own or of its batch: the cursed
    # ones by none.
    answered = [t for c in calls if not c["failed"] for t in c["tenure"]]
    assert sorted(answered) == sorted(t for t in tenures if t != CURSED)
    metrics = scrape(server)
    batches = metric(metrics, "modelport_model_batch_rows_count", endpoint="slow-explodes")
    single = metric(
        metrics, "modelport_model_batch_rows_bucket", endpoint="slow-explodes", le="1.0"
    )
    assert batches is not None and single is not None
    assert batches > single, "no model call of slow-explodes had more than 1 row"
