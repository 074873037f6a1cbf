"""Pipelines over the admin API: creation from JSON, the view ``GET /v1/endpoints/{name}``
gives of one, and the ``step`` a request may name instead of a step endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from modelport.api.context import services
from modelport.errors import StepNotFound, ValidationFailed
from modelport.pipelines.show import pipeline_steps
from modelport.pipelines.spec import create_pipeline, parse_pipeline, step_endpoint
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.service import Registry


def create_from_json(
    registry: Registry, endpoints: EndpointStore, name: str, payload: Any, actor: str
) -> Endpoint:
    """A pipeline's JSON checked and created (blocking: call it in a worker thread)."""
    return create_pipeline(registry, endpoints, name, parse_pipeline(payload), actor)


def resolve_step(endpoints: EndpointStore, name: str, step: str | None) -> str:
    """The endpoint a request names: ``name`` itself, or with ``step`` the endpoint that
    serves that step of pipeline ``name`` (404 naming the step when it has none)."""
    if step is None:
        return name
    endpoint = endpoints.get(name)
    if endpoint.pipeline is None:
        raise ValidationFailed(
            f"endpoint {name!r} is not a pipeline; leave 'step' out", field="step"
        )
    spec = parse_pipeline(endpoint.pipeline)
    if step not in spec.names:
        raise StepNotFound(
            f"pipeline {name!r} has no step {step!r} (its steps: {', '.join(spec.names)})",
            field="step",
        )
    return step_endpoint(name, step)


async def endpoint_for(request: Request, name: str, step: str | None) -> str:
    """:func:`resolve_step` off the event loop (``?step=`` or a body's ``step``)."""
    if step is None:
        return name
    return await asyncio.to_thread(resolve_step, services(request).endpoints, name, step)


def pipeline_view(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    """:func:`~modelport.pipelines.show.pipeline_steps`, with whether each step is ready
    here, how it routes, and the rows it ran and skipped in this process."""
    app = services(request)
    body = pipeline_steps(app.endpoints, endpoint)
    rows = app.telemetry.step_rows(endpoint.name)
    for entry in body["steps"]:
        status = app.plane.find(entry["endpoint"])
        entry["ready"] = bool(status and status.ready)
        entry["error"] = (status.error if status else None) or entry.get("error")
        if status is not None and status.routing is not None:
            entry["serving"] = status.routing
        counted = rows.get(entry["name"], {})
        ran, skipped = int(counted.get("run", 0)), int(counted.get("skipped", 0))
        entry["rows"] = {"run": ran, "skipped": skipped}
        entry["skip_rate"] = round(skipped / (ran + skipped), 6) if ran + skipped else None
    return body
