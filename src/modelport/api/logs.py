"""Admin API over the prediction log: erase one person's requests everywhere."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.predlog.retention import parse_request_ids


@guarded()
async def forget(request: Request) -> Response:
    """``{"request_ids": ["..."]}``: erase those requests' logged rows, labels and
    records; answers what was removed (counts, never values)."""
    app = services(request)
    actor = require(request)
    payload = await read_json(request, app.settings.server.max_body_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    unknown = sorted(set(payload) - {"request_ids"})
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(unknown)}", field=unknown[0])
    request_ids = parse_request_ids(payload.get("request_ids"))
    # Rows of these requests may still wait in this process's queue: write them first.
    await asyncio.to_thread(app.recorder.flush)
    result = await asyncio.to_thread(app.retention.forget, request_ids, actor=actor)
    return JSON(result.to_dict())


routes = [Route("/v1/logs/forget", forget, methods=["POST"])]
