"""Who is calling, and what each role may do.

Tokens are named and carry one role. They come from ``[auth.tokens.<name>]`` in the
settings, from the TOML file ``auth.tokens_file`` (``[tokens.<name>]`` tables, same
shape) and from the older ``admin_tokens`` / ``client_tokens`` lists (named ``admin-1``..,
``client-1``..). Only sha256 digests are kept: a presented token is hashed and compared
with every digest by :func:`hmac.compare_digest`.

Which permission each route needs is decided in one table, :data:`ROUTE_PERMISSIONS`;
a route missing from it needs ``admin`` (fail closed). With no token configured at all
the server is open and every caller is ``anonymous``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request

from modelport.config import AuthSettings, Role, TokenSettings
from modelport.errors import ConfigError, Forbidden, Unauthorized
from modelport.names import RULE, is_valid_name

# public: no token; metrics: public or read (auth.public_metrics); any: any valid token.
Permission = Literal["public", "metrics", "any", "client", "read", "deploy", "admin"]

ROLE_GRANTS: dict[Role, frozenset[Permission]] = {
    "admin": frozenset({"any", "client", "read", "deploy", "admin"}),
    "deployer": frozenset({"any", "read", "deploy"}),
    "reader": frozenset({"any", "read"}),
    "client": frozenset({"any", "client"}),
}

_ENDPOINT = "/v1/endpoints/{name}"
_ROLLOUT = "/v1/endpoints/{name}/rollout"
_ALERT = "/v1/alerts/{name}"

# (route path template, method) -> permission. HEAD is checked as GET.
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    # Open Inference Protocol v2: probes are public, metadata for any token, infer: client.
    ("/v2/health/live", "GET"): "public",
    ("/v2/health/ready", "GET"): "public",
    ("/v2", "GET"): "any",
    ("/v2/models/{name}", "GET"): "any",
    ("/v2/models/{name}/versions/{version}", "GET"): "any",
    ("/v2/models/{name}/ready", "GET"): "any",
    ("/v2/models/{name}/versions/{version}/ready", "GET"): "any",
    ("/v2/models/{name}/infer", "POST"): "client",
    ("/v2/models/{name}/versions/{version}/infer", "POST"): "client",
    # Simple JSON API.
    (f"{_ENDPOINT}/predict", "POST"): "client",
    ("/v1/feedback", "POST"): "client",
    # Registry: reads for readers; registering runs an uploaded artifact, so admin only.
    ("/v1/models", "GET"): "read",
    ("/v1/models/{name}", "GET"): "read",
    ("/v1/models/{name}/versions/{version:int}", "GET"): "read",
    ("/v1/models/{name}/versions", "POST"): "admin",
    # Aliases, archiving and tags change what is (or may be) served: deploy.
    ("/v1/models/{name}/aliases", "GET"): "read",
    ("/v1/models/{name}/aliases/{alias}", "PUT"): "deploy",
    ("/v1/models/{name}/aliases/{alias}", "DELETE"): "deploy",
    ("/v1/models/{name}/history", "GET"): "read",
    ("/v1/models/{name}/versions/{version:int}", "PATCH"): "deploy",
    ("/v1/models/{name}/versions/{version:int}/archive", "POST"): "deploy",
    ("/v1/models/{name}/versions/{version:int}/unarchive", "POST"): "deploy",
    ("/v1/models/{name}/versions/{version:int}/lineage", "GET"): "read",
    # The ONNX fast path changes what answers for a version: deploy.
    ("/v1/models/{name}/versions/{version:int}/fast-path", "GET"): "read",
    ("/v1/models/{name}/versions/{version:int}/fast-path", "PUT"): "deploy",
    ("/v1/models/{name}/versions/{version:int}/fast-path/check", "POST"): "deploy",
    # Endpoints.
    ("/v1/endpoints", "GET"): "read",
    ("/v1/endpoints", "POST"): "deploy",
    (_ENDPOINT, "GET"): "read",
    (_ENDPOINT, "PATCH"): "deploy",
    (_ENDPOINT, "PUT"): "deploy",
    (_ENDPOINT, "DELETE"): "deploy",
    (f"{_ENDPOINT}/history", "GET"): "read",
    # Service figures over time and the newest logged predictions (inputs included).
    (f"{_ENDPOINT}/service", "GET"): "read",
    (f"{_ENDPOINT}/predictions", "GET"): "read",
    # Rollouts.
    (_ROLLOUT, "POST"): "deploy",
    (_ROLLOUT, "GET"): "read",
    (f"{_ROLLOUT}/report", "GET"): "read",
    (f"{_ROLLOUT}/history", "GET"): "read",
    (f"{_ROLLOUT}/analyses", "GET"): "read",
    (f"{_ROLLOUT}/promote", "POST"): "deploy",
    (f"{_ROLLOUT}/rollback", "POST"): "deploy",
    (f"{_ROLLOUT}/pause", "POST"): "deploy",
    (f"{_ROLLOUT}/resume", "POST"): "deploy",
    # Monitoring.
    (f"{_ENDPOINT}/monitoring", "GET"): "read",
    (f"{_ENDPOINT}/monitoring/live", "GET"): "read",
    (f"{_ENDPOINT}/monitoring/history", "GET"): "read",
    (f"{_ENDPOINT}/monitoring/events", "GET"): "read",
    # Alerts: rules, silences and acknowledgements change what people are told (deploy);
    # a dry run of a rule stores nothing (read).
    ("/v1/alerts", "GET"): "read",
    ("/v1/alerts", "POST"): "deploy",
    ("/v1/alerts/active", "GET"): "read",
    ("/v1/alerts/history", "GET"): "read",
    (_ALERT, "GET"): "read",
    (_ALERT, "DELETE"): "deploy",
    (f"{_ALERT}/history", "GET"): "read",
    (f"{_ALERT}/silence", "POST"): "deploy",
    (f"{_ALERT}/ack", "POST"): "deploy",
    (f"{_ALERT}/test", "POST"): "read",
    # Notifiers: the server POSTs to a notifier's URL, so whoever adds one chooses hosts
    # it reaches from inside the network (SSRF): admin only.
    ("/v1/notifiers", "GET"): "read",
    ("/v1/notifiers", "POST"): "admin",
    ("/v1/notifiers/{name}", "GET"): "read",
    ("/v1/notifiers/{name}", "DELETE"): "admin",
    # The prediction log: erasing requests is for admins only.
    ("/v1/logs/forget", "POST"): "admin",
    # Batch scoring reads and writes files on the server (inside batch.root): admin only.
    (f"{_ENDPOINT}/batch", "POST"): "admin",
    ("/v1/batch/{job}", "GET"): "admin",
    # Retraining imports and runs a trainer on the server (only those retrain.trainers
    # allows): admin only; a policy is read by readers.
    (f"{_ENDPOINT}/retrain", "POST"): "admin",
    ("/v1/retrain/{job}", "GET"): "admin",
    (f"{_ENDPOINT}/retrain/policy", "GET"): "read",
    (f"{_ENDPOINT}/retrain/policy", "PUT"): "admin",
    (f"{_ENDPOINT}/retrain/policy/disable", "POST"): "admin",
    (f"{_ENDPOINT}/retrain/history", "GET"): "read",
    # The API's own description: what a reader may see.
    ("/openapi.json", "GET"): "read",
    ("/docs", "GET"): "read",
    # Who the caller is: any valid token (the dashboard asks first).
    ("/v1/whoami", "GET"): "any",
    # Dashboard pages are shells with no data (their scripts read the API above with the
    # caller's token), so they and their static files are public.
    ("/dashboard", "GET"): "public",
    ("/dashboard/endpoints/{name}", "GET"): "public",
    ("/dashboard/endpoints/{name}/rollout", "GET"): "public",
    ("/dashboard/endpoints/{name}/predictions", "GET"): "public",
    ("/dashboard/rollouts", "GET"): "public",
    ("/dashboard/alerts", "GET"): "public",
    ("/dashboard/models", "GET"): "public",
    ("/dashboard/models/{name}", "GET"): "public",
    ("/dashboard/predictions", "GET"): "public",
    ("/dashboard/static", "GET"): "public",
    # Prometheus.
    ("/metrics", "GET"): "metrics",
}

# What a bearer token may contain: visible ASCII, no spaces.
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]+")
# Where require() finds the caller the guard authenticated.
IDENTITY_KEY = "modelport.identity"


@dataclass(frozen=True)
class Identity:
    """The caller: a token's name and role, or ``anonymous`` (role None) on an open server."""

    name: str
    role: Role | None


