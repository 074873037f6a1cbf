"""A window's state as time-series points, and as a report-shaped answer for the live view.

Points (one row of ``monitoring_points`` each):

* every drift statistic of every column (features, ``__prediction__``,
  ``__proba__<class>``): value, p-value, threshold, drifted;
* data quality per feature: ``missing_rate``, ``out_of_range_rate``, ``unseen_rate``,
  ``constant`` (1/0);
* ``__dataset__``: ``share_drifted`` (drifted when at least ``dataset_share``), ``rows``,
  ``failed_rows``, ``invalid_requests``;
* ``__performance__``: ``labelled`` and each metric of the labelled predictions so far.
"""

from __future__ import annotations

from typing import Any

from modelport.monitoring.live.state import WindowState
from modelport.monitoring.stats.drift import FeatureDrift
from modelport.monitoring.stats.histogram import Histogram
from modelport.monitoring.stats.settings import DriftSettings
from modelport.monitoring.stats.summary import (
    clean,
    drift_summary,
    feature_fields,
    sort_by_severity,
)
from modelport.predlog import columns as col

DATASET = "__dataset__"
PERFORMANCE = "__performance__"
PERFORMANCE_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "macro_f1",
    "roc_auc",
    "log_loss",
    "mae",
    "rmse",
    "r2",
)


def _entry(drift: FeatureDrift, histogram: Histogram, categories: list[str]) -> dict[str, Any]:
    return {
        **feature_fields(drift, exact=False),
        "results": {name: result.to_dict() for name, result in drift.results.items()},
        "histogram": {
            "kind": histogram.kind,
            "reference_counts": histogram.reference.tolist(),
            "current_counts": histogram.current.tolist(),
            "cut_points": histogram.cut_points.tolist(),
            # Categorical: the buckets' names before "unseen" and "missing" (a chart's labels).
            "categories": categories if histogram.kind == "categorical" else [],
        },
    }


def live_view(
    state: WindowState, settings: DriftSettings, previous: WindowState | None = None
) -> dict[str, Any]:
    """Drift, prediction drift, quality and performance of a window from its counts."""
    verdicts = state.drift(settings, previous)
    built = {
        name: _entry(drift, histogram, [str(c) for c in state.columns[name].categories_])
        for name, (drift, histogram) in verdicts.items()
    }
    features = [entry for name, entry in built.items() if not col.is_series_output(name)]
    outputs = [entry for name, entry in built.items() if col.is_series_output(name)]
    entries = sort_by_severity(clean(features))
    view: dict[str, Any] = clean(
        {
            "rows": state.rows,
            "features": entries,
            "summary": drift_summary(entries, settings.dataset_share),
            "prediction": sort_by_severity(clean(outputs)),
            "quality": {
                "rows": state.rows,
                "failed_rows": state.failed,
                "invalid_requests": {
                    "total": sum(state.invalid.values()),
                    "by_code": state.invalid,
                },
                "features": state.quality(),
            },
            "performance": state.performance.metrics(),
        }
    )
    return view


def window_points(
    view: dict[str, Any], dataset_share: float, baseline: str
) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for entry in [*view["features"], *view["prediction"]]:
        for name, result in entry["results"].items():
            points.append(
                {
                    "feature": entry["feature"],
                    "statistic": name,
                    "status": result["status"],
                    "value": result["statistic"],
                    "p_value": result["p_value"],
                    "threshold": result["threshold"],
                    "drifted": result["drifted"],
                    "rows": result["n_current"],
                    "baseline": baseline,
                }
            )
    for feature, quality in view["quality"]["features"].items():
        for name in ("missing_rate", "out_of_range_rate", "unseen_rate", "constant"):
            points.append(_plain(feature, name, float(quality[name]), quality["rows"], baseline))
    summary = view["summary"]
    share = summary["share_drifted"]
    points.append(
        {
            **_plain(DATASET, "share_drifted", share, view["rows"], baseline),
            "status": "ok" if share is not None else "not_enough_data",
            "threshold": dataset_share,
            "drifted": summary["dataset_drifted"],
        }
    )
    quality = view["quality"]
    for name, value in (
        ("rows", quality["rows"]),
        ("failed_rows", quality["failed_rows"]),
        ("invalid_requests", quality["invalid_requests"]["total"]),
    ):
        points.append(_plain(DATASET, name, float(value), view["rows"], baseline))
    performance = view["performance"]
    points.append(_plain(PERFORMANCE, "labelled", float(performance["n"]), view["rows"], baseline))
    for name in PERFORMANCE_METRICS:
        if performance.get(name) is not None:
            points.append(_plain(PERFORMANCE, name, performance[name], performance["n"], baseline))
    return points


def _plain(
    feature: str, statistic: str, value: float | None, rows: int, baseline: str
) -> dict[str, Any]:
    return {
        "feature": feature,
        "statistic": statistic,
        "status": "ok",
        "value": value,
        "p_value": None,
        "threshold": None,
        "drifted": None,
        "rows": rows,
        "baseline": baseline,
    }
