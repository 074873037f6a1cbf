"""The gates' evidence over time: every kept analysis round, on the scale its interval
is judged on, thinned as a rollout ages, and answered by the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.rollout import controller as controller_module
from modelport.rollout.analysis import Verdict, evaluate
from modelport.rollout.controller import Analysis
from modelport.rollout.evidence import Arm, Evidence
from modelport.rollout.gates import parse_gates
from modelport.rollout.service import RolloutService
from modelport.rollout.state import Rollout
from modelport.store.db import Database
from rollout.traffic import PRIMARY, SAME, Traffic, rollout_status, start


def _verdict(outcome: str, estimate: float = 0.01) -> Verdict:
    return Verdict(
        "error_rate<=0.05", "error_rate", outcome, estimate, None, 0.05, 200, 100, 0.05,
        interval=(0.0, estimate + 0.02), interval_of="error_rate", estimate=estimate, bound=0.05,
    )  # fmt: skip


def test_a_share_gate_charts_the_candidate_against_its_threshold() -> None:
    rng = np.random.default_rng(1)
    latencies = rng.lognormal(3.0, 0.3, 2000)
    evidence = Evidence("classification", Arm(2000, 20, latencies), Arm(2000, 20, latencies))
    verdict = evaluate(parse_gates(["error_rate<=0.05"]), evidence, 100, 0.05)[0]
    point = verdict.point()
    assert point["estimate"] == point["candidate"] == 0.01 and point["bound"] == 0.05
    low, high = point["interval"]
    assert low < point["estimate"] < high < point["bound"] and point["verdict"] == "pass"
    assert point["bound_interval"] is None


def test_a_relative_gate_carries_bounds_on_its_bound() -> None:
    rng = np.random.default_rng(2)
    latencies = rng.lognormal(3.0, 0.3, 3000)
    evidence = Evidence("classification", Arm(3000, 300, latencies), Arm(3000, 30, latencies))
    point = evaluate(parse_gates(["error_rate<=primary+0.01"]), evidence, 100, 0.05)[0].point()
    assert point["primary"] == 0.01 and point["bound"] == point["threshold"] == 0.02
    low, high = point["bound_interval"]
    assert low < point["bound"] < high
    # The candidate fails 10 %: its whole interval lies above the bound's upper end.
    assert point["verdict"] == "fail" and point["interval"][0] > high


def test_a_latency_gate_charts_the_share_slower_than_its_threshold_against_1_minus_q() -> None:
    rng = np.random.default_rng(3)
    candidate = rng.lognormal(3.0, 0.5, 3000)
    evidence = Evidence("classification", Arm(3000, 0, candidate), Arm(3000, 0, candidate))
    point = evaluate(parse_gates(["p95_ms<=200"]), evidence, 100, 0.05)[0].point()
    slower = float((candidate > 200).mean())
    assert point["interval_of"] == "share slower than threshold"
    assert point["bound"] == 0.05 and point["estimate"] == round(slower, 6)
    assert point["interval"][0] <= point["estimate"] <= point["interval"][1]
    assert point["threshold"] == 200 and point["bound_interval"] is None
    # The ms quantile stays there for the tooltip.
    assert point["candidate"] is not None and point["candidate"] > 20


def _service(project: Path) -> tuple[RolloutService, Database]:
    home = project / ".modelport"
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(home / "artifacts"))
    log = ParquetPredictionLog(home / "logs")
    service = RolloutService(registry, EndpointStore(db, registry), log, FeedbackStore(db, log))
    return service, db


def test_rounds_are_kept_on_change_and_otherwise_sparsely(
    rollout_project: Path, monkeypatch: Any
) -> None:
    service, db = _service(rollout_project)
    try:
        rollout: Rollout = service.start("churn", {"strategy": "canary", "version": SAME}, "ops")
        controller = service.controller
        begin = rollout.created_at
        every = controller_module.RECORD_EVERY_S

        def keep(after_s: float, outcome: str, on: Rollout = rollout) -> bool:
            at = begin + timedelta(seconds=after_s)
            analysis = Analysis(at=at, verdicts=[_verdict(outcome)], progress={"requests": 7})
            return controller.keep(on, analysis)

        assert keep(1, "inconclusive")  # the first round is always kept
        assert not keep(2, "inconclusive") and not keep(every, "inconclusive")
        assert keep(every + 1, "inconclusive")  # RECORD_EVERY_S later
        assert keep(every + 2, "pass")  # a verdict changed
        assert not keep(every + 3, "pass")
        # Once the rollout is old, rounds are kept at 1/RECORD_SPREAD of its age.
        monkeypatch.setattr(controller_module, "RECORD_SPREAD", 10)
        assert keep(1000, "pass") and not keep(1050, "pass") and keep(1150, "pass")

        rounds = service.analyses("churn")
        assert rounds["rollout"] == rollout.id
        assert [r["gates"][0]["verdict"] for r in rounds["analyses"]] == [
            "inconclusive", "inconclusive", "pass", "pass", "pass",
        ]  # fmt: skip
        first = rounds["analyses"][0]
        assert first["requests"] == 7 and first["phase"] == "canary" and first["weight"] == 5.0
        assert first["gates"][0] == _verdict("inconclusive").point()
        # A restarted server keeps its first round (it cannot know what was shown).
        service.controller.forget([])
        assert keep(1152, "pass")

        newest = service.analyses("churn", limit=2)["analyses"]
        assert [r["at"] for r in newest] == [
            r["at"] for r in service.analyses("churn")["analyses"][-2:]
        ]
        since = begin + timedelta(seconds=every + 2)
        assert len(service.analyses("churn", since=since)["analyses"]) == 3
    finally:
        db.dispose()


def test_an_endpoint_without_rollouts_answers_no_rounds(rollout_project: Path) -> None:
    service, db = _service(rollout_project)
    try:
        assert service.analyses("churn") == {"endpoint": "churn", "rollout": None, "analyses": []}
    finally:
        db.dispose()


def test_the_api_answers_the_rounds_of_a_canary_as_its_gates_decide(traffic: Traffic) -> None:
    client = traffic.client
    empty = client.get("/v1/endpoints/churn/rollout/analyses?rollout=999999")
    assert empty.status_code == 404 and empty.json()["code"] == "rollout_not_found"
    for query, field in (("limit=0", "limit"), ("since=yesterday-ish", "since")):
        refused = client.get(f"/v1/endpoints/churn/rollout/analyses?{query}")
        assert refused.status_code == 422 and refused.json()["field"] == field
    assert client.get("/v1/endpoints/nope/rollout/analyses").status_code == 404

    response = start(
        client, version=SAME, strategy="canary", steps="50,100", step_after="150req",
        min_samples=30, gates=["error_rate<=0.2", "p90_ms<=5000"],
    )  # fmt: skip
    assert response.status_code == 201, response.text
    rollout_id = response.json()["id"]
    status = traffic.drive_until(lambda s: rollout_status(s) == "promoted", max_requests=3000)
    assert status["rollout"]["id"] == rollout_id

    body = client.get("/v1/endpoints/churn/rollout/analyses").json()
    assert body["endpoint"] == "churn" and body["rollout"] == rollout_id
    rounds = body["analyses"]
    assert rounds and [r["at"] for r in rounds] == sorted(r["at"] for r in rounds)
    assert {r["step"] for r in rounds} == {0, 1}  # both steps' evidence
    # The round that promoted is kept: every gate passed at the last step.
    last = rounds[-1]
    assert last["step"] == 1 and [g["verdict"] for g in last["gates"]] == ["pass", "pass"]
    error_gate = last["gates"][0]
    assert error_gate["gate"] == "error_rate<=0.2" and error_gate["bound"] == 0.2
    assert error_gate["interval"][1] < 0.2 and error_gate["n"] >= 30
    assert last["gates"][1]["bound"] == 0.1  # p90: at most 10 % slower than 5 s
    promote = [e for e in traffic.history(rollout_id) if e["action"] == "promote"][-1]
    assert [g["verdict"] for g in promote["evidence"]["gates"]] == ["pass", "pass"]
    since = client.get("/v1/endpoints/churn/rollout/analyses", params={"since": last["at"]})
    assert since.json()["analyses"] == []
    assert client.get("/v1/endpoints/churn").json()["version"] == SAME != PRIMARY
