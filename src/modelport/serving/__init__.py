"""The data plane: decode -> policy -> runner -> recorder, with no web framework."""

from modelport.serving.dataplane import DataPlane, PredictResult
from modelport.serving.runner import Runner

__all__ = ["DataPlane", "PredictResult", "Runner"]
