"""Traffic policies: which runner answers a request and which get a background copy.

A policy is a small object over runners; the data plane asks it for an ``Assignment``
per request. ``PrimaryOnly`` is the default; rollout strategies (shadow, canary,
blue-green) provide their own policies through ``POLICY_BUILDERS``, keyed by the
``policy["strategy"]`` stored with the endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelport.batch import Batch
from modelport.serving.runner import Runner


@dataclass(frozen=True, slots=True)
class Route:
    runner: Runner
    role: str


@dataclass(frozen=True, slots=True)
class Assignment:
    answer: Route
    # Run after the answer is on its way; their outcome never reaches the caller.
    mirrors: tuple[Route, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    batch: Batch
    headers: Mapping[str, str] = field(default_factory=dict)


class TrafficPolicy(Protocol):
    strategy: str

    def assign(self, request: RequestContext) -> Assignment: ...

    def runners(self) -> list[Route]: ...

    def describe(self) -> dict[str, Any]: ...


class PrimaryOnly:
    strategy = "primary"

    def __init__(self, primary: Runner) -> None:
        self._route = Route(primary, "primary")
        self._assignment = Assignment(self._route)

    def assign(self, request: RequestContext) -> Assignment:
        return self._assignment

    def runners(self) -> list[Route]:
        return [self._route]

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "primary": self._route.runner.version.version}


# (policy dict, primary runner, loader of a runner for another version) -> policy
RunnerLoader = Callable[[int, str], Runner]
PolicyBuilder = Callable[[dict[str, Any], Runner, RunnerLoader], TrafficPolicy]

POLICY_BUILDERS: dict[str, PolicyBuilder] = {}


def build_policy(policy: dict[str, Any], primary: Runner, load: RunnerLoader) -> TrafficPolicy:
    strategy = policy.get("strategy")
    if not strategy or strategy == "primary":
        return PrimaryOnly(primary)
    builder = POLICY_BUILDERS.get(str(strategy))
    if builder is None:
        raise ValueError(f"unknown traffic strategy {strategy!r}")
    return builder(policy, primary, load)
