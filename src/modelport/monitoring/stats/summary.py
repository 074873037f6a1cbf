"""The report's sections as plain data: what the CLI prints, HTTP returns and HTML draws.

Feature entries are sorted by severity: drifted features first (furthest past their
threshold first), then the closest calls, then features without a verdict (not enough
data, or not in the reference). The summary gives the share of drifted features among
those with a verdict; the data set drifts when that share reaches
``DriftSettings.dataset_share`` (0.5 by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelport.monitoring.datadrift import ColumnResult, severity
from modelport.monitoring.stats.drift import FeatureDrift


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    return value


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


def drift_entry(result: ColumnResult) -> dict[str, Any]:
    drift = result.drift
    entry = {
        **feature_fields(drift, result.exact),
        "results": {
            name: {
                "status": r.status,
                "statistic": r.statistic,
                "p_value": r.p_value,
                "threshold": r.threshold,
                "drifted": r.drifted,
                "message": r.message,
                **({"details": r.details} if r.details else {}),
            }
            for name, r in drift.results.items()
        },
        "histogram": result.histogram,
    }
    return _clean(entry)  # type: ignore[no-any-return]


def absent_entry(feature: str, kind: str, status: str, message: str) -> dict[str, Any]:
    """A column that cannot be compared: logged but not in the reference, or vice versa."""
    return {
        "feature": feature,
        "kind": kind,
        "status": status,
        "drifted": None,
        "stat": None,
        "statistic": None,
        "threshold": None,
        "severity": -2.0,
        "message": message,
        "results": {},
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


def quality_entry(result: ColumnResult) -> dict[str, Any]:
    return _clean(result.quality.to_dict())  # type: ignore[no-any-return]


def clean(value: Any) -> Any:
    return _clean(value)
