"""Population Stability Index on the reference's bins.

``PSI = Σ (q_i - p_i) · ln(q_i / p_i)`` with ``p``/``q`` the reference/current share of
bucket ``i`` (Siddiqi 2006, *Credit Risk Scorecards*; Yurdakul 2018). Numeric features
use the profile's reference-quantile bins, categorical ones their categories; both add
a missing bucket. An empty bucket has share 0 and ``ln 0`` is undefined, so every share
below ``epsilon = 1e-4`` is raised to ``epsilon`` (the usual convention): a bucket that is
empty on one side then adds at most ``q · ln(q / 1e-4)``.

Rule of thumb: < 0.1 stable, 0.1–0.2 moderate shift, >= 0.2 significant shift. The
default materiality threshold is 0.04 (PSI of a normal whose mean moved 0.2 std is
about 0.2² = 0.04; 2 % of the rows moved beyond the reference's range give 0.07–0.1):
the calibrated no-drift quantile (:mod:`.calibration`), not the threshold, keeps small
samples from crying wolf. Under no drift PSI is about ``(k - 1) · (1/n + 1/m)`` for
``k`` buckets.

>>> round(psi([50, 50], [60, 40]), 4)
0.0405
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelport.monitoring.stats.histogram import Histogram, IntArray
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec

EPSILON = 1e-4


def psi(
    reference_counts: Sequence[int] | IntArray,
    current_counts: Sequence[int] | IntArray,
    epsilon: float = EPSILON,
) -> float:
    reference = np.asarray(reference_counts, dtype=np.float64)
    current = np.asarray(current_counts, dtype=np.float64)
    p = np.maximum(reference / reference.sum(), epsilon)
    q = np.maximum(current / current.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def binned(histogram: Histogram) -> Measurement:
    return Measurement(psi(histogram.reference, histogram.current))


SPEC = StatSpec(
    name="psi",
    kinds=frozenset({"numeric", "categorical"}),
    test_type="distance",
    default_threshold=0.04,
    direction="above",
    min_rows=100,
    min_rows_per_bin=25,
    binned=binned,
    summary="Population Stability Index on reference bins, empty shares raised to 1e-4.",
)
