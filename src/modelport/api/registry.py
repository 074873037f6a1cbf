"""Admin API of the registry after registration: aliases, archiving, tags, lineage, the
ONNX fast path, the model's audit trail (who may call what: ``api/auth.ROUTE_PERMISSIONS``)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.auth import require
from modelport.api.body import read_body
from modelport.api.context import services
from modelport.api.params import MAX_ID, flag_param, int_param
from modelport.api.responses import JSON, Handler, guarded
from modelport.codecs.body import parse_json
from modelport.errors import ValidationFailed, VersionNotFound
from modelport.names import check_name
from modelport.registry.fast_path_state import fast_path_view
from modelport.registry.fast_paths import FastPaths, refuse_flavor
from modelport.registry.records import ModelVersion

MAX_HISTORY = 1000


def _model(request: Request) -> str:
    return check_name("model", request.path_params["name"], field="name")


def _alias(request: Request) -> str:
    return check_name("alias", request.path_params["alias"], field="alias")


def _version(request: Request, model: str) -> int:
    version: int = request.path_params["version"]
    if not 1 <= version <= MAX_ID:
        raise VersionNotFound(f"model {model!r} has no version {version}", field="version")
    return version


async def _object(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The JSON object body ({} when there is none); 422 naming a key it does not take."""
    body = await read_body(request, services(request).settings.server.max_body_bytes)
    if not body:
        return {}
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    for key in payload:
        if key not in allowed:
            raise ValidationFailed(
                f"unknown field {str(key)[:40]!r}; this request takes {', '.join(sorted(allowed))}",
                field=str(key)[:100],
            )
    return payload


def _force(request: Request, payload: dict[str, Any]) -> bool:
    value = payload.get("force")
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed("'force' must be true or false", field="force")
    return flag_param(request, "force") or bool(value)


@guarded()
async def list_aliases(request: Request) -> Response:
    app = services(request)
    require(request)
    model = _model(request)
    aliases = await asyncio.to_thread(app.aliases.list, model)
    return JSON({"model": model, "aliases": [a.to_dict() for a in aliases]})


@guarded()
async def set_alias(request: Request) -> Response:
    """``{"version": 3}``: point the alias there (created if new) and move every endpoint
    following it; ``"force": true`` (or ``?force=true``) rolls back a rollout in progress
    on those endpoints first, otherwise such an endpoint answers 409."""
    app = services(request)
    actor = require(request)
    model, alias = _model(request), _alias(request)
    payload = await _object(request, {"version", "force"})
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_ID:
        raise ValidationFailed("'version' must be a version number (an integer)", field="version")
    force = _force(request, payload)

    def end_rollout(endpoint: str) -> int | None:
        ended = app.rollouts.end_for(endpoint, actor, "alias-move")
        return None if ended is None else ended.id

    move = await asyncio.to_thread(
        lambda: app.aliases.set(
            model, alias, version, actor=actor, end_rollout=end_rollout if force else None
        )
    )
    for endpoint in sorted({*move.moved, *move.ended_rollouts}):
        await app.plane.refresh(only=endpoint)
    return JSON(move.to_dict())


@guarded()
async def delete_alias(request: Request) -> Response:
    """Remove the alias; 409 while an endpoint follows it."""
    app = services(request)
    actor = require(request)
    model, alias = _model(request), _alias(request)
    await asyncio.to_thread(lambda: app.aliases.delete(model, alias, actor=actor))
    return Response(status_code=204)


@guarded()
async def update_version(request: Request) -> Response:
    """``{"tags": {"team": "risk", "stage": null}, "remove": ["old"]}``: set tags (null
    removes one) and remove others, as one audited change."""
    app = services(request)
    actor = require(request)
    model = _model(request)
    version = _version(request, model)
    payload = await _object(request, {"tags", "remove"})
    tags = payload.get("tags", {})
    if not isinstance(tags, dict):
        raise ValidationFailed("'tags' must be a JSON object of tag names", field="tags")
    remove = payload.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(k, str) for k in remove):
        raise ValidationFailed("'remove' must be a list of tag names", field="remove")
    set_tags = {k: v for k, v in tags.items() if v is not None}
    remove = [*remove, *(k for k, v in tags.items() if v is None)]
    found = await asyncio.to_thread(
        lambda: app.catalog.tag(model, version, set_tags=set_tags, remove=remove, actor=actor)
    )
    return JSON(found.to_dict())


