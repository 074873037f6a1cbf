"""A Grafana dashboard (JSON model, schema 39) over the series modelport's ``/metrics``
exports: service, drift per feature as a heat map over time, quality, prediction drift,
performance, rollouts and alerts.

The Prometheus data source is a template variable (``DS_PROMETHEUS``), so the file both
imports through the UI and loads through provisioning; ``endpoint`` and ``statistic``
variables narrow every panel. Monitoring figures are the same on every replica, so
their queries take ``max``; counters are summed over replicas.
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
ENDPOINT = 'endpoint=~"$endpoint"'
SERVED = f'{ENDPOINT}, role=~"primary|canary"'
RATE = "$__rate_interval"
WIDTH = 24


def _target(
    expr: str, legend: str = "", *, instant: bool = False, ref: str = "A"
) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "refId": "A",
    }
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


def _panel(
    title: str,
    targets: list[dict[str, Any]],
    *,
    kind: str = "timeseries",
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    description: str = "",
    options: dict[str, Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    for ref, target in zip("ABCDEFGH", targets, strict=False):
        target["refId"] = ref
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
    }


def _row(title: str) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": 0},
    }


def _service() -> list[dict[str, Any]]:
    def latency(quantile: float) -> str:
        return (
            f"1000 * histogram_quantile({quantile}, sum by (le, endpoint) "
            f"(rate(modelport_request_latency_seconds_bucket{{{SERVED}}}[{RATE}])))"
        )

    return [
        _row("Service"),
        _panel(
            "Request rate",
            [
                _target(
                    f"sum by (endpoint) (rate(modelport_requests_total{{{ENDPOINT}}}[{RATE}]))",
                    "{{endpoint}}",
                ),
                _target(
                    "sum by (endpoint) "
                    f"(rate(modelport_mirror_requests_total{{{ENDPOINT}}}[{RATE}]))",
                    "{{endpoint}} background copies",
                ),
            ],
            unit="reqps",
            width=8,
        ),
        _panel(
            "Error ratio",
            [
                _target(
                    f"sum by (endpoint) (rate(modelport_errors_total{{{SERVED}}}[{RATE}])) / "
                    f"(sum by (endpoint) (rate(modelport_requests_total{{{ENDPOINT}}}[{RATE}])) + "
                    f"sum by (endpoint) (rate(modelport_errors_total{{{SERVED}}}[{RATE}])))",
                    "{{endpoint}}",
                )
            ],
            unit="percentunit",
            width=8,
            minimum=0,
        ),
        _panel(
            "Model-call latency p50 / p99",
            [
                _target(latency(0.5), "{{endpoint}} p50"),
                _target(latency(0.99), "{{endpoint}} p99"),
            ],
            unit="ms",
            width=8,
        ),
        _panel(
            "HTTP request duration p99 by route",
            [
                _target(
                    "histogram_quantile(0.99, sum by (le, route) "
                    f"(rate(modelport_http_request_duration_seconds_bucket[{RATE}])))",
                    "{{route}}",
                )
            ],
            unit="s",
        ),
        _panel(
            "Refused requests and dropped log records",
            [
                _target(
                    "sum by (endpoint, code) "
                    f"(increase(modelport_invalid_requests_total{{{ENDPOINT}}}[{RATE}]))",
                    "{{endpoint}} refused {{code}}",
                ),
                _target(
                    "sum by (endpoint, reason) "
                    f"(increase(modelport_log_records_dropped_total{{{ENDPOINT}}}[{RATE}]))",
                    "{{endpoint}} dropped {{reason}}",
                ),
            ],
        ),
    ]


def _drift() -> list[dict[str, Any]]:
    scope = f'{ENDPOINT}, statistic=~"$statistic"'
    return [
        _row("Data drift"),
        _panel(
            "Drift per feature ($statistic)",
            [
                _target(
                    f"max by (feature) (modelport_drift_statistic{{{scope}}})",
                    "{{feature}}",
                )
            ],
            kind="heatmap",
            width=16,
            height=10,
            description="One row per feature; the colour is the drift statistic of the "
            "newest live window at each moment.",
            options={
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                "yAxis": {"axisPlacement": "left"},
                "rowsFrame": {"layout": "auto"},
                "legend": {"show": True},
                "tooltip": {"show": True, "yHistogram": False},
            },
        ),
        _panel(
            "Share of features drifted",
            [
                _target(
                    f"max by (endpoint, version) (modelport_drift_share_ratio{{{ENDPOINT}}})",
                    "{{endpoint}} v{{version}}",
                )
            ],
            unit="percentunit",
            width=8,
            height=10,
            minimum=0,
            maximum=1,
        ),
        _panel(
            "Drift decision per feature",
            [
                _target(
                    f"max by (feature) (modelport_drift_detected{{{scope}}})",
                    "{{feature}}",
                )
            ],
            kind="state-timeline",
            width=24,
            options={"showValue": "never", "mergeValues": True},
        ),
    ]


def _quality() -> list[dict[str, Any]]:
    def ratio(name: str, title: str) -> dict[str, Any]:
        return _panel(
            title,
            [
                _target(
                    f"max by (endpoint, feature) ({name}{{{ENDPOINT}}})",
                    "{{endpoint}} {{feature}}",
                )
            ],
            unit="percentunit",
            width=8,
            minimum=0,
        )

    return [
        _row("Data quality"),
        ratio("modelport_quality_missing_ratio", "Missing values"),
        ratio("modelport_quality_out_of_range_ratio", "Out of the reference range"),
        ratio("modelport_quality_unseen_ratio", "Unseen categories"),
        _panel(
            "Rows, failed rows and refused requests of the live window",
            [
                _target(
                    f"max by (endpoint) (modelport_monitoring_window_rows{{{ENDPOINT}}})",
                    "{{endpoint}} rows",
                ),
                _target(
                    f"max by (endpoint) (modelport_monitoring_window_failed_rows{{{ENDPOINT}}})",
                    "{{endpoint}} failed",
                ),
                _target(
                    "max by (endpoint) "
                    f"(modelport_monitoring_window_invalid_requests{{{ENDPOINT}}})",
                    "{{endpoint}} refused",
                ),
            ],
            width=24,
        ),
    ]


def _outputs() -> list[dict[str, Any]]:
    return [
        _row("Prediction drift"),
        _panel(
            "Output drift ($statistic)",
            [
                _target(
                    "max by (endpoint, feature) (modelport_prediction_drift_statistic"
                    f'{{{ENDPOINT}, statistic=~"$statistic"}})',
                    "{{endpoint}} {{feature}}",
                )
            ],
        ),
        _panel(
            "Class shares",
            [
                _target(
                    f"max by (endpoint, class) (modelport_output_class_ratio{{{ENDPOINT}}})",
                    "{{endpoint}} {{class}}",
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
    ]


def _performance() -> list[dict[str, Any]]:
    return [
        _row("Performance"),
        _panel(
            "Performance of labelled predictions",
            [
                _target(
                    "max by (endpoint, version, statistic) "
                    f"(modelport_performance_metric{{{ENDPOINT}}})",
                    "{{endpoint}} v{{version}} {{statistic}}",
                )
            ],
            width=12,
        ),
        _panel(
            "Labelled predictions",
            [
                _target(
                    "max by (endpoint, version) "
                    f"(modelport_performance_labelled_rows{{{ENDPOINT}}})",
                    "{{endpoint}} v{{version}}",
                )
            ],
            width=6,
        ),
        _panel(
            "Concept-drift detections",
            [
                _target(
                    f"max by (endpoint, detector) (modelport_detector_events{{{ENDPOINT}}})",
                    "{{endpoint}} {{detector}}",
                )
            ],
            width=6,
        ),
    ]


def _rollouts() -> list[dict[str, Any]]:
    return [
        _row("Rollouts"),
        _panel(
            "Canary weight",
            [
                _target(
                    f"max by (endpoint) (modelport_rollout_canary_weight_ratio{{{ENDPOINT}}})",
                    "{{endpoint}}",
                )
            ],
            unit="percentunit",
            width=8,
            minimum=0,
            maximum=1,
        ),
        _panel(
            "Rollout phase",
            [
                _target(
                    f"max by (endpoint, strategy, phase) (modelport_rollout_active{{{ENDPOINT}}})",
                    "{{endpoint}} {{strategy}} {{phase}}",
                ),
                _target(
                    f"max by (endpoint) (modelport_rollout_step{{{ENDPOINT}}})",
                    "{{endpoint}} step",
                ),
                _target(
                    f"max by (endpoint) (modelport_rollout_paused{{{ENDPOINT}}})",
                    "{{endpoint}} paused",
                ),
            ],
            kind="state-timeline",
            width=8,
        ),
        _panel(
            "Gate verdicts (1 pass, 0 inconclusive, -1 fail)",
            [
                _target(
                    f"max by (endpoint, gate) (modelport_rollout_gate_verdict{{{ENDPOINT}}})",
                    "{{endpoint}} {{gate}}",
                ),
                _target(
                    "sum by (endpoint) "
                    f"(increase(modelport_rollout_mirrors_dropped_total{{{ENDPOINT}}}[{RATE}]))",
                    "{{endpoint}} copies dropped",
                ),
                _target(
                    f"max by (endpoint) (modelport_rollbacks{{{ENDPOINT}}})",
                    "{{endpoint}} rollbacks",
                ),
            ],
            width=8,
        ),
    ]


def _alerts() -> list[dict[str, Any]]:
    return [
        _row("Alerts"),
        _panel(
            "Pending and firing alerts",
            [
                _target(
                    "max by (alertname, alertstate, severity, endpoint, metric, feature) "
                    f"(modelport_alerts{{{ENDPOINT}}})",
                    instant=True,
                )
            ],
            kind="table",
            width=16,
        ),
        _panel(
            "Firing alerts over time",
            [
                _target(
                    f'count by (severity) (modelport_alerts{{{ENDPOINT}, alertstate="firing"}})',
                    "{{severity}}",
                )
            ],
            width=8,
        ),
    ]


def _laid_out(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping at the grid's width; ids in order."""
    x = y = row_height = 0
    for number, panel in enumerate(panels, start=1):
        grid = panel["gridPos"]
        if panel["type"] == "row" or x + grid["w"] > WIDTH:
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_height = max(row_height, grid["h"])
        panel["id"] = number
    return panels


def _variables() -> list[dict[str, Any]]:
    def query(name: str, label: str, expr: str, *, default: str = "$__all") -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": expr, "refId": f"{name}-values"},
            "definition": expr,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".+",
            "current": {"selected": True, "text": ["All"], "value": [default]},
            "sort": 1,
        }

    return [
        {
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        query("endpoint", "Endpoint", "label_values(modelport_requests_total, endpoint)"),
        query("statistic", "Drift statistic", "label_values(modelport_drift_statistic, statistic)"),
    ]


def dashboard() -> dict[str, Any]:
    """The dashboard's JSON model."""
    panels = [
        *_service(),
        *_drift(),
        *_quality(),
        *_outputs(),
        *_performance(),
        *_rollouts(),
        *_alerts(),
    ]
    return {
        "title": "modelport",
        "uid": "modelport",
        "description": "Service, drift, quality, performance, rollouts and alerts of "
        "modelport endpoints",
        "tags": ["modelport"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "links": [],
        "panels": _laid_out(panels),
    }


__all__ = ["dashboard"]
