"""Model flavors by name: how each kind of artifact becomes a ``Predictor``."""

from __future__ import annotations

from modelport.errors import ArtifactError
from modelport.registry.flavors.base import Flavor, Inspection, Predictor
from modelport.registry.flavors.onnx import OnnxFlavor
from modelport.registry.flavors.python import PythonFlavor
from modelport.registry.flavors.sklearn import SklearnFlavor

FLAVORS: dict[str, Flavor] = {f.name: f for f in (SklearnFlavor(), OnnxFlavor(), PythonFlavor())}


def get_flavor(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise ArtifactError(
            f"unknown flavor {name!r}; choose one of {', '.join(sorted(FLAVORS))}",
            field="flavor",
        ) from None


__all__ = ["FLAVORS", "Flavor", "Inspection", "Predictor", "get_flavor"]
