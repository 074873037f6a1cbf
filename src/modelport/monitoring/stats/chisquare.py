"""Pearson chi-square test of homogeneity: are the reference and current counts two
samples of one distribution?

The two samples form a ``2 × k`` contingency table (rows: reference, current; columns:
buckets). Expected counts come from the pooled shares,
``E_ij = row_i · col_j / N``, and ``χ² = Σ (O_ij - E_ij)² / E_ij`` has ``k - 1`` degrees of
freedom (Pearson 1900/1922; Agresti 2013, *Categorical Data Analysis*, §3.2). Unlike a
goodness-of-fit test it does not take the reference shares as exact, so its size stays at
α whatever the ratio of the two sample sizes (docs/statistics.md measures it). Buckets
empty on both sides are dropped. It equals
``scipy.stats.chi2_contingency([reference, current], correction=False)``.

>>> statistic, p_value = chi_square([50, 50], [60, 40])
>>> round(statistic, 3), round(p_value, 4)
(2.02, 0.1552)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# scipy is imported where a statistic needs it: importing it costs ~0.8 s and ~60 MB to
# every process that only names the statistics (alert rules, the CLI, the server).
from modelport.monitoring.stats.histogram import Histogram, IntArray
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec


def chi_square(
    reference_counts: Sequence[int] | IntArray, current_counts: Sequence[int] | IntArray
) -> tuple[float, float]:
    """Statistic and p-value of the ``2 × k`` table of both samples' bucket counts."""
    from scipy import stats

    table = np.vstack(
        (
            np.asarray(reference_counts, dtype=np.float64),
            np.asarray(current_counts, dtype=np.float64),
        )
    )
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    p_value = float(stats.chi2.sf(statistic, table.shape[1] - 1))
    return statistic, p_value


def binned(histogram: Histogram) -> Measurement:
    statistic, p_value = chi_square(histogram.reference, histogram.current)
    return Measurement(statistic, p_value)


SPEC = StatSpec(
    name="chisquare",
    kinds=frozenset({"numeric", "categorical"}),
    test_type="p_value",
    default_threshold=0.05,
    direction="below",
    min_rows=20,
    min_rows_per_bin=5,
    binned=binned,
    summary="Pearson chi-square test of homogeneity of the two samples' bucket counts.",
)
