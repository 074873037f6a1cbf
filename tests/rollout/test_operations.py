"""What an operator does and sees during a rollout on a live server: pausing, resuming and
rolling back with the CLI, and the rollout gauges on ``GET /metrics``."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from rollout.traffic import PRIMARY, SAME, Traffic, start
from support import run_cli


def _status(traffic: Traffic) -> dict[str, Any]:
    rollout: dict[str, Any] = traffic.rollout()["rollout"]
    return rollout


def _answered_by(traffic: Traffic, version: int) -> bool:
    answer = traffic.predict()
    assert answer.status == 200, answer.body
    return answer.version == version


def test_cli_pause_resume_and_rollback_restore_the_primary(traffic: Traffic) -> None:
    project = traffic.server.cwd
    started = run_cli(
        "rollout", "start", "churn", "--version", str(SAME), "--strategy", "blue-green",
        "--keep-blue", "1h", "--json",
        cwd=project,
    )  # fmt: skip
    rollout_id = json.loads(started.stdout)["id"]
    traffic.server.wait_for(lambda: _answered_by(traffic, SAME), timeout=30)
    assert traffic.client.get("/v1/endpoints/churn").json()["version"] == SAME

    paused = run_cli("rollout", "pause", "churn", "--reason", "checking dashboards", cwd=project)
    assert f"rollout {rollout_id} on churn paused (paused)" in paused.stdout
    assert (_status(traffic)["status"], _status(traffic)["phase"]) == ("paused", "blue-green")
    again = run_cli("rollout", "pause", "churn", cwd=project, check=False)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith("error (conflict") and "already paused" in again.stderr
    assert _status(traffic)["status"] == "paused"

    run_cli("rollout", "resume", "churn", cwd=project)
    assert (_status(traffic)["status"], _status(traffic)["phase"]) == ("active", "blue-green")

    run_cli("rollout", "rollback", "churn", "--reason", "green looks off", cwd=project)
    assert _status(traffic)["status"] == "rolled-back"
    endpoint = traffic.client.get("/v1/endpoints/churn").json()
    assert endpoint["version"] == PRIMARY and endpoint["policy"] == {}
    traffic.server.wait_for(lambda: _answered_by(traffic, PRIMARY), timeout=30)
    assert all(_answered_by(traffic, PRIMARY) for _ in range(10))

    shown = run_cli(
        "rollout", "history", "churn", "--rollout", str(rollout_id), "--json", cwd=project
    )
    events = [e for e in json.loads(shown.stdout) if e["action"] != "verdict"]
    assert [(e["action"], e["reason"]) for e in events] == [
        ("start", events[0]["reason"]),
        ("pause", "checking dashboards"),
        ("resume", events[2]["reason"]),
        ("rollback", "green looks off"),
    ]
    assert all(e["actor"].startswith("cli") for e in events)


# -- gauges ------------------------------------------------------------------------------
def _gauges(traffic: Traffic) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = traffic.client.get("/metrics").text
    found = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("modelport_rollout_"):
            continue
        for sample in family.samples:
            if sample.labels.get("endpoint") == "churn":
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _series(traffic: Traffic) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The rollout gauges of churn but the gate verdicts and the mirrors-dropped counter."""
    skip = ("modelport_rollout_gate_verdict", "modelport_rollout_mirrors_dropped_total")
    return {key: value for key, value in _gauges(traffic).items() if key[0] not in skip}


def _expected(
    strategy: str | None, phase: str | None, *, weight: float, step: int, paused: int
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every series of endpoint churn but the gate verdicts, as they should read (none
    without a rollout)."""
    if strategy is None or phase is None:
        return {}
    labels = {"endpoint": "churn", "strategy": strategy, "phase": phase}
    one = frozenset({("endpoint", "churn")})
    return {
        ("modelport_rollout_active", frozenset(labels.items())): 1.0,
        ("modelport_rollout_paused", one): float(paused),
        ("modelport_rollout_canary_weight_ratio", one): weight / 100.0,
        ("modelport_rollout_step", one): float(step),
    }


def _wait_for_gauges(traffic: Traffic, expected: dict[Any, float]) -> None:
    def matches() -> bool:
        return _series(traffic) == expected

    try:
        traffic.server.wait_for(matches, timeout=30)
    except AssertionError:
        found = _series(traffic)
        keys = found.keys() | expected.keys()
        pairs = {k: (found.get(k), expected.get(k)) for k in keys}
        wrong = {k: pair for k, pair in pairs.items() if pair[0] != pair[1]}
        raise AssertionError(f"gauges (found, expected) differ: {wrong}") from None


def test_rollout_gauges_follow_phase_weight_step_and_pause_and_vanish_at_the_end(
    traffic: Traffic,
) -> None:
    client = traffic.client
    shadow = start(
        client, version=SAME, strategy="shadow-then-canary", shadow_for="1h", steps=[20, 100]
    )
    assert shadow.status_code == 201, shadow.text
    _wait_for_gauges(
        traffic, _expected("shadow-then-canary", "shadow", weight=0.0, step=0, paused=0)
    )
    assert client.post("/v1/endpoints/churn/rollout/rollback").status_code == 200

    canary = start(client, version=SAME, strategy="canary", steps=[20, 100], step_every="1h")
    assert canary.status_code == 201, canary.text
    _wait_for_gauges(traffic, _expected("canary", "canary", weight=20.0, step=1, paused=0))
    assert client.post("/v1/endpoints/churn/rollout/pause").status_code == 200
    _wait_for_gauges(traffic, _expected("canary", "canary", weight=20.0, step=1, paused=1))
    assert client.post("/v1/endpoints/churn/rollout/rollback").status_code == 200
    _wait_for_gauges(traffic, _expected(None, None, weight=0.0, step=0, paused=0))

    green = start(client, version=SAME, strategy="blue-green", keep_blue="1h")
    assert green.status_code == 201, green.text
    _wait_for_gauges(traffic, _expected("blue-green", "blue-green", weight=100.0, step=0, paused=0))
    assert client.post("/v1/endpoints/churn/rollout/promote").status_code == 200
    # Ended: every series stays, at zero, so dashboards see the end.
    _wait_for_gauges(traffic, _expected(None, None, weight=0.0, step=0, paused=0))