ANONYMOUS = Identity("anonymous", None)


@dataclass(frozen=True)
class _Key:
    name: str
    role: Role
    digest: bytes


@dataclass(frozen=True)
class Keyring:
    """Every configured token as (name, role, sha256 digest)."""

    keys: tuple[_Key, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.keys

    @classmethod
    def from_settings(cls, auth: AuthSettings, environ: Mapping[str, str] | None = None) -> Keyring:
        """All tokens of ``auth``; a ConfigError names the first bad field."""
        env = os.environ if environ is None else environ
        named: dict[str, tuple[str, TokenSettings]] = {}
        for name, spec in auth.tokens.items():
            named[name] = (f"auth.tokens.{name}", spec)
        if auth.tokens_file is not None:
            for name, spec in _read_tokens_file(auth.tokens_file).items():
                if name in named:
                    raise ConfigError(
                        f"token {name!r} is defined in settings and in {auth.tokens_file}",
                        field="auth.tokens_file",
                    )
                named[name] = ("auth.tokens_file", spec)
        legacy: tuple[tuple[Role, str, list[str]], ...] = (
            ("admin", "auth.admin_tokens", auth.admin_tokens),
            ("client", "auth.client_tokens", auth.client_tokens),
        )
        for role, field, plain in legacy:
            for index, secret in enumerate(plain, start=1):
                name = f"{role}-{index}"
                if not secret:
                    raise ConfigError(f"{field} holds an empty token", field=field)
                if name in named:
                    raise ConfigError(
                        f"token name {name!r} is taken by {field}; rename the named token",
                        field=named[name][0],
                    )
                named[name] = (field, TokenSettings(role=role, token=secret))
        keys: list[_Key] = []
        for name, (field, spec) in named.items():
            if not is_valid_name(name):
                raise ConfigError(f"token name {name!r} breaks the name rule: {RULE}", field=field)
            key = _Key(name, spec.role, _digest(name, field, spec, env))
            for other in keys:
                if hmac.compare_digest(other.digest, key.digest):
                    raise ConfigError(
                        f"tokens {other.name!r} and {name!r} are the same secret", field=field
                    )
            keys.append(key)
        return cls(tuple(keys))

    def identify(self, token: str) -> Identity | None:
        """The token's identity, or None; compares with every digest (no early exit)."""
        digest = hashlib.sha256(token.encode("ascii")).digest()
        found: Identity | None = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest) and found is None:
                found = Identity(key.name, key.role)
        return found


