"""Retraining over HTTP: ``POST /v1/endpoints/{name}/retrain`` starts a retrain in the
background (only a trainer ``retrain.trainers`` allows); ``GET /v1/retrain/{job}``
follows it.

POST /v1/endpoints/{name}/retrain  {"trainer", "since"?, "with_reference"?, "min_labels"?,
                                    "holdout"?, "split"?, "rollout"?, "reason"?}  (admin, 202)
GET  /v1/retrain/{job}             state, stage, outcome or error                (admin)

The training runs in a worker process (:mod:`modelport.retraining.jobs`); the answer
never waits for it.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.retraining.request import (
    DEFAULT_HOLDOUT,
    DEFAULT_MIN_LABELS,
    DEFAULT_SINCE,
    RetrainRequest,
)
from modelport.retraining.run import check_request
from modelport.retraining.trainer import check_trainer_name, require_allowed
from modelport.vocabulary import parse_duration

FIELDS = {
    "trainer",
    "since",
    "with_reference",
    "min_labels",
    "holdout",
    "split",
    "rollout",
    "reason",
    "rollout_options",
}
MAX_REASON = 500


def _rollout_options(payload: dict[str, Any]) -> dict[str, Any]:
    options = payload.get("rollout_options")
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValidationFailed(
            'rollout_options must be an object, like {"steps": "25,50,100"}',
            field="rollout_options",
        )
    return {key: value for key, value in options.items() if value is not None}


def request_from_body(name: str, payload: Any, actor: str) -> RetrainRequest:
    """The body as a :class:`RetrainRequest`; 422 naming the first wrong field."""
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise ValidationFailed(
            f"unknown field {unknown[0]!r}; fields: {', '.join(sorted(FIELDS))}", field=unknown[0]
        )
    if "trainer" not in payload:
        raise ValidationFailed("trainer is required (module:function)", field="trainer")
    since = payload.get("since")
    reason = payload.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ValidationFailed(
            f"reason must be text of at most {MAX_REASON} characters", field="reason"
        )
    request = RetrainRequest(
        endpoint=name,
        trainer=check_trainer_name(payload["trainer"]),
        since=DEFAULT_SINCE
        if since is None
        else timedelta(seconds=parse_duration(since, field="since")),
        with_reference=_flag(payload, "with_reference", False),
        min_labels=_integer(payload, "min_labels", DEFAULT_MIN_LABELS),
        holdout=_share(payload, "holdout", DEFAULT_HOLDOUT),
        split=payload.get("split", "time"),
        rollout=_flag(payload, "rollout", True),
        actor=actor,
        reason=reason,
        rollout_options=_rollout_options(payload),
    )
    check_request(request)
    return request


def _flag(payload: dict[str, Any], key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise ValidationFailed(f"{key} must be true or false", field=key)
    return value


def _integer(payload: dict[str, Any], key: str, default: int) -> int:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(f"{key} must be a whole number of at least 1", field=key)
    return value


def _share(payload: dict[str, Any], key: str, default: float) -> float:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(f"{key} must be a number between 0 and 1", field=key)
    return float(value)


@guarded()
async def start(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    payload = await read_json(request, app.settings.server.max_body_bytes)
    retrain = request_from_body(request.path_params["name"], payload, actor)
    require_allowed(retrain.trainer, app.settings.retrain.trainers)
    await asyncio.to_thread(app.endpoints.get, retrain.endpoint)  # 404 before any work
    job = await asyncio.to_thread(app.retrain_jobs.start, retrain)
    return JSON(job.to_dict(), status_code=202)


@guarded()
async def status(request: Request) -> Response:
    app = services(request)
    require(request)
    job = app.retrain_jobs.get(request.path_params["job"])
    return JSON(job.to_dict())


routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/retrain", start, methods=["POST"]),
    Route("/v1/retrain/{job}", status, methods=["GET"]),
]
