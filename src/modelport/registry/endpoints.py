"""Endpoints: a stable name that serves one primary model version plus a traffic policy.

Every change is one transaction that bumps ``revision`` and writes an audit record.
Servers poll revisions to pick up changes made by other processes; writers may pass the
revision they read (``expected_revision``) to turn a concurrent change into a 409.

An endpoint with a rollout in progress is fenced: ``update`` and ``delete`` refuse with
:class:`~modelport.errors.RolloutInProgress` (409) until the rollout has ended, checked in
the same transaction as the change, so a later rollback can never silently undo a
change made under it and no rollout outlives its endpoint. The rollout plane ends a
rollout first when a caller forces the change; its own steps go through ``apply``.

An endpoint may follow an alias of its model (``churn@champion``): moving the alias
moves its primary through ``apply`` (``registry/aliases.py``). Pointing the endpoint at
a version by number stops the following, and so does a change that leaves it serving
only a primary other than the alias's version (a promoted rollout); the audit record
says so. No change may point an endpoint at an archived version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelport.errors import Conflict, EndpointNotFound, ModelportError, RolloutInProgress
from modelport.names import check_name
from modelport.registry.records import ModelVersion
from modelport.registry.references import (
    alias_row,
    lock_model,
    newest_servable,
    policy_versions,
    servable,
)
from modelport.registry.service import Registry
from modelport.store.audit import audit_trail
from modelport.store.db import Database
from modelport.store.tables import AliasRow, AuditRow, EndpointRow, ModelRow, RolloutRow, utcnow


@dataclass(frozen=True)
class Endpoint:
    name: str
    model: str
    primary_version: int
    policy: dict[str, Any]
    revision: int
    created_at: datetime
    updated_at: datetime
    # The alias of ``model`` the endpoint follows, if any.
    alias: str | None = None
    # A pipeline's steps (``pipelines/spec.py``); None for an endpoint of one model.
    pipeline: dict[str, Any] | None = None
    # The pipeline this endpoint serves a step of, if any.
    part_of: str | None = None

    @classmethod
    def from_row(cls, row: EndpointRow) -> Endpoint:
        return cls(
            name=row.name,
            model=row.model_name,
            primary_version=row.primary_version,
            policy=dict(row.policy or {}),
            revision=row.revision,
            created_at=row.created_at,
            updated_at=row.updated_at,
            alias=row.alias,
            pipeline=dict(row.pipeline) if row.pipeline is not None else None,
            part_of=row.part_of,
        )

    @property
    def follows(self) -> str | None:
        """``churn@champion`` while the endpoint follows that alias."""
        return None if self.alias is None else f"{self.model}@{self.alias}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "version": self.primary_version,
            "alias": self.alias,
            "policy": self.policy,
            "revision": self.revision,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            **({"pipeline": self.pipeline} if self.pipeline is not None else {}),
            **({"part_of": self.part_of} if self.part_of is not None else {}),
        }


@dataclass(frozen=True)
class PipelineStep:
    """One step of a pipeline to create: its name, the version it serves, and the alias
    of that version's model it follows (if any)."""

    step: str
    version: ModelVersion
    alias: str | None = None


