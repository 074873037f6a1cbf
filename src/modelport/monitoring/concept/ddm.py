"""DDM: drift detection method (Gama, Medas, Castillo & Rodrigues 2004, *Learning with
drift detection*, SBIA).

For a stream of 0/1 errors it tracks the error rate ``p`` and its standard deviation
``s = sqrt(p(1-p)/n)``, remembers the minimum of ``p + s``, and signals drift when
``p + s >= p_min + drift_threshold * s_min`` (a warning at ``warning_threshold``). The
Bernoulli variance makes it unit-free already: it is not rescaled (:mod:`.base`).

Defaults differ from the paper's (``warm_start=30``, ``drift_threshold=3``): with those
DDM alarmed on about 45 % of stationary 50,000-point Bernoulli(0.1) streams, because
``p_min`` is taken at a lucky low early on. ``warm_start=1000`` (the same warm-up as the
other detectors) and ``drift_threshold=3.75`` were chosen by simulation so that fewer
than 5 % of such streams alarm (``bench/calibrate_detectors.py``; figures in
docs/statistics.md). DDM compares the error rate *since its last reset* with its best,
so a change late in a long stream moves it slowly: it is the slowest of the three on a
doubling of the error rate. Pass the paper's values to get the paper's behaviour.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> errors = (rng.random(4_000) < np.where(np.arange(4_000) < 2_000, 0.1, 0.5)).astype(float)
>>> fired = DDM().update_many(errors)
>>> 2_000 <= fired[0] < 2_200
True
"""

from __future__ import annotations

from typing import Any

# River is imported when a detector is first made (the first label of a version):
# importing it costs a process ~1 s and ~30 MB, and a server may never receive labels.
from modelport.monitoring.concept.base import RiverDriftDetector

DEFAULTS: dict[str, Any] = {"warm_start": 1_000, "drift_threshold": 3.75}


class DDM(RiverDriftDetector):
    """Parameters as ``river.drift.binary.DDM``; see the module docstring for defaults."""

    name = "ddm"
    scaled = False

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**DEFAULTS, **params})

    def _make(self) -> Any:
        from river.drift import binary

        return binary.DDM(**self.params)

    def _feed(self, x: float) -> bool:
        # River's DDM takes booleans: an error is any non-zero value.
        self._detector.update(bool(x))
        return bool(self._detector.drift_detected)

    @property
    def warming_up(self) -> bool:
        """Whether it is still within ``warm_start`` (it cannot fire yet)."""
        return self.n_ < self.needs

    @property
    def needs(self) -> int:
        return int(self.params["warm_start"]) + 1

    @property
    def warning_detected(self) -> bool:
        return bool(self._detector.warning_detected)
