"""``create_app(settings)``: the HTTP adapter over the data, control and monitoring planes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api import admin, monitoring, rollout, v1, v2
from modelport.api.responses import JSON, error_response
from modelport.api.state import LIFESPAN_HOOKS, Services, services
from modelport.config import Settings
from modelport.errors import NotFound

logger = logging.getLogger(__name__)

# Other planes add their routes here (rollouts, monitoring, dashboard).
EXTRA_ROUTES: list[BaseRoute] = []


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


def create_app(settings: Settings, built: Services | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        running = built or Services.build(settings)
        app.state.services = running
        running.recorder.start()
        await running.plane.start()
        hooks = AsyncExitStack()
        for hook in LIFESPAN_HOOKS:
            await hooks.enter_async_context(hook(running))
        # Everything loaded so far (libraries, models) lives as long as the process: move it
        # out of the collector's sight, or every full collection walks millions of objects
        # and stalls requests for tens of milliseconds.
        gc.collect()
        gc.freeze()
        logger.info("modelport ready: %d endpoints", len(running.plane.runtimes))
        try:
            yield
        finally:
            # Order matters: stop taking background work, then flush every record.
            await hooks.aclose()
            await running.plane.stop()
            running.recorder.close()
            logger.info(
                "prediction log flushed: %d rows written, %d records dropped",
                running.recorder.written_rows,
                running.recorder.dropped,
            )
            running.db.dispose()

    routes: list[BaseRoute] = [
        *v1.routes,
        *v2.routes,
        *admin.routes,
        *rollout.routes,
        *monitoring.routes,
        *EXTRA_ROUTES,
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
