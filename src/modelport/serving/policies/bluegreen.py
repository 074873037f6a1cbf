"""Blue-green: the endpoint's primary (one colour) answers; the other colour stays
loaded and idle, so switching back is a policy change, not a model load."""

from __future__ import annotations

from typing import Any

from modelport.serving.policies.base import Assignment, RequestContext, Route
from modelport.serving.runner import Runner
from modelport.vocabulary import Role, Strategy


class BlueGreen:
    strategy = Strategy.BLUE_GREEN

    def __init__(self, live: Runner, standby: Runner) -> None:
        self.live = Route(live, Role.PRIMARY)
        self.standby = Route(standby, Role.STANDBY)
        self._assignment = Assignment(self.live)

    def assign(self, request: RequestContext) -> Assignment:
        return self._assignment

    def runners(self) -> list[Route]:
        return [self.live, self.standby]

    def describe(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "live": self.live.runner.version.version,
            "standby": self.standby.runner.version.version,
        }
