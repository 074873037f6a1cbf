"""Canary: a sticky share of callers is answered by the candidate.

For each canary request the primary is also asked in the background (role
``baseline``), so the two can be compared on the very same requests; that copy runs
after the canary answered and is dropped first when the background queue is full.
"""

from __future__ import annotations

from typing import Any

from modelport.serving.policies.base import Assignment, RequestContext, Route
from modelport.serving.policies.hashing import StickyKey, in_canary
from modelport.serving.runner import Runner
from modelport.vocabulary import Role, Strategy


class Canary:
    strategy = Strategy.CANARY

    def __init__(
        self,
        primary: Runner,
        candidate: Runner,
        weight: float,
        *,
        salt: str,
        sticky_key: StickyKey | None = None,
    ) -> None:
        self.primary = Route(primary, Role.PRIMARY)
        self.canary = Route(candidate, Role.CANARY)
        self.weight = weight
        self.salt = salt
        self.sticky_key = sticky_key
        self._to_primary = Assignment(self.primary)
        self._to_canary = Assignment(self.canary, (Route(primary, Role.BASELINE),))

    def assign(self, request: RequestContext) -> Assignment:
        key = None
        if self.sticky_key is not None:
            key = self.sticky_key.extract(request.headers, request.batch)
        if in_canary(self.salt, key, self.weight):
            return self._to_canary
        return self._to_primary

    def runners(self) -> list[Route]:
        return [self.primary, self.canary]

    def describe(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "primary": self.primary.runner.version.version,
            "canary": self.canary.runner.version.version,
            "weight": self.weight,
            "sticky_key": str(self.sticky_key) if self.sticky_key else None,
        }
