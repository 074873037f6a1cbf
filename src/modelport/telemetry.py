"""Prometheus metrics of one server process, on a registry of its own (so several apps
can live in one test process). Label children are cached: the request path pays a dict
lookup, not a label resolution.

A server of several worker processes (``server.workers``) answers each scrape from the
one worker that accepted the connection: every sample then carries that worker's
``worker`` label (its process id), so figures of different processes never pass for
one series, and ``modelport_workers`` says how many there are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.registry import Collector

from modelport import __version__

# The *_created series double the exposition for no use on a dashboard.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Roles whose rows are background copies of a request another role answered.
MIRROR_ROLES = frozenset({"shadow", "baseline"})

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip


class Telemetry:
    def __init__(self, *, worker: str | None = None, workers: int = 1) -> None:
        """``worker``: this process's name among several serving one port (every
        sample is labelled with it); None for a server of one process."""
        self.registry = CollectorRegistry()
        self._exposed: CollectorRegistry = self.registry
        if worker is not None:
            self._exposed = CollectorRegistry(auto_describe=False)
            self._exposed.register(_Labelled(self.registry, {"worker": worker}))
        labels = ["endpoint", "version", "role"]
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.build_info = Gauge(
            "modelport_build_info",
            "Always 1; the version label is the running modelport's",
            ["version"],
            registry=self.registry,
        )
        self.build_info.labels(__version__).set(1)
        Gauge(
            "modelport_workers",
            "Worker processes serving this port (server.workers); a scrape sees one of them",
            registry=self.registry,
        ).set(workers)
        self.requests = Counter(
            "modelport_requests",
            "Prediction requests answered to a caller (background copies are "
            "modelport_mirror_requests_total)",
            labels,
            registry=self.registry,
        )
        self.mirror_requests = Counter(
            "modelport_mirror_requests",
            "Background copies of answered requests (shadow, baseline) a model predicted",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "modelport_errors",
            "Prediction requests that failed, by error code",
            [*labels, "code"],
            registry=self.registry,
        )
        self.rows = Counter(
            "modelport_predictions", "Rows predicted", labels, registry=self.registry
        )
        self.latency = Histogram(
            "modelport_request_latency_seconds",
            "Time from request decoded to prediction ready (the model call, by role)",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "modelport_model_batch_rows",
            "Rows per model call after micro-batching",
            ["endpoint", "version"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=self.registry,
        )
        self.invalid = Counter(
            "modelport_invalid_requests",
            "Requests refused before reaching a model (schema violations), by code",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "modelport_log_dropped_records",
            "Prediction records dropped because the log queue was full or the disk failed",
            registry=self.registry,
        )
        self.log_records_dropped = Counter(
            "modelport_log_records_dropped",
            "Prediction records dropped before reaching the log, by endpoint and reason "
            "(queue_full, write_failed)",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.log_write_errors = Counter(
            "modelport_log_write_errors",
            "Failed attempts to write an endpoint's log segment, by endpoint and reason "
            "(the errno name, e.g. enospc, or error)",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.log_written = Counter(
            "modelport_log_written_rows",
            "Prediction rows written to the log",
            registry=self.registry,
        )
        self.log_queue_depth = Gauge(
            "modelport_log_queue_depth",
            "Records waiting for the log writer",
            registry=self.registry,
        )
        self.endpoint_ready = Gauge(
            "modelport_endpoint_ready",
            "1 when the endpoint's models are loaded",
            ["endpoint"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "modelport_http_request_duration_seconds",
            "Time from HTTP request received to response sent, by route template",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.alert_notifications_failed = Counter(
            "modelport_alert_notifications_failed",
            "Failed attempts to deliver an alert notification, by notifier (each retry counts)",
            ["notifier"],
            registry=self.registry,
        )
        self.alert_evaluations = Counter(
            "modelport_alert_evaluations",
            "Alert evaluation rounds this process ran (while holding the evaluation lease)",
            registry=self.registry,
        )
        self.alert_evaluation_seconds = Histogram(
            "modelport_alert_evaluation_seconds",
            "Time one alert evaluation round took over every rule",
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0),
            registry=self.registry,
        )
        self.pipeline_latency = Histogram(
            "modelport_pipeline_latency_seconds",
            "Time from request decoded to a pipeline's answer (every step)",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pipeline_step_latency = Histogram(
            "modelport_pipeline_step_latency_seconds",
            "Time one step of a pipeline took inside a request (0 rows run: mapping only)",
            ["endpoint", "step"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pipeline_step_rows = Counter(
            "modelport_pipeline_step_rows",
            "Rows that reached a step of a pipeline, by outcome (run, or skipped by its condition)",
            ["endpoint", "step", "outcome"],
            registry=self.registry,
        )
        self.pipeline_failures = Counter(
            "modelport_pipeline_failures",
            "Pipeline requests that failed, by the step that failed",
            ["endpoint", "step"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, ...], tuple[Any, Any, Any]] = {}
        # HTTP duration children by (method, route template, status).
        self._http_children: dict[tuple[str, str, int], Any] = {}

    def observe(self, endpoint: str, version: int, role: str, seconds: float, rows: int) -> None:
        key = (endpoint, str(version), role)
        children = self._children.get(key)
        if children is None:
            counter = self.mirror_requests if role in MIRROR_ROLES else self.requests
            children = (
                counter.labels(*key),
                self.latency.labels(*key),
                self.rows.labels(*key),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        children[2].inc(rows)

    def pipeline_answered(
        self, endpoint: str, seconds: float, steps: Sequence[tuple[str, float, int, int]]
    ) -> None:
        """One answered pipeline request: its total time, and per step (name, seconds,
        rows run, rows skipped)."""
        self.pipeline_latency.labels(endpoint).observe(seconds)
        for step, step_seconds, ran, skipped in steps:
            self.pipeline_step_latency.labels(endpoint, step).observe(step_seconds)
            if ran:
                self.pipeline_step_rows.labels(endpoint, step, "run").inc(ran)
            if skipped:
                self.pipeline_step_rows.labels(endpoint, step, "skipped").inc(skipped)

    def pipeline_failed(self, endpoint: str, step: str) -> None:
        self.pipeline_failures.labels(endpoint, step).inc()

    def step_rows(self, endpoint: str) -> dict[str, dict[str, float]]:
        """Rows per step of pipeline ``endpoint`` so far, by outcome (this process)."""
        counts: dict[str, dict[str, float]] = {}
        for metric in self.pipeline_step_rows.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["endpoint"] == endpoint:
                    step = counts.setdefault(sample.labels["step"], {})
                    step[sample.labels["outcome"]] = sample.value
        return counts

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP exchange on ``route`` (the path template, never the raw path)."""
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self.http_duration.labels(method, route, str(status))
            self._http_children[key] = child
        child.observe(seconds)

    def error(self, endpoint: str, version: int | str, role: str, code: str) -> None:
        self.errors.labels(endpoint, str(version), role, code).inc()

    def invalid_counts(self) -> dict[tuple[str, str], float]:
        """Requests refused so far, by (endpoint, code)."""
        counts: dict[tuple[str, str], float] = {}
        for metric in self.invalid.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts[(sample.labels["endpoint"], sample.labels["code"])] = sample.value
        return counts

    def log_drop(self, endpoint: str, reason: str, count: int) -> None:
        """``count`` records of ``endpoint`` will never reach the log, for ``reason``."""
        self.log_dropped.inc(count)
        self.log_records_dropped.labels(endpoint, reason).inc(count)

    def log_write_error(self, endpoint: str, reason: str) -> None:
        self.log_write_errors.labels(endpoint, reason).inc()

    def alert_notification_failed(self, notifier: str, error: str) -> None:
        """One failed delivery attempt (``Delivery``'s ``on_failure``)."""
        self.alert_notifications_failed.labels(notifier).inc()

    def alert_evaluation(self, seconds: float) -> None:
        self.alert_evaluations.inc()
        self.alert_evaluation_seconds.observe(seconds)

    def track_queue(self, depth: Callable[[], float]) -> None:
        self.log_queue_depth.set_function(depth)

    def exposition(self) -> bytes:
        return generate_latest(self._exposed)


class _Labelled(Collector):
    """Every metric of ``source`` with ``labels`` added to each sample (prometheus_client
    has constant labels only per metric, not per registry)."""

    def __init__(self, source: CollectorRegistry, labels: dict[str, str]) -> None:
        self.source = source
        self.labels = labels

    def collect(self) -> list[Metric]:
        labelled: list[Metric] = []
        for metric in self.source.collect():
            copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            copy.samples = [
                sample._replace(labels={**sample.labels, **self.labels})
                for sample in metric.samples
            ]
            labelled.append(copy)
        return labelled
