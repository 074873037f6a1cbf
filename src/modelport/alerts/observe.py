"""The figure a rule watches, read from what the system stores.

:class:`Observer` answers, for one rule at one moment, one
:class:`~modelport.alerts.lifecycle.Observation` per label set (a rule on any feature,
``"*"``, fans out over the endpoint's features, or for ``output.class_share`` over its
classes). Where each family comes from:

* **input, output, performance** (``drift.*``, ``drift.decision``, ``quality.*``,
  ``prediction_drift.*``, ``output.class_share``, ``performance.*``): the live
  monitoring series of the newest window (``monitoring.window``) of one version, as the
  collector stored it from every process's merged counts
  (:mod:`~modelport.alerts.window_figures`). The version is the rule's ``version``; else
  the one answering in its ``role`` (``primary``: the endpoint's primary; ``canary``:
  the candidate while a canary runs); else the primary. Background copies (``shadow``,
  ``baseline``), ``standby``, ``batch`` and ``replay`` rows are not in the live series:
  such rules have no value. ``samples`` is the rows a figure rests on, for performance
  the labelled predictions of the window.
* **service** (``requests.rate``, ``errors.rate``, ``latency.*``): the prediction log
  over the last ``alerts.service_window_s`` seconds, every replica's rows, counted per
  request; the roles answering callers (``primary``, ``canary``) unless the rule names a
  role, every version unless it names one. Rate: requests per second of the window;
  error rate: failed / all; latency quantiles over the answered requests.
* ``log.dropped``: this process's dropped records and failed log writes of the endpoint
  over the last service window (:class:`~modelport.alerts.log_figures.LogProblems`);
  per process, so each replica alerts on its own; no value without telemetry (the CLI).
* ``detector.events``: concept-drift detections stored for the endpoint (the rule's
  version only, when it names a version or role) in ``[at - service window, at]``.
* ``rollout.rolled_back``: 1 when the endpoint's latest rollout ended in a rollback
  within the hour before ``at``, else 0. ``rollout.waiting_s``: seconds the rollout in
  progress (active or paused) has spent in its current step or phase, 0 without one.

``value`` is None when there is no figure yet (no window stored, too few rows for a
verdict, nothing logged); the lifecycle then leaves the alert as it is. Figures are
read once per endpoint (and scope) for one evaluation time: the rules of a round share
them, as long as they pass the same ``at``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from modelport.alerts.lifecycle import Observation
from modelport.alerts.log_figures import LogProblems, ServiceFigures, read_service
from modelport.alerts.rules import ANY_FEATURE, Rule
from modelport.alerts.window_figures import (
    NO_FIGURE,
    PERFORMANCE_NAMES,
    QUALITY,
    Figure,
    WindowFigures,
    read_window,
)
from modelport.config import Settings
from modelport.errors import NotFound
from modelport.monitoring.live.series import SeriesStore
from modelport.monitoring.live.windows import parse_window
from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.rollout.service import RolloutService
from modelport.rollout.state import ROLLED_BACK, RolloutStore
from modelport.serving.policies.specs import (
    BlueGreenSpec,
    CanarySpec,
    PolicySpec,
    PrimarySpec,
    ShadowSpec,
    policy_from_dict,
)
from modelport.telemetry import Telemetry
from modelport.vocabulary import SERVED_ROLES, Role

CLASS_SHARE = "output.class_share"
# How long after a rollback ``rollout.rolled_back`` stays 1.
ROLLED_BACK_FOR_S = 3600.0
SERVICE_METRICS = ("requests.rate", "errors.rate", "latency.p50_ms", "latency.p95_ms",
                   "latency.p99_ms")  # fmt: skip
T = TypeVar("T")


class Observer:
    """Reads every figure an alert rule can watch.

    ``Observer(series=, log=, endpoints=, registry=, rollouts=, telemetry=, settings=)``:
    the planes it reads, passed explicitly by the composition root (``rollouts`` is the
    :class:`RolloutStore` or the :class:`RolloutService` holding it; ``telemetry`` None
    where there is no serving process, e.g. the CLI: ``log.dropped`` has no value then).

    * :meth:`observe` ``(rule, at)``: one observation per label set of the rule;
    * :meth:`endpoints`: the names of the endpoints that exist;
    * :meth:`features` ``(endpoint, metric=None)``: the names a rule on it may put in
      ``feature``: the input features of the versions it serves (primary, and the
      candidate or other colour of a rollout in progress), or, for ``metric`` =
      ``output.class_share``, their classes (:meth:`classes`).
    """

    def __init__(
        self,
        *,
        series: SeriesStore,
        log: PredictionLog,
        endpoints: EndpointStore,
        registry: Registry,
        rollouts: RolloutStore | RolloutService,
        telemetry: Telemetry | None,
        settings: Settings,
    ) -> None:
        self.series = series
        self.log = log
        self.endpoint_store = endpoints
        self.registry = registry
        self.rollouts = rollouts.store if isinstance(rollouts, RolloutService) else rollouts
        self.window = parse_window(settings.monitoring.window).label
        self.service_window_s = settings.alerts.service_window_s
        self.log_problems = (
            None
            if telemetry is None
            else LogProblems(telemetry, self.service_window_s, datetime.now(UTC))
        )
        self._versions: dict[tuple[str, int], ModelVersion | None] = {}
        self._lock = threading.Lock()
        self._round: datetime | None = None
        self._cache: dict[tuple[Any, ...], Any] = {}

    # -- what rules may name -------------------------------------------------------------
    def endpoints(self) -> set[str]:
        return {endpoint.name for endpoint in self.endpoint_store.all()}

    def features(self, endpoint: str, metric: str | None = None) -> list[str]:
        if metric == CLASS_SHARE:
            return self.classes(endpoint)
        found = self._endpoint(endpoint)
        if found is None:
            return []
        names: dict[str, None] = {}
        for version in self._served(found):
            names.update(dict.fromkeys(version.input_schema.names))
        return list(names)

    def classes(self, endpoint: str) -> list[str]:
        """The class labels the versions ``endpoint`` serves can answer."""
        found = self._endpoint(endpoint)
        if found is None:
            return []
        names: dict[str, None] = {}
        for version in self._served(found):
            names.update(dict.fromkeys(version.output.classes))
        return list(names)

    # -- figures -------------------------------------------------------------------------
    def observe(self, rule: Rule, at: datetime) -> list[Observation]:
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        endpoint = self._cached(
            at, ("endpoint", rule.endpoint), lambda: self._endpoint(rule.endpoint)
        )
        if endpoint is None:
            return []
        if rule.feature == ANY_FEATURE:
            names = self._cached(
                at,
                ("features", rule.endpoint, rule.metric == CLASS_SHARE),
                lambda: self.features(rule.endpoint, rule.metric),
            )
        else:
            names = []
        observations = []
        for labels in rule.label_sets(names):
            value, samples = self._figure(rule, endpoint, labels.get("feature"), at)
            observations.append(Observation(labels, value, samples))
        return observations

    def _figure(self, rule: Rule, endpoint: Endpoint, feature: str | None, at: datetime) -> Figure:
        metric = rule.metric
        family = rule.info.family
        if metric in SERVICE_METRICS:
            return self._service(rule, at).value(metric)
        if metric == "log.dropped":
            if self.log_problems is None:
                return NO_FIGURE
            return self.log_problems.increase(rule.endpoint, at), None
        if family == "detector":
            return self._detections(rule, endpoint, at), None
        if family == "rollout":
            return self._rollout(metric, rule.endpoint, at), None
        window = self._window(rule, endpoint, at)
        if window is None:
            return NO_FIGURE
        return _from_window(
            metric,
            window,
            feature,
            lambda: self._cached(
                at, ("features", rule.endpoint, True), lambda: self.classes(rule.endpoint)
            ),
        )

    # -- sources -------------------------------------------------------------------------
    def _service(self, rule: Rule, at: datetime) -> ServiceFigures:
        version = None if rule.version is None else _version_number(rule.version)
        if rule.version is not None and version is None:
            return ServiceFigures(0, 0, [], self.service_window_s)
        roles = tuple(SERVED_ROLES) if rule.role is None else (rule.role,)
        versions = None if version is None else (version,)
        return self._cached(
            at,
            ("service", rule.endpoint, versions, roles),
            lambda: read_service(
                self.log,
                rule.endpoint,
                at,
                self.service_window_s,
                versions=versions,
                roles=[str(role) for role in roles],
            ),
        )

    def _window(self, rule: Rule, endpoint: Endpoint, at: datetime) -> WindowFigures | None:
        version = series_version(rule, endpoint)
        if version is None:
            return None
        return self._cached(
            at,
            ("window", rule.endpoint, version),
            lambda: read_window(self.series, rule.endpoint, version, self.window, at),
        )

    def _detections(self, rule: Rule, endpoint: Endpoint, at: datetime) -> float | None:
        scoped = rule.version is not None or rule.role is not None
        version = series_version(rule, endpoint) if scoped else None
        if scoped and version is None:
            return None
        since = at - timedelta(seconds=self.service_window_s)
        events = self._cached(
            at, ("events", rule.endpoint), lambda: self.series.events(rule.endpoint, since=since)
        )
        return float(
            sum(
                1
                for event in events
                if datetime.fromisoformat(event["detected_at"]) <= at
                and (version is None or event["version"] == version)
            )
        )

    def _rollout(self, metric: str, endpoint: str, at: datetime) -> float:
        latest = self._cached(at, ("rollout", endpoint), lambda: self.rollouts.latest(endpoint))
        if latest is None:
            return 0.0
        if metric == "rollout.waiting_s":
            if not latest.live:
                return 0.0
            return max((at - latest.step_started_at).total_seconds(), 0.0)
        finished = latest.finished_at
        if latest.status != ROLLED_BACK or finished is None:
            return 0.0
        since = at - timedelta(seconds=ROLLED_BACK_FOR_S)
        return 1.0 if since <= finished <= at + timedelta(seconds=1) else 0.0

    # -- plumbing ------------------------------------------------------------------------
    def _endpoint(self, name: str) -> Endpoint | None:
        try:
            return self.endpoint_store.get(name)
        except NotFound:
            return None

    def _served(self, endpoint: Endpoint) -> list[ModelVersion]:
        numbers = [endpoint.primary_version, *policy_versions(_policy(endpoint))]
        found = [self._model_version(endpoint.model, number) for number in dict.fromkeys(numbers)]
        return [version for version in found if version is not None]

    def _model_version(self, model: str, number: int) -> ModelVersion | None:
        key = (model, number)
        if key not in self._versions:  # versions never change once registered
            try:
                self._versions[key] = self.registry.get(model, number)
            except NotFound:
                return None
        return self._versions[key]

    def _cached(self, at: datetime, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per evaluation time: the rules of one round share it."""
        with self._lock:
            if at != self._round:
                self._round, self._cache = at, {}
            if key in self._cache:
                found: T = self._cache[key]
                return found
        value = compute()
        with self._lock:
            if at == self._round:
                self._cache[key] = value
        return value


