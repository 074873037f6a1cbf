"""The newest logged predictions of an endpoint, with their labels (dashboard, reviews).

GET /v1/endpoints/{name}/predictions   ?limit=&version=&role=&status=&labelled=
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.responses import guarded
from modelport.errors import NotFound


@guarded()
async def predictions(request: Request) -> Response:
    raise NotFound("not built yet", field="endpoint")


routes: list[BaseRoute] = [Route("/v1/endpoints/{name}/predictions", predictions, methods=["GET"])]
