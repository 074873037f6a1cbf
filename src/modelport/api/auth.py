"""Bearer-token checks. With no tokens configured, everything is open (on 127.0.0.1)."""

from __future__ import annotations

import hmac
from typing import Literal

from starlette.requests import Request

from modelport.config import AuthSettings
from modelport.errors import Forbidden, Unauthorized

Scope = Literal["admin", "client", "read"]


def _matches(token: str, candidates: list[str]) -> bool:
    return any(hmac.compare_digest(token, c) for c in candidates)


def require(request: Request, settings: AuthSettings, scope: Scope) -> str:
    """Check the caller may do ``scope``; returns who the caller is, for the audit trail.

    admin: needs an admin token when admin tokens are configured.
    client: needs a client or admin token when client tokens are configured.
    read: needs any known token when any tokens are configured.
    """
    if scope == "admin":
        needed = bool(settings.admin_tokens)
    elif scope == "client":
        needed = bool(settings.client_tokens)
    else:
        needed = bool(settings.admin_tokens or settings.client_tokens)
    if not needed:
        return "anonymous"
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    if _matches(token, settings.admin_tokens):
        return "admin-token"
    if _matches(token, settings.client_tokens):
        if scope == "admin":
            raise Forbidden("this token may not perform admin operations")
        return "client-token"
    raise Unauthorized("unknown bearer token")


def is_admin_token(request: Request, settings: AuthSettings) -> bool:
    """Whether the request carries a configured admin token (not merely an open server).

    Uploads that run code (pickle, python modules) need this even when tokens are off.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and bool(token) and _matches(token, settings.admin_tokens)
