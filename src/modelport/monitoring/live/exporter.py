"""The live monitoring figures and the alert state on ``/metrics``, as gauges.

A prometheus-client custom collector on the server's telemetry registry. Scrapes never
touch SQL: :meth:`MonitoringExporter.refresh` (run in the background every monitoring
interval by the composition root) reads the newest stored window of every served
version, the detector events, the rollouts and the alerts into a snapshot, and
:meth:`MonitoringExporter.collect` only hands that snapshot out.

Every window figure is labelled ``endpoint, version, role`` (``role`` is the version's
place in the endpoint's traffic policy: ``primary``, ``canary``, ``shadow``, ``standby``,
or ``""`` when this process does not know it), and per column ``feature`` and
``statistic``. The figures come from the shared store, so every replica exports the
same values: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select

from modelport.monitoring.live.evaluate import DATASET, PERFORMANCE
from modelport.monitoring.live.queries import merged_state
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.monitoring.live.windows import parse_window
from modelport.monitoring.stats.registry import DEFAULT_DECISION, REGISTRY
from modelport.predlog import columns as col
from modelport.store.tables import EndpointRow, MonitoringEventRow, MonitoringPointRow, RolloutRow
from modelport.vocabulary import LIVE_STATUSES, Role, RolloutStatus

logger = logging.getLogger(__name__)

WINDOW = ("endpoint", "version", "role")
COLUMN = (*WINDOW, "feature", "statistic")
ALERT_LABELS = (
    "alertname", "alertstate", "severity", "endpoint", "metric", "version", "role", "feature",
)  # fmt: skip


@dataclass(frozen=True)
class Family:
    """One exported gauge: its name, help text and label names."""

    name: str
    documentation: str
    labels: tuple[str, ...]


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("modelport_drift_statistic", "Drift statistic of a feature in the newest "
               "live window, against the version's baseline", COLUMN),
        Family("modelport_drift_threshold", "Threshold the drift statistic is judged "
               "against", COLUMN),
        Family("modelport_drift_p_value", "p-value of the drift statistic, where it has one",
               COLUMN),
        Family("modelport_drift_detected", "1 when the statistic says the feature drifted, "
               "else 0", COLUMN),
        Family("modelport_drift_decision", "1 when the feature drifted by its deciding "
               "statistic (psi for numbers, cramers_v for categories), else 0",
               (*WINDOW, "feature")),
        Family("modelport_prediction_drift_statistic", "Drift statistic of the model's "
               "output (feature __prediction__ or __proba__<class>)", COLUMN),
        Family("modelport_prediction_drift_threshold", "Threshold of the output's drift "
               "statistic", COLUMN),
        Family("modelport_prediction_drift_detected", "1 when the output drifted by this "
               "statistic, else 0", COLUMN),
        Family("modelport_drift_share_ratio", "Share of the features that drifted in the "
               "newest live window, 0 to 1", WINDOW),
        Family("modelport_dataset_drift_detected", "1 when the share of drifted features "
               "reached monitoring's dataset share, else 0", WINDOW),
        Family("modelport_quality_missing_ratio", "Share of missing values of a feature",
               (*WINDOW, "feature")),
        Family("modelport_quality_out_of_range_ratio", "Share of a feature's present values "
               "outside the reference range", (*WINDOW, "feature")),
        Family("modelport_quality_unseen_ratio", "Share of a feature's present values in "
               "categories the reference never saw", (*WINDOW, "feature")),
        Family("modelport_quality_constant", "1 when a feature held one value all window",
               (*WINDOW, "feature")),
        Family("modelport_output_class_ratio", "Share of the window's predictions that are "
               "this class (__unseen__: classes the reference never predicted)",
               (*WINDOW, "class")),
        Family("modelport_monitoring_window_rows", "Rows predicted in the newest live "
               "window", WINDOW),
        Family("modelport_monitoring_window_failed_rows", "Rows whose prediction failed in "
               "the newest live window", WINDOW),
        Family("modelport_monitoring_window_invalid_requests", "Requests refused (schema "
               "violations) in the newest live window", WINDOW),
        Family("modelport_monitoring_window_start_timestamp_seconds", "Start of the newest "
               "live window (Unix time)", WINDOW),
        Family("modelport_monitoring_window_end_timestamp_seconds", "End of the newest live "
               "window, or its newest row for a row-count window (Unix time)", WINDOW),
        Family("modelport_performance_metric", "Performance of the window's labelled "
               "predictions (accuracy, f1, log_loss, mae, ...)", (*WINDOW, "statistic")),
        Family("modelport_performance_labelled_rows", "Labelled predictions the window's "
               "performance rests on", WINDOW),
        Family("modelport_detector_events", "Concept-drift detections stored so far (only "
               "grows, unless log retention removes old ones)",
               ("endpoint", "version", "role", "detector")),
        Family("modelport_detector_last_event_timestamp_seconds", "Time of the newest "
               "concept-drift detection (Unix time)",
               ("endpoint", "version", "role", "detector")),
        Family("modelport_rollbacks", "Rollouts of the endpoint that ended rolled "
               "back (only grows)", ("endpoint",)),
        Family("modelport_rollback_last_timestamp_seconds", "When the endpoint's "
               "newest rolled-back rollout ended (Unix time)", ("endpoint",)),
        Family("modelport_live_rollout_step_started_timestamp_seconds", "When the live rollout's "
               "current step began (Unix time); time() minus it is how long it waits",
               ("endpoint",)),
        Family("modelport_alerts", "1 per pending or firing alert (like Prometheus's own "
               "ALERTS), labelled by its rule, state and scope", ALERT_LABELS),
    )
}  # fmt: skip

# The statistics that decide whether a column drifted, categorical first.
DECIDING = (DEFAULT_DECISION["categorical"], DEFAULT_DECISION["numeric"])
# Alert states the alert gauge shows (as Prometheus's ALERTS does).
ACTIVE_STATES = ("pending", "firing")
# Stored statistic -> exported quality gauge.
QUALITY = {
    "missing_rate": "modelport_quality_missing_ratio",
    "out_of_range_rate": "modelport_quality_out_of_range_ratio",
    "unseen_rate": "modelport_quality_unseen_ratio",
    "constant": "modelport_quality_constant",
}
# The class label of predictions in classes the reference never predicted.
UNSEEN_CLASS = "__unseen__"
DATASET_FIGURES = {
    "rows": "modelport_monitoring_window_rows",
    "failed_rows": "modelport_monitoring_window_failed_rows",
    "invalid_requests": "modelport_monitoring_window_invalid_requests",
}


class AlertView(Protocol):
    """What the exporter reads of one alert (``modelport.alerts.lifecycle.Alert``)."""

    @property
    def rule(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def state(self) -> str: ...


class AlertSource(Protocol):
    """What the exporter reads of the alert service (``modelport.alerts`` builds on
    monitoring, so monitoring names only this shape)."""

    def alerts(self, *, active_only: bool = False) -> Sequence[AlertView]: ...

    def rules(self) -> list[dict[str, Any]]: ...


# endpoint -> {version: role} of the versions it serves now, or None when unknown here.
RolesOf = Callable[[str], Mapping[int, str] | None]

Sample = tuple[tuple[str, ...], float]


class MonitoringExporter(Collector):
    def __init__(
        self,
        series: SeriesStore,
        *,
        window: str,
        roles_of: RolesOf | None = None,
        alerts: AlertSource | None = None,
    ) -> None:
        self.series = series
        self.window = parse_window(window).label
        self.roles_of = roles_of
        self.alert_source = alerts
        self._snapshot: list[Metric] = []
        self._lock = threading.Lock()
        self._alerts_failed = False

    # -- scrape --------------------------------------------------------------------------
    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(f.name, f.documentation, labels=f.labels) for f in _families()]

    def collect(self) -> Iterator[Metric]:
        return iter(self._snapshot)

    # -- background ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the figures from the store into a new snapshot (one thread at a time)."""
        with self._lock:
            samples: dict[str, list[Sample]] = {name: [] for name in FAMILIES}
            endpoints = self._endpoints()
            roles = {endpoint: self._roles(endpoint) for endpoint in endpoints}
            self._windows(samples, roles)
            self._events(samples, roles)
            self._rollouts(samples, endpoints)
            self._alerts(samples)
            self._snapshot = [_gauge(FAMILIES[name], found) for name, found in samples.items()]

    def _endpoints(self) -> set[str]:
        with self.series.db.session() as session:
            return set(session.scalars(select(EndpointRow.name)))

    def _roles(self, endpoint: str) -> Mapping[int, str] | None:
        return None if self.roles_of is None else self.roles_of(endpoint)

    def _windows(
        self, samples: dict[str, list[Sample]], roles: Mapping[str, Mapping[int, str] | None]
    ) -> None:
        point = MonitoringPointRow
        newest = (
            select(point.endpoint, point.version, func.max(point.window_start).label("start"))
            .where(point.window == self.window)
            .group_by(point.endpoint, point.version)
            .subquery()
        )
        query = (
            select(point)
            .join(
                newest,
                and_(
                    point.endpoint == newest.c.endpoint,
                    point.version == newest.c.version,
                    point.window_start == newest.c.start,
                ),
            )
            .where(point.window == self.window)
        )
        keys: dict[tuple[str, int], WindowKey] = {}
        decisions: dict[tuple[str, ...], dict[str, bool]] = {}
        with self.series.db.session() as session:
            for row in session.scalars(query):
                role = _role(roles, row.endpoint, row.version)
                if role is None:
                    continue
                base = (row.endpoint, str(row.version), role)
                _point(samples, base, row)
                if row.drifted is not None and row.statistic in REGISTRY:
                    decisions.setdefault((*base, row.feature), {})[row.statistic] = row.drifted
                key = keys.get((row.endpoint, row.version))
                if key is None or row.window_end > key.end:
                    keys[(row.endpoint, row.version)] = WindowKey(
                        row.endpoint, row.version, row.window, row.window_start, row.window_end
                    )
        for labels, drifted in decisions.items():
            if labels[-1] in (DATASET, PERFORMANCE) or col.is_series_output(labels[-1]):
                continue
            # cramers_v is stored for categorical columns only: where present, it decided;
            # a configured or calibrated decision may rest on another statistic (ks where
            # PSI has no bins): the statistic that carries a verdict decided.
            order = [name for name in DECIDING if name in drifted] + sorted(drifted)
            decided = drifted[order[0]]
            samples["modelport_drift_decision"].append((labels, float(decided)))
        for key in keys.values():
            base = (key.endpoint, str(key.version), _role(roles, key.endpoint, key.version) or "")
            samples["modelport_monitoring_window_start_timestamp_seconds"].append(
                (base, key.start.timestamp())
            )
            samples["modelport_monitoring_window_end_timestamp_seconds"].append(
                (base, key.end.timestamp())
            )
            for label, share in _class_shares(self.series, key).items():
                samples["modelport_output_class_ratio"].append(((*base, label), share))

    def _events(
        self, samples: dict[str, list[Sample]], roles: Mapping[str, Mapping[int, str] | None]
    ) -> None:
        event = MonitoringEventRow
        query = select(
            event.endpoint,
            event.version,
            event.detector,
            func.count(),
            func.max(event.detected_at),
        ).group_by(event.endpoint, event.version, event.detector)
        with self.series.db.session() as session:
            found = session.execute(query).all()
        for endpoint, version, detector, count, newest in found:
            if endpoint not in roles:
                continue
            role = (roles[endpoint] or {}).get(version, "")
            labels = (endpoint, str(version), role, detector)
            samples["modelport_detector_events"].append((labels, float(count)))
            samples["modelport_detector_last_event_timestamp_seconds"].append(
                (labels, _timestamp(newest))
            )

    def _rollouts(self, samples: dict[str, list[Sample]], endpoints: set[str]) -> None:
        rollout = RolloutRow
        rolled_back = (
            select(rollout.endpoint, func.count(), func.max(rollout.finished_at))
            .where(rollout.status == str(RolloutStatus.ROLLED_BACK))
            .group_by(rollout.endpoint)
        )
        live = select(rollout.endpoint, rollout.step_started_at).where(
            rollout.status.in_([str(status) for status in LIVE_STATUSES])
        )
        with self.series.db.session() as session:
            backs = session.execute(rolled_back).all()
            waiting = session.execute(live).all()
        for endpoint, count, finished in backs:
            if endpoint in endpoints:
                samples["modelport_rollbacks"].append(((endpoint,), float(count)))
                if finished is not None:
                    samples["modelport_rollback_last_timestamp_seconds"].append(
                        ((endpoint,), _timestamp(finished))
                    )
        for endpoint, started in waiting:
            if endpoint in endpoints:
                samples["modelport_live_rollout_step_started_timestamp_seconds"].append(
                    ((endpoint,), _timestamp(started))
                )

    def _alerts(self, samples: dict[str, list[Sample]]) -> None:
        if self.alert_source is None:
            return
        try:
            rules = {rule["name"]: rule for rule in self.alert_source.rules()}
            alerts = self.alert_source.alerts(active_only=True)
        except Exception:
            if not self._alerts_failed:  # said once, not every interval
                logger.exception("reading alert state for /metrics failed; not exported")
            self._alerts_failed = True
            return
        self._alerts_failed = False
        for alert in alerts:
            if str(alert.state) not in ACTIVE_STATES:
                continue
            rule = rules.get(alert.rule, {})
            labels = alert.labels
            samples["modelport_alerts"].append(
                (
                    (
                        alert.rule,
                        str(alert.state),
                        str(rule.get("severity") or ""),
                        labels.get("endpoint", ""),
                        str(rule.get("metric") or ""),
                        labels.get("version", ""),
                        labels.get("role", ""),
                        labels.get("feature", ""),
                    ),
                    1.0,
                )
            )


