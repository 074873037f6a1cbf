"""Calibrated critical values: the no-drift distribution of a bucket statistic at the
current window's size, estimated from the reference by resampling.

Under no drift the reference and the current window are two samples of one
distribution, so the statistic's null distribution is that of ``stat(R*, C*)`` with
``R*`` and ``C*`` drawn from the reference: a bootstrap (Efron & Tibshirani 1993, ch. 16,
two-sample tests). A bucket statistic depends on the bucket counts alone, and resampling
``m`` rows of the reference with replacement gives multinomial bucket counts, so the
replicates are drawn as ``R* ~ Multinomial(n, p̂)`` and ``C* ~ Multinomial(m, p̂)`` with
``p̂`` the reference's bucket shares (missing bucket included) — the same as resampling
rows of the reference sample, without the rows. A numeric profile's ``below_min`` and
``above_max`` bins are empty in the reference, but by exchangeability a new value falls
beyond the extremes of ``n`` reference values with probability ``1 / (n + 1)`` per side,
so they get that share in ``p̂``.

``m`` is rounded down to a power of two (the window-size bucket), so one computation
serves every window of that size, and the replicates are then carried to the exact
``m`` by the large-sample law of these statistics: under no drift a quadratic bucket
statistic (PSI, ``V²``, ``JS²``) is ``(1/n + 1/m)`` times a fixed chi-square-like variable
(e.g. PSI ≈ ``(1/n + 1/m) χ²_{k-1}``), so the bucket's replicates are multiplied by
``((1/n + 1/m) / (1/n + 1/m_b))^γ``, ``γ = 1`` for PSI and ``½`` for the distances that
are square roots (Jensen–Shannon, Cramér's V, total variation). Without that step a
window of 1.9× the bucket would be judged against the noise of half its rows.
Replicates are cached per reference counts, statistic, bucket and count in a bounded
in-process cache, so the live collector and reports pay for them once per profile and
bucket. The random stream is seeded from the bucket, so the same data always gets the
same verdict.

The p-value is ``(1 + #{null ≥ observed}) / (B + 1)`` (Davison & Hinkley 1997, eq. 4.11),
and ``B`` is chosen so that at least 20 replicates lie beyond the level asked for.

>>> null = null_statistics("psi", (500, 500, 0), 1_000, numeric=False, level=0.01)
>>> len(null), bool(np.all(np.diff(null) >= 0))
(2000, True)
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# scipy is imported where a statistic needs it: importing it costs ~0.8 s and ~60 MB to
# every process that only names the statistics (alert rules, the CLI, the server).
from modelport.monitoring.stats.histogram import FloatArray, IntArray
from modelport.monitoring.stats.psi import EPSILON

MIN_REPLICATES = 2_000
MAX_REPLICATES = 100_000
CHUNK = 2_000
CACHE_ENTRIES = 256


def _shares(counts: FloatArray) -> FloatArray:
    totals = counts.sum(axis=1, keepdims=True)
    shares: FloatArray = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return shares


def _psi_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    p = np.maximum(_shares(reference), EPSILON)
    q = np.maximum(_shares(current), EPSILON)
    return np.asarray(np.sum((q - p) * np.log(q / p), axis=1))


def _js_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    from scipy import special

    p, q = _shares(reference), _shares(current)
    m = (p + q) / 2.0
    divergence = np.sum(special.rel_entr(p, m), axis=1) + np.sum(special.rel_entr(q, m), axis=1)
    return np.asarray(np.sqrt(np.maximum(divergence / math.log(2.0), 0.0) / 2.0))


def _tv_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    return np.asarray(np.abs(_shares(reference) - _shares(current)).sum(axis=1) / 2.0)


def _cramers_v_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    p, q = _shares(reference), _shares(current)
    pooled = p + q
    terms = np.divide((p - q) ** 2, pooled, out=np.zeros_like(p), where=pooled > 0)
    return np.asarray(np.sqrt(terms.sum(axis=1) / 2.0))


# Bucket statistics whose null distribution is estimated by resampling, vectorised over
# replicates (one row each); they equal the scalar functions in their modules.
CALIBRATED: dict[str, Callable[[FloatArray, FloatArray], FloatArray]] = {
    "psi": _psi_rows,
    "jensenshannon": _js_rows,
    "total_variation": _tv_rows,
    "cramers_v": _cramers_v_rows,
}


# How each calibrated statistic's no-drift spread scales with (1/n + 1/m).
SCALE_POWER: dict[str, float] = {
    "psi": 1.0,
    "jensenshannon": 0.5,
    "total_variation": 0.5,
    "cramers_v": 0.5,
}


def size_bucket(n_current: int) -> int:
    """The window-size bucket of ``n_current`` rows: the power of two at or below it."""
    return 1 << max(int(n_current), 1).bit_length() - 1


def replicates_for(level: float) -> int:
    """Enough replicates that about 20 of them lie beyond ``level``."""
    wanted = math.ceil(20.0 / max(level, 1e-12))
    return int(min(max(wanted, MIN_REPLICATES), MAX_REPLICATES))


def sampling_shares(reference_counts: Sequence[int] | IntArray, numeric: bool) -> FloatArray:
    """``p̂``: reference shares, with ``1/(n+1)`` beyond each extreme of a numeric profile
    (its first and last value bins, when the reference left them empty)."""
    counts = np.asarray(reference_counts, dtype=np.float64).copy()
    values = counts[:-1]
    if numeric and len(values) >= 3:
        n = max(float(values.sum()), 1.0)
        for index in (0, len(values) - 1):
            if values[index] == 0:
                counts[index] = n / (n + 1.0) if n > 1 else 1.0
    total = counts.sum()
    return counts / total if total else counts


class _Cache:
    """A small thread-safe LRU of sorted null replicates."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.lock = threading.Lock()
        self.data: OrderedDict[tuple[object, ...], FloatArray] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> FloatArray | None:
        with self.lock:
            found = self.data.get(key)
            if found is not None:
                self.data.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: FloatArray) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.entries:
                self.data.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


