"""The registry's aliases, archived versions, tags and lineage over HTTP, against a real
server: an endpoint following an alias moves when the alias moves (from this server or
from another process), archived versions are never served, bad input gets one precise
error and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import LiveServer, churn_instance, run_cli

from .conftest import make_churn_project

TOKEN = "registry-admin-secret"
ENV = {
    "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2",
    "MODELPORT_AUTH__ADMIN_TOKENS": f'["{TOKEN}"]',
}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """churn:1 behind endpoint ``churn``; churn:2 (parent churn:1) and churn:3 registered
    through the real CLI."""
    project = make_churn_project(tmp_path_factory.mktemp("registry-api"), churn_files)
    common = ("model.skops", "--reference", "train.parquet", "--target", "churned")
    run_cli("models", "register", "churn", *common, "--parent", "churn:1", cwd=project)
    run_cli("models", "register", "churn", *common, cwd=project)
    server = LiveServer(project, env=ENV).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


def refused(response: httpx.Response, status: int, code: str, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["code"], body.get("field")) == (code, field), body
    return body


def served_version(client: httpx.Client, endpoint: str) -> int:
    response = client.post(
        f"/v1/endpoints/{endpoint}/predict", json={"instances": [churn_instance()]}
    )
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def test_aliases_are_set_listed_shown_and_refused_precisely(client: httpx.Client) -> None:
    first = client.put("/v1/models/churn/aliases/champion", json={"version": 1})
    assert first.status_code == 200, first.text
    assert (first.json()["previous"], first.json()["version"]) == (None, 1)
    client.put("/v1/models/churn/aliases/challenger", json={"version": 2}).raise_for_status()

    # The module's server is shared: other tests' aliases (e.g. "leader") may be there too.
    mine = {"champion", "challenger"}
    listed = client.get("/v1/models/churn/aliases").json()
    assert [(a["alias"], a["version"]) for a in listed["aliases"] if a["alias"] in mine] == [
        ("challenger", 2),
        ("champion", 1),
    ]
    model = client.get("/v1/models/churn").json()
    assert {k: v for k, v in model["aliases"].items() if k in mine} == {
        "challenger": 2,
        "champion": 1,
    }
    assert [a for a in model["versions"][0]["aliases"] if a in mine] == ["champion"]
    version_2 = client.get("/v1/models/churn/versions/2").json()
    assert [a for a in version_2["aliases"] if a in mine] == ["challenger"]

    before = client.get("/v1/models/churn/aliases").json()
    refused(
        client.put("/v1/models/churn/aliases/champion", json={"version": 99}),
        404,
        "version_not_found",
        "version",
    )
    refused(
        client.put("/v1/models/nope/aliases/champion", json={"version": 1}),
        404,
        "model_not_found",
        "model",
    )
    refused(
        client.put("/v1/models/churn/aliases/Bad!", json={"version": 1}),
        422,
        "invalid_name",
        "alias",
    )
    refused(
        client.put("/v1/models/churn/aliases/champion", json={"version": "2"}),
        422,
        "validation_error",
        "version",
    )
    refused(
        client.put("/v1/models/churn/aliases/champion", json={"version": 2, "to": 3}),
        422,
        "validation_error",
        "to",
    )
    refused(
        client.put(
            "/v1/models/churn/aliases/champion",
            content=b"{",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "malformed_json",
        None,
    )
    refused(client.delete("/v1/models/churn/aliases/nobody"), 404, "alias_not_found", "alias")
    refused(
        client.post("/v1/endpoints", json={"name": "x", "model": "churn@nobody"}),
        404,
        "alias_not_found",
        "model",
    )
    assert client.get("/v1/models/churn/aliases").json() == before

    assert client.delete("/v1/models/churn/aliases/challenger").status_code == 204
    history = client.get("/v1/models/churn/history").json()["history"]
    moves = [
        (h["action"], h["alias"], h["from"], h["to"], h["actor"])
        for h in history
        if h["action"].startswith("alias")
    ]
    assert moves[:2] == [
        ("alias-delete", "challenger", 2, None, "admin-1"),
        ("alias-set", "challenger", None, 2, "admin-1"),
    ]


def test_an_endpoint_follows_its_alias_moved_by_another_process(
    live: LiveServer, client: httpx.Client
) -> None:
    client.put("/v1/models/churn/aliases/leader", json={"version": 1}).raise_for_status()
    created = client.post("/v1/endpoints", json={"name": "follower", "model": "churn@leader"})
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["alias"]) == (1, "leader")
    assert served_version(client, "follower") == 1

    # The CLI is another process: this server sees the move only by polling revisions.
    run_cli("models", "alias", "set", "churn", "leader", "2", cwd=live.cwd)
    committed = time.monotonic()  # at the latest: the CLI has exited
    live.wait_for(lambda: served_version(client, "follower") == 2)
    print(f"alias move served {time.monotonic() - committed:.2f}s after the CLI exited")

    # Moved through this server: it serves the new version with the answer.
    moved = client.put("/v1/models/churn/aliases/leader", json={"version": 3})
    assert moved.json()["moved"] == ["follower"]
    assert served_version(client, "follower") == 3
    history = client.get("/v1/endpoints/follower/history").json()["history"]
    assert [(h["action"], h["from"], h["version"]) for h in history[:2]] == [
        ("alias-move", 2, 3),
        ("alias-move", 1, 2),
    ]

    # A version by number stops the following; the alias then moves without it.
    patched = client.patch("/v1/endpoints/follower", json={"model": "churn:3"})
    assert patched.json()["alias"] is None
    client.put("/v1/models/churn/aliases/leader", json={"version": 1}).raise_for_status()
    assert served_version(client, "follower") == 3
    # ... and following again takes the alias's version.
    again = client.patch("/v1/endpoints/follower", json={"model": "churn@leader"})
    assert (again.json()["version"], again.json()["alias"]) == (1, "leader")
    assert served_version(client, "follower") == 1


def test_moving_an_alias_under_a_rollout_needs_force(client: httpx.Client) -> None:
    client.put("/v1/models/churn/aliases/stable", json={"version": 1}).raise_for_status()
    client.post("/v1/endpoints", json={"name": "guarded", "model": "churn@stable"})
    started = client.post(
        "/v1/endpoints/guarded/rollout", json={"strategy": "shadow", "version": 2}
    )
    assert started.status_code == 201, started.text
    rollout = started.json()["id"]

    body = refused(
        client.put("/v1/models/churn/aliases/stable", json={"version": 3}),
        409,
        "rollout_in_progress",
        "alias",
    )
    assert "guarded" in body["message"] and body["details"]["rollout"] == rollout
    assert client.get("/v1/models/churn/aliases").json()["aliases"][-1]["version"] == 1

    forced = client.put("/v1/models/churn/aliases/stable?force=true", json={"version": 3})
    assert forced.status_code == 200, forced.text
    assert forced.json()["ended_rollouts"] == {"guarded": rollout}
    assert served_version(client, "guarded") == 3
    status = client.get("/v1/endpoints/guarded/rollout").json()["rollout"]
    assert status["status"] == "rolled-back"
    client.patch("/v1/endpoints/guarded", json={"model": "churn:3"}).raise_for_status()
    client.delete("/v1/models/churn/aliases/stable").raise_for_status()


def test_archived_versions_are_never_served(client: httpx.Client) -> None:
    client.post("/v1/endpoints", json={"name": "archival", "model": "churn:2"})
    body = refused(
        client.post("/v1/models/churn/versions/2/archive"), 409, "version_in_use", "version"
    )
    assert "endpoint archival (primary)" in body["details"]["referrers"]
    client.patch("/v1/endpoints/archival", json={"model": "churn:1"}).raise_for_status()

    archived = client.post("/v1/models/churn/versions/2/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True
    assert archived.json()["archived_by"] == "admin-1"

    for response in (
        client.post("/v1/endpoints", json={"name": "again", "model": "churn:2"}),
        client.patch("/v1/endpoints/archival", json={"model": "churn:2"}),
        client.put("/v1/models/churn/aliases/old", json={"version": 2}),
        client.post("/v1/endpoints/archival/rollout", json={"strategy": "shadow", "version": 2}),
    ):
        body = refused(response, 409, "version_archived", "version")
        assert "churn:2" in body["message"]
    assert served_version(client, "archival") == 1
    refused(client.post("/v1/models/churn/versions/9/archive"), 404, "version_not_found", "version")

    unarchived = client.post("/v1/models/churn/versions/2/unarchive")
    assert unarchived.json()["archived"] is False
    client.patch("/v1/endpoints/archival", json={"model": "churn:2"}).raise_for_status()
    assert served_version(client, "archival") == 2
    actions = [h["action"] for h in client.get("/v1/models/churn/history").json()["history"]]
    assert actions[:2] == ["unarchive", "archive"]


def test_tags_are_edited_and_audited(client: httpx.Client) -> None:
    set_tags = client.patch(
        "/v1/models/churn/versions/3", json={"tags": {"team": "risk", "stage": "prod"}}
    )
    assert set_tags.status_code == 200, set_tags.text
    assert set_tags.json()["tags"] == {"team": "risk", "stage": "prod"}
    removed = client.patch("/v1/models/churn/versions/3", json={"tags": {"stage": None}})
    assert removed.json()["tags"] == {"team": "risk"}

    refused(
        client.patch("/v1/models/churn/versions/3", json={"tags": ["a"]}),
        422,
        "validation_error",
        "tags",
    )
    refused(
        client.patch("/v1/models/churn/versions/3", json={"remove": "team"}),
        422,
        "validation_error",
        "remove",
    )
    refused(
        client.patch("/v1/models/churn/versions/3", json={"tags": {"": "x"}}),
        422,
        "validation_error",
        "tags",
    )
    refused(
        client.patch("/v1/models/churn/versions/99", json={"tags": {"a": "b"}}),
        404,
        "version_not_found",
        "version",
    )
    assert client.get("/v1/models/churn/versions/3").json()["tags"] == {"team": "risk"}
    tagged = [
        h for h in client.get("/v1/models/churn/history").json()["history"] if h["action"] == "tag"
    ]
    assert (tagged[0]["removed"], tagged[0]["actor"]) == (["stage"], "admin-1")


def test_lineage_shows_the_chain_of_parents(client: httpx.Client) -> None:
    answer = client.get("/v1/models/churn/versions/2/lineage")
    assert answer.status_code == 200, answer.text
    chain = answer.json()["chain"]
    assert [(e["ref"], e["parent"]) for e in chain] == [("churn:2", "churn:1"), ("churn:1", None)]
    assert client.get("/v1/models/churn/versions/2").json()["lineage"] == {"parent": "churn:1"}
    refused(client.get("/v1/models/churn/versions/42/lineage"), 404, "version_not_found", "version")
    refused(client.get("/v1/models/ghost/versions/1/lineage"), 404, "model_not_found", "model")
