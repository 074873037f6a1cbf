"""Reading the audit trail of one subject (``endpoint:<name>``, ``model:<name>``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from modelport.store.db import Database
from modelport.store.tables import AuditRow


def audit_trail(db: Database, subject: str, limit: int = 100) -> list[dict[str, Any]]:
    """The subject's audit records, newest first: when, who, what and the details."""
    with db.session() as session:
        rows = session.scalars(
            select(AuditRow)
            .where(AuditRow.subject == subject)
            .order_by(AuditRow.id.desc())
            .limit(limit)
        ).all()
        return [
            {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, **r.details}
            for r in rows
        ]
