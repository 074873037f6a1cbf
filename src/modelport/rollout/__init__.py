"""Safe deployment: shadow, canary with automated analysis, blue-green.

The rollout plane decides *which* traffic policy an endpoint has and when it changes;
how each policy routes a request is the data plane's (:mod:`modelport.serving.policies`).
"""

from modelport.rollout.controller import Controller
from modelport.rollout.service import RolloutService
from modelport.rollout.spec import RolloutSpec, build_spec
from modelport.rollout.state import Rollout, RolloutStore

__all__ = ["Controller", "Rollout", "RolloutService", "RolloutSpec", "RolloutStore", "build_spec"]
