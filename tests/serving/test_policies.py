"""Contract of every traffic policy, plus what each one promises on its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from modelport.batch import Batch, Prediction
from modelport.registry.records import ModelVersion
from modelport.schema import FeatureSpec, InputSchema, OutputSpec
from modelport.serving.policies import RequestContext, build_policy, policy_from_dict
from modelport.serving.runner import Runner

SCHEMA = InputSchema(features=[FeatureSpec(name="x", kind="float")])
POLICIES: dict[str, dict[str, Any]] = {
    "shadow": {"strategy": "shadow", "candidate": 2, "sample": 1.0},
    "canary": {
        "strategy": "canary",
        "candidate": 2,
        "weight": 30,
        "salt": "s",
        "sticky_key": "header:x-user-id",
    },
    "blue-green": {"strategy": "blue-green", "blue": 1, "green": 2},
}


class Constant:
    output = OutputSpec(kind="regression")

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, batch: Batch) -> Prediction:
        return Prediction(np.full(batch.n_rows, self.value))


def runner(version: int) -> Runner:
    record = ModelVersion(
        name="m",
        version=version,
        flavor="python",
        artifact_path="",
        artifact_sha256="",
        input_schema=SCHEMA,
        output=OutputSpec(kind="regression"),
        created_at=datetime.now(UTC),
    )
    return Runner(record, Constant(float(version)), endpoint="e")


def request(index: int) -> RequestContext:
    batch = Batch({"x": np.array([float(index)])}, 1)
    return RequestContext(f"r{index}", batch, {"x-user-id": f"user-{index % 50}"})


def build(name: str) -> tuple[Any, dict[tuple[int, str], Runner]]:
    loaded: dict[tuple[int, str], Runner] = {}

    def load(version: int, role: str) -> Runner:
        return loaded.setdefault((version, role), runner(version))

    return build_policy(policy_from_dict(POLICIES[name]), runner(1), load), loaded


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_contract(name: str) -> None:
    policy, loaded = build(name)
    assert policy.strategy == name
    json.dumps(policy.describe())
    routes = {id(route.runner) for route in policy.runners()}
    assert any(version == 2 for version, _ in loaded)  # the candidate is loaded up front
    for index in range(200):
        assignment = policy.assign(request(index))
        assert id(assignment.answer.runner) in routes
        assert assignment.answer.role in ("primary", "canary")
        assert all(mirror.runner is not assignment.answer.runner for mirror in assignment.mirrors)
        assert all(mirror.role in ("shadow", "baseline") for mirror in assignment.mirrors)


def test_shadow_mirrors_a_sample_and_never_answers() -> None:
    policy, _ = build("shadow")
    policy.sample = 0.25
    assignments = [policy.assign(request(i)) for i in range(4000)]
    assert all(a.answer.role == "primary" for a in assignments)
    assert 0.2 < np.mean([bool(a.mirrors) for a in assignments]) < 0.3


def test_canary_is_sticky_and_compares_with_the_primary() -> None:
    policy, _ = build("canary")
    first = {i % 50: policy.assign(request(i)).answer.role for i in range(50)}
    again = {i % 50: policy.assign(request(i + 50)).answer.role for i in range(50)}
    assert first == again and "canary" in first.values() and "primary" in first.values()
    canary = next(policy.assign(request(i)) for i in range(50) if first[i] == "canary")
    assert [m.role for m in canary.mirrors] == ["baseline"]
    assert canary.mirrors[0].runner.version.version == 1


def test_blue_green_keeps_the_other_colour_loaded_but_idle() -> None:
    policy, loaded = build("blue-green")
    assert {r.role for r in policy.runners()} == {"primary", "standby"}
    assert all(policy.assign(request(i)).answer.role == "primary" for i in range(20))
    assert (2, "primary") in loaded  # loaded as a primary: it serves at once on a switch


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown traffic strategy"):
        policy_from_dict({"strategy": "yolo"})
