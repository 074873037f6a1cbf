"""Aliases: named pointers (``churn@champion``) at versions, moved atomically and audited.

Setting an alias moves, in the same transaction, the primary of every endpoint that
follows it, each through the endpoint's usual change (``EndpointStore.apply``: revision
bump and audit record), so every server picks the move up within
``server.policy_refresh_s`` (the server that moved it at once), and serves it without
loading anything: following endpoints keep their aliases' versions loaded
(``serving/warm.py``). An endpoint with a rollout in progress refuses the move
(409) unless the caller ends that rollout first (``end_rollout``, a forced move), as a
forced ``PATCH`` of the endpoint does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelport.errors import AliasNotFound, Conflict, ModelNotFound, RolloutInProgress
from modelport.names import check_name
from modelport.registry.endpoints import EndpointStore
from modelport.registry.references import alias_row, lock_endpoints, lock_model, servable
from modelport.store.tables import AliasRow, AuditRow, EndpointRow, ModelRow, utcnow

# Rolls back the rollout in progress on an endpoint (``RolloutService.end_for``); the
# rollout's id, or None if there was none.
EndRollout = Callable[[str], int | None]


@dataclass(frozen=True)
class Alias:
    model: str
    alias: str
    version: int
    updated_at: datetime
    updated_by: str
    # Endpoints that follow the alias.
    endpoints: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
            "endpoints": list(self.endpoints),
        }


@dataclass(frozen=True)
class AliasMove:
    """What ``set`` did: the alias before and after, and the endpoints it moved."""

    alias: Alias
    previous: int | None
    moved: tuple[str, ...]
    ended_rollouts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.alias.to_dict(),
            "previous": self.previous,
            "moved": list(self.moved),
            "ended_rollouts": self.ended_rollouts,
        }


class AliasStore:
    def __init__(self, endpoints: EndpointStore) -> None:
        self.endpoints = endpoints
        self.db = endpoints.db

    def list(self, model: str) -> list[Alias]:
        check_name("model", model, field="model")
        with self.db.session() as session:
            model_row = session.scalar(select(ModelRow).where(ModelRow.name == model))
            if model_row is None:
                raise ModelNotFound(f"model {model!r} is not registered", field="model")
            rows = session.scalars(
                select(AliasRow)
                .join(ModelRow, AliasRow.model_id == ModelRow.id)
                .where(ModelRow.name == model)
                .order_by(AliasRow.alias)
            ).all()
            followers = session.execute(
                select(EndpointRow.alias, EndpointRow.name)
                .where(EndpointRow.model_name == model, EndpointRow.alias.is_not(None))
                .order_by(EndpointRow.name)
            ).all()
            by_alias: dict[str, list[str]] = {}
            for alias, name in followers:
                by_alias.setdefault(str(alias), []).append(name)
            return [_alias(model, row, by_alias.get(row.alias, [])) for row in rows]

    def get(self, model: str, alias: str) -> Alias:
        for found in self.list(model):
            if found.alias == alias:
                return found
        raise AliasNotFound(f"model {model!r} has no alias {alias!r}", field="alias")

    def set(
        self,
        model: str,
        alias: str,
        version: int,
        *,
        actor: str = "cli",
        end_rollout: EndRollout | None = None,
    ) -> AliasMove:
        """Point ``model@alias`` at ``version`` (creating the alias) and move every
        endpoint following it. ``end_rollout`` (a forced move) first rolls back a rollout
        in progress on those endpoints; without it such an endpoint refuses (409)."""
        check_name("model", model, field="model")
        check_name("alias", alias, field="alias")
        self.endpoints.registry.get(model, version)  # 404 before a forced move ends anything
        ended: dict[str, int] = {}
        if end_rollout is not None:
            for name in self.endpoints.followers(model, alias):
                if (rollout := end_rollout(name)) is not None:
                    ended[name] = rollout
        with self.db.session() as session:
            model_row = lock_model(session, model)
            servable(session, model, version)
            try:
                row = alias_row(session, model_row, alias, lock="update")
                previous: int | None = row.version
            except AliasNotFound:
                row = AliasRow(model_id=model_row.id, alias=alias, version=version)
                session.add(row)
                previous = None
            row.version = version
            row.updated_at = utcnow()
            row.updated_by = actor
            session.flush()
            followers = [e for e in lock_endpoints(session, model) if e.alias == alias]
            for endpoint in followers:
                self._refuse_if_rollout(session, model, alias, endpoint.name)
            moved: list[str] = []
            for endpoint in followers:
                if endpoint.primary_version == version:
                    continue
                details: dict[str, Any] = {"alias": f"{model}@{alias}", "from": previous}
                if endpoint.name in ended:
                    details.update(forced=True, ended_rollout=ended[endpoint.name])
                self.endpoints.apply(
                    session,
                    endpoint.name,
                    actor=actor,
                    action="alias-move",
                    primary_version=version,
                    details=details,
                )
                moved.append(endpoint.name)
            session.add(
                AuditRow(
                    actor=actor,
                    subject=f"model:{model}",
                    action="alias-set",
                    details={
                        "alias": alias,
                        "from": previous,
                        "to": version,
                        "endpoints": moved,
                        **({"ended_rollouts": ended} if ended else {}),
                    },
                )
            )
            names = tuple(e.name for e in followers)
            return AliasMove(_alias(model, row, names), previous, tuple(moved), ended)

    def delete(self, model: str, alias: str, *, actor: str = "cli") -> Alias:
        """Remove ``model@alias``; 409 while an endpoint follows it."""
        check_name("model", model, field="model")
        check_name("alias", alias, field="alias")
        with self.db.session() as session:
            model_row = lock_model(session, model)
            row = alias_row(session, model_row, alias)
            followers = [e.name for e in lock_endpoints(session, model) if e.alias == alias]
            if followers:
                raise Conflict(
                    f"alias {model}@{alias} is followed by endpoint(s) {', '.join(followers)}; "
                    f"point them at a version first (modelport endpoints set NAME --model "
                    f"{model}:{row.version})",
                    field="alias",
                    endpoints=followers,
                )
            removed = _alias(model, row, [])
            session.delete(row)
            session.add(
                AuditRow(
                    actor=actor,
                    subject=f"model:{model}",
                    action="alias-delete",
                    details={"alias": alias, "from": row.version, "to": None},
                )
            )
            return removed

    def _refuse_if_rollout(self, session: Session, model: str, alias: str, endpoint: str) -> None:
        live = self.endpoints.live_rollout(session, endpoint)
        if live is None:
            return
        raise RolloutInProgress(
            f"alias {model}@{alias} is followed by endpoint {endpoint!r}, which has rollout "
            f"{live.id} ({live.strategy}, {live.status}) in progress; promote or roll it back "
            "first, or force the move (which rolls the rollout back first)",
            field="alias",
            endpoint=endpoint,
            rollout=live.id,
        )


def _alias(model: str, row: AliasRow, endpoints: list[str] | tuple[str, ...]) -> Alias:
    return Alias(model, row.alias, row.version, row.updated_at, row.updated_by, tuple(endpoints))


__all__ = ["Alias", "AliasMove", "AliasStore", "EndRollout"]
