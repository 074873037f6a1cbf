"""Typed traffic-policy specs: what an endpoint's policy says, as the data plane reads it.

The control plane stores a policy as JSON with its endpoint (``endpoints.policy``); these
specs are its typed form, and :func:`policy_from_dict` / ``to_dict`` are the only places
that JSON is read or written, so the stored form never changes by accident::

    primary     {}
    shadow      {"strategy": "shadow", "candidate": 2, "sample": 1.0, "rollout": 7}
    canary      {"strategy": "canary", "candidate": 2, "weight": 25, "salt": "9f..",
                 "sticky_key": "header:x-user-id", "rollout": 7}
    blue-green  {"strategy": "blue-green", "blue": 1, "green": 2, "rollout": 7}

``rollout`` names the rollout that set the policy, so a server that cannot serve it
knows which rollout to stop.

>>> spec = policy_from_dict({"strategy": "canary", "candidate": 2, "weight": 25, "salt": "s"})
>>> spec.weight, spec.to_dict()["strategy"], policy_from_dict(spec.to_dict()) == spec
(25.0, 'canary', True)
>>> policy_from_dict({"strategy": "mirror"})
Traceback (most recent call last):
...
ValueError: unknown traffic strategy 'mirror'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from modelport.vocabulary import Strategy


@dataclass(frozen=True)
class PrimarySpec:
    """The primary answers every request."""

    strategy: ClassVar[Strategy] = Strategy.PRIMARY
    rollout: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ShadowSpec:
    """The primary answers; a ``sample`` share is copied to ``candidate`` afterwards."""

    candidate: int
    sample: float = 1.0
    rollout: int | None = None
    strategy: ClassVar[Strategy] = Strategy.SHADOW

    def to_dict(self) -> dict[str, Any]:
        body = {"strategy": str(self.strategy), "candidate": self.candidate, "sample": self.sample}
        return _with_rollout(body, self.rollout)


@dataclass(frozen=True)
class CanarySpec:
    """A sticky ``weight`` percent of callers are answered by ``candidate``."""

    candidate: int
    weight: float
    salt: str
    sticky_key: str | None = None
    rollout: int | None = None
    strategy: ClassVar[Strategy] = Strategy.CANARY

    def to_dict(self) -> dict[str, Any]:
        body = {
            "strategy": str(self.strategy),
            "candidate": self.candidate,
            "weight": self.weight,
            "salt": self.salt,
            "sticky_key": self.sticky_key,
        }
        return _with_rollout(body, self.rollout)


@dataclass(frozen=True)
class BlueGreenSpec:
    """The endpoint's primary (one colour) answers; the other stays loaded, idle."""

    blue: int
    green: int
    rollout: int | None = None
    strategy: ClassVar[Strategy] = Strategy.BLUE_GREEN

    def to_dict(self) -> dict[str, Any]:
        body = {"strategy": str(self.strategy), "blue": self.blue, "green": self.green}
        return _with_rollout(body, self.rollout)


PolicySpec = PrimarySpec | ShadowSpec | CanarySpec | BlueGreenSpec


def with_rollout(spec: PolicySpec, rollout: int) -> PolicySpec:
    return dataclasses.replace(spec, rollout=rollout)


def _with_rollout(body: dict[str, Any], rollout: int | None) -> dict[str, Any]:
    if rollout is not None:
        body["rollout"] = rollout
    return body


def policy_from_dict(data: Mapping[str, Any] | None) -> PolicySpec:
    """The typed spec of a stored policy; ValueError names what is wrong with it."""
    data = data or {}
    strategy = data.get("strategy")
    rollout = _optional_int(data, "rollout")
    if not strategy or strategy == Strategy.PRIMARY:
        return PrimarySpec(rollout)
    if strategy == Strategy.SHADOW:
        return ShadowSpec(_version(data, "candidate"), _number(data, "sample", 1.0), rollout)
    if strategy == Strategy.CANARY:
        sticky = data.get("sticky_key")
        return CanarySpec(
            _version(data, "candidate"),
            _number(data, "weight", 0.0),
            str(data.get("salt", "")),
            str(sticky) if sticky else None,
            rollout,
        )
    if strategy == Strategy.BLUE_GREEN:
        return BlueGreenSpec(_version(data, "blue"), _version(data, "green"), rollout)
    raise ValueError(f"unknown traffic strategy {strategy!r}")


def _version(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"policy field {key!r} must be a version number, got {value!r}")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _version(data, key)


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"policy field {key!r} must be a number, got {value!r}")
    return float(value)
