"""Service figures over time, from the prediction log (the dashboard's service charts).

GET /v1/endpoints/{name}/service   ?since=&until=&step=&version=&role=
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.responses import guarded
from modelport.errors import NotFound


@guarded()
async def service(request: Request) -> Response:
    raise NotFound("not built yet", field="endpoint")


routes: list[BaseRoute] = [Route("/v1/endpoints/{name}/service", service, methods=["GET"])]
