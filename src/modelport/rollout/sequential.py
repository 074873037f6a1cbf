"""Always-valid inference: confidence intervals that may be looked at after every request.

A rollout re-reads its evidence every second and acts as soon as it is sure. A fixed-n
test looked at that often would "find" a difference in pure noise sooner or later; the
mixture sequential probability ratio test (mSPRT) does not: its interval covers the
truth at *every* look at once with probability >= 1 - alpha.

Johari, Koomen, Pekelis, Walsh, "Peeking at A/B Tests: Why it matters, and what to do
about it", KDD 2017 (normal mixture N(0, tau^2) over the effect; eq. for Lambda below).
For an estimate ``x`` of theta with variance ``V``::

    Lambda(theta0) = sqrt(V / (V + tau^2)) * exp(tau^2 (x - theta0)^2 / (2 V (V + tau^2)))

and the always-valid interval is every theta0 with ``Lambda(theta0) < 1 / alpha``.
Estimates are normal approximations (proportions and means of many requests), so the
test is asymptotically valid; a minimum sample per gate keeps it out of the tiny-n range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
