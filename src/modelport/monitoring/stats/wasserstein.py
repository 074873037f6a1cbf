"""Wasserstein-1 (earth mover's) distance, exact from sorted samples or approximate from bins.

``W1 = ∫ |F_ref(x) - F_cur(x)| dx`` (Vaserstein 1969; Ramdas et al. 2017), in the units
of the feature. The registry's ``"wasserstein"`` statistic is **normalised** by the
reference standard deviation (population, ``ddof=0``) so one threshold fits every
feature: ``0.1`` means the mass moved on average a tenth of a reference std. A constant
reference has no scale, so then the raw distance is used. ``details["raw"]`` keeps
the raw distance.

The exact form integrates between the current sample's jump points with prefix sums of
the sorted reference (see :mod:`~modelport.monitoring.stats.ecdf`), in
``O(m log n)``; it equals ``scipy.stats.wasserstein_distance`` to rounding. The binned form
spreads each bin's mass uniformly over the bin (outer bins end at the joint min/max
of both samples); it is coarse, see docs/statistics.md for measured errors.

>>> import numpy as np
>>> wasserstein_distance(np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 8.0]))
5.0
"""

from __future__ import annotations

import numpy as np

from modelport.monitoring.stats.ecdf import EcdfAlignment, SortedReference, align, sort_values
from modelport.monitoring.stats.histogram import FloatArray, Histogram, IntArray
from modelport.monitoring.stats.result import Measurement
from modelport.monitoring.stats.spec import StatSpec


def wasserstein_exact(alignment: EcdfAlignment) -> float:
    """Raw W1 between the two aligned samples."""
    dense = alignment.dense
    n, m = alignment.n_dense, alignment.n_jump
    if n == 0 or m == 0:
        raise ValueError("Wasserstein needs at least one value in each sample")
    points = alignment.points - dense.center
    le, lt, prefix = alignment.dense_le, alignment.dense_lt, dense.prefix
    # Everything below is n·G(t) = count·t − prefix[count], n times the integral of the
    # dense CDF up to t (``count`` dense values are <= t): one division at the end.
    total = float(lt[0] * points[0] - prefix[lt[0]])
    prefix_le = prefix[le]
    integral_at_points = le * points - prefix_le
    if len(points) > 1:
        # On [u_j, u_j+1) the jump sample's CDF is the constant a; the dense CDF F crosses
        # a at the dense value of rank ceil(a*n), splitting the interval into F < a, F >= a.
        lo, hi = points[:-1], points[1:]
        level = alignment.jump_le[:-1]
        rank = (level * n + m - 1) // m - 1
        crossing = dense.values[rank] - dense.center
        inside = (crossing > lo) & (crossing < hi)
        np.clip(crossing, lo, hi, out=crossing)
        # Below an inside crossing the dense CDF sums rank + 1 values (ties with it add 0).
        below = np.where(inside, rank + 1, le[:-1])
        # lt differs from le only where a jump point also occurs in the dense sample.
        prefix_lt = prefix_le[1:].copy()
        tied = np.flatnonzero(lt[1:] != le[1:])
        prefix_lt[tied] = prefix[lt[1:][tied]]
        integral_at_hi = lt[1:] * hi - prefix_lt
        integral_at_crossing = np.where(
            inside,
            below * crossing - prefix[below],
            np.where(crossing <= lo, integral_at_points[:-1], integral_at_hi),
        )
        inner = (level * (n / m)) * (2 * crossing - lo - hi)
        inner += integral_at_points[:-1] + integral_at_hi - 2 * integral_at_crossing
        total += float(inner.sum())
    top = dense.values[-1] - dense.center
    if top > points[-1]:
        total += n * (top - points[-1]) - (n * top - prefix[n] - integral_at_points[-1])
    return total / n


