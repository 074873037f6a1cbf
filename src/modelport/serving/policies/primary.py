"""The default policy: the primary answers every request."""

from __future__ import annotations

from typing import Any

from modelport.serving.policies.base import Assignment, RequestContext, Route
from modelport.serving.runner import Runner
from modelport.vocabulary import Role, Strategy


class PrimaryOnly:
    strategy = Strategy.PRIMARY

    def __init__(self, primary: Runner) -> None:
        self._route = Route(primary, Role.PRIMARY)
        self._assignment = Assignment(self._route)

    def assign(self, request: RequestContext) -> Assignment:
        return self._assignment

    def runners(self) -> list[Route]:
        return [self._route]

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "primary": self._route.runner.version.version}
