"""Concept-drift detectors on a stream of numbers (errors, losses, scores).

River-style: ``update(x)`` one value at a time, then read ``drift_detected``. Each
detector here also remembers ``drift_indices_``, the 0-based positions of the updates at
which it fired, so a monitor can say *when* the model's error rate changed.

The algorithms come from River (BSD-3-Clause), wrapped rather than rewritten: ADWIN's
exponential-histogram bookkeeping is easy to get subtly wrong and River's versions are
maintained and tested against the papers. The wrapper adds the shared contract, the
indices, a name for configuration and **scale invariance**:

* A detector that is ``scaled`` first holds a warm-up of ``warm_up`` values (1,000 by
  default; longer while every value is the same, since a constant stream has no scale).
  From the warm-up it fixes an affine map (:meth:`RiverDriftDetector._fit_scale`) and
  from then on River sees only mapped values: the same errors in other units (seconds or
  milliseconds, σ = 0.01 or σ = 1,000) give the same alarms. When the warm-up ends its
  values are replayed through the detector, so a change right after it is seen against
  the warm-up; an alarm during that replay is raised on the update that ended the
  warm-up, since that is when it could first be known.
* Page–Hinkley standardises, ``(x - mean) / sd`` of the warm-up (for a 0/1 error stream
  the sd is the Bernoulli one, ``sqrt(p(1-p))``); ADWIN maps the warm-up's range to
  [0, 1] and clips, which leaves a 0/1 stream as it is and keeps ADWIN's bound (for
  values in [0, 1]) valid; DDM works on 0/1 errors and their Bernoulli variance already,
  so it is not scaled.

The false-alarm rates and detection delays these defaults give are measured by
``bench/calibrate_detectors.py`` and stated in docs/statistics.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

WARM_UP = 1_000


@runtime_checkable
class ConceptDriftDetector(Protocol):
    """What every detector offers."""

    drift_indices_: list[int]
    n_: int

    def update(self, x: float) -> None: ...

    @property
    def drift_detected(self) -> bool: ...

    def reset(self) -> None: ...


class RiverDriftDetector(ABC):
    """Shared wrapper around a River drift detector; subclasses say which one and how
    the warm-up maps values (``_fit_scale``, ``_map``)."""

    name: str = ""
    scaled: bool = True

    def __init__(self, warm_up: int = WARM_UP, **params: Any) -> None:
        if warm_up < 2:
            raise ValueError(f"warm_up must be at least 2 values, got {warm_up}")
        self.warm_up = warm_up
        self.params = params
        self.reset()

    @abstractmethod
    def _make(self) -> Any:
        """A fresh River detector with this detector's parameters."""

    def _fit_scale(self, values: list[float]) -> tuple[float, float]:
        """``(shift, divisor)`` from the warm-up (which holds two distinct values); by
        default values pass unchanged (a detector that overrides ``_feed``, as DDM does,
        never asks)."""
        return 0.0, 1.0

    def _map(self, x: float) -> float:
        return (x - self._shift) / self._divisor

    def reset(self) -> None:
        """Forget the stream seen so far (the warm-up too)."""
        self._detector = self._make()
        self.n_ = 0
        self.drift_indices_: list[int] = []
        self._fired = False
        self._warm: deque[float] | None = deque(maxlen=self.warm_up) if self.scaled else None
        self._varied = False
        self._shift = 0.0
        self._divisor = 1.0

    @property
    def warming_up(self) -> bool:
        """Whether the detector is still collecting its warm-up (it cannot fire yet)."""
        return self._warm is not None

    @property
    def needs(self) -> int:
        """Values it needs before it can fire (more while the stream stays constant)."""
        return self.warm_up

    def update(self, x: float) -> None:
        self._fired = self._warm_or_feed(float(x))
        if self._fired:
            self.drift_indices_.append(self.n_)
        self.n_ += 1

    def _warm_or_feed(self, x: float) -> bool:
        warm = self._warm
        if warm is None:
            return self._feed(x)
        self._varied = self._varied or (bool(warm) and x != warm[0])
        warm.append(x)
        if len(warm) < self.warm_up or not self._varied:
            return False
        values = list(warm)
        self._shift, self._divisor = self._fit_scale(values)
        self._warm = None
        fired = [self._feed(value) for value in values]  # every value, not up to the first
        return any(fired)

    def _feed(self, x: float) -> bool:
        self._detector.update(self._map(x))
        return bool(self._detector.drift_detected)

    def update_many(self, values: Iterable[float]) -> list[int]:
        """Feed values in order; return the indices at which drift fired among them."""
        before = len(self.drift_indices_)
        for value in values:
            self.update(float(value))
        return self.drift_indices_[before:]

    @property
    def drift_detected(self) -> bool:
        """Whether the last update signalled drift."""
        return self._fired
