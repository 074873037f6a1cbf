"""A model that raises answers 500 with the request id; other endpoints are unaffected."""

from __future__ import annotations

from pathlib import Path

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance, run_cli

HERE = Path(__file__).parent


def test_model_error_is_500_logged_and_isolated(server: LiveServer) -> None:
    run_cli(
        "models",
        "register",
        "explodes",
        f"{HERE / 'predictors.py'}:Explodes",
        "--flavor",
        "python",
        cwd=server.cwd,
    )
    run_cli("endpoints", "create", "explodes", "--model", "explodes:1", cwd=server.cwd)

    server.wait_ready("explodes")
    with server.client() as client:
        fine = client.post("/v1/endpoints/explodes/predict", json={"instances": [churn_instance()]})
        broken = client.post(
            "/v1/endpoints/explodes/predict",
            json={"instances": [churn_instance(tenure=666)]},
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
    assert 'code="prediction_failed"' in metrics
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")

    def logged() -> bool:
        table = log.read("explodes")
        return table.num_rows > 0 and "cursed-1" in table["request_id"].to_pylist()

    server.wait_for(logged)
    row = [r for r in log.read("explodes").to_pylist() if r["request_id"] == "cursed-1"][0]
    assert row["status"] == "error" and "cursed" in row["error"]
    assert "cursed" in server.output()


def test_batch_neighbours_survive_a_bad_request(server: LiveServer) -> None:
    """Concurrent requests share a model call; one failing must not fail the others."""
    import concurrent.futures

    import httpx

    def call(tenure: int) -> int:
        response = httpx.post(
            f"{server.url}/v1/endpoints/explodes/predict",
            json={"instances": [churn_instance(tenure=tenure)]},
            timeout=30,
        )
        return response.status_code

    tenures = [666 if i % 10 == 0 else i for i in range(1, 101)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(call, tenures))
    for tenure, status in zip(tenures, statuses, strict=True):
        assert status == (500 if tenure == 666 else 200)
