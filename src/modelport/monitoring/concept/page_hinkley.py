"""Page–Hinkley test (Page 1954, *Continuous inspection schemes*, Biometrika 41).

Accumulates the deviations of each value from the running mean (minus a tolerance
``delta``) and signals drift when the cumulative sum rises more than ``threshold``
above its minimum (``mode="up"``), falls below its maximum (``"down"``) or either
(``"both"``, the default).

>>> detector = PageHinkley()
>>> fired = detector.update_many([0.0] * 1_000 + [1.0] * 1_000)
>>> 1_000 <= fired[0] < 1_100
True
"""

from __future__ import annotations

from typing import Any

from river import drift

from modelport.monitoring.concept.base import RiverDriftDetector


class PageHinkley(RiverDriftDetector):
    """Parameters as ``river.drift.PageHinkley`` (``delta=0.005``, ``threshold=50``, ...)."""

    name = "page_hinkley"

    def _make(self) -> Any:
        return drift.PageHinkley(**self.params)
