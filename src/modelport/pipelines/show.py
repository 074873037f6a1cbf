"""What ``endpoints show`` says of a pipeline, read from the control plane alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from modelport.errors import ModelportError
from modelport.pipelines.spec import parse_pipeline, step_endpoint, wire
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.records import ModelVersion
from modelport.store.db import Database
from modelport.store.tables import MonitoringPointRow


def pipeline_steps(store: EndpointStore, endpoint: Endpoint) -> dict[str, Any]:
    """Every step: its endpoint, the version it serves now, its inputs' sources (mapped,
    or ``request.<name>``), condition and default, and the strategy of a rollout in
    progress on it; and the request the pipeline takes."""
    assert endpoint.pipeline is not None
    spec = parse_pipeline(endpoint.pipeline)
    steps: list[dict[str, Any]] = []
    versions: list[ModelVersion] = []
    for step in spec.steps:
        served = store.get(step_endpoint(endpoint.name, step.name))
        entry: dict[str, Any] = {
            **step.to_dict(),
            "endpoint": served.name,
            "model": served.model,
            "version": served.primary_version,
            "strategy": served.policy.get("strategy", "primary"),
        }
        if served.follows is not None:
            entry["follows"] = served.follows
        if isinstance(served.policy.get("rollout"), int):
            entry["rollout"] = served.policy["rollout"]
        entry["health"] = newest_window(store.db, served.name)
        steps.append(entry)
        try:
            versions.append(store.registry.get(served.model, served.primary_version))
        except ModelportError as exc:
            entry["error"] = exc.message  # its inputs cannot be checked without it
    body: dict[str, Any] = {"steps": steps}
    if len(versions) == len(spec.steps):
        try:
            wiring = wire(spec, versions)
        except ModelportError as exc:
            body["error"] = exc.message
        else:
            for entry, sources in zip(steps, wiring.sources, strict=True):
                entry["inputs"] = {name: source.text for name, source in sources.items()}
            body["request"] = [f.model_dump(exclude_defaults=True) for f in wiring.request.features]
    return body


def newest_window(db: Database, endpoint: str) -> dict[str, Any] | None:
    """The step's newest stored monitoring window (any size): when it started, and the
    inputs and outputs found drifted in it (None before the first window is stored)."""
    point = MonitoringPointRow
    with db.session() as session:
        newest = session.scalar(
            select(func.max(point.window_start)).where(point.endpoint == endpoint)
        )
        if newest is None:
            return None
        found = session.execute(
            select(point.feature, point.drifted, point.window).where(
                point.endpoint == endpoint, point.window_start == newest
            )
        ).all()
    drifted = sorted({feature for feature, verdict, _ in found if verdict})
    return {
        "window_start": newest.isoformat(),
        "window": sorted({window for _, _, window in found}),
        "drifted_inputs": [f for f in drifted if not f.startswith("__")],
        "drifted_outputs": [f for f in drifted if f.startswith("__")],
    }
