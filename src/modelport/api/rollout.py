"""Rollout admin API: shadow, canary, blue-green.

POST /v1/endpoints/{name}/rollout                     start   (deployer)
GET  /v1/endpoints/{name}/rollout                     status  (?fresh=1 analyses now)
POST /v1/endpoints/{name}/rollout/{promote|rollback|pause|resume}   (deployer)
GET  /v1/endpoints/{name}/rollout/report              shadow report (?slice=FEATURE)
GET  /v1/endpoints/{name}/rollout/history             audit trail with evidence
GET  /v1/endpoints/{name}/rollout/analyses            gates' estimates over time
                                                      (?rollout=ID&since=&limit=)

Every route takes ``?step=NAME`` when ``name`` is a pipeline (POST start also a body's
``"step"``): the rollout is then that step's, on the endpoint serving it
(``<pipeline>.<step>``), and the other steps are left as they are.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.params import int_param
from modelport.api.pipelines import endpoint_for
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.server import Services
from modelport.vocabulary import parse_moment

MAX_ANALYSES = 10_000
DEFAULT_ANALYSES = 1000


def _serving(app: Services, name: str) -> dict[str, Any]:
    status = app.plane.find(name)
    if status is None:
        return {}
    return {
        "routing": status.routing,
        "routing_error": status.routing_error,
        "mirrors_in_flight": status.mirrors_in_flight,
        "mirrors_dropped": status.mirrors_dropped,
    }


async def _body(request: Request) -> dict[str, Any]:
    if not (await request.body()):
        return {}
    payload = await read_json(request, services(request).settings.server.max_body_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    return payload


async def _endpoint(request: Request, step: object = None) -> str:
    """The endpoint the route acts on: the path's, or the step's of that pipeline."""
    given = request.query_params.get("step") if step is None else step
    if given is not None and not isinstance(given, str):
        raise ValidationFailed("step must be the name of a pipeline step", field="step")
    return await endpoint_for(request, request.path_params["name"], given or None)


@guarded()
async def start(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    options = await _body(request)
    name = await _endpoint(request, options.pop("step", None))
    rollout = await asyncio.to_thread(app.rollouts.start, name, options, actor)
    await app.plane.refresh(only=name)
    return JSON({**rollout.to_dict(), "serving": _serving(app, name)}, status_code=201)


@guarded()
async def status(request: Request) -> Response:
    app = services(request)
    require(request)
    name = await _endpoint(request)
    fresh = request.query_params.get("fresh") in ("1", "true")
    body = await asyncio.to_thread(app.rollouts.status, name, fresh)
    body["serving"] = _serving(app, name)
    return JSON(body)


def _action(verb: str) -> Any:
    @guarded()
    async def act(request: Request) -> Response:
        app = services(request)
        actor = require(request)
        name = await _endpoint(request)
        reason = str((await _body(request)).get("reason") or "")
        method = getattr(app.rollouts, verb)
        rollout = await asyncio.to_thread(method, name, actor, reason)
        await app.plane.refresh(only=name)
        return JSON({**rollout.to_dict(), "serving": _serving(app, name)})

    act.__name__ = verb
    return act


@guarded()
async def report(request: Request) -> Response:
    app = services(request)
    require(request)
    name = await _endpoint(request)
    rollout_id = int_param(request, "rollout")
    slice_by = request.query_params.get("slice") or None
    # Background copies still in memory belong in "so far".
    await asyncio.to_thread(app.recorder.flush)
    body = await asyncio.to_thread(app.rollouts.report, name, rollout_id, slice_by)
    body["serving"] = _serving(app, name)
    return JSON(body)


@guarded()
async def history(request: Request) -> Response:
    app = services(request)
    require(request)
    name = await _endpoint(request)
    events = await asyncio.to_thread(app.rollouts.history, name, int_param(request, "rollout"))
    return JSON({"endpoint": name, "history": events})


@guarded()
async def analyses(request: Request) -> Response:
    app = services(request)
    require(request)
    name = await _endpoint(request)
    rollout_id = int_param(request, "rollout")
    since_text = request.query_params.get("since")
    since = parse_moment(since_text, now=datetime.now(UTC), field="since") if since_text else None
    limit = int_param(request, "limit", maximum=MAX_ANALYSES) or DEFAULT_ANALYSES
    body = await asyncio.to_thread(app.rollouts.analyses, name, rollout_id, since, limit)
    return JSON(body)


routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/rollout", start, methods=["POST"]),
    Route("/v1/endpoints/{name}/rollout", status, methods=["GET"]),
    Route("/v1/endpoints/{name}/rollout/report", report, methods=["GET"]),
    Route("/v1/endpoints/{name}/rollout/history", history, methods=["GET"]),
    Route("/v1/endpoints/{name}/rollout/analyses", analyses, methods=["GET"]),
    *[
        Route(f"/v1/endpoints/{{name}}/rollout/{verb}", _action(verb), methods=["POST"])
        for verb in ("promote", "rollback", "pause", "resume")
    ],
]
