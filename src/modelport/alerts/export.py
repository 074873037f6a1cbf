"""Exports for teams that run the Prometheus stack: static alert rules as a Prometheus
alerting-rules file, and a Grafana dashboard whose panels query only metric names the
server exports.

Every rule metric (:data:`~modelport.alerts.rules.METRICS`) has a PromQL expression over
the series ``/metrics`` exports: service figures over the request counters and the
model-call latency histogram, window figures over the live monitoring gauges
(:mod:`modelport.monitoring.live.exporter`), scoped by the rule's endpoint, version,
role and feature (``"*"``: no feature matcher, one alert per feature). The figures of
the shared store are the same on every replica, so window expressions take ``max``.

>>> from modelport.alerts.rules import parse_rule
>>> rule = parse_rule({"name": "churn-drift", "endpoint": "churn", "metric": "drift.psi",
...                    "feature": "tenure", "above": 0.2})
>>> print(expression(rule))
max by (endpoint, version, role, feature) (modelport_drift_statistic{endpoint="churn", \
feature="tenure", statistic="psi"})
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from modelport.alerts.grafana import dashboard
from modelport.alerts.rules import ANY_FEATURE, Rule
from modelport.alerts.thresholds import Static

# The range of rate(), increase() and "in the last ..." figures.
RANGE = "5m"
# rollout.rolled_back is 1 for this long after a rollback.
ROLLED_BACK_FOR_S = 3600
SERVED = 'role=~"primary|canary"'
WINDOW_LABELS = ("endpoint", "version", "role")


@dataclass(frozen=True)
class Query:
    """A rule's figure in PromQL: the expression, the labels it keeps (the alert's
    scope) and what its ``min_samples`` counts."""

    expr: str
    by: tuple[str, ...]
    samples: str | None = None
    samples_by: tuple[str, ...] = ()


def expression(rule: Rule) -> str:
    """The PromQL expression of ``rule``'s figure (one series per alert it can raise)."""
    return query(rule).expr


def query(rule: Rule) -> Query:
    metric = rule.metric
    family, _, name = metric.partition(".")
    if rule.info.family == "service":
        return _service(rule)
    if family in ("detector", "rollout"):
        return _event(rule)
    window = _matchers(rule)
    rows = f"max by (endpoint, version, role) (modelport_monitoring_window_rows{_braces(window)})"
    by = (*WINDOW_LABELS, "feature")
    if family == "drift" and name == "decision":
        return _gauge("modelport_drift_decision", [*window, *_feature(rule)], by, rows)
    if family == "drift":
        matchers = [*window, *_feature(rule), f'statistic="{name}"']
        return _gauge("modelport_drift_statistic", matchers, by, rows)
    if family == "prediction_drift":
        matchers = [*window, 'feature="__prediction__"', f'statistic="{name}"']
        return _gauge("modelport_prediction_drift_statistic", matchers, by, rows)
    if metric == "quality.schema_violations":
        invalid = f"modelport_monitoring_window_invalid_requests{_braces(window)}"
        return Query(
            f"max by (endpoint, version, role) ({invalid})", WINDOW_LABELS, rows, WINDOW_LABELS
        )
    if family == "quality":
        gauge = {
            "missing_rate": "modelport_quality_missing_ratio",
            "out_of_range_rate": "modelport_quality_out_of_range_ratio",
            "unseen_categories": "modelport_quality_unseen_ratio",
        }[name]
        return _gauge(gauge, [*window, *_feature(rule)], by, rows)
    if metric == "output.class_share":
        classes = _feature(rule, label="class")
        by = (*WINDOW_LABELS, "class")
        return _gauge("modelport_output_class_ratio", [*window, *classes], by, rows)
    if family == "performance":
        labelled = (
            "max by (endpoint, version, role) "
            f"(modelport_performance_labelled_rows{_braces(window)})"
        )
        # F1 of the positive class for two classes, the macro average otherwise.
        names = ("f1", "macro_f1") if name == "f1" else (name,)
        found = [
            _gauge(
                "modelport_performance_metric",
                [*window, f'statistic="{n}"'],
                WINDOW_LABELS,
                labelled,
            )
            for n in names
        ]
        return Query(" or ".join(q.expr for q in found), WINDOW_LABELS, labelled, WINDOW_LABELS)
    raise AssertionError(f"no PromQL expression for metric {metric!r}")


