"""The request guard: every HTTP request passes here before its handler runs.

In this order, the first refusal answers:

1. ``Host`` (DNS rebinding): bound to loopback, only loopback names and addresses and
   ``server.allowed_hosts`` are served -> 421 ``misdirected_request``. With no tokens and
   no ``--insecure``, a connection that did not arrive on a loopback address -> 421 too.
2. Mutations (POST, PUT, PATCH, DELETE) only: an ``Origin`` that is not this server's own
   -> 403 ``cross_origin``; a body that is not ``application/json`` (``multipart/form-data``
   for model uploads; v2 infer also takes ``application/octet-stream`` or no type, as
   standard v2 clients send) -> 415 ``unsupported_media_type``. A mutation without a body
   needs no type.
3. The bearer token (401) and the route's permission from
   :data:`modelport.api.auth.ROUTE_PERMISSIONS` (403). The caller's identity is left in
   the request scope, where :func:`modelport.api.auth.require` reads it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.api.auth import (
    ANONYMOUS,
    IDENTITY_KEY,
    Keyring,
    authenticate,
    authorize,
    permission_for,
)
from modelport.api.responses import error_response
from modelport.api.timing import ROUTE_KEY
from modelport.config import Settings
from modelport.errors import (
    ConfigError,
    CrossOrigin,
    MisdirectedRequest,
    ModelportError,
    Unauthorized,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)

MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_ONLY: frozenset[str | None] = frozenset({"application/json"})
# Routes whose body may be something else than JSON (None: no Content-Type at all).
BODY_TYPES: dict[tuple[str, str], frozenset[str | None]] = {
    ("/v1/models/{name}/versions", "POST"): frozenset({"multipart/form-data"}),
    ("/v2/models/{name}/infer", "POST"): frozenset(
        {"application/json", "application/octet-stream", None}
    ),
    ("/v2/models/{name}/versions/{version}/infer", "POST"): frozenset(
        {"application/json", "application/octet-stream", None}
    ),
}
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


# Asked twice per request (the address it arrived on and its Host header), for a handful
# of distinct values; parsing an address each time cost more than routing the request.
# Bounded, since a Host header is the caller's to choose.
@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1), brackets allowed."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keyring: Keyring, insecure: bool) -> str | None:
    """Refuse an open server (no tokens) on a non-loopback address unless ``insecure``;
    returns the warning to show loudly when it is allowed that way."""
    if not keyring.empty or is_loopback(host):
        return None
    if not insecure:
        raise ConfigError(
            f"no auth tokens are configured: refusing to serve on {host} (not loopback), "
            "where anyone who reaches it could deploy models. Configure [auth.tokens] "
            "(or auth.tokens_file), bind 127.0.0.1, or start with --insecure",
            field="server.host",
        )
    return (
        f"INSECURE: serving on {host} with no auth tokens: anyone who can reach this "
        "address can register models, change endpoints and read every log"
    )


def _split_host(value: str) -> tuple[str, int | None] | None:
    matched = _HOST.fullmatch(value)
    if matched is None:
        return None
    port = matched.group(2)
    return matched.group(1).strip("[]").lower(), int(port) if port else None


def _media_type(headers: Headers) -> str | None:
    value = headers.get("content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def _has_body(headers: Headers) -> bool:
    if "transfer-encoding" in headers:
        return True
    length = headers.get("content-length")
    return length is not None and length.strip() != "0"


def _same_origin(origin: str, scheme: str, headers: Headers) -> bool:
    """Whether ``origin`` is scheme://host:port of the request itself (default ports implied)."""
    own = _split_host(headers.get("host", ""))
    try:
        parsed = urlsplit(origin)
        claimed_port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:
        return False
    if own is None or parsed.path or parsed.query or parsed.username or parsed.password:
        return False
    own_port = own[1] or _DEFAULT_PORTS.get(scheme)
    return (parsed.scheme, parsed.hostname, claimed_port) == (scheme, own[0], own_port)


class Guard:
    """ASGI middleware applying the checks above to every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        keyring: Keyring,
        routes: Sequence[BaseRoute],
        insecure: bool = False,
    ) -> None:
        self.app = app
        self.settings = settings
        self.keyring = keyring
        self.routes = routes
        self.insecure = insecure
        self.loopback_bind = is_loopback(settings.server.host)
        self.allowed_hosts = {host.lower() for host in settings.server.allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope[IDENTITY_KEY] = self._check(scope)
        except ModelportError as exc:
            response = error_response(exc, v2=scope["path"].startswith("/v2"))
            if isinstance(exc, Unauthorized):
                response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> object:
        headers = Headers(scope=scope)
        method: str = scope["method"]
        self._check_host(scope, headers)
        template = self._template(scope)
        if method in MUTATIONS:
            self._check_origin(scope, headers, method)
            self._check_body_type(headers, template, method)
        permission = permission_for(template, method, self.settings.auth)
        if permission == "public":
            return ANONYMOUS
        identity = authenticate(headers, self.keyring)
        authorize(identity, permission, self.keyring.empty)
        return identity

    def _template(self, scope: Scope) -> str | None:
        """The path template of the route that will answer (None: no route does)."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                path: str | None = getattr(route, "path", None)
                # Timing labels the exchange with it without matching the routes again.
                scope[ROUTE_KEY] = path
                return path
        return None

    def _check_host(self, scope: Scope, headers: Headers) -> None:
        if self.keyring.empty and not self.insecure and not self._arrived_on_loopback(scope):
            raise MisdirectedRequest(
                "this server has no auth tokens and answers on loopback addresses only",
                field="Host",
            )
        if not self.loopback_bind:
            return
        value = headers.get("host", "")
        parts = _split_host(value)
        if parts is not None and (
            is_loopback(parts[0])
            or parts[0] in self.allowed_hosts
            or value.lower() in self.allowed_hosts
        ):
            return
        raise MisdirectedRequest(
            f"Host {value!r} is not served here: a server bound to loopback answers "
            "localhost, 127.0.0.1 and [::1] (and server.allowed_hosts)",
            field="Host",
        )

    @staticmethod
    def _arrived_on_loopback(scope: Scope) -> bool:
        server = scope.get("server")
        if server is None or server[1] is None:
            return True  # a unix socket: only this machine reaches it
        return is_loopback(str(server[0]))

    @staticmethod
    def _check_origin(scope: Scope, headers: Headers, method: str) -> None:
        origin = headers.get("origin")
        if origin is None or _same_origin(origin, scope.get("scheme", "http"), headers):
            return
        raise CrossOrigin(
            f"a {method} from origin {origin!r} is refused: only this server's own pages "
            "may change it",
            field="Origin",
        )

    @staticmethod
    def _check_body_type(headers: Headers, template: str | None, method: str) -> None:
        media = _media_type(headers)
        if media is None and not _has_body(headers):
            return
        allowed = BODY_TYPES.get((template or "", method), JSON_ONLY)
        if media in allowed:
            return
        wanted = " or ".join(sorted(t for t in allowed if t is not None))
        raise UnsupportedMediaType(
            f"Content-Type must be {wanted}, got {headers.get('content-type')!r}",
            field="Content-Type",
        )