# Keys of a traffic policy's ``describe()`` that name a version, and the role it plays.
ROUTING_ROLES = {
    "primary": Role.PRIMARY,
    "live": Role.PRIMARY,
    "canary": Role.CANARY,
    "shadow": Role.SHADOW,
    "standby": Role.STANDBY,
}


def roles_from_routing(routing: Mapping[str, Any] | None) -> dict[int, str] | None:
    """{version: role} from a traffic policy's ``describe()``; None while not routing.

    >>> roles_from_routing({"strategy": "canary", "primary": 1, "canary": 2, "weight": 10})
    {1: 'primary', 2: 'canary'}
    """
    if routing is None:
        return None
    roles: dict[int, str] = {}
    for key, role in ROUTING_ROLES.items():
        version = routing.get(key)
        if isinstance(version, int) and not isinstance(version, bool):
            roles.setdefault(version, str(role))
    return roles


def _families() -> Iterable[Family]:
    return FAMILIES.values()


def _role(roles: Mapping[str, Mapping[int, str] | None], endpoint: str, version: int) -> str | None:
    """The version's role, ``""`` when unknown here; None to leave it out (its endpoint
    is gone, or it is a version the endpoint no longer serves)."""
    if endpoint not in roles:
        return None
    served = roles[endpoint]
    if served is None:
        return ""
    return served.get(version)


