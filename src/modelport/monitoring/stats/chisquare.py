"""Chi-square goodness of fit of the current counts to the reference shares.

``χ² = Σ (O_i - E_i)² / E_i`` with ``O`` the current counts and
``E_i = m · p_i`` from the reference shares, ``k - 1`` degrees of freedom (Pearson 1900).
With every bucket seen in the reference it equals
``scipy.stats.chisquare(O, f_exp=E)``. A bucket the reference never saw (an unseen
category, or newly missing values) would have ``E = 0`` and an infinite statistic, so
such buckets get a reference pseudo-count of 0.5 before the shares are taken; buckets
empty on both sides are dropped.

As a p-value test it flags negligible differences on large samples: it is reported,
not used for the default decision.

>>> statistic, p_value = chi_square([50, 50], [60, 40])
>>> round(statistic, 3), round(p_value, 4)
(4.0, 0.0455)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from modelport.monitoring.stats.histogram import Histogram, IntArray
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec

UNSEEN_PSEUDO_COUNT = 0.5


def chi_square(
    reference_counts: Sequence[int] | IntArray, current_counts: Sequence[int] | IntArray
) -> tuple[float, float]:
    """Statistic and p-value; see the module docstring for empty reference buckets."""
    reference = np.asarray(reference_counts, dtype=np.float64)
    observed = np.asarray(current_counts, dtype=np.float64)
    used = (reference > 0) | (observed > 0)
    reference, observed = reference[used], observed[used]
    reference = np.where(reference > 0, reference, UNSEEN_PSEUDO_COUNT)
    expected = observed.sum() * reference / reference.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    degrees = len(observed) - 1
    p_value = float(stats.chi2.sf(statistic, degrees)) if degrees > 0 else 1.0
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
    summary="Pearson chi-square goodness of fit to the reference shares.",
)