def _service(rule: Rule) -> Query:
    # Grouped by the scope the rule names: the alert's labels.
    by = ("endpoint", *(["version"] if rule.version else []), *(["role"] if rule.role else []))
    group = f"by ({', '.join(by)})"
    scoped = _braces(_matchers(rule, default_role=SERVED))
    requests = f"sum {group} (rate(modelport_requests_total{scoped}[{RANGE}]))"
    answered = f"sum {group} (increase(modelport_requests_total{scoped}[{RANGE}]))"
    errors = f"sum {group} (rate(modelport_errors_total{scoped}[{RANGE}]))"
    metric = rule.metric
    if metric == "requests.rate":
        expr = requests
    elif metric == "errors.rate":
        failed = f"({errors} or 0 * {requests})"  # no error series yet: none failed
        expr = f"{failed} / ({requests} + {failed})"
    elif metric.startswith("latency.p"):
        quantile = int(metric.removeprefix("latency.p").removesuffix("_ms")) / 100
        buckets = f"rate(modelport_request_latency_seconds_bucket{scoped}[{RANGE}])"
        expr = f"1000 * histogram_quantile({quantile}, sum by (le, {', '.join(by)}) ({buckets}))"
    elif metric == "log.dropped":
        by = ("endpoint",)
        # Records dropped (queue full, write failed) and failed attempts to write.
        names = '__name__=~"modelport_log_records_dropped_total|modelport_log_write_errors_total"'
        expr = (
            f"sum by (endpoint) (increase({{{names}, endpoint={_quote(rule.endpoint)}}}[{RANGE}]))"
        )
        answered = ""
    else:
        raise AssertionError(f"no PromQL expression for metric {metric!r}")
    return Query(expr, by, answered or None, by)


def _event(rule: Rule) -> Query:
    endpoint = f"endpoint={_quote(rule.endpoint)}"
    if rule.metric == "detector.events":
        events = f"modelport_detector_events{_braces(_matchers(rule))}"
        # Detections in the range; a series younger than the range counts from zero.
        new = f"(({events} - {events} offset {RANGE}) or {events})"
        expr = f"sum by (endpoint) (max by (endpoint, version, role, detector) {new})"
    elif rule.metric == "rollout.rolled_back":
        expr = (
            "max by (endpoint) (time() - modelport_rollback_last_timestamp_seconds"
            f"{{{endpoint}}} <= bool {ROLLED_BACK_FOR_S})"
        )
    elif rule.metric == "rollout.waiting_s":
        expr = (
            "max by (endpoint) (time() - "
            f"modelport_live_rollout_step_started_timestamp_seconds{{{endpoint}}})"
        )
    else:
        raise AssertionError(f"no PromQL expression for metric {rule.metric!r}")
    return Query(expr, ("endpoint",))


def _gauge(name: str, matchers: list[str], by: tuple[str, ...], samples: str) -> Query:
    expr = f"max by ({', '.join(by)}) ({name}{_braces(matchers)})"
    return Query(expr, by, samples, WINDOW_LABELS)


def _matchers(rule: Rule, *, default_role: str | None = None) -> list[str]:
    found = [f"endpoint={_quote(rule.endpoint)}"]
    if rule.version is not None:
        found.append(f"version={_quote(rule.version)}")
    if rule.role is not None:
        found.append(f"role={_quote(str(rule.role))}")
    elif default_role is not None:
        found.append(default_role)
    return found


def _feature(rule: Rule, *, label: str = "feature") -> list[str]:
    if rule.feature in (None, ANY_FEATURE):
        return []
    return [f"{label}={_quote(rule.feature)}"]