def _point(
    samples: dict[str, list[Sample]], base: tuple[str, ...], row: MonitoringPointRow
) -> None:
    value, feature, statistic = row.value, row.feature, row.statistic
    if feature == DATASET:
        if statistic == "share_drifted":
            _add(samples, "modelport_drift_share_ratio", base, value)
            _add(samples, "modelport_dataset_drift_detected", base, _flag(row.drifted))
        elif statistic in DATASET_FIGURES:
            _add(samples, DATASET_FIGURES[statistic], base, value)
    elif feature == PERFORMANCE:
        if statistic == "labelled":
            _add(samples, "modelport_performance_labelled_rows", base, value)
        else:
            _add(samples, "modelport_performance_metric", (*base, statistic), value)
    elif statistic in QUALITY and row.p_value is None and row.threshold is None:
        _add(samples, QUALITY[statistic], (*base, feature), value)
    else:
        prefix = (
            "modelport_prediction_drift" if col.is_series_output(feature) else "modelport_drift"
        )
        labels = (*base, feature, statistic)
        _add(samples, f"{prefix}_statistic", labels, value)
        _add(samples, f"{prefix}_threshold", labels, row.threshold)
        _add(samples, f"{prefix}_detected", labels, _flag(row.drifted))
        if prefix == "modelport_drift":
            _add(samples, "modelport_drift_p_value", labels, row.p_value)


