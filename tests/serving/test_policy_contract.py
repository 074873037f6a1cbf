"""Contract of every traffic policy, through the real data plane.

Each policy spec is stored with the endpoint as a rollout would store it; the data plane
built by ``Services.build`` reads it, loads the models it names and routes real requests.
Versions (see tests/rollout/conftest.py): 1 and 2 are the churn model, 3 raises on every
live call, 6 always answers 1, 7 is a churn model trained on another seed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.batch import Batch
from modelport.config import Settings
from modelport.server import Services
from modelport.serving.policies import (
    BlueGreenSpec,
    CanarySpec,
    PolicySpec,
    PrimarySpec,
    ShadowSpec,
)
from modelport.vocabulary import PredictionEvent, Role
from rollout.conftest import rollout_project, rollout_template  # noqa: F401  (fixtures)
from support import churn_instance

ALWAYS_FAILS, ALWAYS_ONE = 3, 6
# The primary (version 1) answers 0 for every row of TRAFFIC; ALWAYS_ONE answers 1, so
# an answer says which model gave it.
TRAFFIC = pd.DataFrame(
    [churn_instance(tenure=1 + i % 70, charges=20.0 + (i % 90)) for i in range(400)]
)

SPECS: dict[str, PolicySpec] = {
    "primary": PrimarySpec(),
    "shadow": ShadowSpec(candidate=ALWAYS_ONE),
    "shadow-failing": ShadowSpec(candidate=ALWAYS_FAILS),
    "canary": CanarySpec(candidate=ALWAYS_ONE, weight=30, salt="contract"),
    "canary-sticky": CanarySpec(
        candidate=ALWAYS_ONE, weight=30, salt="contract", sticky_key="header:x-user-id"
    ),
    "blue-green": BlueGreenSpec(blue=ALWAYS_ONE, green=1),
}


class Plane:
    """The data plane of a project, started, driven from this thread."""

    def __init__(self, project: Path) -> None:
        self.services = Services.build(Settings.load(project / "modelport.toml"))
        self.loop = asyncio.new_event_loop()
        self._running = self.services.running()
        self.loop.run_until_complete(self._running.__aenter__())

    def route(self, spec: PolicySpec) -> None:
        self.services.endpoints.update("churn", policy=spec.to_dict(), action="test")
        self.loop.run_until_complete(self.services.plane.refresh(only="churn"))

    def ask(self, index: int, headers: dict[str, str] | None = None) -> PredictionEvent:
        schema = self.services.plane.schema_of("churn")
        batch = Batch.from_frame(TRAFFIC.iloc[[index % len(TRAFFIC)]], schema)
        return self.loop.run_until_complete(
            self.services.plane.predict(
                "churn",
                batch,
                request_id=f"contract-{index}",
                started=time.perf_counter(),
                headers=headers,
            )
        )

    def settle(self) -> None:
        """Let background copies finish."""
        self.loop.run_until_complete(asyncio.sleep(0.2))

    def close(self) -> None:
        self.loop.run_until_complete(self._running.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def plane(rollout_project: Path) -> Iterator[Plane]:  # noqa: F811
    running = Plane(rollout_project)
    try:
        yield running
    finally:
        running.close()


def answers(plane: Plane, n: int, headers: Callable[[int], dict[str, str]] | None = None) -> Any:
    return [plane.ask(i, headers(i) if headers else None) for i in range(n)]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_primary_answer_is_the_primarys_own(plane: Plane, name: str) -> None:
    plane.route(SPECS[name])
    status = plane.services.plane.status("churn")
    assert status.ready and status.routing_error is None
    events = answers(plane, 60, lambda i: {"x-user-id": f"user-{i}"})
    by_primary = [e for e in events if e.role == Role.PRIMARY]
    assert by_primary, "the primary answered nobody"
    assert all(e.version.version == 1 for e in by_primary)
    assert all(int(e.prediction.outputs[0]) == 0 for e in by_primary)
    others = [e for e in events if e.role != Role.PRIMARY]
    # Only a canary answers anyone else, and then with the candidate's own answer.
    assert all(e.role == Role.CANARY and int(e.prediction.outputs[0]) == 1 for e in others)
    assert bool(others) == isinstance(SPECS[name], CanarySpec)


@pytest.mark.parametrize("name", ["canary", "canary-sticky"])
def test_a_canarys_share_is_within_binomial_tolerance_of_its_weight(
    plane: Plane, name: str
) -> None:
    spec = SPECS[name]
    assert isinstance(spec, CanarySpec)
    plane.route(spec)
    n = 1500
    events = answers(plane, n, lambda i: {"x-user-id": f"user-{i}"})
    share = np.mean([e.role == Role.CANARY for e in events])
    p = spec.weight / 100
    tolerance = 4 * math.sqrt(p * (1 - p) / n)  # four standard errors: ~1 in 16 000 fails
    assert abs(share - p) < tolerance, f"canary share {share:.3f}, weight {p}"


def test_a_caller_stays_on_the_canary_when_its_weight_rises(plane: Plane) -> None:
    users = [f"user-{i}" for i in range(300)]

    def on_canary(weight: float) -> set[str]:
        plane.route(
            CanarySpec(
                candidate=ALWAYS_ONE, weight=weight, salt="rise", sticky_key="header:x-user-id"
            )
        )
        return {
            user
            for index, user in enumerate(users)
            if plane.ask(index, {"x-user-id": user}).role == Role.CANARY
        }

    previous: set[str] = set()
    for weight in (10, 25, 50, 90):
        current = on_canary(weight)
        assert previous <= current, f"{len(previous - current)} callers left at {weight}%"
        assert len(current) > len(previous)
        previous = current


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_failing_mirror_never_changes_an_answer(plane: Plane, name: str) -> None:
    plane.route(PrimarySpec())
    alone = [e.prediction.outputs.tolist() for e in answers(plane, 40)]
    plane.route(SPECS[name])
    mirrored = answers(plane, 40)
    plane.settle()
    assert [e.prediction.outputs.tolist() for e in mirrored if e.role == Role.PRIMARY] == [
        answer for answer, e in zip(alone, mirrored, strict=True) if e.role == Role.PRIMARY
    ]
    if name == "shadow-failing":
        failed = plane.services.telemetry.registry.get_sample_value(
            "modelport_errors_total",
            {"endpoint": "churn", "version": "3", "role": "shadow", "code": "prediction_failed"},
        )
        assert failed, "the failing shadow was never asked"
