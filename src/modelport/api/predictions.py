"""The newest logged predictions of an endpoint, with their labels (dashboard, reviews).

GET /v1/endpoints/{name}/predictions   ?limit=&version=&role=&status=&labelled=&since=&step=

``step`` names a step of pipeline ``name`` (its endpoint ``name.step``). A pipeline
without ``step`` answers every step's rows, each saying its ``step``, newest request first
and one request's steps together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime
from functools import partial

import pyarrow as pa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.context import services
from modelport.api.params import flag_param, int_param
from modelport.api.pipelines import endpoint_for
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.monitoring.reports.pipeline import steps_together
from modelport.pipelines.spec import parse_pipeline, step_endpoint
from modelport.predlog import columns as col
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.newest import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NewestPredictions,
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


def _labels(feedback: FeedbackStore, endpoint: str, request_ids: Collection[str]) -> pa.Table:
    return feedback.labels(endpoint=endpoint, request_ids=request_ids)


@guarded()
async def predictions(request: Request) -> Response:
    app = services(request)
    require(request)
    step = request.query_params.get("step") or None
    name = await endpoint_for(request, request.path_params["name"], step)
    query = query_of(request)
    endpoint = await asyncio.to_thread(app.endpoints.get, name)  # 404 for an unknown one
    # A pipeline logs nothing itself: its steps' rows, each step's newest ``limit``.
    steps = [] if endpoint.pipeline is None else parse_pipeline(endpoint.pipeline).names
    served = [step_endpoint(name, s) for s in steps] or [name]
    # Predictions still queued for the log are the newest ones.
    await asyncio.to_thread(app.recorder.flush)
    found: list[NewestPredictions] = []
    for each in served:
        found.append(
            await asyncio.to_thread(
                newest_predictions,
                app.log,
                partial(_labels, app.feedback, each),
                each,
                query,
                privacy=app.plane.privacy,
            )
        )
    rows = found[0].rows
    if steps:
        for each, part in zip(steps, found, strict=True):
            for row in part.rows:
                row["step"] = each
        rows = steps_together([row for part in found for row in part.rows], steps)
        rows = rows[: query.limit]
    body = {
        "endpoint": name,
        "limit": query.limit,
        "features": list(dict.fromkeys(f for part in found for f in part.features())),
        "predictions": rows,
        "scanned": sum(part.scanned for part in found),
        "exhausted": all(part.exhausted for part in found),
        "skipped_segments": sum(len(part.skipped) for part in found),
    }
    if steps:
        body["steps"] = steps
    return JSON(body)


routes: list[BaseRoute] = [Route("/v1/endpoints/{name}/predictions", predictions, methods=["GET"])]
