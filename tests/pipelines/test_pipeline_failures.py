"""A pipeline whose step raises answers 500 naming the step and the request; other
endpoints keep serving; a pipeline is deleted with its steps, a step never alone."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

from api.helpers import metric
from support import LiveServer

from .chain import PIPELINE, register_python
from .predictors import CURSED

PREDICTORS = Path(__file__).with_name("predictors.py")


def test_a_raising_step_is_named_with_the_request_id_and_nothing_else_breaks(
    server: LiveServer,
) -> None:
    register_python(server.cwd, "cursed", f"{PREDICTORS}:CursedScorer")
    cursed = {"steps": [PIPELINE["steps"][0], {**PIPELINE["steps"][1], "model": "cursed:1"}]}
    with server.client() as client:
        assert (
            client.post("/v1/endpoints", json={"name": "fragile", "pipeline": cursed}).status_code
            == 201
        )
        assert (
            client.post("/v1/endpoints", json={"name": "sturdy", "pipeline": PIPELINE}).status_code
            == 201
        )
        server.wait_ready("fragile")
        server.wait_ready("sturdy")
        rows = [{"tenure": 40.0, "charges": 20.0}, {"tenure": CURSED, "charges": 20.0}]
        failed = client.post(
            "/v1/endpoints/fragile/predict",
            json={"instances": rows},
            headers={"x-request-id": "cursed-request-1"},
        )
        assert failed.status_code == 500
        error = failed.json()
        assert error["code"] == "step_failed" and error["field"] == "step"
        assert error["details"]["step"] == "scorer"
        assert error["details"]["endpoint"] == "fragile.scorer"
        assert error["details"]["request_id"] == "cursed-request-1"
        assert "step 'scorer'" in error["message"] and "cursed" in error["message"]
        # The same request id is in the step's log as an error, and the detector's answer
        # was logged before it.
        healthy = client.post("/v1/endpoints/sturdy/predict", json={"instances": rows})
        assert healthy.status_code == 200, healthy.text
        fine = client.post("/v1/endpoints/fragile/predict", json={"instances": rows[:1]})
        assert fine.status_code == 200
        metrics = client.get("/metrics").text
    assert 'modelport_pipeline_failures_total{endpoint="fragile",step="scorer"} 1.0' in metrics
    from .test_pipeline_serving import logged

    scorer = logged(server, "fragile.scorer", "cursed-request-1")
    assert set(scorer.status) == {"error"} and "cursed" in scorer.error[0]
    assert set(logged(server, "fragile.detect", "cursed-request-1").status) == {"ok"}


def test_a_pipeline_is_deleted_with_its_steps_and_a_step_is_never_deleted_alone(
    server: LiveServer,
) -> None:
    with server.client() as client:
        assert (
            client.post("/v1/endpoints", json={"name": "brief", "pipeline": PIPELINE}).status_code
            == 201
        )
        step = client.delete("/v1/endpoints/brief.detect")
        assert step.status_code == 409 and "delete the pipeline" in step.json()["message"]
        changed = client.put("/v1/endpoints/brief", json={"model": "scorer:1"})
        assert changed.status_code == 422 and changed.json()["field"] == "model"
        assert client.delete("/v1/endpoints/brief").status_code == 204
        names = {e["name"] for e in client.get("/v1/endpoints").json()["endpoints"]}
        assert not {"brief", "brief.detect", "brief.scorer"} & names
        # The names are free again.
        assert (
            client.post("/v1/endpoints", json={"name": "brief", "pipeline": PIPELINE}).status_code
            == 201
        )


def test_concurrent_requests_are_micro_batched_inside_each_step(server: LiveServer) -> None:
    register_python(server.cwd, "slow-detector", f"{PREDICTORS}:SlowDetector")
    slow = {"steps": [{**PIPELINE["steps"][0], "model": "slow-detector:1"}, PIPELINE["steps"][1]]}
    with server.client() as client:
        created = client.post("/v1/endpoints", json={"name": "batched", "pipeline": slow})
        assert created.status_code == 201, created.text
    server.wait_ready("batched")

    def send(index: int) -> int:
        with server.client() as client:
            body = {"instances": [{"tenure": 30.0 + index, "charges": 10.0}]}
            return client.post("/v1/endpoints/batched/predict", json=body).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(32)))
    assert statuses == [200] * 32
    with server.client() as client:
        text = client.get("/metrics").text
    calls = metric(text, "modelport_model_batch_rows_count", endpoint="batched.detect")
    rows = metric(text, "modelport_model_batch_rows_sum", endpoint="batched.detect")
    # The warm-up call is not counted; every row went through, in fewer calls than requests.
    assert rows == 32
    assert calls is not None and calls < 32
