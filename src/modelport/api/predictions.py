"""The newest logged predictions of an endpoint, with their labels (dashboard, reviews).

GET /v1/endpoints/{name}/predictions   ?limit=&version=&role=&status=&labelled=&since=
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.context import services
from modelport.api.params import flag_param, int_param
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.newest import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PredictionQuery,
    newest_predictions,
)
from modelport.vocabulary import Role, parse_moment

STATUSES = (col.STATUS_OK, col.STATUS_ERROR)


def _choice(request: Request, key: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(key)
    if not value:
        return None
    if value not in allowed:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise ValidationFailed(
            f"{key} must be one of {', '.join(allowed)}, got {shown!r}", field=key
        )
    return value


def query_of(request: Request) -> PredictionQuery:
    """The query parameters, checked (422 naming the first bad one)."""
    params = request.query_params
    since = params.get("since")
    labelled = params.get("labelled")
    return PredictionQuery(
        limit=int_param(request, "limit", maximum=MAX_LIMIT) or DEFAULT_LIMIT,
        version=int_param(request, "version"),
        role=_choice(request, "role", tuple(role.value for role in Role)),
        status=_choice(request, "status", STATUSES),
        labelled=None if not labelled else flag_param(request, "labelled"),
        since=parse_moment(since, now=datetime.now(UTC), field="since") if since else None,
    )


@guarded()
async def predictions(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    query = query_of(request)
    app.endpoints.get(name)  # 404 for an unknown endpoint
    # Predictions still queued for the log are the newest ones.
    await asyncio.to_thread(app.recorder.flush)
    found = await asyncio.to_thread(
        newest_predictions,
        app.log,
        lambda ids: app.feedback.labels(endpoint=name, request_ids=ids),
        name,
        query,
        privacy=app.plane.privacy,
    )
    return JSON(
        {
            "endpoint": name,
            "limit": query.limit,
            "features": found.features(),
            "predictions": found.rows,
            "scanned": found.scanned,
            "exhausted": found.exhausted,
            "skipped_segments": len(found.skipped),
        }
    )


routes: list[BaseRoute] = [Route("/v1/endpoints/{name}/predictions", predictions, methods=["GET"])]