def _quote(value: str) -> str:
    return json.dumps(value)  # a PromQL string: double quotes, backslash escapes


def _braces(matchers: Sequence[str]) -> str:
    return "{" + ", ".join(matchers) + "}"


def _compare(rule: Rule, q: Query) -> str:
    """The alerting expression: the figure against the static threshold, with the
    resolve level as hysteresis (a firing alert stays while past it) and the
    ``min_samples`` guard."""
    threshold = rule.threshold
    assert isinstance(threshold, Static)
    value = q.expr
    firing = f'ALERTS{{alertname={_quote(rule.name)}, alertstate="firing"}}'  # the rule's own state
    on = f"on ({', '.join(q.by)})"
    parts = []
    if threshold.above is not None:
        parts.append(f"({value}) > {_number(threshold.above)}")
    if threshold.below is not None:
        parts.append(f"({value}) < {_number(threshold.below)}")
    expr = " or ".join(parts)
    resolve = threshold.resolve_at
    if resolve is not None and resolve not in (threshold.above, threshold.below):
        side = ">" if threshold.above is not None else "<"
        expr = f"{expr} or (({value}) {side} {_number(resolve)} and {on} {firing})"
    if rule.min_samples and q.samples:
        guard = f"on ({', '.join(q.samples_by)})"
        expr = f"({expr}) and {guard} ({q.samples} >= {rule.min_samples})"
    return expr


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(value)


def _duration(seconds: float) -> str:
    whole = int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _summary(rule: Rule) -> str:
    threshold = rule.threshold
    assert isinstance(threshold, Static)
    limits = []
    if threshold.above is not None:
        limits.append(f"above {_number(threshold.above)}")
    if threshold.below is not None:
        limits.append(f"below {_number(threshold.below)}")
    where = "{{ $labels.endpoint }}"
    if rule.metric == "output.class_share":
        where += " class {{ $labels.class }}"
    elif rule.feature is not None:
        where += " feature {{ $labels.feature }}"
    return f"{rule.name}: {rule.metric} on {where} is {{{{ $value }}}} ({' or '.join(limits)})"


def prometheus_rules(rules: Sequence[Rule]) -> str:
    """A Prometheus rules file (YAML) with one alerting rule per static rule; adaptive
    rules are listed in a comment (they live only in modelport)."""
    exported: list[dict[str, Any]] = []
    adaptive: list[str] = []
    for rule in sorted(rules, key=lambda r: r.name):
        if not isinstance(rule.threshold, Static):
            adaptive.append(rule.name)
            continue
        q = query(rule)
        entry: dict[str, Any] = {"alert": rule.name, "expr": _compare(rule, q)}
        if rule.for_s > 0:
            entry["for"] = _duration(rule.for_s)
        entry["labels"] = {"severity": rule.severity, "metric": rule.metric}
        entry["annotations"] = {
            "summary": _summary(rule),
            "description": f"Exported from modelport rule {rule.name}: {rule.info.description}"
            f" ({rule.metric}); counters and rates over the last {RANGE}.",
        }
        exported.append(entry)
    header = [
        "# Prometheus alerting rules generated by `modelport alerts export-prometheus-rules`.",
        "# Each expression reads the series modelport's /metrics exports.",
    ]
    if adaptive:
        header.append(
            "# Not exportable (adaptive thresholds are learned by modelport itself): "
            + ", ".join(adaptive)
        )
    body: str = yaml.safe_dump(
        {"groups": [{"name": "modelport", "rules": exported}]},
        sort_keys=False,
        width=10_000,
        allow_unicode=True,
    )
    return "\n".join(header) + "\n" + body


def grafana_dashboard() -> dict[str, Any]:
    """A Grafana dashboard (JSON model) over modelport's exported metrics."""
    return dashboard()


__all__ = ["expression", "grafana_dashboard", "prometheus_rules", "query"]
