"""Run named statistics on one feature's histogram (and, for numeric data, exact samples).

>>> from modelport.monitoring.stats.histogram import Histogram
>>> h = Histogram("categorical", np.array([600, 400, 0, 0]), np.array([500, 450, 50, 0]))
>>> results = compute_stats(h, ["psi", "total_variation"])
>>> round(results["psi"].statistic, 3), results["psi"].drifted
(0.334, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from modelport.errors import ConfigError
from modelport.monitoring.stats.ecdf import EcdfAlignment
from modelport.monitoring.stats.histogram import Histogram
from modelport.monitoring.stats.registry import get_stat
from modelport.monitoring.stats.result import Measurement, StatResult
from modelport.monitoring.stats.spec import StatSpec


def compute_stats(
    histogram: Histogram,
    names: Iterable[str],
    thresholds: Mapping[str, float] | None = None,
    exact: EcdfAlignment | None = None,
) -> dict[str, StatResult]:
    """Each named statistic; exact where an alignment of raw samples is given and it has a form."""
    thresholds = thresholds or {}
    # Buckets the reference never filled do not make a statistic need more rows.
    populated_bins = int(np.count_nonzero(histogram.reference[:-1]))
    results: dict[str, StatResult] = {}
    for name in names:
        spec = get_stat(name)
        if histogram.kind not in spec.kinds:
            raise ConfigError(f"statistic {name!r} does not apply to {histogram.kind} features")
        if spec.values_only:
            n_reference, n_current = histogram.n_reference_values, histogram.n_current_values
        else:
            n_reference, n_current = histogram.n_reference, histogram.n_current
        results[name] = spec.evaluate(
            _computation(spec, histogram, exact),
            n_reference,
            n_current,
            populated_bins,
            thresholds.get(name),
        )
    return results


def _computation(
    spec: StatSpec, histogram: Histogram, exact: EcdfAlignment | None
) -> Callable[[], Measurement]:
    exact_stat = spec.exact
    if exact is not None and exact_stat is not None:
        return lambda: exact_stat(histogram, exact)
    return lambda: spec.binned(histogram)
