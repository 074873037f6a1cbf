"""The per-feature drift verdict: one deciding statistic, the others reported beside it.

By default a numeric feature drifts when PSI on the reference-quantile bins is at least
0.2, a categorical one when the Jensen–Shannon distance is at least 0.1
(:data:`~modelport.monitoring.stats.registry.DEFAULT_DECISION`). Both include the
missing-value bucket, so a feature that starts arriving empty drifts too; p-value tests
(KS, chi-square) are computed and reported but do not decide, because on large samples
they flag changes too small to matter. docs/statistics.md gives the measured
false-alarm rate.

>>> h = Histogram("categorical", np.array([500, 500, 0, 0]), np.array([450, 450, 100, 0]),
...               unseen=100)
>>> drift = summarise("city", h, compute_stats(h, ["jensenshannon"]), "jensenshannon")
>>> drift.drifted, drift.unseen_share
(True, 0.1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.histogram import Histogram, Kind
from modelport.monitoring.stats.result import StatResult, Status

__all__ = ["FeatureDrift", "compute_stats", "summarise"]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Drift verdict for one feature; ``results`` holds every statistic computed."""

    feature: str
    kind: Kind
    stat: str
    status: Status
    drifted: bool | None
    statistic: float | None
    threshold: float | None
    message: str
    n_reference: int
    n_current: int
    missing_rate_reference: float
    missing_rate_current: float
    # Categorical: current values outside the reference categories.
    unseen: int
    unseen_share: float
    results: dict[str, StatResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(
    feature: str, histogram: Histogram, results: dict[str, StatResult], decision: str
) -> FeatureDrift:
    """Pick the deciding statistic out of ``results`` and add the missing/unseen shares."""
    decisive = results[decision]
    n_reference, n_current = histogram.n_reference, histogram.n_current
    return FeatureDrift(
        feature=feature,
        kind=histogram.kind,
        stat=decision,
        status=decisive.status,
        drifted=decisive.drifted,
        statistic=decisive.statistic,
        threshold=decisive.threshold,
        message=decisive.message,
        n_reference=n_reference,
        n_current=n_current,
        missing_rate_reference=_share(int(histogram.reference[-1]), n_reference),
        missing_rate_current=_share(int(histogram.current[-1]), n_current),
        unseen=histogram.unseen,
        unseen_share=_share(histogram.unseen, n_current),
        results=results,
    )


def _share(part: int, whole: int) -> float:
    return float(np.float64(part) / whole) if whole else 0.0
