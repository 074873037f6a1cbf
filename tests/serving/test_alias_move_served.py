"""Alias moves reach running servers: two real servers share one store; a move through
one server's HTTP API is served by that server with its answer and by the other once it
polls, moving back works the same way from the other side, and an archived version can
be neither moved to nor served by either."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.config import DEFAULT_TOML
from support import LiveServer, churn_instance, register_churn, run_cli

TOKEN = "alias-move-admin-secret"
ENV = {
    "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2",
    "MODELPORT_AUTH__ADMIN_TOKENS": f'["{TOKEN}"]',
}


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """churn:1..3; churn@champion -> 1, churn@challenger -> 2; endpoint ``follower``
    follows the champion; two servers on the project's one store."""
    project = tmp_path_factory.mktemp("alias-move")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(project, churn_files)
    common = ("model.skops", "--reference", "train.parquet", "--target", "churned")
    for _ in range(2):
        run_cli("models", "register", "churn", *common, cwd=project)
    run_cli("models", "alias", "set", "churn", "champion", "1", cwd=project)
    run_cli("models", "alias", "set", "churn", "challenger", "2", cwd=project)
    run_cli("endpoints", "create", "follower", "--model", "churn@champion", cwd=project)
    first = LiveServer(project, env=ENV).start()
    try:
        second = LiveServer(project, env=ENV).start()
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()


def served_version(client: httpx.Client) -> int:
    response = client.post("/v1/endpoints/follower/predict", json={"instances": [churn_instance()]})
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def move(client: httpx.Client, version: int) -> httpx.Response:
    return client.put("/v1/models/churn/aliases/champion", json={"version": version})


def test_an_alias_move_reaches_both_servers(servers: tuple[LiveServer, LiveServer]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with servers[0].client(headers=headers) as one, servers[1].client(headers=headers) as two:
        assert served_version(one) == served_version(two) == 1  # loaded at start
        for mover, other, target in [(one, two, 2), (two, one, 1)]:
            moved = move(mover, target)
            assert moved.status_code == 200, moved.text
            assert moved.json()["moved"] == ["follower"]
            asked = time.monotonic()
            # The server that moved the alias serves the move with its answer...
            assert served_version(mover) == target
            # ... the other one once it polls the endpoint's revision.
            servers[0].wait_for(lambda o=other, t=target: served_version(o) == t)
            print(
                f"alias move to {target} served by the other server after "
                f"{time.monotonic() - asked:.3f}s"
            )


def test_an_archived_version_is_served_by_neither_server(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with servers[0].client(headers=headers) as one, servers[1].client(headers=headers) as two:
        archived = one.post("/v1/models/churn/versions/3/archive")
        assert archived.status_code == 200, archived.text
        before = served_version(one)
        for client in (one, two):
            refused = move(client, 3)
            assert refused.status_code == 409, refused.text
            assert (refused.json()["code"], refused.json()["field"]) == (
                "version_archived",
                "version",
            )
        assert served_version(one) == served_version(two) == before
        aliases = one.get("/v1/models/churn/aliases").json()["aliases"]
        assert {a["alias"]: a["version"] for a in aliases}["champion"] == before
