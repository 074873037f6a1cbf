"""Batch scoring admin API: start a run in the background, watch it.

POST /v1/endpoints/{name}/batch   {"input", "output", "chunk"?, "version"?, "resume"?,
                                   "rejects"?, "id_column"?}            (admin, 202)
GET  /v1/batch/{job}              rows done, rate, state, rejects       (admin)

Paths are relative to the batch folder (``batch.root``) and may not leave it.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed


@guarded()
async def start(request: Request) -> Response:
    app = services(request)
    require(request)
    payload = await read_json(request, app.settings.server.max_body_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    name = request.path_params["name"]
    # Preparing reads file footers and loads the model: off the event loop.
    body = await asyncio.to_thread(app.batch_jobs.start, name, payload)
    return JSON(body, status_code=202)


@guarded()
async def status(request: Request) -> Response:
    app = services(request)
    require(request)
    body = await asyncio.to_thread(app.batch_jobs.status, request.path_params["job"])
    return JSON(body)


routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/batch", start, methods=["POST"]),
    Route("/v1/batch/{job}", status, methods=["GET"]),
]
