"""ADWIN: adaptive windowing (Bifet & Gavaldà 2007, *Learning from time-changing data
with adaptive windowing*, SDM).

Keeps a window of recent values and drops its older part whenever two sub-windows have
means that differ by more than a Hoeffding/Bernstein-style bound at confidence
``delta``. The bound holds for values in [0, 1], so values are mapped there by the
warm-up's range (minimum → 0, maximum → 1) and clipped: a 0/1 error stream is left as it
is, and a real-valued one gives the same alarms in any unit (see :mod:`.base`).

ADWIN is the default detector (first in ``monitoring.detectors``, so shown first): with
River's ``delta=0.002`` it raised no alarm on 200 stationary 50,000-point Bernoulli(0.1)
streams and caught a step 0.1 → 0.2 with a median delay of 279 values and a 90th
percentile of 471 (``bench/calibrate_detectors.py``, figures in docs/statistics.md).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> errors = (rng.random(4_000) < np.where(np.arange(4_000) < 2_000, 0.1, 0.5)).astype(float)
>>> fired = ADWIN().update_many(errors)
>>> 2_000 <= fired[0] < 2_200
True
"""

from __future__ import annotations

from typing import Any

# River is imported when a detector is first made (the first label of a version):
# importing it costs a process ~1 s and ~30 MB, and a server may never receive labels.
from modelport.monitoring.concept.base import RiverDriftDetector


class ADWIN(RiverDriftDetector):
    """``warm_up`` as in :mod:`.base`; other parameters as ``river.drift.ADWIN``
    (``delta=0.002``, ``clock=32``, ...)."""

    name = "adwin"

    def _make(self) -> Any:
        from river import drift

        return drift.ADWIN(**self.params)  # type: ignore[no-untyped-call]  # River leaves it untyped

    def _fit_scale(self, values: list[float]) -> tuple[float, float]:
        low, high = min(values), max(values)
        return low, high - low

    def _map(self, x: float) -> float:
        return min(1.0, max(0.0, (x - self._shift) / self._divisor))

    @property
    def width(self) -> int:
        """Current window length."""
        return int(self._detector.width)
