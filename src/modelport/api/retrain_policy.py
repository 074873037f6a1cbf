"""Retraining policies over HTTP.

GET  /v1/endpoints/{name}/retrain/policy           the policy                    (read)
PUT  /v1/endpoints/{name}/retrain/policy           set or replace it             (admin)
     {"trainer", "on_alert", "cooldown", "min_labels", "max_attempts"?, "since"?,
      "holdout"?, "rollout"?}
POST /v1/endpoints/{name}/retrain/policy/disable   stop it from training         (admin)
GET  /v1/endpoints/{name}/retrain/history          its decisions, newest first   (read)
     ?limit=N

A policy whose trainer ``retrain.trainers`` does not allow is refused (403
``trainer_not_allowed``), one naming a missing alert rule or endpoint too (404).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.params import int_param
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed

MAX_HISTORY = 10_000
DEFAULT_HISTORY = 100


@guarded()
async def show(request: Request) -> Response:
    app = services(request)
    require(request)
    policy = await asyncio.to_thread(app.retrain_policies.get, request.path_params["name"])
    return JSON(policy.to_dict())


@guarded()
async def put(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    payload = await read_json(request, app.settings.server.max_body_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    name = request.path_params["name"]
    policy = await asyncio.to_thread(lambda: app.retrain_policies.set(name, payload, by=actor))
    return JSON(policy.to_dict())


@guarded()
async def disable(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    policy = await asyncio.to_thread(lambda: app.retrain_policies.disable(name, by=actor))
    return JSON(policy.to_dict())


@guarded()
async def history(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    limit = int_param(request, "limit", maximum=MAX_HISTORY) or DEFAULT_HISTORY
    events = await asyncio.to_thread(lambda: app.retrain_policies.history(name, limit))
    return JSON({"endpoint": name, "history": [event.to_dict() for event in events]})


routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/retrain/policy", show, methods=["GET"]),
    Route("/v1/endpoints/{name}/retrain/policy", put, methods=["PUT"]),
    Route("/v1/endpoints/{name}/retrain/policy/disable", disable, methods=["POST"]),
    Route("/v1/endpoints/{name}/retrain/history", history, methods=["GET"]),
]