def _digest(name: str, field: str, spec: TokenSettings, environ: Mapping[str, str]) -> bytes:
    if spec.sha256:
        return bytes.fromhex(spec.sha256)
    secret = spec.token
    if spec.env:
        where = f"{field}.env" if field.startswith("auth.tokens.") else field
        secret = environ.get(spec.env, "")
        if not secret:
            raise ConfigError(
                f"token {name!r}: environment variable {spec.env} is not set", field=where
            )
    if not TOKEN_PATTERN.fullmatch(secret):
        raise ConfigError(
            f"token {name!r} must be printable ASCII without spaces (it is sent as "
            "'Authorization: Bearer <token>')",
            field=field,
        )
    return hashlib.sha256(secret.encode("ascii")).digest()


def _read_tokens_file(path: Path) -> dict[str, TokenSettings]:
    field = "auth.tokens_file"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read tokens file {path}: {exc.strerror}", field=field) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"tokens file {path} is not valid TOML: {exc}", field=field) from exc
    unknown = sorted(set(data) - {"tokens"})
    tables = data.get("tokens", {})
    if unknown or not isinstance(tables, dict):
        raise ConfigError(
            f"tokens file {path} holds only [tokens.<name>] tables, found {unknown or 'tokens'}",
            field=field,
        )
    found: dict[str, TokenSettings] = {}
    for name, table in tables.items():
        try:
            found[name] = TokenSettings.model_validate(table)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["tokens", name, *(str(part) for part in first["loc"])])
            raise ConfigError(
                f"tokens file {path}: invalid {where}: {first['msg']}", field=field
            ) from exc
    return found