def _archiving(verb: str) -> Handler:
    """``archive`` (no longer servable; 409 naming what still points at it) or
    ``unarchive`` the version."""

    @guarded()
    async def handler(request: Request) -> Response:
        app = services(request)
        actor = require(request)
        model = _model(request)
        version = _version(request, model)
        change = app.catalog.archive if verb == "archive" else app.catalog.unarchive
        found = await asyncio.to_thread(lambda: change(model, version, actor=actor))
        return JSON(found.to_dict())

    handler.__name__ = f"{verb}_version"
    return handler


@guarded()
async def version_lineage(request: Request) -> Response:
    """The version and its chain of parents, child first."""
    app = services(request)
    require(request)
    model = _model(request)
    version = _version(request, model)
    chain = await asyncio.to_thread(app.catalog.lineage, model, version)
    return JSON({"model": model, "version": version, "chain": chain})


@guarded()
async def model_history(request: Request) -> Response:
    """The model's audit trail, newest first: ``?limit=N`` (1-1000, default 100)."""
    app = services(request)
    require(request)
    model = _model(request)
    limit = int_param(request, "limit", maximum=MAX_HISTORY) or 100
    history = await asyncio.to_thread(app.catalog.history, model, limit)
    return JSON({"model": model, "history": history})


def _fast_path_answer(found: ModelVersion, reloaded: list[str]) -> Response:
    return JSON(
        {
            "model": found.name,
            "version": found.version,
            "fast_path": fast_path_view(found.flavor, found.fast_path),
            "reloaded": reloaded,
        }
    )


@guarded()
async def show_fast_path(request: Request) -> Response:
    """The version's fast path (422 for a version that has none: not scikit-learn)."""
    app = services(request)
    require(request)
    model = _model(request)
    version = _version(request, model)
    found = await asyncio.to_thread(app.registry.get, model, version)
    refuse_flavor(found)
    return JSON(fast_path_view(found.flavor, found.fast_path))


@guarded()
async def set_fast_path(request: Request) -> Response:
    """``{"enabled": false}``: serve the version with scikit-learn (true: with onnxruntime
    when its check passed); endpoints of the model reload it at once here, within
    ``server.policy_refresh_s`` in other servers."""
    app = services(request)
    actor = require(request)
    model = _model(request)
    version = _version(request, model)
    payload = await _object(request, {"enabled"})
    enabled = payload.get("enabled")
    if not isinstance(enabled, bool):
        raise ValidationFailed("'enabled' must be true or false", field="enabled")
    paths = FastPaths(app.endpoints)
    found, reloaded = await asyncio.to_thread(
        lambda: paths.set_enabled(model, version, enabled, actor=actor)
    )
    for endpoint in reloaded:
        await app.plane.refresh(only=endpoint)
    return _fast_path_answer(found, reloaded)


@guarded()
async def check_fast_path(request: Request) -> Response:
    """Convert the version again and check it against its stored reference sample, in a
    worker thread (seconds for large ensembles); the switch keeps its position."""
    app = services(request)
    actor = require(request)
    model = _model(request)
    version = _version(request, model)
    await _object(request, set())
    paths = FastPaths(app.endpoints)
    found, reloaded = await asyncio.to_thread(lambda: paths.recheck(model, version, actor=actor))
    for endpoint in reloaded:
        await app.plane.refresh(only=endpoint)
    return _fast_path_answer(found, reloaded)


_VERSION = "/v1/models/{name}/versions/{version:int}"

routes = [
    Route("/v1/models/{name}/aliases", list_aliases, methods=["GET"]),
    Route("/v1/models/{name}/aliases/{alias}", set_alias, methods=["PUT"]),
    Route("/v1/models/{name}/aliases/{alias}", delete_alias, methods=["DELETE"]),
    Route("/v1/models/{name}/history", model_history, methods=["GET"]),
    Route(_VERSION, update_version, methods=["PATCH"]),
    Route(f"{_VERSION}/archive", _archiving("archive"), methods=["POST"]),
    Route(f"{_VERSION}/unarchive", _archiving("unarchive"), methods=["POST"]),
    Route(f"{_VERSION}/lineage", version_lineage, methods=["GET"]),
    Route(f"{_VERSION}/fast-path", show_fast_path, methods=["GET"]),
    Route(f"{_VERSION}/fast-path", set_fast_path, methods=["PUT"]),
    Route(f"{_VERSION}/fast-path/check", check_fast_path, methods=["POST"]),
]
