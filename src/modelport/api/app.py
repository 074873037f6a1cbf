"""``create_app(settings, services)``: the HTTP adapter over the planes.

It only maps routes to handlers, behind one guard (:mod:`modelport.api.guard`: Host,
Origin, Content-Type, token and role); the planes and their background services come from
:class:`modelport.server.Services`, started for as long as the app's lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api import (
    admin,
    alerts,
    batch,
    logs,
    monitoring,
    openapi,
    predictions,
    retrain,
    retrain_policy,
    rollout,
    service,
    session,
    v1,
    v2,
)
from modelport.api.auth import Keyring
from modelport.api.context import services
from modelport.api.guard import Guard, check_bind
from modelport.api.responses import JSON, error_response
from modelport.api.timing import Timing
from modelport.config import Settings
from modelport.dashboard import routes as dashboard
from modelport.errors import NotFound
from modelport.server import Services

logger = logging.getLogger(__name__)


async def metrics(request: Request) -> Response:
    return Response(
        services(request).telemetry.exposition(),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(NotFound(f"no route for {request.method} {request.url.path}"))


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSON(
        {"code": "method_not_allowed", "message": f"{request.method} is not allowed here"},
        status_code=405,
    )


ROUTES: list[BaseRoute] = [
    *v1.routes,
    *v2.routes,
    *admin.routes,
    *rollout.routes,
    *monitoring.routes,
    *logs.routes,
    *batch.routes,
    *retrain.routes,
    *retrain_policy.routes,
    *alerts.routes,
    *service.routes,
    *predictions.routes,
    *session.routes,
    Route("/metrics", metrics, methods=["GET"]),
    *openapi.routes,
    *dashboard.routes,
]


def create_app(
    settings: Settings, built: Services | None = None, *, insecure: bool = False
) -> Starlette:
    """The app serving ``built`` (or services built from ``settings`` when it starts).

    Reads every token now (a ConfigError names a bad one) and refuses an app with no
    tokens for a non-loopback ``server.host`` unless ``insecure``.
    """
    keyring = Keyring.from_settings(settings.auth)
    warning = check_bind(settings.server.host, keyring, insecure)
    if warning is not None:
        logger.warning(warning)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        running = built or Services.build(settings)
        app.state.services = running
        async with running.running():
            yield

    return Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed},
        middleware=[
            Middleware(Timing, routes=ROUTES),
            Middleware(Guard, settings=settings, keyring=keyring, routes=ROUTES, insecure=insecure),
        ],
    )
