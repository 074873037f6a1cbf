"""Cramér's V of the two samples, weighted equally: how different the bucket shares are,
as an effect size in ``[0, 1]`` that does not grow with the sample size.

Cramér's V of a contingency table is ``sqrt(χ² / (N · (min(r, c) - 1)))`` (Cramér 1946,
§21.9). For the ``2 × k`` table of a reference and a current sample its value also depends
on how large the two samples are relative to each other, so a threshold would mean one
thing at 100k vs 100k and another at 100k vs 1M. Here it is taken on the table of the two
*shares* with equal weight, ``V = sqrt(½ Σ (p_i - q_i)² / (p_i + q_i))``, which is the V
of two equal-sized samples with exactly those shares: it depends on the shares alone.
Cohen (1988) calls 0.1 a small effect, the default materiality of the categorical
decision. The p-value is the chi-square test of homogeneity on the actual counts
(:mod:`.chisquare`); the default decision uses the calibrated one (:mod:`.calibration`).

>>> round(cramers_v([50, 50], [60, 40]), 4)
0.1005
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from modelport.monitoring.stats.chisquare import chi_square
from modelport.monitoring.stats.histogram import Histogram, IntArray
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec


def cramers_v(
    reference_counts: Sequence[int] | IntArray, current_counts: Sequence[int] | IntArray
) -> float:
    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(current_counts, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    pooled = p + q
    used = pooled > 0
    return math.sqrt(float(np.sum((p[used] - q[used]) ** 2 / pooled[used])) / 2.0)


def binned(histogram: Histogram) -> Measurement:
    _, p_value = chi_square(histogram.reference, histogram.current)
    return Measurement(cramers_v(histogram.reference, histogram.current), p_value)


SPEC = StatSpec(
    name="cramers_v",
    kinds=frozenset({"numeric", "categorical"}),
    test_type="distance",
    default_threshold=0.1,
    direction="above",
    min_rows=20,
    min_rows_per_bin=5,
    binned=binned,
    summary="Cramér's V of the two samples weighted equally (effect size in [0, 1]).",
)
