"""Stored retraining policies and their history of decisions.

A policy says: when alert rule ``on_alert`` fires for the endpoint, retrain it with
``trainer`` — but not within ``cooldown_s`` of the last attempt, not before
``min_labels`` new labels arrived since the last training, and at most
``max_attempts`` times per firing. A stored policy makes the server run code, so its
trainer must match the operator's ``retrain.trainers`` allow-list, and the alert rule
and endpoint it names must exist: anything else is refused when the policy is set.

Every decision the policy's service takes is an :class:`Event` in ``retrain_events``
and a record in the endpoint's audit trail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.machinery import PathFinder
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelport.alerts.store import AlertStore
from modelport.errors import (
    AlertNotFound,
    RetrainPolicyNotFound,
    ValidationFailed,
)
from modelport.registry.endpoints import EndpointStore
from modelport.retraining.request import DEFAULT_HOLDOUT, DEFAULT_SINCE, RetrainRequest
from modelport.retraining.trainer import check_trainer_name, require_allowed
from modelport.store.db import Database
from modelport.store.tables import AuditRow, FeedbackRow, RetrainEventRow, RetrainPolicyRow
from modelport.vocabulary import parse_duration

Decision = Literal["started", "trained", "failed", "skipped", "promoted", "rolled_back"]
DECISIONS: tuple[Decision, ...] = (
    "started",
    "trained",
    "failed",
    "skipped",
    "promoted",
    "rolled_back",
)
DEFAULT_MAX_ATTEMPTS = 3
FIELDS = (
    "trainer",
    "on_alert",
    "cooldown",
    "min_labels",
    "max_attempts",
    "since",
    "holdout",
    "rollout",
)


@dataclass(frozen=True)
class Policy:
    id: int
    endpoint: str
    trainer: str
    on_alert: str
    cooldown_s: float
    min_labels: int
    max_attempts: int
    since_s: float
    holdout: float
    # Options of the new version's rollout (``retraining.request.ROLLOUT_OPTIONS``).
    rollout: dict[str, Any]
    enabled: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def from_row(cls, row: RetrainPolicyRow) -> Policy:
        options = row.options or {}
        return cls(
            id=row.id,
            endpoint=row.endpoint,
            trainer=row.trainer,
            on_alert=row.on_alert,
            cooldown_s=row.cooldown_s,
            min_labels=row.min_labels,
            max_attempts=row.max_attempts,
            since_s=float(options.get("since_s", DEFAULT_SINCE.total_seconds())),
            holdout=float(options.get("holdout", DEFAULT_HOLDOUT)),
            rollout=dict(options.get("rollout") or {}),
            enabled=row.enabled,
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

    def request(self, attempt: int, firing_since: datetime) -> RetrainRequest:
        """What one attempt asks of a retrain job."""
        return RetrainRequest(
            endpoint=self.endpoint,
            trainer=self.trainer,
            since=timedelta(seconds=self.since_s),
            # A retrain needs labelled rows even when the policy waits for no new ones.
            min_labels=max(self.min_labels, 1),
            holdout=self.holdout,
            rollout_options=dict(self.rollout),
            actor=f"policy:{self.endpoint}",
            reason=f"alert {self.on_alert!r} firing since {firing_since.isoformat()}",
            extra_lineage={"policy": self.endpoint, "on_alert": self.on_alert, "attempt": attempt},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "trainer": self.trainer,
            "on_alert": self.on_alert,
            "cooldown_s": self.cooldown_s,
            "min_labels": self.min_labels,
            "max_attempts": self.max_attempts,
            "since_s": self.since_s,
            "holdout": self.holdout,
            "rollout": self.rollout,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class Event:
    """One decision; ``cause`` is a skip's stable reason (``cooldown``, ``labels``, ...)."""

    endpoint: str
    decision: Decision
    at: datetime
    reason: str = ""
    cause: str | None = None
    job: str | None = None
    version: int | None = None
    rollout_id: int | None = None
    attempt: int | None = None
    firing_since: datetime | None = None
    id: int | None = None

    @classmethod
    def from_row(cls, row: RetrainEventRow) -> Event:
        decision = row.decision
        assert decision in DECISIONS
        return cls(
            id=row.id,
            endpoint=row.endpoint,
            decision=decision,
            at=row.at,
            reason=row.reason,
            cause=row.cause,
            job=row.job,
            version=row.version,
            rollout_id=row.rollout_id,
            attempt=row.attempt,
            firing_since=row.firing_since,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "decision": self.decision,
            "cause": self.cause,
            "reason": self.reason,
            "job": self.job,
            "version": self.version,
            "rollout_id": self.rollout_id,
            "attempt": self.attempt,
            "firing_since": self.firing_since.isoformat() if self.firing_since else None,
        }


