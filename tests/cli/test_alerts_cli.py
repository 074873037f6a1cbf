"""``modelport alerts`` and ``modelport notifiers`` on a project's store: flags reach the
rule as the service stores it, bad input is one clear line naming the flag and stores
nothing, rules whose endpoint is gone are flagged, notifiers are kept apart by kind.

Commands run in-process (Typer's runner) on a real SQLite store, except one through the
real ``modelport`` command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from modelport.cli import common
from modelport.cli.main import app
from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance, run_cli

Run = Callable[..., Result]


def runner_in(project: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``modelport ARGS...`` run in ``project``."""
    monkeypatch.chdir(project)
    # The command's settings are read once per process: read this project's.
    monkeypatch.setattr(common.state, "_settings", None)
    monkeypatch.setattr(common.console, "width", 200)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, f"{args}: {result.output}{result.stderr}"
        return result

    return run


@pytest.fixture
def cli(churn_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """``modelport ARGS...`` in the churn project (endpoint ``churn``, churn:1)."""
    yield runner_in(churn_project, monkeypatch)


def listed(cli: Run, *what: str) -> Any:
    return json.loads(cli(*what, "--json").stdout)


def error_line(result: Result) -> str:
    """The one line a failed command prints."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_static_rule_is_added_listed_shown_and_deleted(cli: Run) -> None:
    added = cli(
        "alerts", "add", "churn-drift", "--endpoint", "churn", "--metric", "drift.psi",
        "--feature", "tenure", "--above", "0.2", "--for", "15m", "--severity", "warning",
    )  # fmt: skip
    assert "added alert rule churn-drift on churn: drift.psi" in added.stdout

    [rule] = listed(cli, "alerts", "list")
    assert rule["name"] == "churn-drift" and rule["source"] == "api"
    assert (rule["endpoint"], rule["metric"], rule["feature"]) == ("churn", "drift.psi", "tenure")
    assert rule["threshold"] == {"kind": "static", "above": 0.2, "below": None, "resolve_at": None}
    assert (rule["for_s"], rule["severity"], rule["orphaned"]) == (900.0, "warning", False)

    table = cli("alerts", "list").stdout
    assert "churn-drift" in table and "feature=tenure" in table and "> 0.2 for 15m" in table
    assert "ORPHANED" not in table
    shown = listed(cli, "alerts", "show", "churn-drift")
    assert shown["name"] == "churn-drift" and shown["alerts"] == [] and shown["silences"] == []
    assert (
        "threshold > 0.2, for 15m, severity warning" in cli("alerts", "show", "churn-drift").stdout
    )

    assert "deleted alert rule churn-drift" in cli("alerts", "delete", "churn-drift").stdout
    assert listed(cli, "alerts", "list") == []
    gone = error_line(cli("alerts", "show", "churn-drift", ok=False))
    assert gone.startswith("error (alert_not_found") and "churn-drift" in gone


def test_the_issue_examples_store_what_their_flags_say(cli: Run) -> None:
    cli(
        "alerts", "add", "churn-p99", "--endpoint", "churn", "--metric", "latency.p99_ms",
        "--adaptive", "--sigma", "3", "--adapt-rate", "0.05", "--ceiling", "200",
        "--direction", "above", "--warmup", "5", "--resolve-sigma", "2", "--seasonal",
    )  # fmt: skip
    cli(
        "alerts", "add", "churn-acc", "--endpoint", "churn", "--metric", "performance.accuracy",
        "--below", "0.85", "--resolve-at", "0.9", "--min-samples", "500", "--version", "1",
        "--role", "primary", "--severity", "critical",
    )  # fmt: skip
    rules = {rule["name"]: rule for rule in listed(cli, "alerts", "list")}

    assert rules["churn-p99"]["threshold"] == {
        "kind": "adaptive",
        "sigma": 3.0,
        "adapt_rate": 0.05,
        "floor": None,
        "ceiling": 200.0,
        "seasonal": True,
        "direction": "above",
        "warmup": 5,
        "resolve_sigma": 2.0,
    }
    accuracy = rules["churn-acc"]
    assert accuracy["threshold"] == {
        "kind": "static",
        "above": None,
        "below": 0.85,
        "resolve_at": 0.9,
    }
    assert (accuracy["min_samples"], accuracy["version"], accuracy["role"]) == (500, "1", "primary")
    assert accuracy["severity"] == "critical" and accuracy["for_s"] == 0.0
    table = cli("alerts", "list").stdout
    assert "adaptive 3σ rate 0.05, ceiling 200, resolve_sigma 2, above only, seasonal" in table
    assert "< 0.85 (resolves at 0.9)" in table


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        (["--metric", "drift.nope", "--above", "1"], "--metric"),
        (["--metric", "drift.psi", "--feature", "nope", "--above", "1"], "--feature"),
        (["--metric", "drift.psi", "--endpoint", "ghost", "--above", "1"], "--endpoint"),
        (["--metric", "errors.rate", "--above", "1", "--for", "soon"], "--for"),
        (["--metric", "errors.rate", "--above", "0.1", "--adaptive"], "--above"),
        (["--metric", "errors.rate", "--adaptive", "--floor", "10", "--ceiling", "5"], "--ceiling"),
        (["--metric", "errors.rate", "--above", "0.1", "--below", "0.5"], "--below"),
        (["--metric", "errors.rate", "--above", "0.1", "--resolve-sigma", "1"], "--resolve-sigma"),
        (["--metric", "errors.rate", "--above", "0.1", "--role", "nobody"], "--role"),
        (["--metric", "errors.rate", "--above", "0.1", "--severity", "loud"], "--severity"),
        (["--metric", "errors.rate"], "--above"),
    ],
)
def test_bad_rules_are_one_line_naming_the_flag_and_store_nothing(
    cli: Run, flags: list[str], flag: str
) -> None:
    endpoint = [] if "--endpoint" in flags else ["--endpoint", "churn"]
    result = cli("alerts", "add", "bad", *endpoint, *flags, ok=False)

    line = error_line(result)
    assert line.startswith(f"error (validation_error [{flag}]): "), line
    assert listed(cli, "alerts", "list") == []


def test_a_name_is_taken_until_replace(cli: Run) -> None:
    base = ("alerts", "add", "errors", "--endpoint", "churn", "--metric", "errors.rate")
    cli(*base, "--above", "0.05")

    taken = error_line(cli(*base, "--above", "0.5", ok=False))
    assert taken.startswith("error (alert_exists")
    assert listed(cli, "alerts", "list")[0]["threshold"]["above"] == 0.05
    assert "replaced alert rule errors" in cli(*base, "--above", "0.5", "--replace").stdout
    assert listed(cli, "alerts", "list")[0]["threshold"]["above"] == 0.5


def test_silence_ack_and_history(cli: Run) -> None:
    cli(
        "alerts", "add", "drift-any", "--endpoint", "churn", "--metric", "drift.psi",
        "--feature", "*", "--above", "0.2",
    )  # fmt: skip
    silenced = cli(
        "alerts", "silence", "drift-any", "--for", "2h", "--reason", "planned backfill",
        "--label", "feature=tenure",
    )  # fmt: skip
    assert "silenced drift-any (alerts with feature=tenure) for 2h, until" in silenced.stdout

    [made] = listed(cli, "alerts", "show", "drift-any")["silences"]
    assert made["reason"] == "planned backfill" and made["labels"] == {"feature": "tenure"}
    assert made["by"].startswith("cli")
    shown = cli("alerts", "show", "drift-any").stdout
    assert "planned backfill" in shown and "feature=tenure" in shown
    # Nothing is pending or firing: nothing to acknowledge.
    assert "nothing to acknowledge" in cli("alerts", "ack", "drift-any").stdout
    assert listed(cli, "alerts", "ack", "drift-any") == []
    entries = listed(cli, "alerts", "history", "drift-any", "--since", "1h")
    assert any(entry.get("reason") == "planned backfill" for entry in entries), entries
    assert listed(cli, "alerts", "history", "--limit", "1") == entries[:1]

    assert "[--for]" in error_line(cli("alerts", "silence", "drift-any", "--for", "x", ok=False))
    bad_label = error_line(
        cli("alerts", "silence", "drift-any", "--for", "1h", "--label", "tenure", ok=False)
    )
    assert "[--label]" in bad_label
    assert "[--since]" in error_line(cli("alerts", "history", "--since", "last week", ok=False))
    for command in (("history", "ghost"), ("ack", "ghost"), ("test", "ghost"), ("delete", "ghost")):
        assert error_line(cli("alerts", *command, ok=False)).startswith("error (alert_not_found")
    assert len(listed(cli, "alerts", "show", "drift-any")["silences"]) == 1


def test_a_rule_whose_endpoint_is_deleted_is_flagged_orphaned(cli: Run) -> None:
    cli("endpoints", "create", "spare", "--model", "churn:1")
    cli("alerts", "add", "spare-errors", "--endpoint", "spare", "--metric", "errors.rate",
        "--above", "0.1")  # fmt: skip
    cli("alerts", "add", "churn-errors", "--endpoint", "churn", "--metric", "errors.rate",
        "--above", "0.1")  # fmt: skip
    cli("endpoints", "delete", "spare")

    rules = {rule["name"]: rule for rule in listed(cli, "alerts", "list")}
    assert rules["spare-errors"]["orphaned"] is True
    assert rules["churn-errors"]["orphaned"] is False
    table = cli("alerts", "list").stdout
    assert "ORPHANED" in table
    assert "orphaned: spare-errors watches endpoint spare, which no longer exists" in table
    assert "orphaned: churn-errors" not in table
    assert "ORPHANED" in cli("alerts", "show", "spare-errors").stdout


def test_a_dry_run_stores_nothing(cli: Run) -> None:
    cli("alerts", "add", "errors", "--endpoint", "churn", "--metric", "errors.rate",
        "--above", "0.1")  # fmt: skip
    before = listed(cli, "alerts", "show", "errors")

    results = listed(cli, "alerts", "test", "errors")
    assert isinstance(results, list)
    cli("alerts", "test", "errors")

    assert listed(cli, "alerts", "show", "errors") == before
    assert listed(cli, "alerts", "history", "errors") == before["history"]


def test_a_dry_run_reads_the_figures_the_server_logged(
    served_churn: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = runner_in(served_churn.cwd, monkeypatch)
    log = ParquetPredictionLog(served_churn.cwd / ".modelport" / "logs")
    before = log.read("churn").num_rows
    with served_churn.client() as client:
        for tenure in range(12):
            answer = client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance(tenure)]}
            )
            assert answer.status_code == 200
    served_churn.wait_for(lambda: log.read("churn").num_rows >= before + 12, timeout=30)
    cli("alerts", "add", "traffic", "--endpoint", "churn", "--metric", "requests.rate",
        "--above", "0.001")  # fmt: skip
    try:
        [result] = listed(cli, "alerts", "test", "traffic")
        table = cli("alerts", "test", "traffic").stdout
    finally:
        cli("alerts", "delete", "traffic")

    assert result["labels"] == {"endpoint": "churn"}
    assert result["value"] > 0.001 and result["samples"] >= 12
    assert (result["breached"], result["state"]) == (True, "firing")
    assert "traffic: 1 of 1 alert(s) would be firing" in table


def test_notifiers_of_each_kind(cli: Run) -> None:
    url = "https://hooks.example.com/services/T0/B0/secret"
    added = cli("notifiers", "add", "ops", "--webhook", url, "--format", "slack")
    assert "added notifier ops (webhook)" in added.stdout
    cli("notifiers", "add", "am", "--alertmanager", "http://127.0.0.1:9093")
    cli("notifiers", "add", "server-log", "--log")

    found = {n["name"]: n for n in listed(cli, "notifiers", "list")}
    assert {name: (n["kind"], n["url"], n["format"]) for name, n in found.items()} == {
        "ops": ("webhook", url, "slack"),
        "am": ("alertmanager", "http://127.0.0.1:9093", None),
        "server-log": ("log", None, None),
    }
    assert {n["source"] for n in found.values()} == {"api"}
    assert listed(cli, "notifiers", "show", "am")["url"] == "http://127.0.0.1:9093"
    assert "hooks.example.com" in cli("notifiers", "list").stdout

    taken = error_line(cli("notifiers", "add", "am", "--log", ok=False))
    assert taken.startswith("error (notifier_exists")
    cli("notifiers", "add", "am", "--alertmanager", "http://127.0.0.1:9094", "--replace")
    assert listed(cli, "notifiers", "show", "am")["url"] == "http://127.0.0.1:9094"
    assert "deleted notifier am" in cli("notifiers", "delete", "am").stdout
    assert sorted(n["name"] for n in listed(cli, "notifiers", "list")) == ["ops", "server-log"]
    missing = error_line(cli("notifiers", "show", "am", ok=False))
    assert missing.startswith("error (notifier_not_found")


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        (
            ["--webhook", "https://a.example", "--alertmanager", "http://b.example"],
            "--alertmanager",
        ),
        (["--webhook", "https://a.example", "--log"], "--log"),
        ([], "--webhook"),
        (["--webhook", "ftp://files.example/x"], "--webhook"),
        (["--alertmanager", "file:///etc/passwd"], "--alertmanager"),
        (["--webhook", "https://a.example", "--format", "xml"], "--format"),
        (["--alertmanager", "http://b.example", "--format", "slack"], "--format"),
        (["--log", "--format", "json"], "--format"),
    ],
)
def test_bad_notifiers_are_one_line_naming_the_flag_and_store_nothing(
    cli: Run, flags: list[str], flag: str
) -> None:
    line = error_line(cli("notifiers", "add", "bad", *flags, ok=False))

    assert line.startswith(f"error (validation_error [{flag}]): "), line
    assert listed(cli, "notifiers", "list") == []


def test_the_real_command_prints_one_line_and_exits_1(churn_project: Path) -> None:
    result = run_cli(
        "alerts", "add", "x", "--endpoint", "churn", "--metric", "latency.p99_ms",
        "--above", "200", "--adaptive", cwd=churn_project, check=False,
    )  # fmt: skip

    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error (validation_error [--above]): an adaptive rule")
    listed_rules = run_cli("alerts", "list", "--json", cwd=churn_project)
    assert json.loads(listed_rules.stdout) == []
