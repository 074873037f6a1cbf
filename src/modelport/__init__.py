"""modelport: serve, deploy safely, log, monitor and retrain machine-learning models."""

from modelport.batch import Batch, Prediction
from modelport.config import Settings
from modelport.errors import ModelportError
from modelport.schema import FeatureSpec, InputSchema, OutputSpec

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "FeatureSpec",
    "InputSchema",
    "ModelportError",
    "OutputSpec",
    "Prediction",
    "Settings",
    "__version__",
]
