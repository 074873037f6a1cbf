"""``POST /v1/endpoints/{name}/batch`` and ``GET /v1/batch/{job}`` on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelport.config import DEFAULT_TOML
from scoring.conftest import customers, logged_batch_rows, parquet_rows
from support import LiveServer, register_churn


@pytest.fixture(scope="module")
def batch_server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    project = tmp_path_factory.mktemp("batch-api")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in __import__("os").environ if k.startswith("MODELPORT_")]:
            patch.delenv(key)
        register_churn(project, churn_files)
    root = project / ".modelport" / "batch"
    (root / "in").mkdir(parents=True)
    customers(5000).to_parquet(root / "in" / "customers.parquet", index=False)
    wrong = customers(10).drop(columns=["charges"])
    wrong.to_parquet(root / "in" / "wrong.parquet", index=False)
    customers(10).to_parquet(project / "outside.parquet", index=False)
    server = LiveServer(project).start()
    try:
        yield server
    finally:
        server.stop()


def _wait_done(server: LiveServer, job: str) -> dict[str, Any]:
    state: dict[str, Any] = {}

    def finished() -> bool:
        nonlocal state
        with server.client() as client:
            state = client.get(f"/v1/batch/{job}").json()
        return state["state"] != "running"

    server.wait_for(finished, timeout=120)
    return state


def test_a_run_started_over_http_scores_in_the_background(batch_server: LiveServer) -> None:
    with batch_server.client() as client:
        started = client.post(
            "/v1/endpoints/churn/batch",
            json={"input": "in/customers.parquet", "output": "out/scored.parquet", "chunk": 1000},
        )
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["state"] == "running" and body["endpoint"] == "churn" and body["version"] == 1
    assert body["input"] == "in/customers.parquet" and body["output"] == "out/scored.parquet"
    assert body["rejects"] == "out/scored.parquet.rejects.parquet"
    assert body["rows_total"] == 5000
    done = _wait_done(batch_server, body["job"])
    assert done["state"] == "done", done
    assert done["rows_scored"] == 5000 and done["rows_rejected"] == 0
    assert done["chunks_done"] == 5
    root = batch_server.cwd / ".modelport" / "batch"
    assert len(parquet_rows(root / "out" / "scored.parquet")) == 5000
    logged = logged_batch_rows(batch_server.cwd)
    assert (logged["request_id"].str.startswith(body["job"])).sum() == 5000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "../outside.parquet", "output": "o.parquet"}, "input"),
        ({"input": "in/customers.parquet", "output": "../../escaped.parquet"}, "output"),
        ({"input": "/etc/passwd", "output": "o.parquet"}, "input"),
        (
            {"input": "in/customers.parquet", "output": "o.parquet", "rejects": "/tmp/r.parquet"},
            "rejects",
        ),
    ],
)
def test_paths_outside_the_batch_folder_are_refused(
    batch_server: LiveServer, body: dict[str, str], field: str
) -> None:
    with batch_server.client() as client:
        answer = client.post("/v1/endpoints/churn/batch", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "unsafe_path"
    assert answer.json()["field"] == field
    assert not (batch_server.cwd / "escaped.parquet").exists()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"input": "in/wrong.parquet", "output": "w.parquet"}, 422, "missing_feature", "charges"),
        ({"input": "in/none.parquet", "output": "w.parquet"}, 422, "validation_error", "input"),
        ({"input": "in/customers.parquet", "output": "w.txt"}, 422, "validation_error", "output"),
        ({"input": "in/customers.parquet"}, 422, "validation_error", "output"),
        (
            {"input": "in/customers.parquet", "output": "w.parquet", "chunk": 0},
            422,
            "validation_error",
            "chunk",
        ),
        (
            {"input": "in/customers.parquet", "output": "w.parquet", "colour": 1},
            422,
            "validation_error",
            "colour",
        ),
        (
            {"input": "in/customers.parquet", "output": "w.parquet", "version": 7},
            404,
            "version_not_found",
            "version",
        ),
    ],
)
def test_bad_requests_are_refused_before_anything_runs(
    batch_server: LiveServer, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    with batch_server.client() as client:
        answer = client.post("/v1/endpoints/churn/batch", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["field"] == field
    assert not (batch_server.cwd / ".modelport" / "batch" / "w.parquet.batch.json").exists()


def test_unknown_endpoint_and_job_are_404(batch_server: LiveServer) -> None:
    with batch_server.client() as client:
        missing = client.post(
            "/v1/endpoints/ghost/batch",
            json={"input": "in/customers.parquet", "output": "g.parquet"},
        )
        assert missing.status_code == 404 and missing.json()["code"] == "endpoint_not_found"
        assert client.get("/v1/batch/" + "0" * 32).status_code == 404
        assert client.get("/v1/batch/not-a-job").status_code == 404
