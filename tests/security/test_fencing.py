"""Fencing: an endpoint with a rollout in progress cannot be changed or deleted under it.

Without ``force`` the change is refused (409 ``rollout_in_progress`` naming the rollout)
and nothing moves; with it the rollout is rolled back first, audited, and the change goes
ahead. Deleting an endpoint never leaves a rollout behind, so the name can be reused.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.config import DEFAULT_TOML, Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registration, Registry
from modelport.store.db import Database
from support import LiveServer, register_churn, run_cli

ROLLOUT = "/v1/endpoints/churn/rollout"
CANARY = {"version": 2, "strategy": "canary", "steps": [10, 50], "step_every": "1h"}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    churn_files: tuple[Path, Path],
    churn_files_v2: tuple[Path, Path],
) -> Iterator[LiveServer]:
    """churn:1 serving endpoint ``churn``, and churn:2 (same inputs) as the candidate."""
    folder = tmp_path_factory.mktemp("fencing")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(folder, churn_files)
    shutil.copy(churn_files_v2[0], folder / "model-2.skops")
    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        Registry(db, ArtifactStore(home / "artifacts")).register(
            Registration(
                name="churn",
                source=str(folder / "model-2.skops"),
                flavor="sklearn",
                reference=folder / "train.parquet",
                target="churned",
            )
        )
    finally:
        db.dispose()
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """Endpoint ``churn`` on churn:1 with no rollout in progress, whatever came before."""
    with server.client() as http:
        http.post(f"{ROLLOUT}/rollback")  # 409 when none is live
        if http.get("/v1/endpoints/churn").status_code == 404:
            created = http.post("/v1/endpoints", json={"name": "churn", "model": "churn:1"})
            assert created.status_code == 201, created.text
        elif http.get("/v1/endpoints/churn").json()["version"] != 1:
            assert http.patch("/v1/endpoints/churn", json={"model": "churn:1"}).status_code == 200
        yield http


def _start_canary(client: httpx.Client) -> dict[str, Any]:
    started = client.post(ROLLOUT, json=CANARY)
    assert started.status_code == 201, started.text
    rollout: dict[str, Any] = started.json()
    assert rollout["status"] == "active" and rollout["strategy"] == "canary"
    return rollout


def _endpoint(client: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/v1/endpoints/churn").json()
    return {k: body[k] for k in ("name", "model", "version", "policy", "revision")}


def _in_progress(response: httpx.Response, rollout: dict[str, Any]) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "rollout_in_progress"
    assert body["field"] == "endpoint"
    assert f"rollout {rollout['id']} (canary" in body["message"]
    assert body["details"]["rollout"] == rollout["id"]
    assert body["details"]["strategy"] == "canary"


def _live_rollout(client: httpx.Client) -> dict[str, Any] | None:
    rollout: dict[str, Any] | None = client.get(ROLLOUT).json()["rollout"]
    return rollout if rollout and rollout["status"] in ("active", "paused") else None


def test_changing_an_endpoint_during_a_rollout_is_409(client: httpx.Client) -> None:
    rollout = _start_canary(client)
    before = _endpoint(client)
    for method in ("PATCH", "PUT"):
        response = client.request(method, "/v1/endpoints/churn", json={"model": "churn:2"})
        _in_progress(response, rollout)
    # force=false is the same as no force.
    refused = client.patch("/v1/endpoints/churn?force=false", json={"model": "churn:2"})
    _in_progress(refused, rollout)
    assert _endpoint(client) == before
    live = _live_rollout(client)
    assert live is not None and live["id"] == rollout["id"] and live["revision"] == 1


def test_deleting_an_endpoint_during_a_rollout_is_409(client: httpx.Client) -> None:
    rollout = _start_canary(client)
    before = _endpoint(client)
    _in_progress(client.delete("/v1/endpoints/churn"), rollout)
    assert _endpoint(client) == before
    assert (_live_rollout(client) or {}).get("id") == rollout["id"]


def test_a_paused_rollout_fences_too(client: httpx.Client) -> None:
    rollout = _start_canary(client)
    assert client.post(f"{ROLLOUT}/pause").status_code == 200
    _in_progress(client.patch("/v1/endpoints/churn", json={"model": "churn:2"}), rollout)
    _in_progress(client.delete("/v1/endpoints/churn"), rollout)


@pytest.mark.parametrize("where", ["query", "body"])
def test_a_forced_change_rolls_the_rollout_back_first(client: httpx.Client, where: str) -> None:
    rollout = _start_canary(client)
    revision = _endpoint(client)["revision"]
    if where == "query":
        response = client.patch(
            "/v1/endpoints/churn", params={"force": "true"}, json={"model": "churn:2"}
        )
    else:
        response = client.patch(
            "/v1/endpoints/churn",
            json={"model": "churn:2", "force": True, "revision": revision},
        )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["version"] == 2 and changed["policy"] == {}
    # The rollback and the change: two revisions, in that order.
    assert changed["revision"] == revision + 2
    assert _live_rollout(client) is None
    ended = client.get(ROLLOUT).json()["rollout"]
    assert (ended["id"], ended["status"]) == (rollout["id"], "rolled-back")
    events = client.get(f"{ROLLOUT}/history", params={"rollout": rollout["id"]}).json()
    last = events["history"][-1]
    assert last["action"] == "rollback" and "force an endpoint update" in last["reason"]
    assert last["evidence"]["forced"] == "update"
    audit = client.get("/v1/endpoints/churn/history", params={"limit": "2"}).json()["history"]
    assert [a["action"] for a in audit] == ["set-version", "rollout-rollback"]
    assert audit[0]["forced"] is True and audit[0]["ended_rollout"] == rollout["id"]
    assert audit[1]["rollout"] == rollout["id"] and audit[1]["version"] == 1


def test_a_forced_change_with_a_stale_revision_ends_nothing(client: httpx.Client) -> None:
    rollout = _start_canary(client)
    before = _endpoint(client)
    response = client.patch(
        "/v1/endpoints/churn",
        json={"model": "churn:2", "force": True, "revision": before["revision"] - 1},
    )
    assert response.status_code == 409 and response.json()["field"] == "revision"
    assert _endpoint(client) == before
    assert (_live_rollout(client) or {}).get("id") == rollout["id"]


def test_a_forced_delete_leaves_no_rollout_behind(client: httpx.Client) -> None:
    rollout = _start_canary(client)
    deleted = client.delete("/v1/endpoints/churn", params={"force": "1"})
    assert deleted.status_code == 204, deleted.text
    assert client.get("/v1/endpoints/churn").status_code == 404
    # The name is free again, rollouts included.
    recreated = client.post("/v1/endpoints", json={"name": "churn", "model": "churn:1"})
    assert recreated.status_code == 201, recreated.text
    again = _start_canary(client)
    assert again["id"] != rollout["id"]
    history = client.get(f"{ROLLOUT}/history", params={"rollout": rollout["id"]}).json()
    assert history["history"][-1]["evidence"]["forced"] == "delete"
    audit = client.get("/v1/endpoints/churn/history").json()["history"]
    deletion = next(a for a in audit if a["action"] == "delete")
    assert deletion["forced"] is True and deletion["ended_rollout"] == rollout["id"]


def test_force_without_a_rollout_just_changes(client: httpx.Client) -> None:
    revision = _endpoint(client)["revision"]
    response = client.patch("/v1/endpoints/churn?force=true", json={"model": "churn:2"})
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == revision + 1
    audit = client.get("/v1/endpoints/churn/history", params={"limit": "1"}).json()["history"]
    assert "forced" not in audit[0]


@pytest.mark.parametrize(
    ("params", "body", "field"),
    [
        ({"force": "maybe"}, {"model": "churn:2"}, "force"),
        ({}, {"model": "churn:2", "force": "true"}, "force"),
        ({}, {"model": "churn:2", "force": 1}, "force"),
    ],
)
def test_force_must_be_a_boolean(
    client: httpx.Client, params: dict[str, str], body: dict[str, Any], field: str
) -> None:
    rollout = _start_canary(client)
    before = _endpoint(client)
    response = client.patch("/v1/endpoints/churn", params=params, json=body)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", field)
    assert _endpoint(client) == before
    assert (_live_rollout(client) or {}).get("id") == rollout["id"]


def test_the_cli_is_fenced_and_can_force(server: LiveServer, client: httpx.Client) -> None:
    rollout = _start_canary(client)
    before = _endpoint(client)
    for args in (("set", "churn", "--model", "churn:2"), ("delete", "churn")):
        refused = run_cli("endpoints", *args, cwd=server.cwd, check=False)
        assert refused.returncode == 1
        assert "rollout_in_progress [endpoint]" in refused.stderr, refused.stderr
        assert f"rollout {rollout['id']} (canary" in refused.stderr
    assert _endpoint(client) == before

    forced = run_cli("endpoints", "set", "churn", "--model", "churn:2", "--force", cwd=server.cwd)
    assert f"rolled back rollout {rollout['id']}" in forced.stdout
    assert _endpoint(client)["version"] == 2 and _live_rollout(client) is None
    audit = client.get("/v1/endpoints/churn/history", params={"limit": "1"}).json()["history"]
    assert audit[0]["ended_rollout"] == rollout["id"] and audit[0]["actor"] == "cli"

    # churn:2 is the primary now; churn:1 is the candidate of the next rollout.
    second = client.post(ROLLOUT, json={**CANARY, "version": 1})
    assert second.status_code == 201, second.text
    run_cli("endpoints", "delete", "churn", "--force", cwd=server.cwd)
    assert client.get("/v1/endpoints/churn").status_code == 404
    recreated = client.post("/v1/endpoints", json={"name": "churn", "model": "churn:1"})
    assert recreated.status_code == 201, recreated.text
    history = client.get(f"{ROLLOUT}/history", params={"rollout": second.json()["id"]}).json()
    assert history["history"][-1]["evidence"]["forced"] == "delete"
