"""Page–Hinkley test (Page 1954, *Continuous inspection schemes*, Biometrika 41;
Hinkley 1971, *Inference about the change-point from cumulative sum tests*,
Biometrika 58).

Accumulates the deviations of each value from the running mean minus a tolerance
``delta`` and signals drift when the cumulative sum rises more than ``threshold`` above
its minimum (``mode="up"``), falls below its maximum (``"down"``) or either (``"both"``,
the default).

Values are standardised by the warm-up's mean and standard deviation (:mod:`.base`;
for 0/1 errors the Bernoulli ``sqrt(p(1-p))``), so ``delta`` and ``threshold`` are in
standard deviations and the same errors in any unit give the same alarms. River's
defaults (``delta=0.005``, ``threshold=50`` in the stream's own units, fading
``alpha=0.9999``) alarmed on 96 % of stationary 50,000-point Bernoulli(0.1) streams and
depended on the errors' units. Here: ``delta=0.1`` (half of a 0.2 sd shift, the
smallest a CUSUM tuned this way is quickest at; a doubling of a 10 % error rate is
0.33 sd), no fading (``alpha=1``, Page's test), and ``threshold=65``, chosen by
simulation so that fewer than 5 % of stationary 50,000-point Bernoulli(0.1) streams
alarm (``bench/calibrate_detectors.py``; figures in docs/statistics.md).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> errors = (rng.random(4_000) < np.where(np.arange(4_000) < 2_000, 0.1, 0.5)).astype(float)
>>> fired = PageHinkley().update_many(errors)
>>> 2_000 <= fired[0] < 2_200
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

# River is imported when a detector is first made (the first label of a version):
# importing it costs a process ~1 s and ~30 MB, and a server may never receive labels.
from modelport.monitoring.concept.base import RiverDriftDetector

DEFAULTS: dict[str, Any] = {"delta": 0.1, "threshold": 65.0, "alpha": 1.0}


class PageHinkley(RiverDriftDetector):
    """``warm_up`` as in :mod:`.base`; other parameters as ``river.drift.PageHinkley``,
    with the defaults above (in standard deviations of the warm-up)."""

    name = "page_hinkley"

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**DEFAULTS, **params})

    def _make(self) -> Any:
        from river import drift

        return drift.PageHinkley(**self.params)

    def _fit_scale(self, values: list[float]) -> tuple[float, float]:
        array = np.asarray(values, dtype=np.float64)
        return float(array.mean()), float(array.std())
