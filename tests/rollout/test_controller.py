"""Controller decisions, and what happens when a server cannot serve a candidate."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.recorder import Recorder
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.rollout import Controller, RolloutService
from modelport.rollout.analysis import Verdict
from modelport.rollout.controller import Analysis
from modelport.rollout.spec import build_spec
from modelport.rollout.state import Rollout
from modelport.serving.dataplane import DataPlane
from modelport.serving.policies import CanarySpec, PrimarySpec
from modelport.store.db import Database
from modelport.telemetry import Telemetry
from rollout.traffic import OTHER, PRIMARY

NOW = datetime.now(UTC)


def _rollout(strategy: str = "canary", phase: str = "canary", step: int = 0) -> Rollout:
    spec = build_spec({"strategy": strategy, "steps": "10,50,100", "step_after": "100req"})
    return Rollout(
        id=7, endpoint="churn", model="churn", candidate=2, baseline=1, strategy=strategy,
        phase=phase, status="active", step=step, weight=float(spec.steps[step]),
        step_started_at=NOW, spec=spec, verdicts={}, note="", revision=3, created_by="t",
        created_at=NOW, updated_at=NOW, finished_at=None,
    )  # fmt: skip


def _analysis(*verdicts: str, done: bool = True) -> Analysis:
    return Analysis(
        at=NOW,
        verdicts=[
            Verdict(f"gate{i}", "error_rate", v, 0.1, 0.0, 0.05, 200, 100, 0.05)
            for i, v in enumerate(verdicts)
        ],
        progress={"requests": 100 if done else 10, "step_after_requests": 100, "done": done},
    )


@pytest.fixture
def controller(tmp_path: Path) -> Controller:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    registry = Registry(db, ArtifactStore(tmp_path / "artifacts"))
    log = ParquetPredictionLog(tmp_path / "logs")
    return Controller(
        RolloutService(registry, EndpointStore(db, registry), log, FeedbackStore(db, log)).store,
        registry,
        log,
        FeedbackStore(db, log),
    )


def test_a_failed_gate_rolls_back_at_once_even_mid_step(controller: Controller) -> None:
    change, _ = controller.decide(_rollout(), _analysis("pass", "fail", done=False))
    assert change is not None and change.action == "rollback"
    assert change.primary_version == 1 and change.policy == PrimarySpec()
    assert "gate1" in change.reason and change.evidence is not None


def test_the_rollout_waits_for_its_budget_and_its_evidence(controller: Controller) -> None:
    change, note = controller.decide(_rollout(), _analysis("pass", done=False))
    assert change is None and "10 of 100 requests" in note
    change, note = controller.decide(_rollout(), _analysis("pass", "inconclusive"))
    assert change is None and "waiting for enough evidence" in note


def test_passing_steps_advance_then_promote(controller: Controller) -> None:
    change, _ = controller.decide(_rollout(step=0), _analysis("pass"))
    assert change is not None and (change.action, change.step, change.weight) == ("step", 1, 50)
    assert (
        change.policy is not None
        and isinstance(change.policy, CanarySpec)
        and change.policy.weight == 50
    )
    change, _ = controller.decide(_rollout(step=2), _analysis("pass"))
    assert change is not None and change.action == "promote" and change.primary_version == 2


def test_shadow_then_canary_moves_to_the_first_step(controller: Controller) -> None:
    rollout = replace(_rollout("shadow-then-canary", "shadow"), weight=0.0)
    change, _ = controller.decide(rollout, _analysis("pass"))
    assert change is not None and (change.phase, change.step, change.weight) == ("canary", 0, 10)


def test_plain_shadow_only_observes(controller: Controller) -> None:
    rollout = _rollout("shadow", "shadow")
    for analysis in (_analysis("fail"), _analysis("pass")):
        change, note = controller.decide(rollout, analysis)
        assert change is None and "by hand" in note


def test_blue_is_released_when_keep_blue_is_over(controller: Controller) -> None:
    rollout = replace(
        _rollout("blue-green", "blue-green"), step_started_at=NOW - timedelta(hours=1)
    )
    change, _ = controller.decide(rollout, controller.analyse(rollout))
    assert change is not None and change.action == "release-blue" and change.policy == PrimarySpec()


def test_a_candidate_the_server_cannot_build_is_aborted(rollout_project: Path) -> None:
    home = rollout_project / ".modelport"
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(home / "artifacts"))
    endpoints = EndpointStore(db, registry)
    log = ParquetPredictionLog(home / "logs")
    service = RolloutService(registry, endpoints, log, FeedbackStore(db, log))
    rollout = service.start("churn", {"version": OTHER, "strategy": "canary"}, "test")
    # The artifact goes bad after the start checks passed (disk fault, partial copy).
    stored = registry.artifacts.path(registry.get("churn", OTHER).artifact_path)
    stored.chmod(0o644)
    stored.write_bytes(b"garbage")

    plane = DataPlane(registry, endpoints, Recorder(log), Telemetry())
    asyncio.run(plane.refresh())
    status = plane.status("churn")
    assert status.ready and status.routing is not None
    assert status.routing["strategy"] == "primary"  # the primary still serves
    assert status.routing_error and "Integrity" in status.routing_error

    def problem(name: str) -> tuple[int | None, str | None]:
        return status.policy_rollout, status.routing_error

    controller = Controller(service.store, registry, log, service.feedback, policy_error=problem)
    assert controller.tick() == ["churn"]
    aborted = service.store.get(rollout.id)
    assert aborted.status == "aborted" and "could not be served" in aborted.note
    endpoint = endpoints.get("churn")
    assert endpoint.primary_version == PRIMARY and endpoint.policy == {}
