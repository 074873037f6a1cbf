"""ADWIN: adaptive windowing (Bifet & Gavaldà 2007, *Learning from time-changing data
with adaptive windowing*, SDM).

Keeps a window of recent values and drops its older part whenever two sub-windows have
means that differ by more than a Hoeffding-style bound at confidence ``delta``. Works
on any bounded real stream (error indicators, losses).

>>> detector = ADWIN()
>>> fired = detector.update_many([0.0] * 1_000 + [1.0] * 1_000)
>>> 1_000 <= fired[0] < 1_100
True
"""

from __future__ import annotations

from typing import Any

from river import drift

from modelport.monitoring.concept.base import RiverDriftDetector


class ADWIN(RiverDriftDetector):
    """Parameters as ``river.drift.ADWIN`` (``delta=0.002``, ``clock=32``, ...)."""

    name = "adwin"

    def _make(self) -> Any:
        return drift.ADWIN(**self.params)  # type: ignore[no-untyped-call]  # River leaves it untyped

    @property
    def width(self) -> int:
        """Current window length."""
        return int(self._detector.width)
