"""What may change about a version after registration: archived or not, and its tags;
and what is read across versions: the lineage chain and the model's audit trail.

Archiving refuses (409, naming them) while an endpoint, a live rollout or an alias points
at the version; see ``registry/references.py`` for the locks that keep the check true.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from modelport.errors import NotFound, ValidationFailed, VersionInUse
from modelport.names import check_name
from modelport.registry.lineage import MAX_CHAIN, chain_entry
from modelport.registry.records import ModelVersion, parse_ref
from modelport.registry.references import lock_model, referrers, version_row
from modelport.registry.service import Registry
from modelport.store.audit import audit_trail
from modelport.store.tables import AuditRow, utcnow

MAX_TAGS = 100
MAX_TAG_KEY = 100
MAX_TAG_VALUE = 1000


class Catalog:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.db = registry.db

    # -- archiving ----------------------------------------------------------------------
    def archive(self, model: str, version: int, *, actor: str = "cli") -> ModelVersion:
        """Archive ``model:version``: it can no longer be served; 409 (VersionInUse)
        naming whatever points at it. Archiving an archived version changes nothing."""
        check_name("model", model, field="model")
        with self.db.session() as session:
            model_row = lock_model(session, model)
            row = version_row(session, model, version)
            if row.archived_at is None:
                found = referrers(session, model_row, version)
                if found:
                    raise VersionInUse(
                        f"{model}:{version} cannot be archived: {'; '.join(found)} point(s) at it",
                        field="version",
                        referrers=found,
                    )
                row.archived_at = utcnow()
                row.archived_by = actor
                self._audit(session, model, actor, "archive", {"version": version})
        return self.registry.get(model, version)

    def unarchive(self, model: str, version: int, *, actor: str = "cli") -> ModelVersion:
        check_name("model", model, field="model")
        with self.db.session() as session:
            lock_model(session, model)
            row = version_row(session, model, version)
            if row.archived_at is not None:
                row.archived_at = None
                row.archived_by = None
                self._audit(session, model, actor, "unarchive", {"version": version})
        return self.registry.get(model, version)

    # -- tags ---------------------------------------------------------------------------
    def tag(
        self,
        model: str,
        version: int,
        *,
        set_tags: Mapping[str, Any] | None = None,
        remove: list[str] | None = None,
        actor: str = "cli",
    ) -> ModelVersion:
        """Set and remove tags of ``model:version`` in one audited change (removing a tag
        it does not have is no change)."""
        check_name("model", model, field="model")
        set_tags = dict(set_tags or {})
        remove = list(remove or [])
        for key, value in set_tags.items():
            _check_tag(key, "tags")
            _check_value(key, value)
        for key in remove:
            _check_tag(key, "remove")
            if key in set_tags:
                raise ValidationFailed(
                    f"tag {key!r} is both set and removed; choose one", field="remove"
                )
        with self.db.session() as session:
            lock_model(session, model)
            row = version_row(session, model, version)
            before = dict(row.tags or {})
            after = {k: v for k, v in before.items() if k not in remove}
            after.update(set_tags)
            if len(after) > MAX_TAGS:
                raise ValidationFailed(
                    f"a version holds at most {MAX_TAGS} tags ({len(after)} asked)", field="tags"
                )
            changed = {k: v for k, v in set_tags.items() if before.get(k, _MISSING) != v}
            removed = sorted(k for k in remove if k in before)
            if changed or removed:
                row.tags = after
                self._audit(
                    session,
                    model,
                    actor,
                    "tag",
                    {
                        "version": version,
                        "set": changed,
                        "removed": removed,
                        "before": {k: before[k] for k in [*changed, *removed] if k in before},
                    },
                )
        return self.registry.get(model, version)

    # -- reading ------------------------------------------------------------------------
    def lineage(self, model: str, version: int) -> list[dict[str, Any]]:
        """``model:version`` and its parents, child first, each with its data window and
        holdout metrics. A parent that no longer exists ends the chain with
        ``"missing": true``."""
        chain = [chain_entry(self.registry.get(model, version))]
        seen = {(model, version)}
        while (parent := chain[-1]["parent"]) is not None and len(chain) < MAX_CHAIN:
            name, number = parse_ref(parent)
            assert number is not None
            if (name, number) in seen:
                break
            seen.add((name, number))
            try:
                chain.append(chain_entry(self.registry.get(name, number)))
            except NotFound:
                chain.append({"model": name, "version": number, "ref": parent, "missing": True})
                break
        return chain

    def history(self, model: str, limit: int = 100) -> list[dict[str, Any]]:
        """The model's audit trail, newest first: registrations, alias moves, archiving,
        tag changes."""
        self.registry.versions(model)
        return audit_trail(self.db, f"model:{model}", limit)

    @staticmethod
    def _audit(
        session: Session, model: str, actor: str, action: str, details: dict[str, Any]
    ) -> None:
        session.add(AuditRow(actor=actor, subject=f"model:{model}", action=action, details=details))


_MISSING = object()


def _check_tag(key: object, field: str) -> None:
    if (
        not isinstance(key, str)
        or not key.strip()
        or len(key) > MAX_TAG_KEY
        or not key.isprintable()
    ):
        raise ValidationFailed(
            f"tag name {key!r} must be 1-{MAX_TAG_KEY} printable characters", field=field
        )


def _check_value(key: str, value: object) -> None:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"tag {key!r}: the value must be JSON (text, number, true/false, list or object)",
            field=f"tags.{key}",
        ) from None
    if len(text) > MAX_TAG_VALUE:
        raise ValidationFailed(
            f"tag {key!r}: the value is longer than {MAX_TAG_VALUE} characters as JSON",
            field=f"tags.{key}",
        )


__all__ = ["Catalog"]
