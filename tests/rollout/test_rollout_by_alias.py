"""Rollouts by alias, on a live server and through the CLI: ``"version": "@challenger"``
(or ``"alias": "challenger"``, or ``--version @challenger``) starts a rollout of the
version the alias names when the rollout starts, and says so in the rollout's audit
trail; a later move of the alias leaves the rollout alone; a missing alias is a 404
``alias_not_found`` naming the option, and no bad request starts anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.config import DEFAULT_TOML
from support import LiveServer, register_churn, run_cli

TOKEN = "rollout-alias-admin-secret"
ENV = {"MODELPORT_AUTH__ADMIN_TOKENS": f'["{TOKEN}"]'}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """Endpoint ``churn`` serves churn:1; churn:2 and churn:3 registered;
    churn@challenger names 2."""
    project = tmp_path_factory.mktemp("rollout-alias")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(project, churn_files)
    common = ("model.skops", "--reference", "train.parquet", "--target", "churned")
    for _ in range(2):
        run_cli("models", "register", "churn", *common, cwd=project)
    run_cli("models", "alias", "set", "churn", "challenger", "2", cwd=project)
    server = LiveServer(project, env=ENV).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


def start(client: httpx.Client, **options: Any) -> httpx.Response:
    return client.post("/v1/endpoints/churn/rollout", json={"strategy": "shadow", **options})


def roll_back(client: httpx.Client) -> None:
    client.post("/v1/endpoints/churn/rollout/rollback").raise_for_status()


def latest_rollout(client: httpx.Client) -> int | None:
    rollout = client.get("/v1/endpoints/churn/rollout").json().get("rollout")
    return None if rollout is None else int(rollout["id"])


def test_a_rollout_of_an_alias_takes_the_version_it_names_at_start(
    client: httpx.Client,
) -> None:
    started = start(client, version="@challenger")
    assert started.status_code == 201, started.text
    assert (started.json()["candidate"], started.json()["primary"]) == (2, 1)
    rollout = started.json()["id"]
    first = client.get(f"/v1/endpoints/churn/rollout/history?rollout={rollout}").json()
    event = first["history"][0]
    assert event["action"] == "start"
    assert event["evidence"]["alias"] == "churn@challenger"
    assert "churn@challenger (churn:2)" in event["reason"]

    # Moving the alias later does not move the rollout's candidate.
    client.put("/v1/models/churn/aliases/challenger", json={"version": 3}).raise_for_status()
    status = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
    assert (status["id"], status["candidate"]) == (rollout, 2)
    roll_back(client)

    # The alias option reads the alias's version now.
    by_field = start(client, alias="challenger")
    assert by_field.status_code == 201, by_field.text
    assert by_field.json()["candidate"] == 3
    roll_back(client)


@pytest.mark.parametrize(
    ("options", "status", "code", "field"),
    [
        ({"version": "@nobody"}, 404, "alias_not_found", "version"),
        ({"alias": "nobody"}, 404, "alias_not_found", "alias"),
        ({"alias": "Bad!"}, 422, "invalid_name", "alias"),
        ({"version": "@"}, 422, "invalid_name", "version"),
        ({"alias": 3}, 422, "validation_error", "alias"),
        ({"version": "two"}, 422, "validation_error", "version"),
        ({"version": 2, "alias": "challenger"}, 422, "validation_error", "alias"),
    ],
)
def test_a_bad_alias_is_refused_precisely_and_starts_nothing(
    client: httpx.Client, options: dict[str, Any], status: int, code: str, field: str
) -> None:
    before = latest_rollout(client)
    refused = start(client, **options)
    assert refused.status_code == status, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == (code, field)
    assert latest_rollout(client) == before


def test_the_cli_starts_a_rollout_by_alias(live: LiveServer, client: httpx.Client) -> None:
    client.put("/v1/models/churn/aliases/challenger", json={"version": 2}).raise_for_status()
    result = run_cli(
        "rollout",
        "start",
        "churn",
        "--version",
        "@challenger",
        "--strategy",
        "shadow",
        cwd=live.cwd,
    )
    assert "candidate churn:2 (churn@challenger)" in result.stdout
    status = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
    assert (status["candidate"], status["status"]) == (2, "active")
    run_cli("rollout", "rollback", "churn", cwd=live.cwd)

    before = latest_rollout(client)
    missing = run_cli(
        "rollout", "start", "churn", "--version", "@nobody", cwd=live.cwd, check=False
    )
    assert missing.returncode == 1
    lines = [line for line in (missing.stdout + missing.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "no alias 'nobody'" in lines[0], lines
    assert latest_rollout(client) == before