def series_version(rule: Rule, endpoint: Endpoint) -> int | None:
    """The version whose live series a rule reads: its ``version``; else the one
    answering in its ``role``; else the primary. None: no live series for that scope."""
    if rule.version is not None:
        return _version_number(rule.version)
    if rule.role is None or rule.role == Role.PRIMARY:
        return endpoint.primary_version
    policy = _policy(endpoint)
    if rule.role == Role.CANARY and isinstance(policy, CanarySpec):
        return policy.candidate
    return None  # background copies, standby, batch and replay rows are not in the series


def policy_versions(policy: PolicySpec) -> list[int]:
    """Versions a traffic policy loads besides the primary."""
    if isinstance(policy, ShadowSpec | CanarySpec):
        return [policy.candidate]
    if isinstance(policy, BlueGreenSpec):
        return [policy.blue, policy.green]
    return []


def _policy(endpoint: Endpoint) -> PolicySpec:
    try:
        return policy_from_dict(endpoint.policy)
    except ValueError:
        return PrimarySpec()  # the data plane reports a broken policy; nothing to scope by


def _version_number(text: str) -> int | None:
    digits = text.strip().lower().removeprefix("v")
    return int(digits) if digits.isdigit() else None


def _from_window(
    metric: str, window: WindowFigures, feature: str | None, classes: Callable[[], list[str]]
) -> Figure:
    if metric == "drift.decision":
        return NO_FIGURE if feature is None else window.decision(feature)
    if metric.startswith("drift."):
        return NO_FIGURE if feature is None else window.statistic(feature, metric[6:])
    if metric.startswith("prediction_drift."):
        return window.statistic(col.SERIES_PREDICTION, metric.removeprefix("prediction_drift."))
    if metric in QUALITY:
        return NO_FIGURE if feature is None else window.statistic(feature, QUALITY[metric])
    if metric == "quality.schema_violations":
        return window.schema_violations()
    if metric in PERFORMANCE_NAMES:
        return window.performance(metric)
    if metric == CLASS_SHARE:
        return NO_FIGURE if feature is None else window.class_share(feature, classes())
    raise ValueError(f"no figure is read for metric {metric!r}")


__all__ = ["Observer", "policy_versions", "series_version"]
