"""The ``Predictor`` contract and the ``Flavor`` plug-in that builds one from a file."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from modelport.batch import Batch, Prediction
from modelport.schema import InputSchema, OutputSpec


@runtime_checkable
class Predictor(Protocol):
    """Anything that turns a columnar batch into predictions. Must be thread-safe for
    one caller at a time (a runner never calls it concurrently)."""

    output: OutputSpec

    def predict(self, batch: Batch) -> Prediction: ...


@dataclass
class Inspection:
    """What a flavor learns about an artifact at registration."""

    loader: dict[str, Any] = field(default_factory=dict)
    schema: InputSchema | None = None
    output: OutputSpec | None = None


class Flavor(ABC):
    name: str

    @abstractmethod
    def inspect(self, path: Path | None, options: dict[str, Any]) -> Inspection:
        """Load the artifact once at registration: refuse what this flavor cannot read,
        and report what it can tell about inputs and outputs."""

    @abstractmethod
    def load(
        self, path: Path | None, loader: dict[str, Any], schema: InputSchema, output: OutputSpec
    ) -> Predictor:
        """Build a ready predictor from a verified artifact."""
