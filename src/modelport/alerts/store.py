"""SQL access for alerts: rules, alert states, history, silences, points and notifiers.

Plain reads and writes over the ``alert_*`` and ``notifiers`` tables; validation,
auditing decisions and evaluation live in :mod:`modelport.alerts.service`. Every
method is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from modelport.alerts.lifecycle import Alert, Silence
from modelport.store.db import Database
from modelport.store.tables import (
    AlertHistoryRow,
    AlertPointRow,
    AlertRuleRow,
    AlertSilenceRow,
    AlertStateRow,
    AuditRow,
    NotifierRow,
    utcnow,
)

# Points kept per alert: enough to draw a band over days at a 15-second interval
# would be far more; this bounds the table while a chart still sees a long stretch.
POINTS_PER_ALERT = 2000


@dataclass(frozen=True)
class StoredRule:
    name: str
    definition: dict[str, Any]
    source: str
    created_at: datetime
    created_by: str
    updated_at: datetime


@dataclass(frozen=True)
class StoredNotifier:
    name: str
    kind: str
    url: str | None
    format: str | None
    source: str
    created_at: datetime
    created_by: str
    updated_at: datetime

    @property
    def spec(self) -> tuple[str, str, str | None, str | None]:
        """What a receiver is built from: a change here means rebuilding it."""
        return (self.name, self.kind, self.url, self.format)


@dataclass(frozen=True)
class Point:
    key: str
    at: datetime
    value: float
    lower: float | None
    upper: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "at": self.at.isoformat(),
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One row of history, to be written."""

    rule: str
    kind: str
    payload: Mapping[str, Any]
    at: datetime
    key: str | None = None
    notifier: str | None = None
    delivered: bool | None = None


