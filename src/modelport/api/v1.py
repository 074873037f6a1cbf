"""The simple JSON API: predict and feedback."""

from __future__ import annotations

import asyncio
import functools
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.auth import require
from modelport.api.body import read_json, request_id_from
from modelport.api.context import services
from modelport.api.params import flag_param
from modelport.api.pipelines import resolve_step
from modelport.api.responses import JSON, guarded
from modelport.codecs.simple import decode_simple, encode_simple
from modelport.errors import ValidationFailed
from modelport.predlog.feedback import parse_items, with_steps
from modelport.serving.dataplane import new_request_id


@guarded()
async def predict(request: Request) -> Response:
    started = time.perf_counter()
    app = services(request)
    name = request.path_params["name"]
    require(request)
    payload = await read_json(request, app.settings.server.max_body_bytes)
    request_id = request_id_from(request, payload) or new_request_id()
    request.state.request_id = request_id
    if name not in app.plane.runtimes:  # created through another worker a moment ago?
        await app.plane.load_missing(name)
    schema = app.plane.schema_of(name)
    try:
        batch = decode_simple(
            payload, schema, max_string_bytes=app.settings.serving.max_string_bytes
        )
    except ValidationFailed as exc:
        app.telemetry.invalid.labels(name, exc.code).inc()
        raise
    result = await app.plane.predict(
        name, batch, request_id=request_id, started=started, headers=request.headers
    )
    steps = flag_param(request, "steps")
    return JSON(encode_simple(result, steps=steps), headers={"x-request-id": request_id})


@guarded()
async def feedback(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    payload = await read_json(request, app.settings.server.max_body_bytes)
    items = parse_items(payload)
    # A pipeline and one of its steps name the step's endpoint, checked as on every route.
    if any(item.endpoint is not None and item.step is not None for item in items):
        items = await asyncio.to_thread(
            with_steps, items, functools.partial(resolve_step, app.endpoints)
        )
    # No flush, no log scan: the request index knows recent answers from memory and
    # older ones by key (a label costs the same however large the log is).
    result = await asyncio.to_thread(app.feedback.ingest, items, actor=actor)
    return JSON(result.to_dict())


routes = [
    Route("/v1/endpoints/{name}/predict", predict, methods=["POST"]),
    Route("/v1/feedback", feedback, methods=["POST"]),
]