def check_trainer(trainer: object, patterns: Sequence[str]) -> str:
    """``trainer`` if it is ``module:function``, allowed, and its module can be found
    (found without importing it: nothing runs)."""
    if not isinstance(trainer, str):
        raise ValidationFailed(
            f"trainer must be module:function, e.g. mypkg.train:fit, got {trainer!r}",
            field="trainer",
        )
    check_trainer_name(trainer)
    require_allowed(trainer, patterns)
    module = trainer.split(":", 1)[0]
    if not _module_exists(module):
        raise ValidationFailed(f"trainer module {module!r} cannot be found", field="trainer")
    return trainer


def _module_exists(dotted: str) -> bool:
    """Whether ``dotted`` can be found on the path (the current folder first), walking
    package folders instead of importing the packages."""
    locations: list[str] | None = [os.getcwd(), *sys.path]
    for part in dotted.split("."):
        spec = PathFinder.find_spec(part, locations)
        if spec is None:
            return False
        locations = list(spec.submodule_search_locations or [])
    return True


def _count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationFailed(f"{name} must be a whole number >= {minimum}", field=name)
    return value


def parse_policy(data: Mapping[str, Any], trainers: Sequence[str]) -> dict[str, Any]:
    """The stored fields of a policy from its wire form (``FIELDS``); 422 naming the
    field, 403 for a trainer the allow-list does not name."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationFailed(
            f"unknown field {unknown[0]!r}; use {', '.join(FIELDS)}", field=unknown[0]
        )
    for required in ("trainer", "on_alert", "cooldown", "min_labels"):
        if data.get(required) is None:
            raise ValidationFailed(f"{required} is required", field=required)
    on_alert = data["on_alert"]
    if not isinstance(on_alert, str) or not on_alert:
        raise ValidationFailed("on_alert must name an alert rule", field="on_alert")
    holdout = data.get("holdout", DEFAULT_HOLDOUT)
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 < holdout < 1:
        raise ValidationFailed("holdout must be a share between 0 and 1", field="holdout")
    since = data.get("since")
    return {
        "trainer": check_trainer(data["trainer"], trainers),
        "on_alert": on_alert,
        "cooldown_s": parse_duration(data["cooldown"], field="cooldown"),
        "min_labels": _count(data["min_labels"], "min_labels", minimum=0),
        "max_attempts": _count(
            data.get("max_attempts", DEFAULT_MAX_ATTEMPTS), "max_attempts", minimum=1
        ),
        "options": {
            "since_s": DEFAULT_SINCE.total_seconds()
            if since is None
            else parse_duration(since, field="since"),
            "holdout": float(holdout),
            "rollout": _rollout(data.get("rollout")),
        },
    }


def _rollout(options: object) -> dict[str, Any]:
    """Rollout options as ``retrain`` takes them; an error names ``rollout.<option>``."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValidationFailed(
            'rollout must be an object of rollout options, like {"steps": "25,50,100"}',
            field="rollout",
        )
    try:
        from modelport.retraining.run import check_rollout_options  # pandas: only here

        check_rollout_options(options)
    except ValidationFailed as exc:
        exc.field = f"rollout.{exc.field}" if exc.field else "rollout"
        raise
    return dict(options)


