"""What a traffic policy is: per request, which runner answers and which get a copy.

A policy is a small object over loaded runners; the data plane asks it for an
``Assignment`` per request and acts on it in one place (answer, then mirrors in the
background). Policies never await, log or record anything themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelport.batch import Batch
from modelport.serving.runner import Runner
from modelport.vocabulary import Role, Strategy


@dataclass(frozen=True, slots=True)
class Route:
    runner: Runner
    role: Role


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
    strategy: Strategy

    def assign(self, request: RequestContext) -> Assignment: ...

    def runners(self) -> list[Route]: ...

    def describe(self) -> dict[str, Any]: ...


# (version, role) -> a loaded runner for that version, used in that role
RunnerLoader = Callable[[int, Role], Runner]
