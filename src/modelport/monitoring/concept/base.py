"""Concept-drift detectors on a stream of numbers (errors, losses, scores).

River-style: ``update(x)`` one value at a time, then read ``drift_detected``. Each
detector here also remembers ``drift_indices_``, the 0-based positions of the updates at
which it fired, so a monitor can say *when* the model's error rate changed.

The algorithms come from River (BSD-3-Clause), wrapped rather than rewritten: ADWIN's
exponential-histogram bookkeeping is easy to get subtly wrong and River's versions are
maintained and tested against the papers. The wrapper adds the shared contract, the
indices and a name for configuration. River must be a declared dependency.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ConceptDriftDetector(Protocol):
    """What every detector offers."""

    drift_indices_: list[int]
    n_: int

    def update(self, x: float) -> None: ...

    @property
    def drift_detected(self) -> bool: ...

    def reset(self) -> None: ...


class RiverDriftDetector:
    """Shared wrapper around a River drift detector; subclasses say which one."""

    name: str = ""

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.reset()

    def _make(self) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the stream seen so far."""
        self._detector = self._make()
        self.n_ = 0
        self.drift_indices_: list[int] = []

    def update(self, x: float) -> None:
        self._detector.update(x)
        if self._detector.drift_detected:
            self.drift_indices_.append(self.n_)
        self.n_ += 1

    def update_many(self, values: Iterable[float]) -> list[int]:
        """Feed values in order; return the indices at which drift fired among them."""
        before = len(self.drift_indices_)
        for value in values:
            self.update(float(value))
        return self.drift_indices_[before:]

    @property
    def drift_detected(self) -> bool:
        """Whether the last update signalled drift."""
        return bool(self._detector.drift_detected)