CACHE = _Cache(CACHE_ENTRIES)


def null_statistics(
    name: str,
    reference_counts: Sequence[int] | IntArray,
    n_current: int,
    numeric: bool,
    level: float,
) -> FloatArray:
    """Sorted no-drift replicates of statistic ``name`` for a window of ``n_current`` rows."""
    rows = size_bucket(n_current)
    replicates = replicates_for(level)
    reference = np.asarray(reference_counts, dtype=np.int64)
    key = (name, reference.tobytes(), rows, numeric, replicates)
    found = CACHE.get(key)
    if found is not None:
        return found
    statistic = CALIBRATED[name]
    shares = sampling_shares(reference, numeric)
    n_reference = int(reference.sum())
    rng = np.random.default_rng([rows, replicates, len(reference)])
    parts = []
    for start in range(0, replicates, CHUNK):
        size = min(CHUNK, replicates - start)
        drawn_reference = rng.multinomial(n_reference, shares, size=size).astype(np.float64)
        drawn_current = rng.multinomial(rows, shares, size=size).astype(np.float64)
        parts.append(statistic(drawn_reference, drawn_current))
    null = np.sort(np.concatenate(parts))
    null.setflags(write=False)
    CACHE.put(key, null)
    return null


@dataclass(frozen=True, slots=True)
class Calibrated:
    """A statistic against its no-drift distribution at the window's size bucket."""

    p_value: float
    critical_value: float
    rows: int
    replicates: int


def calibrate(
    name: str,
    statistic: float,
    reference_counts: Sequence[int] | IntArray,
    n_current: int,
    numeric: bool,
    level: float,
) -> Calibrated:
    """The bootstrap p-value of ``statistic`` and the critical value at ``level``."""
    null = null_statistics(name, reference_counts, n_current, numeric, level)
    n_reference = max(float(np.sum(reference_counts)), 1.0)
    rows = size_bucket(n_current)
    spread = (1.0 / n_reference + 1.0 / max(n_current, 1)) / (1.0 / n_reference + 1.0 / rows)
    scale = spread ** SCALE_POWER[name]
    # Comparing statistic / scale with the bucket's replicates is comparing the statistic
    # with replicates carried to the window's own size.
    beyond = len(null) - int(np.searchsorted(null, statistic / scale, side="left"))
    p_value = (1.0 + beyond) / (len(null) + 1.0)
    # The smallest replicate value whose exceedance p-value is at most ``level``.
    index = min(max(math.ceil((1.0 - level) * (len(null) + 1.0)), 0), len(null) - 1)
    return Calibrated(p_value, float(null[index] * scale), rows, len(null))
