"""``modelport models alias | lineage | archive | unarchive | tag | history`` and
``endpoints create --model NAME@ALIAS`` through the real CLI: what they print, what they
store, and one precise error (exit 1) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML
from support import register_churn, run_cli

COMMON = ("model.skops", "--reference", "train.parquet", "--target", "churned")
WIDE = {"COLUMNS": "200"}  # tables as on a wide terminal: no cell is wrapped


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]) -> Path:
    """churn:1 behind endpoint ``churn``; churn:2 registered with parent churn:1."""
    folder = tmp_path_factory.mktemp("registry-cli")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(folder, churn_files)
    registered = json.loads(
        run_cli(
            "models", "register", "churn", *COMMON, "--parent", "churn:1", "--json", cwd=folder
        ).stdout
    )
    assert (registered["version"], registered["lineage"]) == (2, {"parent": "churn:1"})
    return folder


def cli_json(project: Path, *args: str) -> object:
    return json.loads(run_cli(*args, "--json", cwd=project).stdout)


def fails(project: Path, *args: str) -> str:
    result = run_cli(*args, cwd=project, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    return " ".join(result.stderr.split())


def test_lineage_shows_the_parents(project: Path) -> None:
    table = run_cli("models", "lineage", "churn:2", cwd=project).stdout
    assert "lineage of churn:2" in table and "churn:1" in table
    chain = cli_json(project, "models", "lineage", "churn:2")
    assert isinstance(chain, dict)
    assert [(e["ref"], e["parent"]) for e in chain["chain"]] == [
        ("churn:2", "churn:1"),
        ("churn:1", None),
    ]
    assert "(version_not_found [parent])" in fails(
        project, "models", "register", "churn", *COMMON, "--parent", "churn:9"
    )
    assert "(version_not_found [version])" in fails(project, "models", "lineage", "churn:9")


def test_aliases_move_the_endpoints_that_follow_them(project: Path) -> None:
    out = run_cli("models", "alias", "set", "churn", "champion", "1", cwd=project).stdout
    assert "churn@champion → churn:1 (new)" in out
    out = run_cli("endpoints", "create", "follower", "--model", "churn@champion", cwd=project)
    assert "serves churn:1 (follows churn@champion)" in out.stdout

    out = run_cli("models", "alias", "set", "churn", "champion", "2", cwd=project).stdout
    assert "(was 1)" in out and "endpoint follower now serves churn:2" in out
    listed = cli_json(project, "models", "alias", "list", "churn")
    assert isinstance(listed, list)
    assert [(a["alias"], a["version"], a["endpoints"]) for a in listed] == [
        ("champion", 2, ["follower"])
    ]
    shown = cli_json(project, "models", "show", "churn@champion")
    assert isinstance(shown, dict) and shown["version"] == 2
    assert shown["aliases"] == ["champion"]
    assert "champion" in run_cli("models", "show", "churn", cwd=project, env=WIDE).stdout
    endpoints = run_cli("endpoints", "list", cwd=project, env=WIDE).stdout
    assert "churn@champion" in endpoints

    assert "followed by endpoint(s) follower" in fails(
        project, "models", "alias", "delete", "churn", "champion"
    )
    assert "(invalid_name [alias])" in fails(
        project, "models", "alias", "set", "churn", "Top!", "1"
    )
    assert "(version_not_found [version])" in fails(
        project, "models", "alias", "set", "churn", "champion", "9"
    )
    assert "(alias_not_found [model])" in fails(
        project, "endpoints", "create", "other", "--model", "churn@nobody"
    )
    history = json.loads(run_cli("models", "history", "churn", cwd=project).stdout)
    assert isinstance(history, list)
    moves = [(h["from"], h["to"], h["actor"]) for h in history if h["action"] == "alias-set"]
    assert moves == [(1, 2, "cli"), (None, 1, "cli")]

    # Pinning the endpoint to a version stops the following; then the alias may go.
    run_cli("endpoints", "set", "follower", "--model", "churn:1", cwd=project)
    out = run_cli("models", "alias", "delete", "churn", "champion", cwd=project).stdout
    assert "deleted alias churn@champion (was churn:2)" in out
    run_cli("endpoints", "delete", "follower", cwd=project)


def test_archived_versions_cannot_be_served_and_referenced_ones_not_archived(
    project: Path,
) -> None:
    message = fails(project, "models", "archive", "churn", "1")
    assert "(version_in_use [version])" in message and "endpoint churn (primary)" in message

    run_cli("endpoints", "create", "spare", "--model", "churn:1", cwd=project)
    out = run_cli("models", "archive", "churn", "2", cwd=project)
    assert "archived churn:2" in out.stdout
    assert "(version_archived [version])" in fails(
        project, "endpoints", "set", "spare", "--model", "churn:2"
    )
    assert "(version_archived [version])" in fails(
        project, "endpoints", "create", "another", "--model", "churn:2"
    )
    assert "archived" in run_cli("models", "show", "churn", cwd=project, env=WIDE).stdout

    assert "unarchived churn:2" in run_cli("models", "unarchive", "churn", "2", cwd=project).stdout
    out = run_cli("endpoints", "set", "spare", "--model", "churn:2", cwd=project).stdout
    assert "now serves churn:2" in out
    run_cli("endpoints", "delete", "spare", cwd=project)


def test_tags_are_edited(project: Path) -> None:
    tagged = cli_json(project, "models", "tag", "churn", "1", "team=risk", "stage=prod")
    assert isinstance(tagged, dict) and tagged["tags"] == {"team": "risk", "stage": "prod"}
    out = run_cli("models", "tag", "churn", "1", "--remove", "stage", cwd=project).stdout
    assert "churn:1 tags: team=risk" in out
    assert "(validation_error [tag])" in fails(project, "models", "tag", "churn", "1", "novalue")
    assert "(validation_error [tags])" in fails(project, "models", "tag", "churn", "1")
    assert "(version_not_found [version])" in fails(project, "models", "tag", "churn", "9", "a=b")
