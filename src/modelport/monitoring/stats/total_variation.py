"""Total variation distance between the reference and current bucket shares.

``TV(p, q) = ½ Σ |p_i - q_i|``, the largest difference in probability the two
distributions give any set of buckets (Levin, Peres & Wilmer 2009, §4.1). It lies in
``[0, 1]`` and reads directly: 0.1 means a tenth of the traffic moved bucket.

>>> round(total_variation([50, 50], [60, 40]), 4)
0.1
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelport.monitoring.stats.histogram import Histogram, IntArray
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec


def total_variation(
    reference_counts: Sequence[int] | IntArray, current_counts: Sequence[int] | IntArray
) -> float:
    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(current_counts, dtype=np.float64)
    return float(np.abs(p / p.sum() - q / q.sum()).sum() / 2.0)


def binned(histogram: Histogram) -> Measurement:
    return Measurement(total_variation(histogram.reference, histogram.current))


SPEC = StatSpec(
    name="total_variation",
    kinds=frozenset({"numeric", "categorical"}),
    test_type="distance",
    default_threshold=0.1,
    direction="above",
    min_rows=500,
    min_rows_per_bin=50,
    binned=binned,
    summary="Total variation distance: half the L1 distance between bucket shares.",
)
