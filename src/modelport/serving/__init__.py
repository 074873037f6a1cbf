"""The data plane: runners over loaded models, traffic policies, the request path."""

from modelport.serving.dataplane import DataPlane, EndpointStatus
from modelport.serving.runner import Runner

__all__ = ["DataPlane", "EndpointStatus", "Runner"]
