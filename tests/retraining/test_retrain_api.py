"""Retraining over HTTP: allow-listed trainers only, a worker process per job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import LiveServer

from .conftest import TRAFFIC_ROWS, python_path, send_labelled_traffic

EXAMPLE = "modelport.retraining.examples:logistic"


def wait_finished(client: httpx.Client, job: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/retrain/{job}").json()
        if body["state"] != "running":
            return body
        time.sleep(0.2)
    raise AssertionError(f"retrain job {job} still running after {timeout}s")


def allowing_server(project: Path, trainers: list[str], **retrain: Any) -> LiveServer:
    env = {
        "PYTHONPATH": python_path(project / "trainers"),
        "MODELPORT_RETRAIN__TRAINERS": json.dumps(trainers),
    }
    env.update({f"MODELPORT_RETRAIN__{k.upper()}": str(v) for k, v in retrain.items()})
    return LiveServer(project, env=env).start()


@pytest.fixture
def allowing(churn_project: Path, trainers_dir: Path) -> Iterator[LiveServer]:
    """Drifted, labelled traffic on a server that allows the example and mytrainers."""
    server = allowing_server(churn_project, [EXAMPLE, "mytrainers:*"])
    try:
        send_labelled_traffic(server)
        yield server
    finally:
        server.stop()


def test_no_trainer_is_allowed_by_default(drifted_server: LiveServer) -> None:
    with drifted_server.client() as client:
        refused = client.post("/v1/endpoints/churn/retrain", json={"trainer": EXAMPLE})
        versions = client.get("/v1/models/churn").json()["versions"]
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "trainer_not_allowed" and body["field"] == "trainer"
    assert EXAMPLE in body["message"] and "retrain.trainers" in body["message"]
    assert [v["version"] for v in versions] == [1]


def test_an_allowed_retrain_runs_as_a_job_and_is_followed(allowing: LiveServer) -> None:
    with allowing.client() as client:
        started = client.post(
            "/v1/endpoints/churn/retrain",
            json={
                "trainer": EXAMPLE,
                "since": "7d",
                "holdout": 0.25,
                "reason": "weekly",
                "rollout_options": {"steps": "50,100", "gates": ["error_rate<=0.01"]},
            },
        )
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["state"] == "running" and job["endpoint"] == "churn"
        assert len(job["job"]) == 32 and job["trainer"] == EXAMPLE
        # One retrain at a time per endpoint.
        again = client.post("/v1/endpoints/churn/retrain", json={"trainer": EXAMPLE})
        assert again.status_code == 409 and again.json()["code"] == "conflict"

        done = wait_finished(client, job["job"])
        assert done["state"] == "done", done
        assert done["error"] is None and done["finished_at"] is not None
        outcome = done["outcome"]
        assert (outcome["version"], outcome["parent"]) == (2, 1)
        lineage = outcome["lineage"]
        assert lineage["rows"] == TRAFFIC_ROWS and lineage["holdout"]["rows"] == TRAFFIC_ROWS // 4
        assert lineage["reason"] == "weekly"
        metrics = lineage["holdout"]
        assert metrics["metrics"]["accuracy"] > metrics["parent_metrics"]["accuracy"]
        rollout = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
        assert rollout["id"] == outcome["rollout_id"] and rollout["phase"] == "shadow"
        # The rollout options asked for, on the usual shadow then canary.
        assert rollout["strategy"] == "shadow-then-canary"
        assert rollout["spec"]["steps"] == [50, 100]
        assert rollout["spec"]["gates"] == ["error_rate<=0.01"]


def test_a_failing_trainer_fails_the_job_with_its_reason(allowing: LiveServer) -> None:
    with allowing.client() as client:
        started = client.post("/v1/endpoints/churn/retrain", json={"trainer": "mytrainers:raises"})
        assert started.status_code == 202, started.text
        failed = wait_finished(client, started.json()["job"])
        versions = client.get("/v1/models/churn").json()["versions"]
    assert failed["state"] == "failed" and failed["outcome"] is None
    assert failed["error"].startswith("trainer_failed: ")
    assert "RuntimeError: the data looks wrong to me" in failed["error"]
    assert failed["stage"] == "training"
    assert [v["version"] for v in versions] == [1]


BAD_BODIES: list[tuple[Any, str]] = [
    ({"trainer": EXAMPLE, "holdout": 2}, "holdout"),
    ({"trainer": EXAMPLE, "holdout": "a lot"}, "holdout"),
    ({"trainer": EXAMPLE, "split": "sideways"}, "split"),
    ({"trainer": EXAMPLE, "min_labels": "many"}, "min_labels"),
    ({"trainer": EXAMPLE, "min_labels": 0}, "min_labels"),
    ({"trainer": EXAMPLE, "since": "soon"}, "since"),
    ({"trainer": EXAMPLE, "rollout": "yes"}, "rollout"),
    ({"trainer": EXAMPLE, "with_reference": 1}, "with_reference"),
    ({"trainer": EXAMPLE, "reason": 5}, "reason"),
    ({"trainer": EXAMPLE, "epochs": 5}, "epochs"),
    ({"trainer": EXAMPLE, "rollout_options": 5}, "rollout_options"),
    ({"trainer": EXAMPLE, "rollout_options": {"strategy": "canary"}}, "strategy"),
    ({"trainer": EXAMPLE, "rollout_options": {"steps": "soon"}}, "steps"),
    ({"trainer": "not a trainer"}, "trainer"),
    ({}, "trainer"),
    ([EXAMPLE], "body"),
]


def test_bad_fields_are_refused_naming_the_field(churn_project: Path) -> None:
    server = allowing_server(churn_project, [EXAMPLE])
    try:
        with server.client() as client:
            answers = [
                (client.post("/v1/endpoints/churn/retrain", json=body), field)
                for body, field in BAD_BODIES
            ]
            unknown_job = client.get(f"/v1/retrain/{'0' * 32}")
            unknown_endpoint = client.post("/v1/endpoints/ghost/retrain", json={"trainer": EXAMPLE})
    finally:
        server.stop()
    for refused, field in answers:
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field, refused.text
    assert unknown_job.status_code == 404 and unknown_job.json()["field"] == "job"
    assert unknown_endpoint.status_code == 404
    assert unknown_endpoint.json()["code"] == "endpoint_not_found"


def test_a_job_over_its_timeout_is_stopped_and_failed(
    churn_project: Path, trainers_dir: Path
) -> None:
    server = allowing_server(churn_project, ["mytrainers:slow"], timeout_s=5)
    try:
        send_labelled_traffic(server)
        with server.client() as client:
            slow = {"trainer": "mytrainers:slow"}
            started = client.post("/v1/endpoints/churn/retrain", json=slow)
            assert started.status_code == 202, started.text
            failed = wait_finished(client, started.json()["job"], timeout=60)
            versions = client.get("/v1/models/churn").json()["versions"]
    finally:
        server.stop()
    assert failed["state"] == "failed"
    assert "longer than retrain.timeout_s (5s)" in failed["error"]
    assert [v["version"] for v in versions] == [1]
