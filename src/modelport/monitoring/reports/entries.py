"""The report's per-column entries as plain data: what the CLI prints, HTTP returns and
HTML draws (the fields every drift entry shares with the live view are
:func:`~modelport.monitoring.stats.summary.feature_fields`)."""

from __future__ import annotations

from typing import Any

from modelport.monitoring.reports.datadrift import ColumnResult
from modelport.monitoring.stats.summary import clean, feature_fields


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
    return clean(entry)  # type: ignore[no-any-return]


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


def quality_entry(result: ColumnResult) -> dict[str, Any]:
    return clean(result.quality.to_dict())  # type: ignore[no-any-return]
