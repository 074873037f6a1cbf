"""The Open Inference Protocol v2 REST surface (KServe / Triton / MLServer compatible).

The protocol itself (tensors in, tensors out, metadata) is :mod:`modelport.codecs.v2`;
this module maps its paths onto the data plane.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.auth import require
from modelport.api.body import read_body, request_id_from
from modelport.api.context import services
from modelport.api.responses import JSON, guarded
from modelport.codecs.v2 import (
    decode_v2,
    infer_response,
    model_metadata,
    parse_body,
    requested_outputs,
    server_metadata,
    wants_steps,
)
from modelport.errors import ValidationFailed, VersionNotFound
from modelport.serving.dataplane import EndpointStatus, new_request_id


def _status_for(request: Request) -> EndpointStatus:
    """The endpoint a path names; with ``versions/{version}``, only a version served here."""
    plane = services(request).plane
    status = plane.status(request.path_params["name"])
    version = request.path_params.get("version")
    if version is not None and not (
        version.isascii() and version.isdigit() and plane.serves(status.name, int(version))
    ):
        raise VersionNotFound(
            f"version {version} is not served by {status.name!r}", field="version"
        )
    return status


@guarded(v2=True)
async def infer(request: Request) -> Response:
    started = time.perf_counter()
    app = services(request)
    require(request)
    body = await read_body(request, app.settings.server.max_body_bytes)
    limit = app.settings.serving.max_string_bytes
    payload = parse_body(
        body, request.headers.get("inference-header-content-length"), max_string_bytes=limit
    )
    request_id = request_id_from(request, payload) or new_request_id()
    request.state.request_id = request_id
    name = request.path_params["name"]
    if name not in app.plane.runtimes:  # created through another worker a moment ago?
        await app.plane.load_missing(name)
    status = _status_for(request)
    try:
        schema = app.plane.schema_of(status.name)
        batch = decode_v2(payload, schema, max_string_bytes=limit)
        wanted = requested_outputs(payload)
        steps = wants_steps(payload)
    except ValidationFailed as exc:
        app.telemetry.invalid.labels(status.name, exc.code).inc()
        raise
    event = await app.plane.predict(
        status.name, batch, request_id=request_id, started=started, headers=request.headers
    )
    return JSON(infer_response(event, wanted, steps=steps), headers={"x-request-id": request_id})


@guarded(v2=True)
async def show_model(request: Request) -> Response:
    require(request)
    status = _status_for(request)
    return JSON(model_metadata(status.name, status.primary, list(status.served_versions)))


@guarded(v2=True)
async def model_ready(request: Request) -> Response:
    status = _status_for(request)
    return JSON(
        {"name": status.name, "ready": status.ready}, status_code=200 if status.ready else 503
    )


async def live(request: Request) -> Response:
    return JSON({"live": True})


async def ready(request: Request) -> Response:
    is_ready = services(request).plane.ready
    return JSON({"ready": is_ready}, status_code=200 if is_ready else 503)


async def show_server(request: Request) -> Response:
    return JSON(server_metadata())


routes = [
    Route("/v2", show_server, methods=["GET"]),
    Route("/v2/health/live", live, methods=["GET"]),
    Route("/v2/health/ready", ready, methods=["GET"]),
    Route("/v2/models/{name}", show_model, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}", show_model, methods=["GET"]),
    Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
    Route("/v2/models/{name}/infer", infer, methods=["POST"]),
    Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
]
