"""Turning a version's ONNX fast path on or off, and checking it again.

Either change is one audited transaction on the model (``model:<name>``, action
``fast-path``). When it changes what a version runs on, every endpoint of that model
gets the endpoints' usual change (``EndpointStore.apply``: revision bump and audit
record), so the process that made the change serves the new runtime at once and every
other server within ``server.policy_refresh_s``, reloading the version on the new
runtime off the request path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelport.batch import Batch
from modelport.errors import ValidationFailed
from modelport.names import check_name
from modelport.registry.endpoints import EndpointStore
from modelport.registry.fast_path_state import UNAVAILABLE, onnx_sha256
from modelport.registry.records import ModelVersion
from modelport.registry.references import lock_model, version_row
from modelport.store.tables import AuditRow, EndpointRow


class FastPaths:
    def __init__(self, endpoints: EndpointStore) -> None:
        self.endpoints = endpoints
        self.registry = endpoints.registry
        self.db = endpoints.db

    def set_enabled(
        self, model: str, version: int, enabled: bool, *, actor: str = "cli"
    ) -> tuple[ModelVersion, list[str]]:
        """Turn the fast path of ``model:version`` on or off; the version and the
        endpoints that reload it. A scikit-learn version only (422 otherwise)."""
        check_name("model", model, field="name")
        found = self.registry.get(model, version)
        refuse_flavor(found)
        with self.db.session() as session:
            lock_model(session, model)
            row = version_row(session, model, version)
            before = dict(row.fast_path or {"status": "unchecked"})
            after = {**before, "enabled": enabled}
            changed = before.get("enabled", True) != enabled
            if changed:
                row.fast_path = after
                self._audit(session, model, actor, {"version": version, "enabled": enabled})
            moved = self._reload(session, model, version, before, after, actor)
        return self.registry.get(model, version), moved

    def recheck(
        self, model: str, version: int, *, actor: str = "cli"
    ) -> tuple[ModelVersion, list[str]]:
        """Convert and check ``model:version`` again against its stored reference sample
        (after upgrading skl2onnx or onnxruntime, say); the switch keeps its position.
        Runs in the caller's thread and takes seconds: never on a request's path."""
        check_name("model", model, field="name")
        found = self.registry.get(model, version)
        refuse_flavor(found)
        state = self._check(found)
        created: list[str] = []
        onnx_bytes = state.pop("_onnx", None)
        if onnx_bytes is not None:
            state.update(self.registry.store_onnx(onnx_bytes, created))
        with self.db.session() as session:
            lock_model(session, model)
            row = version_row(session, model, version)
            before = dict(row.fast_path or {})
            after = {**state, "enabled": before.get("enabled", True)}
            row.fast_path = after
            self._audit(
                session,
                model,
                actor,
                {"version": version, "check": after.get("status"), "reason": after.get("reason")},
            )
            moved = self._reload(session, model, version, before, after, actor)
        return self.registry.get(model, version), moved

    def _check(self, found: ModelVersion) -> dict[str, Any]:
        from modelport.registry.fast_path import check
        from modelport.registry.flavors.sklearn import SklearnPredictor

        frame = self.registry.reference_frame(found)
        if frame is None:
            return {
                "status": UNAVAILABLE,
                "reason": f"{found.ref} has no reference sample to check the converted "
                "model against",
            }
        schema = found.input_schema
        predictor = self.registry.flavor_predictor(found)
        assert isinstance(predictor, SklearnPredictor)
        outcome = check(predictor, schema, found.output, Batch.from_frame(frame, schema))
        return {**outcome.state, "_onnx": outcome.onnx}

    def _reload(
        self,
        session: Session,
        model: str,
        version: int,
        before: dict[str, Any],
        after: dict[str, Any],
        actor: str,
    ) -> list[str]:
        """Bump every endpoint of ``model`` when the version now loads on another runtime
        (an endpoint may serve it as primary, candidate or shadow, or keep it warm)."""
        if onnx_sha256(before) == onnx_sha256(after):
            return []
        names = session.scalars(
            select(EndpointRow.name)
            .where(EndpointRow.model_name == model, EndpointRow.pipeline.is_(None))
            .order_by(EndpointRow.name)
        ).all()
        runtime = "onnx" if onnx_sha256(after) else "sklearn"
        for name in names:
            self.endpoints.apply(
                session,
                name,
                actor=actor,
                action="fast-path",
                details={"model": f"{model}:{version}", "runtime": runtime},
            )
        return list(names)

    @staticmethod
    def _audit(session: Session, model: str, actor: str, details: dict[str, Any]) -> None:
        session.add(
            AuditRow(actor=actor, subject=f"model:{model}", action="fast-path", details=details)
        )


def refuse_flavor(found: ModelVersion) -> None:
    """422 naming the version unless it is a scikit-learn one."""
    if found.flavor != "sklearn":
        raise ValidationFailed(
            f"{found.ref} is a {found.flavor} model; only scikit-learn versions have an ONNX "
            "fast path",
            field="version",
        )


__all__ = ["FastPaths", "refuse_flavor"]