def wasserstein_binned(histogram: Histogram) -> float:
    """Raw W1 between the two binned samples, each bin's mass spread uniformly."""
    assert histogram.reference_range is not None and histogram.current_range is not None
    # Both samples' outer bins end at the joint extremes: a sample's own min/max is noisy
    # (a larger sample reaches further into the tails) and would read as mass moving.
    joint = (
        min(histogram.reference_range[0], histogram.current_range[0]),
        max(histogram.reference_range[1], histogram.current_range[1]),
    )
    x_ref, y_ref = _cdf_nodes(histogram.reference[:-1], histogram.cut_points, joint)
    x_cur, y_cur = _cdf_nodes(histogram.current[:-1], histogram.cut_points, joint)
    knots = np.union1d(x_ref, x_cur)
    left, right = knots[:-1], knots[1:]
    at_left = _limit(x_ref, y_ref, left, "right") - _limit(x_cur, y_cur, left, "right")
    at_right = _limit(x_ref, y_ref, right, "left") - _limit(x_cur, y_cur, right, "left")
    width = right - left
    magnitude = np.abs(at_left) + np.abs(at_right)
    same_sign = at_left * at_right >= 0
    # |linear| integrates to a trapezoid, or to two triangles where the sign flips.
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = (at_left**2 + at_right**2) / (2 * magnitude)
    area = np.where(same_sign, magnitude / 2, crossing)
    return float((width * area).sum())


def _cdf_nodes(
    counts: IntArray, cut_points: FloatArray, value_range: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """Knots of a piecewise-linear CDF; a repeated knot is a jump (a point mass)."""
    low = min(value_range[0], cut_points[0]) if len(cut_points) else value_range[0]
    high = max(value_range[1], cut_points[-1]) if len(cut_points) else value_range[1]
    knots = np.concatenate(([low], cut_points, [high]))
    cdf = np.concatenate(([0.0], np.cumsum(counts) / counts.sum()))
    return knots, cdf


def _limit(knots: FloatArray, cdf: FloatArray, x: FloatArray, side: str) -> FloatArray:
    """Left or right limit of the piecewise-linear CDF at ``x``."""
    if side == "right":
        index = np.searchsorted(knots, x, side="right") - 1
    else:
        index = np.searchsorted(knots, x, side="left") - 1
    index = np.clip(index, 0, len(knots) - 2)
    x0, x1 = knots[index], knots[index + 1]
    y0, y1 = cdf[index], cdf[index + 1]
    span = x1 - x0
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(span > 0, (x - x0) / span, 1.0 if side == "left" else 0.0)
    value: FloatArray = y0 + np.clip(fraction, 0.0, 1.0) * (y1 - y0)
    below, above = x < knots[0], x > knots[-1]
    value = np.where(below, 0.0, np.where(above, 1.0, value))
    return value


def wasserstein_distance(reference: FloatArray, current: FloatArray) -> float:
    """Raw W1 on raw samples (NaN dropped), as ``scipy.stats.wasserstein_distance``."""
    sorted_reference = SortedReference.from_values(reference)
    return wasserstein_exact(align(sorted_reference, sort_values(current)))


def _normalised(raw: float, scale: float | None) -> Measurement:
    normaliser = scale if scale else 1.0
    return Measurement(raw / normaliser, details={"raw": raw, "reference_std": scale or 0.0})


def exact(histogram: Histogram, alignment: EcdfAlignment) -> Measurement:
    return _normalised(wasserstein_exact(alignment), histogram.reference_std)


def binned(histogram: Histogram) -> Measurement:
    return _normalised(wasserstein_binned(histogram), histogram.reference_std)


SPEC = StatSpec(
    name="wasserstein",
    kinds=frozenset({"numeric"}),
    test_type="distance",
    default_threshold=0.1,
    direction="above",
    min_rows=500,
    min_rows_per_bin=0,
    binned=binned,
    exact=exact,
    values_only=True,
    summary="Wasserstein-1 distance divided by the reference standard deviation.",
)
