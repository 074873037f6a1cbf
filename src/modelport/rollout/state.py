"""Rollouts as a persisted state machine, next to the registry in the same SQL database.

    start -> active <-> paused
             active --step--> active (next weight)      (shadow -> canary is a step too)
             active|paused --promote--> promoted         (candidate is the primary)
             active|paused --rollback--> rolled-back     (baseline stays the primary)
             active|paused --abort--> aborted            (candidate could not load)

Every transition is one transaction: a conditional ``UPDATE ... WHERE revision = r``
on the rollout (so of two racing writers exactly one wins; the other gets 409), the
endpoint's new policy (which servers pick up by its revision), and an audit event with
who, why and the evidence. A restarted server reads the same row and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelport.errors import Conflict, RolloutNotFound
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.rollout.spec import RolloutSpec
from modelport.serving.policies.specs import PolicySpec, with_rollout
from modelport.store.db import Database
from modelport.store.tables import RolloutAnalysisRow, RolloutEventRow, RolloutRow, utcnow
from modelport.vocabulary import FINAL_STATUSES, LIVE_STATUSES, Phase, RolloutStatus

ACTIVE, PAUSED = RolloutStatus.ACTIVE, RolloutStatus.PAUSED
PROMOTED, ROLLED_BACK, ABORTED = (
    RolloutStatus.PROMOTED,
    RolloutStatus.ROLLED_BACK,
    RolloutStatus.ABORTED,
)
LIVE, FINAL = LIVE_STATUSES, FINAL_STATUSES


@dataclass(frozen=True)
class Rollout:
    id: int
    endpoint: str
    model: str
    candidate: int
    baseline: int
    strategy: str
    phase: str
    status: str
    step: int
    weight: float
    step_started_at: datetime
    spec: RolloutSpec
    verdicts: dict[str, Any]
    note: str
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @classmethod
    def from_row(cls, row: RolloutRow) -> Rollout:
        return cls(
            id=row.id,
            endpoint=row.endpoint,
            model=row.model_name,
            candidate=row.candidate_version,
            baseline=row.baseline_version,
            strategy=row.strategy,
            phase=row.phase,
            status=row.status,
            step=row.step,
            weight=row.weight,
            step_started_at=row.step_started_at,
            spec=RolloutSpec.from_dict(row.config or {}),
            verdicts=dict(row.verdicts or {}),
            note=row.note,
            revision=row.revision,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "model": self.model,
            "candidate": self.candidate,
            "primary": self.baseline,
            "strategy": self.strategy,
            "phase": self.phase,
            "status": self.status,
            "step": self.step,
            "steps": self.spec.steps if self.phase == Phase.CANARY else [],
            "weight": self.weight,
            "step_started_at": self.step_started_at.isoformat(),
            "spec": self.spec.to_dict(),
            "verdicts": self.verdicts,
            "note": self.note,
            "revision": self.revision,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class Change:
    """What one transition does; ``None`` fields stay as they are."""

    action: str
    actor: str
    reason: str = ""
    evidence: dict[str, Any] | None = None
    status: str | None = None
    phase: str | None = None
    step: int | None = None
    weight: float | None = None
    restart_step: bool = False
    # Endpoint side, applied in the same transaction.
    policy: PolicySpec | None = None
    primary_version: int | None = None


class RolloutStore:
    def __init__(self, db: Database, endpoints: EndpointStore) -> None:
        self.db = db
        self.endpoints = endpoints

    # -- writing ------------------------------------------------------------------------
    def create(
        self,
        endpoint: Endpoint,
        candidate: int,
        spec: RolloutSpec,
        *,
        phase: str,
        change: Change,
    ) -> Rollout:
        """Insert a rollout and route traffic to it, or (status aborted) only record it."""
        status = change.status or ACTIVE
        now = utcnow()
        try:
            with self.db.session() as session:
                row = RolloutRow(
                    endpoint=endpoint.name,
                    active_endpoint=endpoint.name if status in LIVE else None,
                    model_name=endpoint.model,
                    candidate_version=candidate,
                    baseline_version=endpoint.primary_version,
                    strategy=spec.strategy,
                    phase=phase,
                    status=status,
                    step=change.step or 0,
                    weight=change.weight or 0.0,
                    step_started_at=now,
                    config=spec.to_dict(),
                    verdicts={},
                    note=change.reason,
                    revision=1,
                    created_by=change.actor,
                    created_at=now,
                    updated_at=now,
                    finished_at=None if status in LIVE else now,
                )
                session.add(row)
                session.flush()
                if change.policy is not None or change.primary_version is not None:
                    self._route(session, row, change, expected_revision=endpoint.revision)
                self._event(session, row, change)
                return Rollout.from_row(row)
        except IntegrityError as exc:
            raise Conflict(
                f"endpoint {endpoint.name!r} already has a rollout in progress", field="endpoint"
            ) from exc

    def transition(self, rollout: Rollout, change: Change) -> Rollout:
        """Apply ``change`` if nobody else changed the rollout since ``rollout`` was read."""
        now = utcnow()
        values: dict[str, Any] = {"revision": rollout.revision + 1, "updated_at": now}
        for name in ("status", "phase", "step", "weight"):
            if getattr(change, name) is not None:
                values[name] = getattr(change, name)
        if change.restart_step or change.step is not None:
            values["step_started_at"] = now
        if change.status in FINAL:
            values["active_endpoint"] = None
            values["finished_at"] = now
        values["note"] = change.reason
        with self.db.session() as session:
            result = session.execute(
                update(RolloutRow)
                .where(RolloutRow.id == rollout.id)
                .where(RolloutRow.revision == rollout.revision)
                .where(RolloutRow.status.in_(LIVE))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise Conflict(
                    f"rollout {rollout.id} on {rollout.endpoint!r} changed meanwhile or has "
                    "ended; read its status and try again",
                    field="rollout",
                )
            row = session.get(RolloutRow, rollout.id, populate_existing=True)
            assert row is not None
            if change.policy is not None or change.primary_version is not None:
                self._route(session, row, change)
            self._event(session, row, change)
            return Rollout.from_row(row)

    def record_analysis(
        self, rollout: Rollout, verdicts: dict[str, Any], note: str, event: Change | None = None
    ) -> bool:
        """Store the latest evidence without a transition (no revision bump, so an admin
        command racing with analysis does not lose for nothing)."""
        with self.db.session() as session:
            result = session.execute(
                update(RolloutRow)
                .where(RolloutRow.id == rollout.id)
                .where(RolloutRow.revision == rollout.revision)
                .values(verdicts=verdicts, note=note)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return False
            if event is not None:
                row = session.get(RolloutRow, rollout.id, populate_existing=True)
                assert row is not None
                self._event(session, row, event)
            return True

    def add_analysis(
        self, rollout: Rollout, at: datetime, requests: int, gates: list[dict[str, Any]]
    ) -> None:
        """Keep one analysis round (``Verdict.point()`` per gate) for the gates' charts."""
        with self.db.session() as session:
            session.add(
                RolloutAnalysisRow(
                    rollout_id=rollout.id,
                    at=at,
                    phase=rollout.phase,
                    step=rollout.step,
                    weight=rollout.weight,
                    requests=requests,
                    gates=gates,
                )
            )

    def _route(
        self,
        session: Session,
        row: RolloutRow,
        change: Change,
        expected_revision: int | None = None,
    ) -> None:
        # The policy names its rollout, so a server that cannot build it knows which
        # rollout to abort.
        policy = None if change.policy is None else with_rollout(change.policy, row.id).to_dict()
        self.endpoints.apply(
            session,
            row.endpoint,
            actor=change.actor,
            action=f"rollout-{change.action}",
            policy=policy,
            primary_version=change.primary_version,
            expected_revision=expected_revision,
            details={"rollout": row.id, "reason": change.reason},
        )

    @staticmethod
    def _event(session: Session, row: RolloutRow, change: Change) -> None:
        session.add(
            RolloutEventRow(
                rollout_id=row.id,
                endpoint=row.endpoint,
                at=utcnow(),
                actor=change.actor,
                action=change.action,
                phase=row.phase,
                step=row.step,
                weight=row.weight,
                reason=change.reason,
                evidence=change.evidence or {},
            )
        )

    # -- reading ------------------------------------------------------------------------
    def get(self, rollout_id: int) -> Rollout:
        with self.db.session() as session:
            row = session.get(RolloutRow, rollout_id)
            if row is None:
                raise RolloutNotFound(f"rollout {rollout_id} does not exist", field="rollout")
            return Rollout.from_row(row)

    def latest(self, endpoint: str) -> Rollout | None:
        with self.db.session() as session:
            row = session.scalar(
                select(RolloutRow)
                .where(RolloutRow.endpoint == endpoint)
                .order_by(RolloutRow.id.desc())
                .limit(1)
            )
            return Rollout.from_row(row) if row is not None else None

    def active(self, endpoint: str) -> Rollout:
        """The live rollout of ``endpoint``; 409 when there is none."""
        with self.db.session() as session:
            row = session.scalar(select(RolloutRow).where(RolloutRow.active_endpoint == endpoint))
            if row is None:
                raise Conflict(
                    f"endpoint {endpoint!r} has no rollout in progress", field="endpoint"
                )
            return Rollout.from_row(row)

    def all_live(self) -> list[Rollout]:
        with self.db.session() as session:
            rows = session.scalars(
                select(RolloutRow).where(RolloutRow.active_endpoint.is_not(None))
            ).all()
            return [Rollout.from_row(row) for row in rows]

    def events(
        self, endpoint: str, rollout_id: int | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        query = select(RolloutEventRow).where(RolloutEventRow.endpoint == endpoint)
        if rollout_id is not None:
            query = query.where(RolloutEventRow.rollout_id == rollout_id)
        with self.db.session() as session:
            rows = session.scalars(query.order_by(RolloutEventRow.id).limit(limit)).all()
            return [
                {
                    "rollout": r.rollout_id,
                    "at": r.at.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "phase": r.phase,
                    "step": r.step,
                    "weight": r.weight,
                    "reason": r.reason,
                    "evidence": r.evidence,
                }
                for r in rows
            ]

    def analyses(
        self, rollout_id: int, since: datetime | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` analysis rounds of a rollout (after ``since``), oldest first."""
        query = select(RolloutAnalysisRow).where(RolloutAnalysisRow.rollout_id == rollout_id)
        if since is not None:
            query = query.where(RolloutAnalysisRow.at > since)
        query = query.order_by(RolloutAnalysisRow.at.desc(), RolloutAnalysisRow.id.desc())
        with self.db.session() as session:
            rows = session.scalars(query.limit(limit)).all()
            return [
                {
                    "at": r.at.isoformat(),
                    "phase": r.phase,
                    "step": r.step,
                    "weight": r.weight,
                    "requests": r.requests,
                    "gates": r.gates,
                }
                for r in reversed(rows)
            ]

    def last_analysis_at(self, rollout_id: int) -> datetime | None:
        with self.db.session() as session:
            return session.scalar(
                select(RolloutAnalysisRow.at)
                .where(RolloutAnalysisRow.rollout_id == rollout_id)
                .order_by(RolloutAnalysisRow.at.desc())
                .limit(1)
            )
