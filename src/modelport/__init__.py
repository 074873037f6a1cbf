"""modelport: serve, deploy safely, log, monitor and retrain machine-learning models.

The public names load on first use (PEP 562), so ``import modelport`` — and with it every
``modelport`` command — does not pay for numpy, pandas and pydantic until it needs them.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from modelport.batch import Batch, Prediction
    from modelport.config import Settings
    from modelport.errors import ModelportError
    from modelport.schema import FeatureSpec, InputSchema, OutputSpec

__version__ = "0.1.0"

_HOMES = {
    "Batch": "modelport.batch",
    "Prediction": "modelport.batch",
    "Settings": "modelport.config",
    "ModelportError": "modelport.errors",
    "FeatureSpec": "modelport.schema",
    "InputSchema": "modelport.schema",
    "OutputSpec": "modelport.schema",
}

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


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'modelport' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
