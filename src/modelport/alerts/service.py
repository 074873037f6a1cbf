"""Alert rules, notifiers and alert state in the control-plane store, and one evaluation
round over every rule.

:class:`AlertService` is what the CLI, the admin HTTP API and the server's evaluator all
use, so ``modelport alerts ...`` and ``/v1/alerts`` see the same rules and history.
Rules and notifiers live in SQL (tables ``alert_rules``, ``alert_states``,
``alert_history``, ``alert_silences``, ``notifiers``); those declared in
``modelport.toml`` (``[[alerts.rules]]``, ``[alerts.notifiers.NAME]``) are stored with
``source = "config"`` when the server starts.

One server per store evaluates at a time (the ``alert-evaluation`` lease, like log
compaction): :meth:`AlertService.evaluate` reads each rule's figures through an
:class:`~modelport.alerts.observe.Observer`, steps its alerts
(:func:`~modelport.alerts.lifecycle.evaluate`), stores the new states and every
transition, and returns the notifications to deliver.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from modelport.alerts.delivery import Outcome as DeliveryOutcome
from modelport.alerts.lifecycle import (
    Alert,
    AlertState,
    Silence,
    Transition,
    acknowledge,
    alert_key,
    evaluate,
    step,
)
from modelport.alerts.notifiers import Notification, notifier_from_dict
from modelport.alerts.observe import Observer
from modelport.alerts.rules import ANY_FEATURE, Rule, parse_rule, rule_from_dict
from modelport.alerts.store import AlertStore, HistoryEntry, Point, StoredNotifier, StoredRule
from modelport.errors import (
    AlertExists,
    AlertNotFound,
    ConfigError,
    ModelportError,
    NotifierExists,
    NotifierNotFound,
    ValidationFailed,
)
from modelport.store.db import Database
from modelport.store.tables import utcnow

logger = logging.getLogger(__name__)

# Worst first: what ``rules()`` reports as a rule's state.
_SEVERITY_OF_STATE = {
    AlertState.FIRING: 3,
    AlertState.PENDING: 2,
    AlertState.RESOLVED: 1,
    AlertState.INACTIVE: 0,
}
SHOW_HISTORY = 20
SHOW_POINTS = 100
REPORT_PATH = "/v1/endpoints/{endpoint}/monitoring/report?format=html"


class AlertService:
    """Rules, notifiers and alert state in ``db``; figures read through ``observer``.

    Errors: ``ValidationFailed`` naming the field for bad input (nothing stored),
    ``NotFound`` (code ``alert_not_found`` / ``notifier_not_found``) for unknown names,
    ``Conflict`` (code ``alert_exists`` / ``notifier_exists``) when a name is taken and
    ``replace`` is false. ``link_base`` is where notification links point (the
    server's address by default)."""

    def __init__(self, db: Database, observer: Observer, *, link_base: str = "") -> None:
        self.store = AlertStore(db)
        self.observer = observer
        self.link_base = link_base.rstrip("/")

    # -- rules ---------------------------------------------------------------------------
    def add_rule(self, data: Mapping[str, Any], *, by: str, replace: bool = False) -> Rule:
        """Validate (``parse_rule`` + endpoint/feature exist) and store a rule; audited."""
        rule = parse_rule(data)
        endpoints = self.observer.endpoints()
        features = (
            self.observer.features(rule.endpoint, rule.metric) if rule.endpoint in endpoints else []
        )
        rule.check_scope(endpoints=endpoints, features=features)
        self._put_rule(rule, source="api", by=by, replace=replace)
        return rule

    def _put_rule(self, rule: Rule, *, source: str, by: str, replace: bool) -> None:
        keep = [alert.key for alert in self.store.alerts(rule.name) if _in_scope(rule, alert)]
        stored = self.store.put_rule(
            rule.name,
            rule.to_dict(),
            source=source,
            by=by,
            replace=replace,
            keep_keys=keep,
            audit={"source": source, "metric": rule.metric, "endpoint": rule.endpoint},
        )
        if not stored:
            raise AlertExists(
                f"alert rule {rule.name!r} exists; replace it explicitly", field="name"
            )

    def rules(self) -> list[dict[str, Any]]:
        """Every rule as ``Rule.to_dict()`` plus ``source`` (api|config), ``orphaned``
        (its endpoint is gone), ``state`` (worst state of its alerts: firing > pending >
        resolved > inactive), ``firing`` (count), ``silenced_until`` (or None)."""
        endpoints = self.observer.endpoints()
        alerts = self.store.alerts()
        silences = self.store.silences(None, utcnow())
        return [self._view(row, endpoints, alerts, silences) for row in self.store.rule_rows()]

    def _view(
        self,
        row: StoredRule,
        endpoints: set[str],
        alerts: list[Alert],
        silences: list[Silence],
    ) -> dict[str, Any]:
        mine = [alert for alert in alerts if alert.rule == row.name]
        state = max(
            (alert.state for alert in mine),
            key=_SEVERITY_OF_STATE.__getitem__,
            default=AlertState.INACTIVE,
        )
        untils = [silence.until for silence in silences if silence.rule == row.name]
        return {
            **row.definition,
            "source": row.source,
            "orphaned": row.definition["endpoint"] not in endpoints,
            "state": str(state),
            "firing": sum(alert.state is AlertState.FIRING for alert in mine),
            "silenced_until": max(untils).isoformat() if untils else None,
            "created_at": row.created_at.isoformat(),
            "created_by": row.created_by,
            "updated_at": row.updated_at.isoformat(),
        }

    def rule(self, name: str) -> Rule:
        return rule_from_dict(self._row(name).definition)

    def _row(self, name: str) -> StoredRule:
        row = self.store.rule_row(name)
        if row is None:
            raise AlertNotFound(f"alert rule {name!r} does not exist", field="name")
        return row

    def show(self, name: str) -> dict[str, Any]:
        """One rule (as in :meth:`rules`) with ``alerts`` (``Alert.to_dict()`` each),
        ``silences`` in force, its 20 latest history entries, and ``points``: the value
        and band in force at each of the last 100 evaluations of each alert (``key``,
        ``at``, ``value``, ``lower``, ``upper``; oldest first per alert)."""
        row = self._row(name)
        alerts = self.store.alerts(name)
        silences = self.store.silences(name, utcnow())
        view = self._view(row, self.observer.endpoints(), alerts, silences)
        view["alerts"] = [alert.to_dict() for alert in alerts]
        view["silences"] = [silence.to_dict() for silence in silences]
        view["history"] = self.history(name, limit=SHOW_HISTORY)
        view["points"] = [
            point.to_dict() for point in self.store.points(name, per_alert=SHOW_POINTS)
        ]
        return view

    def delete_rule(self, name: str, *, by: str) -> None:
        """Remove a rule, its alert states and silences (history stays); audited."""
        if not self.store.delete_rule(name, by=by):
            raise AlertNotFound(f"alert rule {name!r} does not exist", field="name")

    def history(
        self, name: str | None = None, *, since: datetime | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Transitions (``Transition.to_dict()`` with ``kind = "transition"``),
        acknowledgements (``kind = "ack"``, the same fields), silences (``kind =
        "silence"``: until, reason, by, labels), rule changes (``rule-added``,
        ``rule-deleted``) and delivery outcomes (``kind = "delivery"``: notifier,
        delivered, attempts, error, status), newest first; each with ``id``, ``rule``,
        ``key`` and ``at``. A deleted rule's history stays."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationFailed("limit must be a whole number >= 1", field="limit")
        return self.store.history(name, since=since, limit=limit)

    def silence(
        self,
        name: str,
        *,
        for_s: float,
        reason: str = "",
        by: str,
        labels: Mapping[str, str] | None = None,
    ) -> Silence:
        """Silence a rule (or only its alerts with ``labels``) for ``for_s`` seconds;
        recorded in history with who and why."""
        self._row(name)
        if isinstance(for_s, bool) or not isinstance(for_s, int | float):
            raise ValidationFailed("for must be a duration in seconds", field="for")
        if not math.isfinite(for_s) or for_s <= 0:
            raise ValidationFailed("for must be longer than 0 seconds", field="for")
        if not isinstance(reason, str):
            raise ValidationFailed("reason must be text", field="reason")
        given = dict(labels or {})
        for key, value in given.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValidationFailed("labels must map names to strings", field="labels")
        now = utcnow()
        try:
            until = now + timedelta(seconds=for_s)
        except OverflowError:
            raise ValidationFailed("for is too long", field="for") from None
        silence = Silence(rule=name, until=until, reason=reason, by=by, labels=given)
        self.store.add_silence(silence, at=now)
        return silence

    def ack(
        self, name: str, *, by: str, labels: Mapping[str, str] | None = None
    ) -> list[Transition]:
        """Acknowledge the rule's pending/firing alerts (those matching ``labels``)."""
        rule = self.rule(name)
        wanted = dict(labels or {})
        now = utcnow()
        acked: list[Alert] = []
        transitions: list[Transition] = []
        for alert in self.store.alerts(name):
            if alert.state not in (AlertState.PENDING, AlertState.FIRING):
                continue
            if any(alert.labels.get(key) != value for key, value in wanted.items()):
                continue
            updated, transition = acknowledge(alert, by=by, at=now, severity=rule.severity)
            acked.append(updated)
            transitions.append(transition)
        self.store.save_alerts(
            acked,
            history=[HistoryEntry(name, "ack", t.to_dict(), now, key=t.key) for t in transitions],
            by=by,
            audit=(f"alert:{name}", "ack", {"alerts": [t.key for t in transitions]})
            if transitions
            else None,
        )
        return transitions

    def alerts(self, *, active_only: bool = False) -> list[Alert]:
        """Every stored alert (only pending and firing with ``active_only``)."""
        alerts = self.store.alerts()
        if active_only:
            return [a for a in alerts if a.state in (AlertState.PENDING, AlertState.FIRING)]
        return alerts

    def test(self, name: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate ``name`` now against the stored figures without storing anything:
        per label set ``labels``, ``key``, ``value``, ``samples``, ``band`` (in force),
        ``breached``, ``from_state`` (stored) and ``state`` (the one it would move to),
        ``notify``. An orphaned rule answers an empty list."""
        rule = self.rule(name)
        at = at or utcnow()
        if rule.endpoint not in self.observer.endpoints():
            return []
        stored = {alert.key: alert for alert in self.store.alerts(name)}
        silences = self.store.silences(name, at)
        results: list[dict[str, Any]] = []
        for observation in self.observer.observe(rule, at):
            labels = dict(observation.labels)
            key = alert_key(rule.name, labels)
            alert = stored.get(key) or Alert(rule=rule.name, labels=labels)
            silenced = any(s.covers(rule.name, labels, at) for s in silences)
            after, changes = step(rule, alert, observation, at=at, silenced=silenced)
            value = observation.value
            band = after.band if value is not None else alert.band
            results.append(
                {
                    "labels": labels,
                    "key": key,
                    "value": value,
                    "samples": observation.samples,
                    "band": band.to_dict(),
                    "breached": value is not None and band.breached_by(value) is not None,
                    "from_state": str(alert.state),
                    "state": str(after.state),
                    "silenced": silenced,
                    "notify": any(change.notify for change in changes),
                }
            )
        return results

    # -- notifiers -----------------------------------------------------------------------
    def add_notifier(
        self, data: Mapping[str, Any], *, by: str, replace: bool = False
    ) -> dict[str, Any]:
        """``{"name", "kind": webhook|alertmanager|log, "url", "format": json|slack}``,
        validated by ``notifier_from_dict``; audited. Answers the stored view."""
        name, kind, url, format = _notifier_fields(data)
        self._put_notifier(name, kind, url, format, source="api", by=by, replace=replace)
        return self.notifier(name)

    def _put_notifier(
        self,
        name: str,
        kind: str,
        url: str | None,
        format: str | None,
        *,
        source: str,
        by: str,
        replace: bool,
    ) -> None:
        if not self.store.put_notifier(
            name, kind, url, format, source=source, by=by, replace=replace
        ):
            raise NotifierExists(f"notifier {name!r} exists; replace it explicitly", field="name")

    def notifiers(self) -> list[dict[str, Any]]:
        """name, kind, url, format, source, created_at, and delivery counts
        (``delivered``, ``failed``: notifications, each after its retries)."""
        counts = self.store.delivery_counts()
        return [_notifier_view(row, counts) for row in self.store.notifier_rows()]

    def notifier(self, name: str) -> dict[str, Any]:
        row = self.store.notifier_row(name)
        if row is None:
            raise NotifierNotFound(f"notifier {name!r} does not exist", field="name")
        return _notifier_view(row, self.store.delivery_counts())

    def delete_notifier(self, name: str, *, by: str) -> None:
        if not self.store.delete_notifier(name, by=by):
            raise NotifierNotFound(f"notifier {name!r} does not exist", field="name")

    def notifier_specs(self) -> list[StoredNotifier]:
        """The stored notifiers, for the server's delivery to follow."""
        return self.store.notifier_rows()

    # -- declarations in modelport.toml ---------------------------------------------------
    def declare(
        self, rules: list[dict[str, Any]], notifiers: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Store the rules and notifiers of ``modelport.toml`` (``source = "config"``),
        replacing same-named ones and removing config ones no longer declared. A rule
        on an endpoint that does not exist (yet) is stored and reported orphaned. Any
        malformed declaration is a :class:`ConfigError` naming ``alerts.rules[i].field``
        or ``alerts.notifiers.NAME.field``, and nothing is stored."""
        endpoints = self.observer.endpoints() if rules else set()
        parsed: list[Rule] = []
        for index, data in enumerate(rules):
            where = f"alerts.rules[{index}]"
            try:
                rule = parse_rule(data)
                if rule.endpoint in endpoints:
                    features = self.observer.features(rule.endpoint, rule.metric)
                    rule.check_scope(endpoints=endpoints, features=features)
            except ModelportError as exc:
                raise _config_error(where, exc) from exc
            if any(other.name == rule.name for other in parsed):
                raise ConfigError(
                    f"{where}.name: rule {rule.name!r} is declared twice", field=f"{where}.name"
                )
            parsed.append(rule)
        declared: list[tuple[str, str, str | None, str | None]] = []
        for name, fields in notifiers.items():
            where = f"alerts.notifiers.{name}"
            try:
                declared.append(_notifier_fields({**fields, "name": name}))
            except ModelportError as exc:
                raise _config_error(where, exc) from exc

        stored_rules = {row.name: row for row in self.store.rule_rows()}
        for rule in parsed:
            row = stored_rules.get(rule.name)
            if row is None or row.source != "config" or row.definition != rule.to_dict():
                self._put_rule(rule, source="config", by="config", replace=True)
        names = {rule.name for rule in parsed}
        for row in stored_rules.values():
            if row.source == "config" and row.name not in names:
                self.store.delete_rule(row.name, by="config")
        stored_notifiers = {row.name: row for row in self.store.notifier_rows()}
        for spec in declared:
            current = stored_notifiers.get(spec[0])
            if current is None or current.source != "config" or current.spec != spec:
                self._put_notifier(*spec, source="config", by="config", replace=True)
        kept = {spec[0] for spec in declared}
        for current in stored_notifiers.values():
            if current.source == "config" and current.name not in kept:
                self.store.delete_notifier(current.name, by="config")

    # -- evaluation (the server's evaluator) ----------------------------------------------
    def evaluate(self, at: datetime | None = None) -> list[Notification]:
        """One round over every rule; stores states and transitions; the notifications
        to send (the caller hands them to :class:`~modelport.alerts.delivery.Delivery`).

        A rule whose endpoint is gone is skipped (``rules()`` reports it orphaned); a
        failure with one rule is logged and the round goes on with the others."""
        at = at or utcnow()
        rows = self.store.rule_rows()
        if not rows:
            return []
        endpoints = self.observer.endpoints()
        notifications: list[Notification] = []
        for row in rows:
            try:
                rule = rule_from_dict(row.definition)
                if rule.endpoint not in endpoints:
                    continue
                notifications += self._evaluate_rule(rule, at)
            except Exception:
                logger.exception("evaluating alert rule %s failed; the others go on", row.name)
        return notifications

    def _evaluate_rule(self, rule: Rule, at: datetime) -> list[Notification]:
        observations = self.observer.observe(rule, at)
        before = {alert.key: alert for alert in self.store.alerts(rule.name)}
        silences = self.store.silences(rule.name, at)
        outcome = evaluate(rule, before, observations, at=at, silences=silences)
        points: list[Point] = []
        touched: list[Alert] = []
        for observation in observations:
            key = alert_key(rule.name, observation.labels)
            alert = outcome.alerts[key]
            counted = _counted(rule, observation.value, observation.samples)
            if key in before or counted:  # a label set with no figure yet stores nothing
                touched.append(alert)
            if counted:
                assert observation.value is not None
                points.append(
                    Point(key, at, float(observation.value), alert.band.lower, alert.band.upper)
                )
        history = [
            HistoryEntry(rule.name, "transition", t.to_dict(), t.at, key=t.key)
            for t in outcome.transitions
        ]
        self.store.save_alerts(touched, history=history, points=points)
        return [
            self._notification(rule, transition, before.get(transition.key))
            for transition in outcome.transitions
            if transition.notify
        ]

    def _notification(
        self, rule: Rule, transition: Transition, before: Alert | None
    ) -> Notification:
        labels = dict(transition.labels)
        resolved = transition.to_state is AlertState.RESOLVED
        # The edge that was breached: for a resolution, the one the firing value crossed.
        source = before if resolved and before is not None else None
        band = source.band if source is not None else transition.band
        value = source.value if source is not None else transition.value
        side = None if value is None else band.breached_by(value)
        if side == "above" or (side is None and band.upper is not None):
            threshold = band.upper
        else:
            threshold = band.lower
        version = labels.get("version")
        started = before.since if resolved and before is not None else None
        return Notification(
            rule=rule.name,
            status="resolved" if resolved else "firing",
            endpoint=rule.endpoint,
            metric=rule.metric,
            value=transition.value,
            threshold=threshold,
            starts_at=started or transition.at,
            ends_at=transition.at if resolved else None,
            severity=rule.severity,
            feature=labels.get("feature"),
            version=int(version) if version is not None and version.isdigit() else None,
            labels=labels,
            annotations={"description": rule.info.description, "event": transition.event},
            link=f"{self.link_base}{REPORT_PATH.format(endpoint=rule.endpoint)}",
        )

    def record_delivery(self, outcome: DeliveryOutcome) -> None:
        """A delivery outcome, as a history entry (``kind = "delivery"``)."""
        notification = outcome.notification
        self.store.add_history(
            [
                HistoryEntry(
                    notification.rule,
                    "delivery",
                    {
                        "notifier": outcome.notifier,
                        "delivered": outcome.delivered,
                        "attempts": outcome.attempts,
                        "error": outcome.error,
                        "status": notification.status,
                        "labels": dict(notification.labels),
                    },
                    utcnow(),
                    key=alert_key(notification.rule, notification.labels),
                    notifier=outcome.notifier,
                    delivered=outcome.delivered,
                )
            ]
        )


def _in_scope(rule: Rule, alert: Alert) -> bool:
    """Whether an alert stored under a rule's name still belongs to its (new) scope."""
    labels = alert.labels
    fixed = {"endpoint": rule.endpoint}
    if rule.version is not None:
        fixed["version"] = rule.version
    if rule.role is not None:
        fixed["role"] = str(rule.role)
    if rule.feature not in (None, ANY_FEATURE):
        fixed["feature"] = str(rule.feature)
    if any(labels.get(key) != value for key, value in fixed.items()):
        return False
    has_feature = "feature" in labels
    return has_feature == (rule.feature is not None)


def _counted(rule: Rule, value: float | None, samples: int | None) -> bool:
    """Whether the lifecycle steps on this observation (as :func:`step` decides)."""
    if value is None:
        return False
    return not rule.min_samples or (samples is not None and samples >= rule.min_samples)


def _notifier_fields(data: Mapping[str, Any]) -> tuple[str, str, str | None, str | None]:
    """Validated (name, kind, url, format) of a notifier declaration."""
    given = {key: value for key, value in data.items() if value is not None}
    built = notifier_from_dict(given)
    close = getattr(built, "close", None)
    if callable(close):
        close()
    kind = str(given["kind"])
    url = given.get("url")
    format = given.get("format")
    if kind == "webhook" and format is None:
        format = "json"
    return built.name, kind, url, format


def _notifier_view(row: StoredNotifier, counts: Mapping[tuple[str, bool], int]) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "url": row.url,
        "format": row.format,
        "source": row.source,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "updated_at": row.updated_at.isoformat(),
        "delivered": counts.get((row.name, True), 0),
        "failed": counts.get((row.name, False), 0),
    }


def _config_error(where: str, exc: ModelportError) -> ConfigError:
    field = f"{where}.{exc.field}" if exc.field else where
    return ConfigError(f"{field}: {exc.message}", field=field)


__all__ = ["AlertService"]
