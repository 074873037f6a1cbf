"""Shadow: the primary answers; a sample of requests is copied to the candidate after
the answer left, so the candidate is judged on live traffic without affecting anyone."""

from __future__ import annotations

import random
from typing import Any

from modelport.serving.policies.base import Assignment, RequestContext, Route
from modelport.serving.runner import Runner
from modelport.vocabulary import Role, Strategy


class Shadow:
    strategy = Strategy.SHADOW

    def __init__(self, primary: Runner, candidate: Runner, sample: float = 1.0) -> None:
        self.primary = Route(primary, Role.PRIMARY)
        self.shadow = Route(candidate, Role.SHADOW)
        self.sample = sample
        self._mirrored = Assignment(self.primary, (self.shadow,))
        self._alone = Assignment(self.primary)

    def assign(self, request: RequestContext) -> Assignment:
        if self.sample >= 1.0 or random.random() < self.sample:
            return self._mirrored
        return self._alone

    def runners(self) -> list[Route]:
        return [self.primary, self.shadow]

    def describe(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "primary": self.primary.runner.version.version,
            "shadow": self.shadow.runner.version.version,
            "sample": self.sample,
        }
