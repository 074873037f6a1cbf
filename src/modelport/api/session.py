"""Who am I: the caller's token name, role and permissions (the dashboard asks first)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import IDENTITY_KEY, ROLE_GRANTS, Identity
from modelport.api.responses import JSON, guarded
from modelport.errors import Unauthorized

ALL_PERMISSIONS = ("read", "client", "deploy", "admin")


@guarded()
async def whoami(request: Request) -> Response:
    """``{"name", "role", "open", "permissions"}``; on a server with no tokens the caller is
    ``anonymous`` with every permission (``open`` true: it answers loopback only)."""
    identity = request.scope.get(IDENTITY_KEY)
    if not isinstance(identity, Identity):
        raise Unauthorized("the request was not authenticated")
    if identity.role is None:
        return JSON(
            {"name": identity.name, "role": None, "open": True, "permissions": ALL_PERMISSIONS}
        )
    grants = ROLE_GRANTS[identity.role]
    return JSON(
        {
            "name": identity.name,
            "role": identity.role,
            "open": False,
            "permissions": [p for p in ALL_PERMISSIONS if p in grants],
        }
    )


routes: list[BaseRoute] = [Route("/v1/whoami", whoami, methods=["GET"])]