def bearer_token(headers: Headers) -> str | None:
    """The presented token; None when there is no Authorization header, 401 when it is
    not exactly ``Bearer <token>`` (one space, visible ASCII)."""
    values = headers.getlist("authorization")
    if not values:
        return None
    scheme, space, token = values[0].partition(" ")
    if len(values) > 1 or scheme.lower() != "bearer" or not space:
        raise Unauthorized(
            "malformed Authorization header: expected 'Bearer <token>'", field="Authorization"
        )
    if not TOKEN_PATTERN.fullmatch(token):
        raise Unauthorized(
            "malformed bearer token: expected visible ASCII without spaces", field="Authorization"
        )
    return token


def authenticate(headers: Headers, keyring: Keyring) -> Identity:
    """The caller; ``anonymous`` on an open server (no tokens), else 401 without a known one."""
    if keyring.empty:
        return ANONYMOUS
    token = bearer_token(headers)
    if token is None:
        raise Unauthorized(
            "missing bearer token (Authorization: Bearer <token>)", field="Authorization"
        )
    identity = keyring.identify(token)
    if identity is None:
        raise Unauthorized("unknown bearer token", field="Authorization")
    return identity


def permission_for(path: str | None, method: str, auth: AuthSettings) -> Permission:
    """What a route needs; unknown routes (and methods) need admin."""
    key = (path or "", "GET" if method == "HEAD" else method)
    permission = ROUTE_PERMISSIONS.get(key, "admin")
    if permission == "metrics":
        return "public" if auth.public_metrics else "read"
    return permission


def authorize(identity: Identity, permission: Permission, open_server: bool) -> None:
    """403 unless ``identity``'s role grants ``permission`` (everything on an open server)."""
    if permission == "public" or open_server:
        return
    if identity.role is None or permission not in ROLE_GRANTS[identity.role]:
        raise Forbidden(
            f"token {identity.name!r} (role {identity.role}) may not do this: "
            f"it needs the {permission!r} permission"
        )


def require(request: Request) -> str:
    """Who the guard authenticated for this request, for the audit trail (401 if none)."""
    identity = request.scope.get(IDENTITY_KEY)
    if not isinstance(identity, Identity):
        raise Unauthorized("the request was not authenticated")
    return identity.name


def is_admin_token(request: Request, settings: AuthSettings) -> bool:
    """Whether the request carries a configured admin-role token (not merely an open server).

    Uploads that run code (pickle, python modules) need this even when tokens are off.
    """
    identity = request.scope.get(IDENTITY_KEY)
    if isinstance(identity, Identity) and identity.role is not None:
        return identity.role == "admin"
    try:
        token = bearer_token(request.headers)
    except Unauthorized:
        return False
    if token is None:
        return False
    found = Keyring.from_settings(settings).identify(token)
    return found is not None and found.role == "admin"
