"""``Timing``: ASGI middleware observing every HTTP exchange in
``modelport_http_request_duration_seconds{method,route,status}``.

The ``route`` label is the path template of the route that answers (``/v1/endpoints/{name}
/predict``), never the raw path, so its values stay few; a path no route knows is
``unmatched``. It wraps the guard, so refused requests are timed too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.telemetry import Telemetry

UNMATCHED = "unmatched"
# Where the guard leaves the template of the route it matched (one match per request).
ROUTE_KEY = "modelport.route"


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route matching ``scope`` (by path; a wrong method still names
    the route it was sent to), or ``unmatched``."""
    partial: str | None = None
    for route in routes:
        match, _ = route.matches(scope)
        path: str | None = getattr(route, "path", None)
        if match == Match.FULL and path is not None:
            return path
        if match == Match.PARTIAL and partial is None:
            partial = path
    return partial or UNMATCHED


class Timing:
    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            telemetry = _telemetry(scope)
            if telemetry is not None:
                telemetry.http_request(
                    scope["method"],
                    scope.get(ROUTE_KEY) or route_template(self.routes, scope),
                    status,
                    time.perf_counter() - started,
                )


def _telemetry(scope: Scope) -> Telemetry | None:
    """The serving process's telemetry (None before the services are built)."""
    services = getattr(scope["app"].state, "services", None)
    found: Telemetry | None = getattr(services, "telemetry", None)
    return found
