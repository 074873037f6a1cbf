"""The alert lifecycle: inactive → pending → firing → resolved, one alert per rule and
label set.

:func:`evaluate` is pure: it takes a rule, the alerts it raised so far, one observation per
label set, the silences in force and the time, and returns the new alerts plus every
transition (with the value and the band that caused it) for storage and notification.

- A breach starts *pending*; it *fires* once it has lasted the rule's ``for``.
- A firing alert *resolves* only once the value is back past the resolve level
  (hysteresis), so a value hovering at the threshold does not flap.
- A silenced alert still transitions, marked ``silenced``, and notifies nobody; if it is
  still firing when the silence expires, one notification goes out then.
- An adaptive threshold learns only while its alert is inactive or resolved and not
  silenced, so a firing alert does not teach the band to accept the incident.
- A rule whose endpoint is gone is reported ``orphaned``; nothing is evaluated.

>>> from modelport.alerts.rules import parse_rule
>>> rule = parse_rule({"name": "p99", "endpoint": "churn", "metric": "latency.p99_ms",
...                    "above": 200, "resolve_at": 150})
>>> at = datetime(2026, 1, 1, tzinfo=UTC)
>>> outcome = evaluate(rule, {}, [Observation({"endpoint": "churn"}, 250.0)], at=at)
>>> [(str(t.to_state), t.value, t.band.upper, t.notify) for t in outcome.transitions]
[('firing', 250.0, 200.0, True)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from modelport.alerts.rules import Rule
from modelport.alerts.thresholds import (
    Adaptive,
    AdaptiveState,
    Band,
    adaptive_band,
    adaptive_resolve_band,
    hour_of_week,
    learn,
)


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def alert_key(rule: str, labels: Mapping[str, str]) -> str:
    """The identity of one alert: the rule and its labels, in a stable order.

    >>> alert_key("drift", {"feature": "tenure", "endpoint": "churn"})
    'drift{endpoint="churn",feature="tenure"}'
    """
    inner = ",".join(f'{name}="{labels[name]}"' for name in sorted(labels))
    return f"{rule}{{{inner}}}"


@dataclass(frozen=True)
class Silence:
    """No notifications for ``rule`` (only the alerts whose labels include ``labels``)
    until ``until``."""

    rule: str
    until: datetime
    reason: str = ""
    by: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def covers(self, rule: str, labels: Mapping[str, str], at: datetime) -> bool:
        if rule != self.rule or at >= self.until:
            return False
        return all(labels.get(name) == value for name, value in self.labels.items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "by": self.by,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        until = _time(data["until"])
        assert until is not None
        return cls(
            rule=data["rule"],
            until=until,
            reason=data.get("reason", ""),
            by=data.get("by", ""),
            labels=dict(data.get("labels", {})),
        )


@dataclass(frozen=True)
class Observation:
    """The rule's metric for one label set at evaluation time; ``samples`` is how many
    rows it rests on (checked against the rule's ``min_samples``)."""

    labels: Mapping[str, str]
    value: float | None
    samples: int | None = None


@dataclass(frozen=True)
class Alert:
    """One alert's state; JSON-serialisable through ``to_dict``/``from_dict``."""

    rule: str
    labels: Mapping[str, str]
    state: AlertState = AlertState.INACTIVE
    since: datetime | None = None  # when the current state began
    value: float | None = None
    band: Band = Band()
    silenced: bool = False
    notified: bool = False  # whether the current firing was sent to receivers
    acked_by: str | None = None
    acked_at: datetime | None = None
    learned: AdaptiveState = AdaptiveState()

    @property
    def key(self) -> str:
        return alert_key(self.rule, self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "labels": dict(self.labels),
            "state": str(self.state),
            "since": _iso(self.since),
            "value": self.value,
            "band": self.band.to_dict(),
            "silenced": self.silenced,
            "notified": self.notified,
            "acked_by": self.acked_by,
            "acked_at": _iso(self.acked_at),
            "learned": self.learned.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            rule=data["rule"],
            labels=dict(data["labels"]),
            state=AlertState(data["state"]),
            since=_time(data.get("since")),
            value=data.get("value"),
            band=Band.from_dict(data.get("band", {})),
            silenced=bool(data.get("silenced", False)),
            notified=bool(data.get("notified", False)),
            acked_by=data.get("acked_by"),
            acked_at=_time(data.get("acked_at")),
            learned=AdaptiveState.from_dict(data["learned"])
            if data.get("learned")
            else AdaptiveState(),
        )


@dataclass(frozen=True)
class Transition:
    """One change worth recording: a state change, an acknowledgement, or the
    notification of an alert whose silence expired. ``notify`` says whether receivers
    should hear of it."""

    key: str
    rule: str
    labels: Mapping[str, str]
    from_state: AlertState
    to_state: AlertState
    at: datetime
    value: float | None
    band: Band
    silenced: bool = False
    notify: bool = False
    event: str = ""  # pending, firing, resolved, inactive, acknowledged, unsilenced
    by: str | None = None
    severity: str = "warning"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule": self.rule,
            "labels": dict(self.labels),
            "from_state": str(self.from_state),
            "to_state": str(self.to_state),
            "at": self.at.isoformat(),
            "value": self.value,
            "band": self.band.to_dict(),
            "silenced": self.silenced,
            "notify": self.notify,
            "event": self.event,
            "by": self.by,
            "severity": self.severity,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        at = _time(data["at"])
        assert at is not None
        return cls(
            key=data["key"],
            rule=data["rule"],
            labels=dict(data["labels"]),
            from_state=AlertState(data["from_state"]),
            to_state=AlertState(data["to_state"]),
            at=at,
            value=data.get("value"),
            band=Band.from_dict(data.get("band", {})),
            silenced=bool(data.get("silenced", False)),
            notify=bool(data.get("notify", False)),
            event=data.get("event", ""),
            by=data.get("by"),
            severity=data.get("severity", "warning"),
        )


@dataclass(frozen=True)
class Outcome:
    """What one evaluation of a rule produced."""

    alerts: dict[str, Alert]
    transitions: list[Transition]
    orphaned: bool = False


def evaluate(
    rule: Rule,
    alerts: Mapping[str, Alert],
    observations: Iterable[Observation],
    *,
    at: datetime,
    silences: Sequence[Silence] = (),
    endpoint_exists: bool = True,
) -> Outcome:
    """Step every alert of ``rule`` with its observation (alerts without one keep
    their state)."""
    current = dict(alerts)
    if not endpoint_exists:
        return Outcome(alerts=current, transitions=[], orphaned=True)
    transitions: list[Transition] = []
    for observation in observations:
        labels = dict(observation.labels)
        key = alert_key(rule.name, labels)
        alert = current.get(key) or Alert(rule=rule.name, labels=labels)
        silenced = any(silence.covers(rule.name, labels, at) for silence in silences)
        alert, changes = step(rule, alert, observation, at=at, silenced=silenced)
        current[key] = alert
        transitions.extend(changes)
    return Outcome(alerts=current, transitions=transitions)


def step(
    rule: Rule, alert: Alert, observation: Observation, *, at: datetime, silenced: bool
) -> tuple[Alert, list[Transition]]:
    """One alert after one observation, and the transitions that made it so."""
    value = observation.value
    if value is None or (
        rule.min_samples and (observation.samples is None or observation.samples < rule.min_samples)
    ):
        return replace(alert, silenced=silenced), []
    band, resolve_band = _bands(rule, alert, at)
    breached = band.breached_by(value) is not None
    state = alert.state
    new_state = state
    if state in (AlertState.INACTIVE, AlertState.RESOLVED):
        if breached:
            new_state = AlertState.FIRING if rule.for_s <= 0 else AlertState.PENDING
        elif state is AlertState.RESOLVED:
            new_state = AlertState.INACTIVE
    elif state is AlertState.PENDING:
        if not breached:
            new_state = AlertState.INACTIVE
        elif alert.since is not None and at - alert.since >= timedelta(seconds=rule.for_s):
            new_state = AlertState.FIRING
    elif resolve_band.breached_by(value) is None:
        new_state = AlertState.RESOLVED

    learned = alert.learned
    if (
        isinstance(rule.threshold, Adaptive)
        and new_state in (AlertState.INACTIVE, AlertState.RESOLVED)
        and state in (AlertState.INACTIVE, AlertState.RESOLVED)
        and not silenced
    ):
        learned = learn(rule.threshold, learned, value, hour_of_week=hour_of_week(at))

    updated = replace(
        alert, value=value, band=band, silenced=silenced, learned=learned, state=new_state
    )
    changes: list[Transition] = []
    if new_state is not state:
        notify = new_state is AlertState.FIRING or (
            new_state is AlertState.RESOLVED and alert.notified
        )
        notify = notify and not silenced
        updated = replace(
            updated,
            since=at,
            notified=notify if new_state is AlertState.FIRING else False,
            acked_by=None if new_state is AlertState.RESOLVED else updated.acked_by,
            acked_at=None if new_state is AlertState.RESOLVED else updated.acked_at,
        )
        changes.append(_transition(rule, updated, state, at, notify=notify))
    elif state is AlertState.FIRING and not silenced and not alert.notified:
        # The silence expired while the alert kept firing: receivers hear of it now.
        updated = replace(updated, notified=True)
        changes.append(_transition(rule, updated, state, at, notify=True, event="unsilenced"))
    return updated, changes


def acknowledge(
    alert: Alert, *, by: str, at: datetime, severity: str = "warning"
) -> tuple[Alert, Transition]:
    """``alert`` acknowledged by ``by``; the acknowledgement lasts until it resolves."""
    acked = replace(alert, acked_by=by, acked_at=at)
    transition = Transition(
        key=alert.key,
        rule=alert.rule,
        labels=dict(alert.labels),
        from_state=alert.state,
        to_state=alert.state,
        at=at,
        value=alert.value,
        band=alert.band,
        silenced=alert.silenced,
        event="acknowledged",
        by=by,
        severity=severity,
    )
    return acked, transition


def _bands(rule: Rule, alert: Alert, at: datetime) -> tuple[Band, Band]:
    threshold = rule.threshold
    if isinstance(threshold, Adaptive):
        hour = hour_of_week(at)
        return (
            adaptive_band(threshold, alert.learned, hour_of_week=hour),
            adaptive_resolve_band(threshold, alert.learned, hour_of_week=hour),
        )
    return threshold.band(), threshold.resolve_band()


def _transition(
    rule: Rule,
    alert: Alert,
    from_state: AlertState,
    at: datetime,
    *,
    notify: bool,
    event: str | None = None,
) -> Transition:
    return Transition(
        key=alert.key,
        rule=rule.name,
        labels=dict(alert.labels),
        from_state=from_state,
        to_state=alert.state,
        at=at,
        value=alert.value,
        band=alert.band,
        silenced=alert.silenced,
        notify=notify,
        event=event or str(alert.state),
        severity=rule.severity,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


__all__ = [
    "Alert",
    "AlertState",
    "Observation",
    "Outcome",
    "Silence",
    "Transition",
    "acknowledge",
    "alert_key",
    "evaluate",
    "step",
]
