"""How drift verdicts read in a report and in a live view alike.

Feature entries are sorted by severity: drifted features first (furthest past their
threshold first), then the closest calls, then features without a verdict (not enough
data, or not in the reference). The summary gives the share of drifted features among
those with a verdict; the data set drifts when that share reaches
``DriftSettings.dataset_share`` (0.5 by default).

>>> import numpy as np
>>> clean({"psi": float("nan"), "n": np.int64(3), "cuts": (1.0, float("inf"))})
{'psi': None, 'n': 3, 'cuts': [1.0, None]}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelport.monitoring.stats.drift import FeatureDrift
from modelport.monitoring.stats.registry import get_stat


def clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def severity(drift: FeatureDrift) -> float:
    """How far past (or short of) its higher bar the deciding statistic is (materiality
    threshold or calibrated critical value): drifted features sort first, then the
    closest calls; no verdict sorts last."""
    if drift.status != "ok" or drift.statistic is None or not drift.threshold:
        return -1.0
    if get_stat(drift.stat).direction == "below":
        p_value = drift.results[drift.stat].p_value or 0.0
        level = drift.level if drift.level is not None else drift.threshold
        return float(level / max(p_value, 1e-300)) if p_value else 1e300
    bar = max(drift.threshold, drift.critical_value or 0.0)
    return float(drift.statistic / bar)


def feature_fields(drift: FeatureDrift, exact: bool) -> dict[str, Any]:
    """What every drift entry says of its feature, live (binned) or exact."""
    return {
        "feature": drift.feature,
        "kind": drift.kind,
        "status": drift.status,
        "drifted": drift.drifted,
        "stat": drift.stat,
        "statistic": drift.statistic,
        "threshold": drift.threshold,
        # The calibrated test beside the materiality threshold, and which one decided.
        "materiality": drift.threshold,
        "critical_value": drift.critical_value,
        "p_value": drift.p_value,
        "level": drift.level,
        "decided_by": drift.decided_by,
        "null_rows": drift.null_rows,
        "replicates": drift.replicates,
        "severity": severity(drift),
        "message": drift.message,
        "n_reference": drift.n_reference,
        "n_current": drift.n_current,
        "missing_rate_reference": drift.missing_rate_reference,
        "missing_rate_current": drift.missing_rate_current,
        "unseen": drift.unseen,
        "unseen_share": drift.unseen_share,
        "exact": exact,
    }


def sort_by_severity(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (-(e["severity"] or 0.0), e["feature"]))


def drift_summary(entries: list[dict[str, Any]], dataset_share: float) -> dict[str, Any]:
    judged = [e for e in entries if e["status"] == "ok"]
    drifted = [e["feature"] for e in judged if e["drifted"]]
    share = len(drifted) / len(judged) if judged else None
    return {
        "features": len(entries),
        "judged": len(judged),
        "drifted": len(drifted),
        "drifted_features": drifted,
        "share_drifted": share,
        "dataset_share_threshold": dataset_share,
        "dataset_drifted": None if share is None else share >= dataset_share,
        "not_enough_data": [e["feature"] for e in entries if e["status"] == "not_enough_data"],
        "not_in_reference": [e["feature"] for e in entries if e["status"] == "not_in_reference"],
    }