class EndpointStore:
    def __init__(self, db: Database, registry: Registry) -> None:
        self.db = db
        self.registry = registry

    def create(
        self,
        name: str,
        model: str,
        version: int | None,
        actor: str = "cli",
        *,
        alias: str | None = None,
    ) -> Endpoint:
        """Serve ``model:version`` (None: the newest not archived), or follow ``alias``."""
        check_name("endpoint", name, field="name")
        check_name("model", model, field="model")
        try:
            with self.db.session() as session:
                # Shared: no archive or alias move of this model interleaves.
                model_row = lock_model(session, model, shared=True)
                if alias is not None:
                    version = alias_row(session, model_row, alias, field="model").version
                elif version is None:
                    version = newest_servable(session, model_row)
                servable(session, model, version)
                if session.scalar(select(EndpointRow).where(EndpointRow.name == name)):
                    raise Conflict(f"endpoint {name!r} already exists", field="name")
                row = EndpointRow(
                    name=name, model_name=model, primary_version=version, policy={}, alias=alias
                )
                session.add(row)
                session.flush()
                details: dict[str, Any] = {"model": f"{model}:{version}"}
                if alias is not None:
                    details["follows"] = f"{model}@{alias}"
                self._audit(session, name, "create", actor, details)
                return Endpoint.from_row(row)
        except IntegrityError as exc:
            raise Conflict(f"endpoint {name!r} already exists", field="name") from exc

    def create_pipeline(
        self,
        name: str,
        pipeline: dict[str, Any],
        steps: Sequence[PipelineStep],
        actor: str = "cli",
    ) -> Endpoint:
        """Serve ``pipeline`` (its JSON, already checked against the versions in
        ``steps``) as endpoint ``name`` and each step as endpoint ``name.<step>``, all in
        one transaction."""
        check_name("endpoint", name, field="name")
        names = [f"{name}.{step.step}" for step in steps]
        for index, step_name in enumerate(names):
            check_name("endpoint", step_name, field=f"pipeline.steps[{index}].name")
        try:
            with self.db.session() as session:
                taken = session.scalars(
                    select(EndpointRow.name).where(EndpointRow.name.in_([name, *names]))
                ).all()
                if taken:
                    raise Conflict(f"endpoint {sorted(taken)[0]!r} already exists", field="name")
                for index, (step, step_name) in enumerate(zip(steps, names, strict=True)):
                    version = step.version
                    model_row = lock_model(session, version.name, shared=True)
                    where = f"pipeline.steps[{index}].model"
                    if step.alias is not None:
                        named = alias_row(session, model_row, step.alias, field=where)
                        if named.version != version.version:
                            raise Conflict(
                                f"{version.name}@{step.alias} moved meanwhile; try again",
                                field=where,
                            )
                    servable(session, version.name, version.version)
                    session.add(
                        EndpointRow(
                            name=step_name,
                            model_name=version.name,
                            primary_version=version.version,
                            policy={},
                            alias=step.alias,
                            part_of=name,
                        )
                    )
                    self._audit(
                        session, step_name, "create", actor,
                        {"model": version.ref, "pipeline": name, "step": step.step},
                    )  # fmt: skip
                final = steps[-1].version
                row = EndpointRow(
                    name=name,
                    model_name=final.name,
                    primary_version=final.version,
                    policy={},
                    pipeline=pipeline,
                )
                session.add(row)
                session.flush()
                served = [f"{s.step}={s.version.ref}" for s in steps]
                self._audit(session, name, "create", actor, {"pipeline": served})
                return Endpoint.from_row(row)
        except IntegrityError as exc:
            raise Conflict(f"endpoint {name!r} already exists", field="name") from exc

    def steps_of(self, name: str) -> list[Endpoint]:
        """The step endpoints of pipeline ``name``, in no particular order."""
        with self.db.session() as session:
            rows = session.scalars(select(EndpointRow).where(EndpointRow.part_of == name)).all()
            return [Endpoint.from_row(row) for row in rows]

    def get(self, name: str) -> Endpoint:
        with self.db.session() as session:
            return Endpoint.from_row(self._row(session, name))

    def all(self) -> list[Endpoint]:
        with self.db.session() as session:
            rows = session.scalars(select(EndpointRow).order_by(EndpointRow.name)).all()
            return [Endpoint.from_row(row) for row in rows]

    def revisions(self) -> dict[str, int]:
        with self.db.session() as session:
            rows = session.execute(select(EndpointRow.name, EndpointRow.revision)).all()
            return {name: revision for name, revision in rows}

    def update(
        self,
        name: str,
        *,
        actor: str = "cli",
        action: str = "update",
        primary_version: int | None = None,
        policy: dict[str, Any] | None = None,
        expected_revision: int | None = None,
        details: dict[str, Any] | None = None,
        follow: str | None = None,
        unfollow: bool = False,
    ) -> Endpoint:
        """Change the primary version and/or policy as one audited transaction; 409
        (:class:`RolloutInProgress`) while a rollout is in progress on the endpoint.

        ``follow`` points the endpoint at that alias's version and keeps it following;
        ``unfollow`` (a version given by number) stops following."""
        with self.db.session() as session:
            if follow is not None:
                # Model, then alias, then endpoint: the order an alias move locks in.
                model = lock_model(session, self._row(session, name).model_name, shared=True)
                target = alias_row(session, model, follow, field="model", lock="shared")
                primary_version = target.version
            self._row(session, name, lock=True)
            self._refuse_if_rollout(session, name, action)
            return self.apply(
                session,
                name,
                actor=actor,
                action=action,
                primary_version=primary_version,
                policy=policy,
                expected_revision=expected_revision,
                details=details,
                follow=follow,
                unfollow=unfollow,
            )

    def apply(
        self,
        session: Session,
        name: str,
        *,
        actor: str = "cli",
        action: str = "update",
        primary_version: int | None = None,
        policy: dict[str, Any] | None = None,
        expected_revision: int | None = None,
        details: dict[str, Any] | None = None,
        follow: str | None = None,
        unfollow: bool = False,
    ) -> Endpoint:
        """``update`` inside the caller's transaction (a rollout step changes the rollout
        and the endpoint together, or neither)."""
        row = self._row(session, name, lock=True)
        if expected_revision is not None and row.revision != expected_revision:
            raise Conflict(
                f"endpoint {name!r} changed meanwhile (revision {row.revision}, "
                f"expected {expected_revision})"
            )
        # Read after the endpoint's lock: an archive that locked it first is seen here.
        if primary_version is not None:
            servable(session, row.model_name, primary_version)
        for version in policy_versions(policy):
            servable(session, row.model_name, version)
        if primary_version is not None:
            row.primary_version = primary_version
        if policy is not None:
            row.policy = policy
        following = self._following(session, row, follow, unfollow)
        row.revision += 1
        row.updated_at = utcnow()
        audit = {
            "version": row.primary_version,
            "revision": row.revision,
            **following,
            **(details or {}),
        }
        self._audit(session, name, action, actor, audit)
        session.flush()
        return Endpoint.from_row(row)

    @staticmethod
    def _following(
        session: Session, row: EndpointRow, follow: str | None, unfollow: bool
    ) -> dict[str, Any]:
        """Start or stop following an alias; audit details saying so (empty: no change)."""
        before = row.alias
        if follow is not None:
            row.alias = follow
        elif unfollow:
            row.alias = None
        elif before is not None and not row.policy:
            # Serving only a primary that is not the alias's version (a promoted rollout,
            # say): the endpoint no longer serves what the alias names.
            target = session.scalar(
                select(AliasRow.version)
                .join(ModelRow, AliasRow.model_id == ModelRow.id)
                .where(ModelRow.name == row.model_name, AliasRow.alias == before)
            )
            if target != row.primary_version:
                row.alias = None
        if row.alias == before:
            return {}
        changed: dict[str, Any] = {}
        if before is not None:
            changed["unfollowed"] = f"{row.model_name}@{before}"
        if row.alias is not None:
            changed["follows"] = f"{row.model_name}@{row.alias}"
        return changed

    def followers(self, model: str, alias: str) -> list[str]:
        """Names of the endpoints following ``model@alias``."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(EndpointRow.name)
                    .where(EndpointRow.model_name == model, EndpointRow.alias == alias)
                    .order_by(EndpointRow.name)
                ).all()
            )

    def delete(self, name: str, actor: str = "cli", details: dict[str, Any] | None = None) -> None:
        """Delete the endpoint (its logged predictions stay); 409 while a rollout is in
        progress on it, so no rollout is ever left without its endpoint."""
        with self.db.session() as session:
            row = self._row(session, name, lock=True)
            if row.part_of is not None:
                raise Conflict(
                    f"endpoint {name!r} is a step of pipeline {row.part_of!r}; delete the "
                    "pipeline instead",
                    field="endpoint",
                )
            steps = session.scalars(select(EndpointRow).where(EndpointRow.part_of == name)).all()
            self._refuse_if_rollout(session, name, "delete")
            for step in steps:
                self._refuse_if_rollout(session, step.name, "delete")
            for step in steps:
                session.delete(step)
                self._audit(session, step.name, "delete", actor, {"pipeline": name})
            session.delete(row)
            self._audit(session, name, "delete", actor, dict(details or {}))

    @staticmethod
    def live_rollout(session: Session, name: str) -> RolloutRow | None:
        """The rollout in progress (active or paused) on ``name``, if any."""
        return session.scalar(select(RolloutRow).where(RolloutRow.active_endpoint == name))

    def _refuse_if_rollout(self, session: Session, name: str, action: str) -> None:
        live = self.live_rollout(session, name)
        if live is None:
            return
        raise RolloutInProgress(
            f"endpoint {name!r} has rollout {live.id} ({live.strategy}, {live.status}) in "
            f"progress; promote or roll it back first, or force the {action} (which rolls "
            "the rollout back first)",
            field="endpoint",
            rollout=live.id,
            strategy=live.strategy,
            status=live.status,
        )

    def history(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        return audit_trail(self.db, f"endpoint:{name}", limit)

    @staticmethod
    def _row(session: Session, name: str, lock: bool = False) -> EndpointRow:
        query = select(EndpointRow).where(EndpointRow.name == name)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
            if session.get_bind().dialect.name == "sqlite":
                # SQLite ignores FOR UPDATE. A no-op UPDATE takes the database's write
                # lock instead, so two writers cannot both read revision N and both
                # write N + 1: the second waits, then reads what the first committed.
                session.execute(
                    update(EndpointRow)
                    .where(EndpointRow.name == name)
                    .values(revision=EndpointRow.revision)
                    .execution_options(synchronize_session=False)
                )
        row = session.scalar(query)
        if row is None:
            raise EndpointNotFound(f"endpoint {name!r} does not exist", field="endpoint")
        return row

    @staticmethod
    def _audit(
        session: Session, name: str, action: str, actor: str, details: dict[str, Any]
    ) -> None:
        session.add(
            AuditRow(actor=actor, subject=f"endpoint:{name}", action=action, details=details)
        )


__all__ = ["Endpoint", "EndpointStore", "ModelportError"]
