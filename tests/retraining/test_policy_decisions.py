"""Retraining policies' decisions against a real store: refused at creation when they
name a missing alert, endpoint or trainer; triggered once by a firing alert; held back by
the cooldown, the label minimum and the attempts per firing; every decision recorded."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.alerts.store import AlertStore
from modelport.errors import (
    AlertNotFound,
    ConfigError,
    Conflict,
    EndpointNotFound,
    ModelportError,
    RetrainPolicyNotFound,
    ValidationFailed,
)
from modelport.retraining.service import POLICY_LOCK, PolicyService
from modelport.retraining.trainer import TrainerNotAllowed
from modelport.store.audit import audit_trail
from modelport.store.locks import StoreLock
from retraining.policy_support import (  # noqa: F401
    POLICY,
    RULE,
    World,
    policy_world,
    registration,
)


def _set(world: World, **changes: Any) -> None:
    world.service.set("churn", {**POLICY, **changes}, by="alice")


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"on_alert": "no-such-rule"}, AlertNotFound, "on_alert"),
        ({"trainer": "os:system"}, TrainerNotAllowed, "trainer"),
        ({"trainer": "mytrainers"}, ValidationFailed, "trainer"),
        ({"cooldown": "soon"}, ValidationFailed, "cooldown"),
        ({"min_labels": -1}, ValidationFailed, "min_labels"),
        ({"max_attempts": 0}, ValidationFailed, "max_attempts"),
        ({"holdout": 1.5}, ValidationFailed, "holdout"),
        ({"every": "1h"}, ValidationFailed, "every"),
        ({"rollout": {"steps": "50,25"}}, ValidationFailed, "rollout.steps"),
        ({"rollout": {"strategy": "canary"}}, ValidationFailed, "rollout.strategy"),
        ({"rollout": "fast"}, ValidationFailed, "rollout"),
    ],
)
def test_a_wrong_policy_is_refused_whole(
    world: World, changes: dict[str, Any], error: type[ModelportError], field: str
) -> None:
    with pytest.raises(error) as refused:
        _set(world, **changes)
    assert refused.value.field == field
    with pytest.raises(RetrainPolicyNotFound):
        world.service.get("churn")


def test_a_trainer_module_that_cannot_be_found_is_refused(world: World) -> None:
    world.service.store.trainers = ["*"]
    with pytest.raises(ValidationFailed, match="cannot be found") as refused:
        _set(world, trainer="no_such_package.train:fit")
    assert refused.value.field == "trainer"


def test_a_rule_watching_another_endpoint_is_refused(world: World) -> None:
    AlertStore(world.db).put_rule(
        "other-drift",
        {"name": "other-drift", "endpoint": "other", "metric": "drift.psi", "above": 0.2},
        source="api",
        by="test",
        replace=False,
    )
    with pytest.raises(ValidationFailed, match="watches endpoint 'other'") as refused:
        _set(world, on_alert="other-drift")
    assert refused.value.field == "on_alert"


def test_a_rule_declared_in_the_config_may_be_named_before_a_server_stored_it(
    world: World,
) -> None:
    store = world.service.store
    store.declared_alerts = {"toml-drift": {"name": "toml-drift", "endpoint": "churn"}}
    _set(world, on_alert="toml-drift")
    assert world.service.get("churn").on_alert == "toml-drift"


def test_a_policy_on_a_missing_endpoint_is_refused(world: World) -> None:
    with pytest.raises(EndpointNotFound):
        world.service.set("nope", POLICY, by="alice")


def test_set_show_replace_disable(world: World) -> None:
    service = world.service
    _set(world)
    policy = service.get("churn")
    assert (policy.trainer, policy.on_alert, policy.cooldown_s) == ("mytrainers:fit", RULE, 86400)
    assert (policy.min_labels, policy.max_attempts, policy.enabled) == (100, 2, True)
    _set(world, cooldown="1h", max_attempts=5)
    assert (service.get("churn").cooldown_s, service.get("churn").max_attempts) == (3600, 5)
    assert service.disable("churn", by="bob").enabled is False
    actions = [record["action"] for record in audit_trail(world.db, "endpoint:churn")]
    assert actions[:3] == ["retrain-policy-disable", "retrain-policy-set", "retrain-policy-set"]


def test_the_policy_triggers_once_on_a_firing_alert(world: World) -> None:
    _set(world)
    world.label(150)
    world.service.round()
    assert world.jobs.started == []  # the alert is not firing
    world.fire()
    world.service.round()
    world.service.round()
    assert len(world.jobs.started) == 1
    request = world.jobs.started[0][0].request
    assert (request.endpoint, request.trainer, request.actor) == (
        "churn",
        "mytrainers:fit",
        "policy:churn",
    )
    assert request.extra_lineage == {"policy": "churn", "on_alert": RULE, "attempt": 1}
    assert request.min_labels == 100
    world.jobs.finish(2)
    world.service.round()
    world.service.round()
    assert len(world.jobs.started) == 1
    assert world.decisions() == [
        "skipped:not_firing",
        "started",
        "skipped:cooldown",
        "trained",
        "skipped:cooldown",
    ]
    trained = world.history()[1]
    assert (trained["version"], trained["attempt"]) == (2, 1)
    audit = [r["action"] for r in audit_trail(world.db, "endpoint:churn")]
    assert audit.count("retrain-started") == 1 and audit.count("retrain-trained") == 1


def test_the_label_minimum_holds_a_retrain_back(world: World) -> None:
    _set(world)
    world.fire()
    world.label(60)
    world.service.round()
    world.label(39)
    world.service.round()
    assert world.jobs.started == []
    assert world.decisions() == ["skipped:labels"]  # once, though the count moved
    assert "60 new labels" in world.history()[0]["reason"]
    world.label(1)
    world.service.round()
    assert len(world.jobs.started) == 1


def test_labels_count_from_the_last_training(world: World) -> None:
    _set(world, cooldown="1h", max_attempts=5)
    world.fire()
    world.label(100)
    world.service.round()
    world.clock.advance(minutes=1)
    world.jobs.finish(2)
    world.clock.advance(hours=2)
    world.service.round()
    assert len(world.jobs.started) == 1
    assert world.decisions()[-1] == "skipped:labels"
    world.label(100)
    world.service.round()
    assert len(world.jobs.started) == 2
    assert world.jobs.started[1][0].request.extra_lineage["attempt"] == 2


def test_the_cooldown_runs_from_the_last_attempt(world: World) -> None:
    _set(world)
    world.fire()
    world.label(100)
    world.service.round()
    world.jobs.finish(None, error="trainer raised ValueError: no")
    world.clock.advance(hours=23, minutes=59)
    world.service.round()
    assert len(world.jobs.started) == 1
    world.clock.advance(minutes=2)
    world.service.round()
    assert len(world.jobs.started) == 2
    assert world.decisions()[:4] == ["started", "failed", "skipped:cooldown", "started"]
    failed = world.history()[-2]
    assert failed["reason"] == "trainer raised ValueError: no" and failed["attempt"] == 1


def test_attempts_are_limited_per_firing(world: World) -> None:
    _set(world, cooldown="1h", max_attempts=2)
    world.fire()
    world.label(100)
    for _ in range(2):
        world.service.round()
        world.jobs.finish(None, error="trainer raised")
        world.clock.advance(hours=2)
    world.service.round()
    world.service.round()
    assert len(world.jobs.started) == 2
    assert world.decisions()[-1] == "skipped:attempts"
    # A new firing starts a new window of attempts.
    world.resolve()
    world.service.round()
    world.clock.advance(minutes=5)
    world.fire()
    world.service.round()
    assert len(world.jobs.started) == 3
    assert world.jobs.started[2][0].request.extra_lineage["attempt"] == 1
    assert world.decisions()[-3:] == ["skipped:attempts", "skipped:not_firing", "started"]


def test_a_running_job_holds_the_next_attempt_back(world: World) -> None:
    _set(world, cooldown="1m")
    world.fire()
    world.label(100)
    world.service.round()
    world.clock.advance(minutes=5)
    world.service.round()
    assert len(world.jobs.started) == 1
    assert world.decisions() == ["started", "skipped:running"]


def test_an_alert_on_another_endpoint_does_not_trigger(world: World) -> None:
    _set(world)
    world.fire(endpoint="other")
    world.label(100)
    world.service.round()
    assert world.jobs.started == []


def test_a_disabled_policy_does_nothing(world: World) -> None:
    _set(world)
    world.service.disable("churn", by="bob")
    world.fire()
    world.label(100)
    world.service.round()
    assert world.jobs.started == [] and world.history() == []


def test_only_the_holder_of_the_policy_lease_runs_policies(world: World) -> None:
    _set(world)
    world.fire()
    world.label(100)
    other = StoreLock(world.db, POLICY_LOCK, ttl_s=600)
    assert other.acquire()
    world.service.round()
    assert world.jobs.started == []
    other.release()
    world.service.round()
    assert len(world.jobs.started) == 1
    assert isinstance(world.service, PolicyService)


@pytest.mark.parametrize("ending", ["rollback", "promote"])
def test_the_trained_versions_rollout_is_followed_to_its_end(world: World, ending: str) -> None:
    _set(world, cooldown="1m")
    world.fire()
    world.label(100)
    world.service.round()
    candidate = world.registry.register(registration(world.churn_files))
    rollout = world.rollouts.start(
        "churn", {"version": candidate.version, "strategy": "canary"}, "policy:churn"
    )
    world.jobs.finish(candidate.version, rollout_id=rollout.id)
    world.clock.advance(minutes=5)
    world.service.round()
    assert world.decisions()[-1] == "skipped:rollout_live"  # no retrain over a live rollout
    getattr(world.rollouts, ending)("churn", "controller", "gate failed: accuracy")
    world.service.round()
    world.service.round()
    decision = "rolled_back" if ending == "rollback" else "promoted"
    assert world.decisions()[:3] == ["started", "trained", "skipped:rollout_live"]
    assert world.decisions().count(decision) == 1
    ended = next(e for e in world.history() if e["decision"] == decision)
    assert (ended["version"], ended["rollout_id"], ended["attempt"]) == (2, rollout.id, 1)
    if ending == "rollback":
        assert "rolled-back" in ended["reason"]
    audit = [r["action"] for r in audit_trail(world.db, "endpoint:churn")]
    assert f"retrain-{decision}" in audit


def test_a_job_that_cannot_start_is_recorded_once_and_tried_again(world: World) -> None:
    _set(world)
    world.fire()
    world.label(100)
    world.jobs.refuse = Conflict("the server is stopping; no retrain starts now")
    world.service.round()
    world.jobs.refuse = ConfigError("python not found")
    for _ in range(3):
        world.service.round()
    assert world.jobs.started == []
    assert world.decisions() == ["skipped:running", "failed:start"]
    assert "python not found" in world.history()[0]["reason"]
    world.jobs.refuse = None
    world.service.round()
    assert len(world.jobs.started) == 1
    assert world.jobs.started[0][0].request.extra_lineage["attempt"] == 1


def test_a_policy_waiting_for_no_new_labels_still_asks_for_labelled_rows(world: World) -> None:
    _set(world, min_labels=0, since="7d", holdout=0.3)
    world.fire()
    world.service.round()
    request = world.jobs.started[0][0].request
    assert (request.min_labels, request.since.total_seconds(), request.holdout) == (1, 604800, 0.3)


def test_the_policys_rollout_options_reach_its_retrains(world: World) -> None:
    rollout = {"steps": "25,100", "shadow_for": "500req", "min_samples": 30}
    _set(world, rollout=rollout)
    assert world.service.get("churn").rollout == rollout
    world.fire()
    world.label(100)
    world.service.round()
    assert world.jobs.started[0][0].request.rollout_options == rollout
