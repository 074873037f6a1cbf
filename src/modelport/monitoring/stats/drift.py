"""The per-feature drift verdict: one deciding statistic, the others reported beside it.

By default a numeric feature is judged by PSI on the profile's bins (tail bins
included) and a categorical one by Cramér's V of the two samples
(:data:`~modelport.monitoring.stats.registry.DEFAULT_DECISION`). Both include the
missing-value bucket, so a feature that starts arriving empty drifts too. A feature
drifts only when the deciding statistic passes **both**:

* the **calibrated test**: its bootstrap p-value against the no-drift distribution at
  the window's size (:mod:`.calibration`) is at most the per-column level, ``alpha``
  divided by the number of columns judged together (Bonferroni 1936; valid under any
  dependence between features) — this keeps small and noisy windows quiet;
* its **materiality threshold** (``psi`` 0.04, ``cramers_v`` 0.1 by default, settable
  per statistic and per feature) — this keeps negligible changes quiet on large samples.

The deciding statistic's own entry in ``results`` carries the verdict (``drifted``), the
calibrated p-value and, in ``details``, the critical value and the level, so a live
point stored per statistic agrees with the feature. ``decided_by`` names the bar that
decided: for a drifted feature the higher of the two
(critical value or materiality), otherwise the one not passed (``"both"`` when neither
was). A deciding statistic without a bucket form (Wasserstein, KS) is not calibrated:
a p-value test then compares its own p-value with the level, a distance only its
materiality. docs/statistics.md gives the measured false-alarm rate.

>>> h = Histogram("categorical", np.array([500, 500, 0, 0]), np.array([450, 450, 100, 0]),
...               unseen=100)
>>> drift = summarise("city", h, compute_stats(h, ["cramers_v"]), "cramers_v")
>>> drift.drifted, drift.unseen_share
(True, 0.1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from modelport.monitoring.stats.calibration import CALIBRATED, calibrate
from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.histogram import Histogram, Kind
from modelport.monitoring.stats.registry import get_stat
from modelport.monitoring.stats.result import StatResult, Status
from modelport.monitoring.stats.settings import DriftSettings

__all__ = ["FeatureDrift", "compute_stats", "summarise"]

DecidedBy = Literal["calibration", "materiality", "both", "p_value"]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Drift verdict for one feature; ``results`` holds every statistic computed.

    ``threshold`` is the materiality threshold of the deciding statistic; ``p_value``
    and ``critical_value`` come from the calibrated test at ``level`` (the per-column
    level after the correction), on ``null_rows`` rows and ``replicates`` replicates.
    """

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
    p_value: float | None = None
    critical_value: float | None = None
    level: float | None = None
    decided_by: DecidedBy | None = None
    null_rows: int | None = None
    replicates: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Verdict:
    drifted: bool | None
    p_value: float | None = None
    critical_value: float | None = None
    level: float | None = None
    decided_by: DecidedBy | None = None
    null_rows: int | None = None
    replicates: int | None = None


def summarise(
    feature: str,
    histogram: Histogram,
    results: dict[str, StatResult],
    decision: str,
    settings: DriftSettings | None = None,
) -> FeatureDrift:
    """Pick the deciding statistic out of ``results``, decide (calibrated test and
    materiality, see the module docstring) and add the missing/unseen shares."""
    decisive = results[decision]
    verdict = _decide(decisive, histogram, settings or DriftSettings())
    if verdict.drifted is not None:
        # The deciding statistic's own entry carries the verdict and the calibrated test,
        # so a stored point or a report's ``results`` agree with the feature.
        details = dict(decisive.details)
        if verdict.critical_value is not None:
            details["critical_value"] = verdict.critical_value
        if verdict.level is not None:
            details["level"] = verdict.level
        p_value = decisive.p_value if verdict.p_value is None else verdict.p_value
        results = {
            **results,
            decision: replace(decisive, drifted=verdict.drifted, p_value=p_value, details=details),
        }
    n_reference, n_current = histogram.n_reference, histogram.n_current
    return FeatureDrift(
        feature=feature,
        kind=histogram.kind,
        stat=decision,
        status=decisive.status,
        drifted=verdict.drifted,
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
        p_value=verdict.p_value,
        critical_value=verdict.critical_value,
        level=verdict.level,
        decided_by=verdict.decided_by,
        null_rows=verdict.null_rows,
        replicates=verdict.replicates,
    )


def _decide(result: StatResult, histogram: Histogram, settings: DriftSettings) -> _Verdict:
    if result.status != "ok" or result.statistic is None or result.threshold is None:
        return _Verdict(drifted=None)
    level = settings.level
    spec = get_stat(result.name)
    if spec.direction == "below":
        # A p-value test: its own p-value against the corrected level.
        p_value = result.p_value if result.p_value is not None else 1.0
        corrected = result.threshold * level / settings.alpha
        return _Verdict(p_value < corrected, p_value, None, corrected, "p_value")
    material = result.statistic >= result.threshold
    if result.name not in CALIBRATED:
        return _Verdict(material, decided_by="materiality")
    found = calibrate(
        result.name,
        result.statistic,
        histogram.reference,
        histogram.n_current,
        histogram.kind == "numeric",
        level,
    )
    significant = found.p_value <= level
    if material and significant:
        higher = found.critical_value > result.threshold
        decided: DecidedBy = "calibration" if higher else "materiality"
    elif material:
        decided = "calibration"
    elif significant:
        decided = "materiality"
    else:
        decided = "both"
    return _Verdict(
        material and significant,
        found.p_value,
        found.critical_value,
        level,
        decided,
        found.rows,
        found.replicates,
    )


def _share(part: int, whole: int) -> float:
    return float(np.float64(part) / whole) if whole else 0.0
