"""Who points at a version, and the locks that keep that answer true until commit.

Endpoints (their primary and the versions their traffic policy names), live rollouts and
aliases point at versions. An archived version may be pointed at by none of them, so
archiving and pointing must not interleave. The model's row is the lock: archiving and
moving an alias take it exclusively, then lock the model's endpoints; creating an
endpoint takes it shared. Changing an endpoint locks the endpoint row first and reads
the version after, so an archive that locked the endpoints first is seen. On SQLite the
first write of a transaction takes the database's single write lock, which serialises all
of these; a no-op UPDATE takes it before anything is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from modelport.errors import AliasNotFound, ModelNotFound, VersionArchived, VersionNotFound
from modelport.store.tables import AliasRow, EndpointRow, ModelRow, RolloutRow, VersionRow

# Keys of a stored traffic policy that name versions (``serving/policies/specs.py``).
POLICY_VERSION_KEYS = ("candidate", "blue", "green")


def lock_model(session: Session, name: str, *, shared: bool = False) -> ModelRow:
    """The model's row, locked for the rest of the transaction (ModelNotFound, 404)."""
    query = select(ModelRow).where(ModelRow.name == name)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(ModelRow)
            .where(ModelRow.name == name)
            .values(name=ModelRow.name)
            .execution_options(synchronize_session=False)
        )
    else:
        query = query.with_for_update(read=shared)
    row = session.scalar(query.execution_options(populate_existing=True))
    if row is None:
        raise ModelNotFound(f"model {name!r} is not registered", field="model")
    return row


def version_row(
    session: Session, model: str, version: int, *, field: str = "version"
) -> VersionRow:
    row = session.scalar(
        select(VersionRow)
        .join(ModelRow, VersionRow.model_id == ModelRow.id)
        .where(ModelRow.name == model, VersionRow.version == version)
        .execution_options(populate_existing=True)
    )
    if row is None:
        if session.scalar(select(ModelRow.id).where(ModelRow.name == model)) is None:
            raise ModelNotFound(f"model {model!r} is not registered", field="model")
        raise VersionNotFound(f"model {model!r} has no version {version}", field=field)
    return row


def servable(session: Session, model: str, version: int, *, field: str = "version") -> VersionRow:
    """The version's row if it may be served: it exists and is not archived."""
    row = version_row(session, model, version, field=field)
    if row.archived_at is not None:
        raise VersionArchived(
            f"{model}:{version} is archived and cannot be served; unarchive it first "
            f"(modelport models unarchive {model} {version})",
            field=field,
            version=f"{model}:{version}",
        )
    return row


def policy_versions(policy: Mapping[str, Any] | None) -> set[int]:
    """The versions a stored traffic policy names besides the primary."""
    found: set[int] = set()
    for key in POLICY_VERSION_KEYS:
        value = (policy or {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            found.add(value)
    return found


def alias_row(
    session: Session,
    model: ModelRow,
    alias: str,
    *,
    lock: Literal["shared", "update"] | None = None,
    field: str = "alias",
) -> AliasRow:
    """The alias's row (:class:`AliasNotFound`, 404, naming ``field``), locked if asked."""
    query = select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.alias == alias)
    if lock is not None and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update(read=lock == "shared")
    row = session.scalar(query.execution_options(populate_existing=True))
    if row is None:
        raise AliasNotFound(f"model {model.name!r} has no alias {alias!r}", field=field)
    return row


def newest_servable(session: Session, model: ModelRow, *, field: str = "version") -> int:
    """The newest version of ``model`` that is not archived."""
    newest = session.scalar(
        select(func.max(VersionRow.version)).where(
            VersionRow.model_id == model.id, VersionRow.archived_at.is_(None)
        )
    )
    if newest is None:
        any_version = session.scalar(
            select(VersionRow.id).where(VersionRow.model_id == model.id).limit(1)
        )
        if any_version is None:
            raise VersionNotFound(f"model {model.name!r} has no versions", field=field)
        raise VersionArchived(
            f"every version of {model.name!r} is archived; unarchive one first", field=field
        )
    return int(newest)


def lock_endpoints(
    session: Session, model: str, names: Iterable[str] | None = None
) -> list[EndpointRow]:
    """The model's endpoints (or only ``names``), locked, in name order (one lock order)."""
    query = select(EndpointRow).where(EndpointRow.model_name == model)
    if names is not None:
        query = query.where(EndpointRow.name.in_(list(names)))
    query = query.order_by(EndpointRow.name).execution_options(populate_existing=True)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return list(session.scalars(query).all())


def referrers(session: Session, model: ModelRow, version: int) -> list[str]:
    """Everything that points at ``model:version``, in words (empty: nothing does)."""
    found: list[str] = []
    for endpoint in lock_endpoints(session, model.name):
        if endpoint.primary_version == version:
            found.append(f"endpoint {endpoint.name} (primary)")
        elif version in policy_versions(endpoint.policy):
            strategy = (endpoint.policy or {}).get("strategy", "policy")
            found.append(f"endpoint {endpoint.name} ({strategy})")
    rollouts = session.scalars(
        select(RolloutRow).where(
            RolloutRow.model_name == model.name,
            RolloutRow.active_endpoint.is_not(None),
            (RolloutRow.candidate_version == version) | (RolloutRow.baseline_version == version),
        )
    ).all()
    found.extend(f"rollout {r.id} on {r.endpoint}" for r in rollouts)
    aliases = session.scalars(
        select(AliasRow.alias).where(AliasRow.model_id == model.id, AliasRow.version == version)
    ).all()
    found.extend(f"alias {model.name}@{alias}" for alias in aliases)
    return found


def aliases_by_version(session: Session, model: ModelRow) -> dict[int, tuple[str, ...]]:
    rows = session.execute(
        select(AliasRow.version, AliasRow.alias)
        .where(AliasRow.model_id == model.id)
        .order_by(AliasRow.alias)
    ).all()
    found: dict[int, list[str]] = {}
    for version, alias in rows:
        found.setdefault(version, []).append(alias)
    return {version: tuple(names) for version, names in found.items()}


__all__ = [
    "alias_row",
    "aliases_by_version",
    "lock_endpoints",
    "lock_model",
    "newest_servable",
    "policy_versions",
    "referrers",
    "servable",
    "version_row",
]
