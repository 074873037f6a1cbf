"""Two-sample Kolmogorov–Smirnov test: exact from sorted samples, approximate from bins.

``D = sup_x |F_ref(x) - F_cur(x)|`` (Smirnov 1939; Hodges 1958 for the p-value). The
statistic equals ``scipy.stats.ks_2samp`` to the last bit. The p-value follows
``ks_2samp(method="auto")``: scipy's exact distribution when both samples have at most
10,000 values, otherwise the asymptotic ``kstwo.sf(D, round(n*m/(n+m)))``. In one
branch of that asymptotic path scipy sums ``O(n)`` terms one by one (a second per call
at a million rows); :func:`smirnov_sf` sums the same series vectorised, skipping terms
below ``1e-26`` of the largest, and matches it to about ``1e-11``. A forced
``method="exact"`` on large samples would give slightly different (exact) p-values.

The binned form evaluates both CDFs at the bin edges only, so it is a lower bound on the
exact statistic (it misses differences inside a bin).

>>> import numpy as np
>>> from modelport.monitoring.stats.ecdf import SortedReference, align
>>> reference = SortedReference.from_values(np.array([1.0, 2.0, 3.0, 4.0]))
>>> ks_statistic(align(reference, np.array([3.0, 4.0, 5.0, 6.0])))
0.5
"""

from __future__ import annotations

import math
import warnings

import numpy as np

# scipy is imported where a statistic needs it: importing it costs ~0.8 s and ~60 MB to
# every process that only names the statistics (alert rules, the CLI, the server).
from modelport.monitoring.stats.ecdf import EcdfAlignment, SortedReference, align, sort_values
from modelport.monitoring.stats.histogram import FloatArray, Histogram
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec

SCIPY_MAX_EXACT_N = 10_000  # ks_2samp(method="auto") is exact up to this sample size


def ks_statistic(alignment: EcdfAlignment) -> float:
    """``max |F_ref - F_cur|`` over both samples, from the small sample's jump points."""
    n, m = alignment.n_dense, alignment.n_jump
    if n == 0 or m == 0:
        raise ValueError("KS needs at least one value in each sample")
    # Between two jumps of the small sample its CDF is flat while the dense CDF rises,
    # so their difference peaks just before the next jump and dips right at a jump:
    # no other point of the dense sample is needed.
    above = alignment.dense_lt / n
    above[1:] -= alignment.jump_le[:-1] / m
    below = alignment.jump_le / m - alignment.dense_le / n
    return float(max(above.max(), below.max(), 0.0))


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Scipy's asymptotic two-sided p-value, ``kstwo.sf(D, round(n*m/(n+m)))``."""
    from scipy import stats

    big, small = sorted([float(n_reference), float(n_current)], reverse=True)
    n = float(np.round(big * small / (big + small)))
    nxx = n * statistic * statistic
    # scipy's _kolmogn answers 2 * smirnov(n, D) here, one term at a time.
    smirnov_branch = 1.0 < n * statistic < n - 1 and statistic < 0.5 and 2.2 <= nxx < 370
    if n > SCIPY_MAX_EXACT_N and smirnov_branch:
        return float(np.clip(2.0 * smirnov_sf(int(n), statistic), 0.0, 1.0))
    return float(np.clip(stats.kstwo.sf(statistic, n), 0.0, 1.0))


def smirnov_sf(n: int, x: float) -> float:
    """One-sided ``P(D+_n >= x)`` by the Birnbaum–Tingey (1951) series, vectorised.

    >>> from scipy import special
    >>> bool(abs(smirnov_sf(50_000, 0.01) - special.smirnov(50_000, 0.01)) < 1e-12)
    True
    """
    last = int(math.floor(n * (1.0 - x)))
    # The log-terms are unimodal in j: locate the mass on a coarse grid, then sum densely.
    step = max(1, (last + 1) // 4096)
    coarse = np.arange(0, last + 1, step, dtype=np.float64)
    log_coarse = _log_terms(n, x, coarse)
    keep = np.flatnonzero(log_coarse >= log_coarse.max() - 60.0)
    lo = max(0, int(coarse[keep[0]]) - step)
    hi = min(last, int(coarse[keep[-1]]) + step)
    log_terms = _log_terms(n, x, np.arange(lo, hi + 1, dtype=np.float64))
    peak = log_terms.max()
    return float(x * math.exp(peak) * np.exp(log_terms - peak).sum())


def _log_terms(n: int, x: float, j: FloatArray) -> FloatArray:
    from scipy import special

    log_binomial = special.gammaln(n + 1) - special.gammaln(j + 1) - special.gammaln(n - j + 1)
    with np.errstate(divide="ignore"):  # 1 - x - j/n reaches 0 only at the last term
        tail = (n - j) * np.log1p(-x - j / n)
    result: FloatArray = log_binomial + tail + (j - 1) * np.log(x + j / n)
    return result


def ks_2samp(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """KS statistic and p-value on raw samples (NaN dropped), as ``scipy.stats.ks_2samp``.

    >>> import numpy as np
    >>> ks_2samp(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0, 6.0]))[0]
    0.5
    """
    sorted_reference = SortedReference.from_values(reference)
    alignment = align(sorted_reference, sort_values(current))
    measurement = ks_test(alignment)
    assert measurement.p_value is not None
    return measurement.statistic, measurement.p_value


def exact(histogram: Histogram, alignment: EcdfAlignment) -> Measurement:
    return ks_test(alignment)


def ks_test(alignment: EcdfAlignment) -> Measurement:
    """Statistic and p-value (scipy's exact one for small samples) of aligned samples."""
    from scipy import stats

    statistic = ks_statistic(alignment)
    n, m = alignment.n_dense, alignment.n_jump
    if max(n, m) <= SCIPY_MAX_EXACT_N:
        reference, current = alignment.samples()
        with warnings.catch_warnings():
            # scipy falls back to its asymptotic p-value (and says so) when the exact
            # recursion fails; that fallback is the answer we want.
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value = float(stats.ks_2samp(reference, current).pvalue)
    else:
        p_value = ks_pvalue(statistic, n, m)
    return Measurement(statistic, p_value)


def binned(histogram: Histogram) -> Measurement:
    """KS on bin edges only (a lower bound of the exact D), asymptotic p-value."""
    n, m = histogram.n_reference_values, histogram.n_current_values
    reference_cdf = np.cumsum(histogram.reference[:-1]) / n
    current_cdf = np.cumsum(histogram.current[:-1]) / m
    statistic = float(np.abs(reference_cdf - current_cdf).max())
    return Measurement(statistic, ks_pvalue(statistic, n, m))


SPEC = StatSpec(
    name="ks",
    kinds=frozenset({"numeric"}),
    test_type="p_value",
    default_threshold=0.05,
    direction="below",
    min_rows=20,
    min_rows_per_bin=0,
    binned=binned,
    exact=exact,
    values_only=True,
    summary="Two-sample Kolmogorov–Smirnov: D = sup |F_ref - F_cur|, p-value as scipy.",
)