class AlertStore:
    """The alert tables of one control-plane database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rules ---------------------------------------------------------------------------
    def rule_rows(self) -> list[StoredRule]:
        with self.db.session() as session:
            rows = session.scalars(select(AlertRuleRow).order_by(AlertRuleRow.name)).all()
            return [_rule(row) for row in rows]

    def rule_row(self, name: str) -> StoredRule | None:
        with self.db.session() as session:
            row = session.get(AlertRuleRow, name)
            return None if row is None else _rule(row)

    def put_rule(
        self,
        name: str,
        definition: dict[str, Any],
        *,
        source: str,
        by: str,
        replace: bool,
        keep_keys: Iterable[str] | None = None,
        audit: dict[str, Any] | None = None,
    ) -> bool:
        """Insert (or, with ``replace``, update) a rule; False if it exists and not
        ``replace``. On update, alert states not in ``keep_keys`` (when given) go."""
        now = utcnow()
        with self.db.session() as session:
            row = session.get(AlertRuleRow, name)
            if row is not None and not replace:
                return False
            action = "create"
            if row is None:
                session.add(
                    AlertRuleRow(
                        name=name,
                        definition=definition,
                        source=source,
                        created_at=now,
                        created_by=by,
                        updated_at=now,
                    )
                )
            else:
                action = "replace"
                row.definition = definition
                row.source = source
                row.updated_at = now
                if keep_keys is not None:
                    keep = set(keep_keys)
                    for state in session.scalars(
                        select(AlertStateRow).where(AlertStateRow.rule == name)
                    ).all():
                        if state.key not in keep:
                            session.delete(state)
            _history(
                session,
                HistoryEntry(name, "rule-added", {"rule": definition, "source": source}, now),
                by=by,
            )
            _audit(session, f"alert:{name}", action, by, audit or {"source": source})
            return True

    def delete_rule(self, name: str, *, by: str) -> bool:
        now = utcnow()
        with self.db.session() as session:
            row = session.get(AlertRuleRow, name)
            if row is None:
                return False
            definition = row.definition
            session.delete(row)
            session.execute(delete(AlertStateRow).where(AlertStateRow.rule == name))
            session.execute(delete(AlertSilenceRow).where(AlertSilenceRow.rule == name))
            session.execute(delete(AlertPointRow).where(AlertPointRow.rule == name))
            _history(session, HistoryEntry(name, "rule-deleted", {"rule": definition}, now), by=by)
            _audit(session, f"alert:{name}", "delete", by, {})
            return True

    # -- alert states --------------------------------------------------------------------
    def alerts(self, rule: str | None = None) -> list[Alert]:
        with self.db.session() as session:
            query = select(AlertStateRow).order_by(AlertStateRow.key)
            if rule is not None:
                query = query.where(AlertStateRow.rule == rule)
            return [Alert.from_dict(row.alert) for row in session.scalars(query).all()]

    def save_alerts(
        self,
        alerts: Iterable[Alert],
        *,
        history: Iterable[HistoryEntry] = (),
        points: Iterable[Point] = (),
        by: str | None = None,
        audit: tuple[str, str, dict[str, Any]] | None = None,
    ) -> None:
        """Store alerts, their history and points as one transaction."""
        now = utcnow()
        with self.db.session() as session:
            for alert in alerts:
                row = session.get(AlertStateRow, alert.key)
                if row is None:
                    session.add(
                        AlertStateRow(
                            key=alert.key,
                            rule=alert.rule,
                            labels=dict(alert.labels),
                            alert=alert.to_dict(),
                            updated_at=now,
                        )
                    )
                else:
                    row.alert = alert.to_dict()
                    row.updated_at = now
            for entry in history:
                _history(session, entry, by=by)
            keys: set[str] = set()
            for point in points:
                rule = point.key.split("{", 1)[0]
                session.add(
                    AlertPointRow(
                        key=point.key,
                        rule=rule,
                        at=point.at,
                        value=point.value,
                        lower=point.lower,
                        upper=point.upper,
                    )
                )
                keys.add(point.key)
            session.flush()
            for key in keys:
                _trim_points(session, key)
            if audit is not None and by is not None:
                _audit(session, audit[0], audit[1], by, audit[2])

    def points(self, rule: str, *, per_alert: int) -> list[Point]:
        with self.db.session() as session:
            keys = session.scalars(
                select(AlertPointRow.key).where(AlertPointRow.rule == rule).distinct()
            ).all()
            points: list[Point] = []
            for key in keys:
                rows = session.scalars(
                    select(AlertPointRow)
                    .where(AlertPointRow.key == key)
                    .order_by(AlertPointRow.at.desc(), AlertPointRow.id.desc())
                    .limit(per_alert)
                ).all()
                points += [Point(row.key, row.at, row.value, row.lower, row.upper) for row in rows]
            return sorted(points, key=lambda point: (point.key, point.at))

    # -- silences ------------------------------------------------------------------------
    def add_silence(self, silence: Silence, *, at: datetime) -> None:
        with self.db.session() as session:
            session.add(
                AlertSilenceRow(
                    rule=silence.rule,
                    labels=dict(silence.labels),
                    until=silence.until,
                    reason=silence.reason,
                    by=silence.by,
                    created_at=at,
                )
            )
            _history(
                session,
                HistoryEntry(silence.rule, "silence", silence.to_dict(), at),
                by=silence.by,
            )
            _audit(
                session,
                f"alert:{silence.rule}",
                "silence",
                silence.by,
                {"until": silence.until.isoformat(), "reason": silence.reason},
            )

    def silences(self, rule: str | None, at: datetime) -> list[Silence]:
        """Silences in force at ``at`` (those expired are dropped on the way)."""
        with self.db.session() as session:
            session.execute(delete(AlertSilenceRow).where(AlertSilenceRow.until <= at))
            query = select(AlertSilenceRow).order_by(AlertSilenceRow.until)
            if rule is not None:
                query = query.where(AlertSilenceRow.rule == rule)
            return [
                Silence(
                    rule=row.rule,
                    until=row.until,
                    reason=row.reason,
                    by=row.by,
                    labels=dict(row.labels),
                )
                for row in session.scalars(query).all()
            ]

    # -- history -------------------------------------------------------------------------
    def add_history(self, entries: Iterable[HistoryEntry]) -> None:
        with self.db.session() as session:
            for entry in entries:
                _history(session, entry, by=None)

    def history(
        self, rule: str | None, *, since: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        with self.db.session() as session:
            query = select(AlertHistoryRow).order_by(
                AlertHistoryRow.at.desc(), AlertHistoryRow.id.desc()
            )
            if rule is not None:
                query = query.where(AlertHistoryRow.rule == rule)
            if since is not None:
                query = query.where(AlertHistoryRow.at >= since)
            rows = session.scalars(query.limit(limit)).all()
            return [
                {
                    **row.payload,
                    "id": row.id,
                    "kind": row.kind,
                    "rule": row.rule,
                    "key": row.key,
                    "at": row.at.isoformat(),
                }
                for row in rows
            ]

    def delivery_counts(self) -> dict[tuple[str, bool], int]:
        """Deliveries per (notifier, delivered)."""
        with self.db.session() as session:
            rows = session.execute(
                select(AlertHistoryRow.notifier, AlertHistoryRow.delivered, func.count())
                .where(AlertHistoryRow.kind == "delivery")
                .group_by(AlertHistoryRow.notifier, AlertHistoryRow.delivered)
            ).all()
            return {(str(name), bool(delivered)): int(count) for name, delivered, count in rows}

    # -- notifiers -----------------------------------------------------------------------
    def notifier_rows(self) -> list[StoredNotifier]:
        with self.db.session() as session:
            rows = session.scalars(select(NotifierRow).order_by(NotifierRow.name)).all()
            return [_notifier(row) for row in rows]

    def notifier_row(self, name: str) -> StoredNotifier | None:
        with self.db.session() as session:
            row = session.get(NotifierRow, name)
            return None if row is None else _notifier(row)

    def put_notifier(
        self,
        name: str,
        kind: str,
        url: str | None,
        format: str | None,
        *,
        source: str,
        by: str,
        replace: bool,
    ) -> bool:
        now = utcnow()
        with self.db.session() as session:
            row = session.get(NotifierRow, name)
            if row is not None and not replace:
                return False
            action = "create"
            if row is None:
                session.add(
                    NotifierRow(
                        name=name,
                        kind=kind,
                        url=url,
                        format=format,
                        source=source,
                        created_at=now,
                        created_by=by,
                        updated_at=now,
                    )
                )
            else:
                action = "replace"
                row.kind, row.url, row.format = kind, url, format
                row.source = source
                row.updated_at = now
            # Webhook paths often carry a secret: the audit names the kind only.
            _audit(session, f"notifier:{name}", action, by, {"kind": kind, "source": source})
            return True

    def delete_notifier(self, name: str, *, by: str) -> bool:
        with self.db.session() as session:
            row = session.get(NotifierRow, name)
            if row is None:
                return False
            session.delete(row)
            _audit(session, f"notifier:{name}", "delete", by, {})
            return True


def _rule(row: AlertRuleRow) -> StoredRule:
    return StoredRule(
        row.name, dict(row.definition), row.source, row.created_at, row.created_by, row.updated_at
    )


def _notifier(row: NotifierRow) -> StoredNotifier:
    return StoredNotifier(
        row.name,
        row.kind,
        row.url,
        row.format,
        row.source,
        row.created_at,
        row.created_by,
        row.updated_at,
    )


def _history(session: Session, entry: HistoryEntry, *, by: str | None) -> None:
    payload = dict(entry.payload)
    if by is not None:
        payload.setdefault("by", by)
    session.add(
        AlertHistoryRow(
            rule=entry.rule,
            key=entry.key,
            at=entry.at,
            kind=entry.kind,
            notifier=entry.notifier,
            delivered=entry.delivered,
            payload=payload,
        )
    )


def _audit(
    session: Session, subject: str, action: str, actor: str, details: dict[str, Any]
) -> None:
    session.add(AuditRow(actor=actor, subject=subject, action=action, details=details))


def _trim_points(session: Session, key: str) -> None:
    """Keep the newest :data:`POINTS_PER_ALERT` points of ``key``."""
    oldest_kept = session.scalar(
        select(AlertPointRow.id)
        .where(AlertPointRow.key == key)
        .order_by(AlertPointRow.id.desc())
        .offset(POINTS_PER_ALERT - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(
            delete(AlertPointRow).where(AlertPointRow.key == key, AlertPointRow.id < oldest_kept)
        )


__all__ = ["AlertStore", "HistoryEntry", "Point", "StoredNotifier", "StoredRule"]
