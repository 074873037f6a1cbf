"""Drift statistics of one categorical column on raw samples.

Category counts are exact, so the "exact" categorical statistics are the binned ones
over every category the reference holds (no ``"__other__"`` lumping); categories the
reference never saw are counted in an ``unseen`` bucket.

>>> reference = np.array(["a"] * 600 + ["b"] * 400, dtype=object)
>>> current = np.array(["a"] * 450 + ["b"] * 400 + ["new"] * 150, dtype=object)
>>> result = categorical_drift(reference, current, ["total_variation"])["total_variation"]
>>> round(result.statistic, 3), result.drifted
(0.15, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from modelport.monitoring.stats.binned import BinnedCounts
from modelport.monitoring.stats.result import StatResult
from modelport.registry.profile import profile_categorical


def categorical_drift(
    reference: np.ndarray[Any, Any],
    current: np.ndarray[Any, Any],
    stats: Iterable[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, StatResult]:
    """Named statistics (default: JS, PSI, chi-square, TV) of ``current`` vs ``reference``."""
    state = BinnedCounts().fit(profile_categorical(reference, max_categories=len(reference) + 1))
    state.update(current)
    return state.get(stats, thresholds)
