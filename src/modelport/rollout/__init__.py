"""Safe deployment: shadow, canary with automated analysis, blue-green.

Importing this package registers the rollout traffic policies with the data plane.
"""

from modelport.rollout import policies as _policies  # noqa: F401  (registers builders)
from modelport.rollout.controller import Controller
from modelport.rollout.service import RolloutService
from modelport.rollout.spec import RolloutSpec, build_spec
from modelport.rollout.state import Rollout, RolloutStore

__all__ = ["Controller", "Rollout", "RolloutService", "RolloutSpec", "RolloutStore", "build_spec"]
