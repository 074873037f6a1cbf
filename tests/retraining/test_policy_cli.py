"""``modelport retrain policy set|show|disable|history`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retraining.policy_support import ALLOW_TRAINERS, RULE, make_policy_project
from support import run_cli

SET = (
    "retrain", "policy", "set", "churn", "--trainer", "mytrainers:fit", "--on-alert", RULE,
    "--cooldown", "24h", "--min-labels", "1000",
)  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, churn_files: tuple[Path, Path]) -> Path:
    return make_policy_project(tmp_path, churn_files)


def test_set_show_disable_history(project: Path) -> None:
    out = run_cli(
        *SET, "--max-attempts", "3", "--steps", "25,100", "--gate", "agreement>=0.9",
        "--gate", "error_rate<=0.01", cwd=project, env=ALLOW_TRAINERS,
    ).stdout  # fmt: skip
    assert "policy of churn set" in out and "mytrainers:fit" in out
    shown = json.loads(run_cli("retrain", "policy", "show", "churn", "--json", cwd=project).stdout)
    assert shown["trainer"] == "mytrainers:fit" and shown["on_alert"] == RULE
    assert (shown["cooldown_s"], shown["min_labels"], shown["max_attempts"]) == (86400, 1000, 3)
    assert shown["enabled"] is True and shown["created_by"].startswith("cli")
    assert shown["rollout"] == {"steps": "25,100", "gates": ["agreement>=0.9", "error_rate<=0.01"]}
    table = run_cli("retrain", "policy", "show", "churn", cwd=project).stdout
    assert "1d" in table and "3 per firing" in table and "enabled" in table

    assert "disabled" in run_cli("retrain", "policy", "disable", "churn", cwd=project).stdout
    shown = json.loads(run_cli("retrain", "policy", "show", "churn", "--json", cwd=project).stdout)
    assert shown["enabled"] is False

    history = run_cli("retrain", "policy", "history", "churn", "--json", cwd=project).stdout
    assert json.loads(history) == {"endpoint": "churn", "history": []}
    empty = run_cli("retrain", "policy", "history", "churn", cwd=project).stdout
    assert "no decisions yet" in empty


def test_a_trainer_the_operator_did_not_allow_is_refused(project: Path) -> None:
    result = run_cli(*SET, cwd=project, check=False)
    assert result.returncode == 1
    assert "trainer_not_allowed [--trainer]" in result.stderr
    assert "retrain.trainers" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    shown = run_cli("retrain", "policy", "show", "churn", cwd=project, check=False)
    assert shown.returncode == 1 and "retrain_policy_not_found" in shown.stderr


def test_a_missing_alert_rule_is_refused(project: Path) -> None:
    args = list(SET)
    args[args.index(RULE)] = "no-such-rule"
    result = run_cli(*args, cwd=project, env=ALLOW_TRAINERS, check=False)
    assert result.returncode == 1
    assert "alert_not_found [--on-alert]" in result.stderr and "no-such-rule" in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "code"),
    [
        ("--cooldown", "tomorrow", "validation_error [--cooldown]"),
        ("--trainer", "mytrainers", "validation_error [--trainer]"),
        ("--max-attempts", "0", "validation_error [--max-attempts]"),
        ("--holdout", "1", "validation_error [--holdout]"),
        ("--steps", "50,25", "validation_error [--steps]"),
    ],
)
def test_bad_flags_are_named(project: Path, flag: str, value: str, code: str) -> None:
    args = list(SET)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = run_cli(*args, cwd=project, env=ALLOW_TRAINERS, check=False)
    assert result.returncode == 1 and code in result.stderr, result.stderr


def test_unknown_endpoint(project: Path) -> None:
    result = run_cli("retrain", "policy", "history", "nope", cwd=project, check=False)
    assert result.returncode == 1 and "endpoint_not_found" in result.stderr
