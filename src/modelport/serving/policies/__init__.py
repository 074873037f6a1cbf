"""Traffic policies of the data plane: primary only, shadow, canary, blue-green.

The rollout plane decides *which* policy an endpoint has (a :mod:`.specs` spec stored
with the endpoint); this package knows *how* each one routes. :func:`build_policy` turns
a spec into a policy over loaded runners; nothing is registered by importing anything.
"""

from __future__ import annotations

from modelport.serving.policies.base import (
    Assignment,
    RequestContext,
    Route,
    RunnerLoader,
    TrafficPolicy,
)
from modelport.serving.policies.bluegreen import BlueGreen
from modelport.serving.policies.canary import Canary
from modelport.serving.policies.hashing import StickyKey
from modelport.serving.policies.primary import PrimaryOnly
from modelport.serving.policies.shadow import Shadow
from modelport.serving.policies.specs import (
    BlueGreenSpec,
    CanarySpec,
    PolicySpec,
    PrimarySpec,
    ShadowSpec,
    policy_from_dict,
)
from modelport.serving.runner import Runner
from modelport.vocabulary import Role


def build_policy(spec: PolicySpec, primary: Runner, load: RunnerLoader) -> TrafficPolicy:
    """The policy ``spec`` describes, over ``primary`` and runners ``load`` provides."""
    match spec:
        case PrimarySpec():
            return PrimaryOnly(primary)
        case ShadowSpec():
            return Shadow(primary, load(spec.candidate, Role.SHADOW), spec.sample)
        case CanarySpec():
            sticky = StickyKey.parse(spec.sticky_key) if spec.sticky_key else None
            return Canary(
                primary,
                load(spec.candidate, Role.CANARY),
                spec.weight,
                salt=spec.salt,
                sticky_key=sticky,
            )
        case BlueGreenSpec():
            live = primary.version.version
            other = spec.blue if live == spec.green else spec.green
            # Loaded as a primary: the same runner then serves at once when colours swap.
            return BlueGreen(primary, load(other, Role.PRIMARY))


__all__ = [
    "Assignment",
    "BlueGreen",
    "BlueGreenSpec",
    "Canary",
    "CanarySpec",
    "PolicySpec",
    "PrimaryOnly",
    "PrimarySpec",
    "RequestContext",
    "Route",
    "RunnerLoader",
    "Shadow",
    "ShadowSpec",
    "StickyKey",
    "TrafficPolicy",
    "build_policy",
    "policy_from_dict",
]