def _add(
    samples: dict[str, list[Sample]], name: str, labels: tuple[str, ...], value: float | None
) -> None:
    if value is not None and math.isfinite(value):
        samples[name].append((labels, float(value)))


def _flag(drifted: bool | None) -> float | None:
    return None if drifted is None else float(drifted)


def _class_shares(series: SeriesStore, key: WindowKey) -> dict[str, float]:
    """Share of each class among the window's predictions (classifiers only)."""
    state = merged_state(series, key)
    counts = None if state is None else state.columns.get(col.SERIES_PREDICTION)
    if counts is None or counts.kind_ != "categorical" or not counts.n_:
        return {}
    shares = {
        str(label): int(counts.counts_[index]) / counts.n_
        for index, label in enumerate(counts.categories_)
    }
    if counts.unseen_:
        # Classes the reference never predicted share one bucket.
        shares[UNSEEN_CLASS] = counts.unseen_ / counts.n_
    return shares


def _timestamp(moment: datetime) -> float:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def _gauge(family: Family, samples: list[Sample]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(family.name, family.documentation, labels=family.labels)
    for labels, value in samples:
        gauge.add_metric(list(labels), value)
    return gauge


__all__ = ["FAMILIES", "AlertSource", "MonitoringExporter", "roles_from_routing"]
