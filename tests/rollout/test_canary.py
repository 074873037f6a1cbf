"""Canary with automated analysis on a live server: rolled back on evidence, promoted on
evidence, waiting when there is too little of it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rollout.traffic import (
    ALWAYS_ONE,
    FLAKY,
    PRIMARY,
    SAME,
    Answer,
    Traffic,
    rollout_status,
    routing,
    start,
)
from support import run_cli


def _ended(status: dict[str, Any]) -> bool:
    return rollout_status(status) in ("promoted", "rolled-back", "aborted")


def _decisions(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in history if event["action"] != "verdict"]


def test_flaky_canary_is_rolled_back_while_primary_keeps_serving(traffic: Traffic) -> None:
    project = traffic.server.cwd
    run_cli(
        "rollout", "start", "churn", "--version", str(FLAKY), "--strategy", "canary",
        "--steps", "50,100", "--step-every", "1h", "--min-samples", "30",
        "--gate", "error_rate<=0.05",
        cwd=project,
    )  # fmt: skip
    answers: list[Answer] = []
    status = traffic.drive_until(_ended, on_answer=answers.append, max_requests=3000)

    assert rollout_status(status) == "rolled-back"
    # Only canary requests failed (the message names the model that raised).
    failures = [a for a in answers if a.status != 200]
    assert failures and all(f"churn:{FLAKY} raised" in a.body["message"] for a in failures)
    answered = [a for a in answers if a.status == 200]
    assert all(a.version == PRIMARY for a in answered if a.variant == "primary")
    traffic.wait_until(lambda s: routing(s) == "primary")
    after = [traffic.predict() for _ in range(30)]
    assert all(a.status == 200 and a.version == PRIMARY for a in after)

    rollback = _decisions(traffic.history())[-1]
    assert rollback["action"] == "rollback" and rollback["actor"] == "controller"
    failed = [g for g in rollback["evidence"]["gates"] if g["verdict"] == "fail"]
    assert [g["gate"] for g in failed] == ["error_rate<=0.05"]
    numbers = failed[0]
    assert 0.1 < numbers["candidate"] < 0.6 and numbers["threshold"] == 0.05
    assert numbers["n"] >= 30 and numbers["interval"][0] > 0.05
    assert "error_rate<=0.05" in rollback["reason"]
    cli = run_cli("rollout", "history", "churn", cwd=project).stdout
    assert "rollback" in cli and "error_rate<=0.05" in cli


def test_canary_that_answers_differently_is_rolled_back_on_quality(traffic: Traffic) -> None:
    gates = ["error_rate<=0.05", "agreement>=0.9", "accuracy>=primary-0.02"]
    response = start(
        traffic.client,
        version=ALWAYS_ONE,
        strategy="canary",
        steps="50,100",
        step_every="1h",
        min_samples=30,
        gates=gates,
    )
    assert response.status_code == 201, response.text

    def label(answer: Answer) -> None:
        # The truth for this traffic is what the primary says: 0.
        feedback = {"request_id": answer.body["request_id"], "label": 0}
        assert traffic.client.post("/v1/feedback", json=feedback).status_code == 200

    status = traffic.drive_until(_ended, on_answer=label, max_requests=1500)

    assert rollout_status(status) == "rolled-back"
    rollback = _decisions(traffic.history())[-1]
    verdicts = {g["gate"]: g for g in rollback["evidence"]["gates"]}
    failed = {gate for gate, verdict in verdicts.items() if verdict["verdict"] == "fail"}
    assert failed and failed <= {"agreement>=0.9", "accuracy>=primary-0.02"}
    assert verdicts["error_rate<=0.05"]["verdict"] != "fail"
    assert verdicts["agreement>=0.9"]["candidate"] < 0.5


def test_good_candidate_goes_from_shadow_through_every_canary_step_to_primary(
    traffic: Traffic,
) -> None:
    response = start(
        traffic.client,
        version=SAME,
        strategy="shadow-then-canary",
        shadow_for="60req",
        steps=[10, 50, 100],
        step_after="60req",
        min_samples=30,
        sticky_key="header:X-User-Id",
        gates=["error_rate<=0.1", "agreement>=0.9"],
    )
    assert response.status_code == 201, response.text
    rollout_id = response.json()["id"]
    users = [f"user-{i}" for i in range(200)]
    keyed: dict[str, list[int]] = defaultdict(list)

    def record(answer: Answer) -> None:
        assert answer.status == 200, answer.body
        keyed[current[0]].append(answer.version or 0)

    current = [""]

    def next_headers(index: int) -> dict[str, str]:
        current[0] = users[index % len(users)]
        return {"X-User-Id": current[0]}

    status = traffic.drive_until(_ended, on_answer=record, headers=next_headers, max_requests=4000)

    assert rollout_status(status) == "promoted"
    # Per caller: primary (1) until moved to the candidate (2), never back.
    for versions in keyed.values():
        assert versions == sorted(versions)
    assert traffic.predict().version == SAME
    decisions = _decisions(traffic.history(rollout_id))
    assert [(e["action"], e["phase"], e["weight"]) for e in decisions] == [
        ("start", "shadow", 0.0),
        ("step", "canary", 10.0),
        ("step", "canary", 50.0),
        ("step", "canary", 100.0),
        ("promote", "canary", 100.0),
    ]
    assert all(g["verdict"] == "pass" for e in decisions[1:] for g in e["evidence"]["gates"])
    endpoint = traffic.client.get("/v1/endpoints/churn").json()
    assert endpoint["version"] == SAME and endpoint["policy"] == {}


def test_too_little_traffic_makes_the_rollout_wait(traffic: Traffic) -> None:
    response = start(
        traffic.client,
        version=SAME,
        strategy="canary",
        steps="50,100",
        step_every="1s",
        min_samples=50,
        gates=["error_rate<=0.1"],
    )
    assert response.status_code == 201, response.text
    for _ in range(10):
        assert traffic.predict().status == 200

    status = traffic.wait_until(lambda s: "waiting for enough evidence" in s["rollout"]["note"])
    rollout = status["rollout"]
    assert rollout["status"] == "active" and rollout["step"] == 0 and rollout["weight"] == 50
    gate = rollout["verdicts"]["gates"][0]
    assert gate["verdict"] == "inconclusive" and gate["n"] < 50
    assert "of 50" in gate["reason"]
    # The tick stores its verdicts first and publishes the gauges after every rollout.
    verdict = 'modelport_rollout_gate_verdict{endpoint="churn",gate="error_rate<=0.1"} 0.0'
    traffic.wait_until(lambda _: verdict in traffic.client.get("/metrics").text)
    metrics = traffic.client.get("/metrics").text
    assert 'modelport_rollout_canary_weight_ratio{endpoint="churn"} 0.5' in metrics
    shown = run_cli("rollout", "status", "churn", "--stored", cwd=traffic.server.cwd).stdout
    assert "waiting for" in shown and "of 50 candidate requests needed" in shown
    # Later ticks with no more traffic still do not promote.
    later = traffic.wait_until(
        lambda s: s["rollout"]["verdicts"]["at"] != rollout["verdicts"]["at"]
    )
    assert later["rollout"]["step"] == 0 and later["rollout"]["status"] == "active"