class PolicyStore:
    """The ``retrain_policies`` and ``retrain_events`` tables of one control plane."""

    def __init__(
        self,
        db: Database,
        endpoints: EndpointStore,
        *,
        trainers: Collection[str],
        declared_alerts: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.alerts = AlertStore(db)
        self.trainers = list(trainers)
        # Rules in modelport.toml, stored when a server starts: a policy may name them
        # before that.
        self.declared_alerts = {str(rule.get("name")): dict(rule) for rule in declared_alerts}

    # -- policies ------------------------------------------------------------------------
    def put(self, endpoint: str, data: Mapping[str, Any], *, by: str, at: datetime) -> Policy:
        """Create or replace ``endpoint``'s policy (enabled); refused whole if any part
        is wrong: nothing is stored then."""
        self.endpoints.get(endpoint)
        fields = parse_policy(data, self.trainers)
        self._check_rule(fields["on_alert"], endpoint)
        with self.db.session() as session:
            row = session.scalar(
                select(RetrainPolicyRow).where(RetrainPolicyRow.endpoint == endpoint)
            )
            if row is None:
                row = RetrainPolicyRow(endpoint=endpoint, created_at=at, created_by=by)
                session.add(row)
            for name, value in fields.items():
                setattr(row, name, value)
            row.enabled = True
            row.updated_at, row.updated_by = at, by
            session.flush()
            policy = Policy.from_row(row)
            _audit(session, endpoint, by, "retrain-policy-set", policy.to_dict())
            return policy

    def _check_rule(self, name: str, endpoint: str) -> None:
        """The rule exists and watches ``endpoint`` (else it could never trigger)."""
        stored = self.alerts.rule_row(name)
        definition = stored.definition if stored else self.declared_alerts.get(name)
        if definition is None:
            raise AlertNotFound(f"alert rule {name!r} does not exist", field="on_alert")
        watched = definition.get("endpoint")
        if watched not in (None, endpoint):
            raise ValidationFailed(
                f"alert rule {name!r} watches endpoint {watched!r}, not {endpoint!r}",
                field="on_alert",
            )

    def find(self, endpoint: str) -> Policy | None:
        with self.db.session() as session:
            row = session.scalar(
                select(RetrainPolicyRow).where(RetrainPolicyRow.endpoint == endpoint)
            )
            return None if row is None else Policy.from_row(row)

    def get(self, endpoint: str) -> Policy:
        policy = self.find(endpoint)
        if policy is None:
            self.endpoints.get(endpoint)  # 404 endpoint_not_found first
            raise RetrainPolicyNotFound(
                f"endpoint {endpoint!r} has no retraining policy", field="endpoint"
            )
        return policy

    def disable(self, endpoint: str, *, by: str, at: datetime) -> Policy:
        self.get(endpoint)
        with self.db.session() as session:
            row = session.scalar(
                select(RetrainPolicyRow).where(RetrainPolicyRow.endpoint == endpoint)
            )
            assert row is not None
            row.enabled = False
            row.updated_at, row.updated_by = at, by
            _audit(session, endpoint, by, "retrain-policy-disable", {})
            return Policy.from_row(row)

    def policies(self, *, enabled_only: bool = False) -> list[Policy]:
        query = select(RetrainPolicyRow).order_by(RetrainPolicyRow.endpoint)
        if enabled_only:
            query = query.where(RetrainPolicyRow.enabled.is_(True))
        with self.db.session() as session:
            return [Policy.from_row(row) for row in session.scalars(query).all()]

    # -- events --------------------------------------------------------------------------
    def record(self, event: Event, *, policy_id: int | None, actor: str) -> Event:
        """Store one decision and its audit record, in one transaction."""
        with self.db.session() as session:
            row = RetrainEventRow(
                endpoint=event.endpoint,
                policy_id=policy_id,
                at=event.at,
                decision=event.decision,
                cause=event.cause,
                reason=event.reason,
                job=event.job,
                version=event.version,
                rollout_id=event.rollout_id,
                attempt=event.attempt,
                firing_since=event.firing_since,
            )
            session.add(row)
            session.flush()
            stored = Event.from_row(row)
            _audit(session, event.endpoint, actor, f"retrain-{event.decision}", stored.to_dict())
            return stored

    def history(self, endpoint: str, limit: int = 100) -> list[Event]:
        """The endpoint's decisions, newest first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(RetrainEventRow)
                .where(RetrainEventRow.endpoint == endpoint)
                .order_by(RetrainEventRow.id.desc())
                .limit(limit)
            ).all()
            return [Event.from_row(row) for row in rows]

    def last(self, endpoint: str, decisions: Collection[Decision] = DECISIONS) -> Event | None:
        with self.db.session() as session:
            row = session.scalar(
                select(RetrainEventRow)
                .where(
                    RetrainEventRow.endpoint == endpoint,
                    RetrainEventRow.decision.in_(list(decisions)),
                )
                .order_by(RetrainEventRow.id.desc())
                .limit(1)
            )
            return None if row is None else Event.from_row(row)

    def attempts(self, endpoint: str, firing_since: datetime) -> int:
        """Trainings started during the firing that began at ``firing_since``."""
        with self.db.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(RetrainEventRow)
                .where(
                    RetrainEventRow.endpoint == endpoint,
                    RetrainEventRow.decision == "started",
                    RetrainEventRow.firing_since == firing_since,
                )
            )
            return int(count or 0)

    def unfollowed(self, endpoint: str) -> list[Event]:
        """Trained versions whose rollout's end is not recorded yet."""
        with self.db.session() as session:
            ended = select(RetrainEventRow.rollout_id).where(
                RetrainEventRow.endpoint == endpoint,
                RetrainEventRow.decision.in_(["promoted", "rolled_back"]),
                RetrainEventRow.rollout_id.is_not(None),
            )
            rows = session.scalars(
                select(RetrainEventRow)
                .where(
                    RetrainEventRow.endpoint == endpoint,
                    RetrainEventRow.decision == "trained",
                    RetrainEventRow.rollout_id.is_not(None),
                    RetrainEventRow.rollout_id.not_in(ended),
                )
                .order_by(RetrainEventRow.id)
            ).all()
            return [Event.from_row(row) for row in rows]

    def new_labels(self, endpoint: str, since: datetime) -> int:
        """Labels of the endpoint's requests received since ``since``."""
        with self.db.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(FeedbackRow)
                .where(FeedbackRow.endpoint == endpoint, FeedbackRow.received_at >= since)
            )
            return int(count or 0)


def _audit(
    session: Session, endpoint: str, actor: str, action: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditRow(actor=actor, subject=f"endpoint:{endpoint}", action=action, details=details)
    )
