"""The rollout admin API on a live server: clear errors for bad input, nothing lost, and
exactly one winner when admin commands race."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from rollout.traffic import DIFFERENT_INPUTS, FAST_LOG, OTHER, PRIMARY, SAME, Traffic
from support import LiveServer, run_cli

TOKEN = "admin-secret"


@pytest.fixture(scope="module")
def guarded(
    rollout_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server with an admin token for the module."""
    project = tmp_path_factory.mktemp("guarded") / "project"
    shutil.copytree(rollout_template, project)
    env = {**FAST_LOG, "MODELPORT_AUTH__ADMIN_TOKENS": f'["{TOKEN}"]'}
    live = LiveServer(project, env=env).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def guarded_server(guarded: LiveServer) -> LiveServer:
    helper = Traffic(guarded, headers={"Authorization": f"Bearer {TOKEN}"})
    helper.reset()
    helper.close()
    return guarded


def _client(server: LiveServer) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {TOKEN}"})


def _start(client: httpx.Client, **options: Any) -> httpx.Response:
    return client.post("/v1/endpoints/churn/rollout", json=options)


def _break_artifact(project: Path, version: int) -> None:
    """Damage a stored artifact, as a disk fault would: it can no longer be loaded."""
    db = Database(f"sqlite:///{project / '.modelport' / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(project / ".modelport" / "artifacts"))
    stored = registry.artifacts.path(registry.get("churn", version).artifact_path)
    db.dispose()
    stored.chmod(0o644)
    stored.write_bytes(b"not a model any more")


def test_bad_requests_get_clear_errors_and_change_nothing(guarded_server: LiveServer) -> None:
    with guarded_server.client() as anonymous:
        assert _start(anonymous, version=SAME).status_code == 401
    with _client(guarded_server) as client:
        endpoint_before = client.get("/v1/endpoints/churn").json()
        rollout_before = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
        cases: list[tuple[str, dict[str, Any], int, str]] = [
            ("nope", {"version": SAME}, 404, "endpoint_not_found"),
            ("churn", {"version": 99}, 404, "version_not_found"),
            ("churn", {"version": PRIMARY}, 422, "validation_error"),
            ("churn", {"version": SAME, "steps": "50,25"}, 422, "validation_error"),
            ("churn", {"version": SAME, "steps": "5,150"}, 422, "validation_error"),
            ("churn", {"version": SAME, "gates": ["error_rate=<0.1"]}, 422, "validation_error"),
            ("churn", {"version": SAME, "gates": ["speed<=3"]}, 422, "validation_error"),
            ("churn", {"version": SAME, "strategy": "yolo"}, 422, "validation_error"),
            ("churn", {"version": SAME, "sticky_key": "field:user"}, 422, "validation_error"),
        ]
        for endpoint, body, status, code in cases:
            response = client.post(f"/v1/endpoints/{endpoint}/rollout", json=body)
            assert (response.status_code, response.json()["code"]) == (status, code), body
        gate = _start(client, version=SAME, gates=["speed<=3"]).json()
        assert gate["field"] == "gates" and "speed" in gate["message"]

        incompatible = _start(client, version=DIFFERENT_INPUTS).json()
        assert incompatible["code"] == "validation_error"
        assert incompatible["details"]["differences"] == [
            "charges: missing in candidate",
            "plan: missing in candidate",
            "region: not in primary",
        ]

        for verb in ("promote", "rollback", "pause", "resume"):
            response = client.post(f"/v1/endpoints/churn/rollout/{verb}")
            assert response.status_code == 409, verb
        assert client.get("/v1/endpoints/churn/rollout").json()["rollout"] == rollout_before
        assert client.get("/v1/endpoints/churn").json() == endpoint_before


def test_a_candidate_that_cannot_load_never_gets_traffic(guarded_server: LiveServer) -> None:
    with _client(guarded_server) as client:
        endpoint_before = client.get("/v1/endpoints/churn").json()
        _break_artifact(guarded_server.cwd, OTHER)
        response = _start(client, version=OTHER, strategy="canary")
        assert response.status_code == 422 and response.json()["code"] == "artifact_error"
        status = client.get("/v1/endpoints/churn/rollout").json()
        assert status["rollout"]["status"] == "aborted"
        assert "failed to load" in status["rollout"]["note"]
        assert client.get("/v1/endpoints/churn").json() == endpoint_before
        answers = [
            client.post(
                "/v1/endpoints/churn/predict",
                json={"instances": [{"tenure": 3, "charges": 50.5, "plan": "basic"}]},
            )
            for _ in range(10)
        ]
        assert all(a.status_code == 200 and a.json()["version"] == PRIMARY for a in answers)
        aborted = status["rollout"]["id"]
        history = client.get(f"/v1/endpoints/churn/rollout/history?rollout={aborted}").json()
        history = history["history"]
        assert [e["action"] for e in history] == ["abort"]
        assert history[0]["evidence"]["error"]["code"] == "artifact_error"


def test_racing_admin_commands_have_one_winner(guarded_server: LiveServer) -> None:
    def race(calls: list[tuple[str, dict[str, Any]]]) -> list[int]:
        barrier = threading.Barrier(len(calls))
        codes: list[int] = [0] * len(calls)

        def run(index: int) -> None:
            path, body = calls[index]
            with _client(guarded_server) as client:
                barrier.wait()
                codes[index] = client.post(path, json=body).status_code

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(codes)

    start = ("/v1/endpoints/churn/rollout", {"version": SAME, "strategy": "shadow"})
    assert race([start, start, start]) == [201, 409, 409]
    verbs = [(f"/v1/endpoints/churn/rollout/{v}", {}) for v in ("promote", "rollback")]
    assert race(verbs) == [200, 409]
    with _client(guarded_server) as client:
        rollout = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
        history = client.get(f"/v1/endpoints/churn/rollout/history?rollout={rollout['id']}")
        actions = [e["action"] for e in history.json()["history"]]
        assert actions[0] == "start" and actions[-1] in ("promote", "rollback")
        assert sum(action in ("promote", "rollback") for action in actions) == 1


def test_cli_reports_bad_input_on_stderr(rollout_project: Path) -> None:
    result = run_cli(
        "rollout", "start", "churn", "--version", str(SAME), "--gate", "p99_ms>=5",
        cwd=rollout_project, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "p99_ms only makes sense with <=" in result.stderr
    second = run_cli("rollout", "promote", "churn", cwd=rollout_project, check=False)
    assert second.returncode == 1 and "no rollout in progress" in second.stderr


def test_pause_and_resume(guarded_server: LiveServer) -> None:
    with _client(guarded_server) as client:
        started = _start(client, version=SAME, strategy="canary", step_every="1h")
        assert started.status_code == 201, started.text
        paused = client.post("/v1/endpoints/churn/rollout/pause", json={"reason": "lunch"})
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
        assert client.post("/v1/endpoints/churn/rollout/pause").status_code == 409
        # Paused keeps the split: the canary still answers its share.
        assert paused.json()["serving"]["routing"]["strategy"] == "canary"
        resumed = client.post("/v1/endpoints/churn/rollout/resume").json()
        assert resumed["status"] == "active"
        assert resumed["step_started_at"] > started.json()["step_started_at"]
        assert client.post("/v1/endpoints/churn/rollout/resume").status_code == 409
        history = client.get(f"/v1/endpoints/churn/rollout/history?rollout={resumed['id']}")
        events = [e for e in history.json()["history"] if e["action"] != "verdict"]
        assert [(e["action"], e["reason"]) for e in events][1] == ("pause", "lunch")
        assert [e["action"] for e in events] == ["start", "pause", "resume"]
