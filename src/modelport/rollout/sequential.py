"""Always-valid inference: tests and bounds that may be looked at after every request.

A rollout re-reads its evidence every second and acts as soon as it is sure. A fixed-n
test looked at that often would "find" a difference in pure noise sooner or later; the
tests here do not: each is a nonnegative (super)martingale under its null, so by Ville's
inequality it crosses 1 / alpha at *any* look with probability at most alpha.

- Shares (0/1 values): one-sided Bernoulli confidence sequences built by betting on a
  grid of odds (Waudby-Smith & Ramdas 2023; Howard, Ramdas, McAuliffe & Sekhon 2021),
  exact at every sample size: :func:`share_rejects`, :func:`share_bound`; quantiles by
  inverting them at order statistics (Howard & Ramdas 2022): :func:`quantile_bounds`.
- Means of unbounded values (loss, |difference|): the mixture sequential probability
  ratio test (mSPRT) of Johari, Koomen, Pekelis, Walsh, "Peeking at A/B Tests: Why it
  matters, and what to do about it", KDD 2017 (normal mixture N(0, tau^2) over the
  effect). For an estimate ``x`` of theta with variance ``V``::

    Lambda(theta0) = sqrt(V / (V + tau^2)) * exp(tau^2 (x - theta0)^2 / (2 V (V + tau^2)))

  and the always-valid interval is every theta0 with ``Lambda(theta0) < 1 / alpha``.
  Those estimates are normal approximations, so that test is asymptotically valid; a
  minimum sample per gate keeps it out of the tiny-n range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class MeanEstimate:
    """Mean of per-request values with the variance of that mean (``variance / n``).

    >>> MeanEstimate.from_values([0, 0, 1, 1]).mean
    0.5
    >>> round(MeanEstimate.from_values([0, 0, 1, 1]).variance, 4)  # s^2 = 1/3, n = 4
    0.0833
    """

    n: int
    mean: float
    variance: float  # of the mean, not of one value

    @classmethod
    def from_values(
        cls, values: Sequence[float] | np.ndarray, bounds: tuple[float, float] | None = None
    ) -> MeanEstimate:
        """``bounds`` adds one pseudo-observation at each end of the value range.

        For 0/1 values that is the (x + 1) / (n + 2) estimate of Agresti & Coull (1998):
        zero errors in 50 requests is not certainty that the error rate is exactly 0.

        >>> estimate = MeanEstimate.from_values([0.0] * 50, bounds=(0.0, 1.0))
        >>> round(estimate.mean, 4), estimate.variance > 0
        (0.0192, True)
        """
        data = np.asarray(values, dtype=np.float64)
        n = int(data.size)
        if n == 0:
            return cls(0, math.nan, math.inf)
        if bounds is not None:
            data = np.concatenate([data, np.asarray(bounds, dtype=np.float64)])
        mean = float(data.mean())
        spread = float(data.var(ddof=1)) if data.size > 1 else 0.0
        return cls(n, mean, spread / n)

    @classmethod
    def proportion(cls, successes: int, n: int) -> MeanEstimate:
        """A share of ``n`` with the same pseudo-counts as ``from_values(bounds=(0, 1))``.

        >>> MeanEstimate.proportion(3, 10) == MeanEstimate.from_values(
        ...     [1] * 3 + [0] * 7, bounds=(0, 1))
        True
        """
        if n <= 0:
            return cls(0, math.nan, math.inf)
        return cls.from_values(np.r_[np.ones(successes), np.zeros(n - successes)], (0.0, 1.0))

    def minus(self, other: MeanEstimate, scale: float = 1.0) -> MeanEstimate:
        """``self - scale * other`` for independent estimates."""
        return MeanEstimate(
            min(self.n, other.n),
            self.mean - scale * other.mean,
            self.variance + scale * scale * other.variance,
        )

    def shift(self, offset: float) -> MeanEstimate:
        return MeanEstimate(self.n, self.mean + offset, self.variance)


def msprt_lambda(estimate: float, variance: float, tau2: float, null: float = 0.0) -> float:
    """The mixture likelihood ratio for H0: theta = ``null`` (Johari et al. 2017).

    >>> round(msprt_lambda(0.0, 0.01, 0.01), 4)  # no effect seen: evidence for H0
    0.7071
    >>> msprt_lambda(0.5, 0.001, 0.01) > 20  # a large effect, precisely measured
    True
    """
    total = variance + tau2
    exponent = tau2 * (estimate - null) ** 2 / (2.0 * variance * total)
    return math.sqrt(variance / total) * math.exp(min(exponent, 700.0))


def always_valid_interval(
    estimate: float, variance: float, alpha: float, tau2: float
) -> tuple[float, float]:
    """Every theta0 the mSPRT at level ``alpha`` cannot reject, now or at any later look.

    >>> low, high = always_valid_interval(0.10, 0.0004, 0.05, 0.01)
    >>> round(low, 3), round(high, 3)
    (0.038, 0.162)

    Coverage holds under continuous monitoring: with a true effect of 0, the interval
    built after each of 2000 observations excludes 0 at *any* look in at most ~alpha of
    the runs (a fixed-n 95 % interval looked at this often would fail far more often).

    >>> rng = np.random.default_rng(7)
    >>> failures = 0
    >>> for _ in range(200):
    ...     values = rng.normal(0.0, 1.0, 2000)
    ...     n = np.arange(1, 2001)
    ...     means = np.cumsum(values) / n
    ...     hits = [always_valid_interval(means[k], 1.0 / n[k], 0.05, 1.0)
    ...             for k in range(9, 2000, 10)]
    ...     failures += any(low > 0 or high < 0 for low, high in hits)
    >>> failures / 200 <= 0.05
    True
    """
    if not math.isfinite(variance):
        return (-math.inf, math.inf)
    if variance <= 0.0:
        return (estimate, estimate)
    total = variance + tau2
    half_width_sq = (variance * total / tau2) * (
        2.0 * math.log(1.0 / alpha) + math.log(total / variance)
    )
    half_width = math.sqrt(half_width_sq)
    return (estimate - half_width, estimate + half_width)


@dataclass(frozen=True, slots=True)
class Decision:
    """Outcome of testing ``theta <= 0`` (``upper=True``) or ``theta >= 0``."""

    verdict: str  # "pass", "fail" or "inconclusive"
    interval: tuple[float, float]


def decide(estimate: MeanEstimate, *, upper: bool, alpha: float, tau2: float) -> Decision:
    """Pass when the whole interval satisfies the bound, fail when none of it does.

    >>> decide(MeanEstimate(500, -0.05, 0.0001), upper=True, alpha=0.05, tau2=0.01).verdict
    'pass'
    >>> decide(MeanEstimate(500, 0.2, 0.0001), upper=True, alpha=0.05, tau2=0.01).verdict
    'fail'
    >>> decide(MeanEstimate(20, 0.01, 0.01), upper=True, alpha=0.05, tau2=0.01).verdict
    'inconclusive'
    """
    low, high = always_valid_interval(estimate.mean, estimate.variance, alpha, tau2)
    if upper:
        verdict = "pass" if high <= 0.0 else "fail" if low > 0.0 else "inconclusive"
    else:
        verdict = "pass" if low >= 0.0 else "fail" if high < 0.0 else "inconclusive"
    return Decision(verdict, (low, high))


# -- shares: Bernoulli confidence sequences valid at every sample size ----------------------
#
# To test H0: p <= p0 on 0/1 observations, bet a fixed fraction of one's wealth on each
# observation coming out 1 (Waudby-Smith & Ramdas 2023, "Estimating means of bounded
# random variables by betting", JRSS B 86(1)): wealth after n observations with S ones is
#
#     W_n(q) = (q / p0)^S ((1 - q) / (1 - p0))^(n - S)      (q > p0: the bet's odds),
#
# a nonnegative supermartingale for every p <= p0. Spreading the initial wealth evenly over
# a grid of bets (their "diversified Kelly" strategy; a discrete mixture in the sense of
# Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic
# confidence sequences", Ann. Statist. 49(2)) keeps that property, and by Ville's
# inequality P(sup_n W_n >= 1 / alpha) <= alpha: rejecting once the wealth reaches
# 1 / alpha is a one-sided test that may be repeated after every request, exact for
# Bernoulli data at every n (no normal approximation: honest for shares near 0 or 1).
# H0: p >= p0 is the mirror image (q < p0). The wealth depends on the data only through
# (S, n), so re-reading a window in any order gives the same verdict.

# The bets: alternatives p0 + (1 - p0) g above p0 and p0 (1 - g) below it, g from 1e-4 to
# 0.999 (24 points, geometric): tiny effects at large n and gross ones at small n.
BET_GRID: np.ndarray[Any, Any] = np.geomspace(1e-4, 0.999, 24)
_LOG_BETS = math.log(BET_GRID.size)
_LOG_KEEP: np.ndarray[Any, Any] = np.log1p(-BET_GRID)
_FINE = 24  # points per refinement of the bound searches


def _log_wealth(
    successes: np.ndarray[Any, Any] | float,
    n: int,
    p0: np.ndarray[Any, Any] | float,
    above: bool,
) -> np.ndarray[Any, Any]:
    """log W_n, broadcast over ``successes`` and ``p0`` (0 < p0 < 1)."""
    null = np.asarray(p0, dtype=np.float64)[..., None]
    ones = np.asarray(successes, dtype=np.float64)[..., None]
    zeros = n - ones
    # Written so that nothing cancels: (q / p0, (1 - q) / (1 - p0)) for q above p0 is
    # (1 + (1 - p0) g / p0, 1 - g); for q below it, (1 - g, 1 + p0 g / (1 - p0)).
    if above:
        log_ratio = ones * np.log1p((1.0 - null) * BET_GRID / null) + zeros * _LOG_KEEP
    else:
        log_ratio = ones * _LOG_KEEP + zeros * np.log1p(null * BET_GRID / (1.0 - null))
    top = log_ratio.max(axis=-1)
    spread = np.log(np.exp(log_ratio - top[..., None]).sum(axis=-1))
    result: np.ndarray[Any, Any] = top + spread - _LOG_BETS
    return result


def _rejects(
    successes: np.ndarray[Any, Any] | float,
    n: int,
    p0: np.ndarray[Any, Any] | float,
    above: bool,
    alpha: float,
) -> np.ndarray[Any, Any]:
    """Vectorised :func:`share_rejects` (p0 strictly between 0 and 1)."""
    result: np.ndarray[Any, Any] = _log_wealth(successes, n, p0, above) >= math.log(1.0 / alpha)
    return result


def share_rejects(successes: int, n: int, p0: float, *, above: bool, alpha: float) -> bool:
    """Is there evidence, valid at every look, that the share is above ``p0`` (``above``)
    or below it? The error probability is at most ``alpha`` over all looks together.

    >>> share_rejects(0, 700, 0.01, above=False, alpha=0.05)  # 0 errors in 700: p < 1 %
    True
    >>> share_rejects(0, 300, 0.01, above=False, alpha=0.05)  # not yet
    False
    >>> share_rejects(30, 100, 0.1, above=True, alpha=0.05)
    True
    """
    if n <= 0:
        return False
    if above:
        if p0 <= 0.0:
            return successes > 0
        if p0 >= 1.0:
            return False
    else:
        if p0 >= 1.0:
            return successes < n
        if p0 <= 0.0:
            return False
    return bool(_rejects(successes, n, p0, above, alpha))


def _first(rejected: Any, low: float, high: float, integer: bool) -> float | None:
    """Smallest x in [low, high] with ``rejected(x)`` (vectorised, monotone: False then
    True), by grids of _FINE points; reals to 1e-5 (the upper end: conservative); None
    when none is."""
    for _ in range(6):
        if integer:
            grid = np.unique(np.linspace(low, high, _FINE).round())
        else:
            grid = np.linspace(low, high, _FINE)
        hits = np.flatnonzero(rejected(grid))
        if hits.size == 0:
            return None
        first = int(hits[0])
        if first == 0:
            return float(grid[0])
        low, high = float(grid[first - 1]), float(grid[first])
        if (integer and high - low <= 1.0) or (not integer and high - low <= 1e-5):
            return high
    return high


def share_bound(successes: int, n: int, *, upper: bool, alpha: float) -> float:
    """A one-sided always-valid bound on a share: every p0 beyond it is rejected
    (found to within 1e-5, rounded outwards).

    >>> round(share_bound(0, 1000, upper=True, alpha=0.05), 4)
    0.0059
    >>> share_bound(0, 0, upper=True, alpha=0.05)
    1.0
    """
    if n <= 0:
        return 1.0 if upper else 0.0
    # The lower bound on a share is 1 - the upper bound on the share of zeros.
    ones = successes if upper else n - successes
    observed = ones / n
    edge = 1e-12
    low = min(max(observed, edge), 1.0 - edge)
    # A Bernstein-like guess at the bound narrows the search; checked before use.
    spread = math.log(BET_GRID.size / alpha)
    guess = observed + 3.0 * math.sqrt(2.0 * spread * (observed + 1.0 / n) / n) + 2 * spread / n
    high = 1.0 - edge
    if guess < high and _rejects(ones, n, guess, False, alpha):
        high = guess
    found = _first(lambda p: _rejects(ones, n, p, False, alpha), low, high, False)
    bound = 1.0 if found is None else min(found, 1.0)
    return bound if upper else max(1.0 - bound, 0.0)


def count_range(n: int, p: float, alpha: float) -> tuple[int, int]:
    """Counts of ``n`` Bernoulli(p) draws the tests above do not reject at level
    ``alpha`` per side: each side's limit holds at every ``n`` with probability
    >= 1 - ``alpha``.

    >>> count_range(1000, 0.5, 0.025)
    (445, 555)
    """
    if n <= 0 or not 0.0 < p < 1.0:
        return (0, n)
    centre = float(min(max(round(n * p), 0), n))
    too_many = _first(lambda k: _rejects(k, n, p, True, alpha), centre, float(n), True)
    # Too few: rejected for every count up to some k; search from the top down.
    too_few = _first(lambda k: _rejects(centre - k, n, p, False, alpha), 0.0, centre, True)
    highest = n if too_many is None else int(too_many) - 1
    lowest = 0 if too_few is None else int(centre - too_few) + 1
    return (lowest, max(highest, lowest))


def quantile_bounds(values: np.ndarray[Any, Any], q: float, alpha: float) -> tuple[float, float]:
    """Time-uniform one-sided bounds on the ``q``-quantile, each valid with probability
    >= 1 - ``alpha`` at every sample size (Howard & Ramdas 2022, "Sequential estimation
    of quantiles with applications to A/B-testing and best-arm identification",
    Bernoulli 28(3)): the count of values below the true quantile is Binomial(n, q), so
    order statistics at the ranks the count cannot leave bracket the quantile.
    Values may be +inf (failed requests); ties are allowed.

    >>> rng = np.random.default_rng(1)
    >>> low, high = quantile_bounds(rng.lognormal(0.0, 1.0, 20000), 0.5, 0.025)
    >>> bool(low < 1.0 < high), round(high - low, 2)
    (True, 0.06)
    """
    _, low, high = quantile_with_bounds(values, q, alpha)
    return (low, high)


def quantile_with_bounds(
    values: np.ndarray[Any, Any], q: float, alpha: float
) -> tuple[float, float, float]:
    """The observed quantile (order statistic at rank ceil(q n), numpy's "inverted_cdf")
    and :func:`quantile_bounds`, from one partial sort."""
    n = int(values.size)
    if n == 0:
        return (math.nan, -math.inf, math.inf)
    lowest, highest = count_range(n, q, alpha)
    point = min(max(math.ceil(q * n) - 1, 0), n - 1)
    ranks = sorted({r for r in (lowest - 1, point, highest) if 0 <= r < n})
    ordered = np.partition(values, ranks)
    low = float(ordered[lowest - 1]) if lowest >= 1 else -math.inf
    high = float(ordered[highest]) if highest < n else math.inf
    return (float(ordered[point]), low, high)
