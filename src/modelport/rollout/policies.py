"""Traffic policies of the rollout strategies, built from the endpoint's ``policy`` JSON.

    shadow      {"strategy": "shadow", "rollout": 7, "candidate": 2, "sample": 1.0}
    canary      {"strategy": "canary", "rollout": 7, "candidate": 2, "weight": 25,
                 "sticky_key": "header:x-user-id", "salt": "rollout-7"}
    blue-green  {"strategy": "blue-green", "rollout": 7, "blue": 1, "green": 2}

Shadow copies (a sample of) primary requests to the candidate in the background. Canary
answers a sticky share with the candidate and, in the background, also asks the primary
(role ``baseline``) so the two can be compared on the very same requests. Blue-green
answers with the endpoint's primary and keeps the other colour loaded, idle, so that
switching back is a policy change, not a model load.
"""

from __future__ import annotations

import random
from typing import Any

from modelport.rollout.hashing import StickyKey, in_canary
from modelport.serving.policy import (
    POLICY_BUILDERS,
    Assignment,
    RequestContext,
    Route,
    RunnerLoader,
    TrafficPolicy,
)
from modelport.serving.runner import Runner


class Shadow:
    strategy = "shadow"

    def __init__(self, primary: Runner, candidate: Runner, sample: float = 1.0) -> None:
        self.primary = Route(primary, "primary")
        self.shadow = Route(candidate, "shadow")
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


class Canary:
    strategy = "canary"

    def __init__(
        self,
        primary: Runner,
        candidate: Runner,
        weight: float,
        *,
        salt: str,
        sticky_key: StickyKey | None = None,
    ) -> None:
        self.primary = Route(primary, "primary")
        self.canary = Route(candidate, "canary")
        self.weight = weight
        self.salt = salt
        self.sticky_key = sticky_key
        self._to_primary = Assignment(self.primary)
        # The primary's answer for the same request, to measure agreement; it runs after
        # the canary answered and is dropped first when the background queue is full.
        self._to_canary = Assignment(self.canary, (Route(primary, "baseline"),))

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


class BlueGreen:
    strategy = "blue-green"

    def __init__(self, live: Runner, standby: Runner) -> None:
        self.live = Route(live, "primary")
        self.standby = Route(standby, "standby")
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


def _int(policy: dict[str, Any], key: str) -> int:
    value = policy.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"policy field {key!r} must be a version number, got {value!r}")
    return value


def build_shadow(policy: dict[str, Any], primary: Runner, load: RunnerLoader) -> TrafficPolicy:
    candidate = load(_int(policy, "candidate"), "shadow")
    return Shadow(primary, candidate, float(policy.get("sample", 1.0)))


def build_canary(policy: dict[str, Any], primary: Runner, load: RunnerLoader) -> TrafficPolicy:
    candidate = load(_int(policy, "candidate"), "canary")
    sticky = policy.get("sticky_key")
    return Canary(
        primary,
        candidate,
        float(policy.get("weight", 0.0)),
        salt=str(policy.get("salt", "")),
        sticky_key=StickyKey.parse(sticky) if sticky else None,
    )


def build_blue_green(policy: dict[str, Any], primary: Runner, load: RunnerLoader) -> TrafficPolicy:
    live = primary.version.version
    other = _int(policy, "blue") if live == _int(policy, "green") else _int(policy, "green")
    # Loaded as "primary" too: the same runner then serves at once when the colours swap.
    return BlueGreen(primary, load(other, "primary"))


POLICY_BUILDERS["shadow"] = build_shadow
POLICY_BUILDERS["canary"] = build_canary
POLICY_BUILDERS["blue-green"] = build_blue_green


# -- the policy JSON each rollout phase writes to its endpoint ---------------------------
def shadow_policy(candidate: int, sample: float) -> dict[str, Any]:
    return {"strategy": "shadow", "candidate": candidate, "sample": sample}


def canary_policy(
    candidate: int, weight: float, salt: str, sticky_key: str | None
) -> dict[str, Any]:
    return {
        "strategy": "canary",
        "candidate": candidate,
        "weight": weight,
        "salt": salt,
        "sticky_key": sticky_key,
    }


def blue_green_policy(blue: int, green: int) -> dict[str, Any]:
    return {"strategy": "blue-green", "blue": blue, "green": green}
