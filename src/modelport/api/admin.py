"""Admin API: models and endpoints (who may call what: ``api/auth.ROUTE_PERMISSIONS``)."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from modelport.api import registry
from modelport.api.auth import is_admin_token, require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.params import flag_param, int_param
from modelport.api.pipelines import create_from_json, pipeline_view
from modelport.api.responses import JSON, guarded
from modelport.errors import (
    BodyTooLarge,
    Conflict,
    InvalidRequest,
    UploadNotAllowed,
    ValidationFailed,
)
from modelport.names import check_name
from modelport.registry.records import ModelRef, ModelVersion, parse_model_ref
from modelport.registry.service import Registration
from modelport.schema import InputSchema

MAX_HISTORY = 1000


@guarded()
async def list_models(request: Request) -> Response:
    app = services(request)
    require(request)
    return JSON({"models": await asyncio.to_thread(app.registry.list_models)})


@guarded()
async def show_model(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    versions = await asyncio.to_thread(app.registry.versions, name)
    aliases = await asyncio.to_thread(app.registry.aliases, name)
    return JSON({"name": name, "versions": [v.to_dict() for v in versions], "aliases": aliases})


@guarded()
async def show_version(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    version = await asyncio.to_thread(app.registry.get, name, request.path_params["version"])
    with_profile = request.query_params.get("profile") in ("1", "true")
    return JSON(version.to_dict(with_profile=with_profile))


def _text_field(form: Any, key: str) -> str | None:
    value = form.get(key)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value)


def _upload_limit(request: Request) -> int:
    """Largest accepted model upload (artifact, reference and fields together)."""
    return services(request).settings.server.max_body_bytes * 32


def _counted(request: Request, limit: int) -> Request:
    """The same request, its body counted as it streams in: past ``limit`` bytes it is
    refused (413) however it was sent, with a Content-Length or chunked."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(f"upload exceeds the limit of {limit} bytes")
        return message

    return Request(request.scope, receive)


@guarded()
async def register_version(request: Request) -> Response:
    """multipart/form-data: artifact (file), reference (file, optional), flavor, target,
    description, tags (JSON object), schema (JSON), trust_types (JSON list or
    comma-separated), trust_pickle, attr (python flavor), strict_categories."""
    actor = require(request)
    limit = _upload_limit(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"upload of {declared} bytes exceeds the limit of {limit}")
    try:
        # The form's spooled files are closed (and deleted) when the block ends.
        async with _counted(request, limit).form() as form:
            version = await _register_upload(request, actor, form)
    except HTTPException as exc:  # Starlette's answer to malformed multipart data
        raise InvalidRequest(f"malformed multipart form: {exc.detail}", field="body") from exc
    return JSON(version.to_dict(), status_code=201)


def _flag(form: FormData, key: str) -> bool:
    return _text_field(form, key) in ("1", "true")


def _permit_code(request: Request, allowed: bool, setting: str, what: str, field: str) -> None:
    """Uploads that run code on the server: off unless ``security.<setting>`` is on, and
    then only for a caller presenting an admin token (an open server is not enough)."""
    if not allowed:
        raise UploadNotAllowed(
            f"{what} uploads run code on the server and are refused here; an operator "
            f"can register it with the CLI, or enable security.{setting}",
            field=field,
        )
    if not is_admin_token(request, services(request).settings.auth):
        raise UploadNotAllowed(
            f"{what} uploads need an admin token (Authorization: Bearer <token>)", field=field
        )


def _trust_types(form: FormData) -> list[str]:
    """``trust_types``: a JSON list or comma-separated names (the field may repeat)."""
    names: list[str] = []
    for value in form.getlist("trust_types"):
        if isinstance(value, UploadFile):
            raise ValidationFailed("trust_types must be text, not a file", field="trust_types")
        text = value.strip()
        if not text.startswith("["):
            names.extend(part.strip() for part in text.split(",") if part.strip())
            continue
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(n, str) for n in parsed):
            raise ValidationFailed(
                "trust_types must be a JSON list of type names or a comma-separated list",
                field="trust_types",
            )
        names.extend(parsed)
    return names


_SAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _upload_name(upload: UploadFile, default: str, suffix: str = "") -> str:
    """A plain file name for an upload inside a private folder; the client's name only
    where it is harmless (it shows in error messages)."""
    name = _SAFE_FILE_NAME.sub("_", Path(upload.filename or "").name)[:100]
    if not name.strip("._"):
        name = default
    return name if name.endswith(suffix) else name + suffix


async def _save(upload: UploadFile, path: Path) -> None:
    with path.open("wb") as sink:
        while chunk := await upload.read(1 << 20):
            sink.write(chunk)


async def _register_upload(request: Request, actor: str, form: FormData) -> ModelVersion:
    app = services(request)
    artifact = form.get("artifact")
    if not isinstance(artifact, UploadFile):
        raise ValidationFailed("multipart field 'artifact' (a file) is required", field="artifact")
    flavor = _text_field(form, "flavor") or "sklearn"
    trust_pickle = _flag(form, "trust_pickle")
    security = app.settings.security
    # Checked before anything from the upload is read, let alone loaded.
    if trust_pickle:
        _permit_code(
            request, security.allow_pickle_upload, "allow_pickle_upload", "pickle", "trust_pickle"
        )
    attr = None
    if flavor == "python":
        _permit_code(request, security.allow_code_upload, "allow_code_upload", "code", "flavor")
        attr = _text_field(form, "attr") or ""
        if not attr.isidentifier():
            raise ValidationFailed(
                "python uploads need 'attr': the predictor's name in the module", field="attr"
            )
    trusted_types = _trust_types(form)
    with tempfile.TemporaryDirectory() as folder:
        suffix = ".py" if flavor == "python" else ""
        artifact_path = Path(folder) / _upload_name(artifact, "artifact", suffix)
        await _save(artifact, artifact_path)
        reference_path = None
        reference = form.get("reference")
        if isinstance(reference, UploadFile):
            reference_path = Path(folder) / _upload_name(reference, "reference.parquet")
            if reference_path == artifact_path:
                reference_path = Path(folder) / f"reference-{reference_path.name}"
            await _save(reference, reference_path)
        schema = None
        if (schema_text := _text_field(form, "schema")) is not None:
            try:
                schema = InputSchema.model_validate_json(schema_text)
            except ValueError as exc:
                raise ValidationFailed(f"schema is invalid: {exc}", field="schema") from exc
        tags: dict[str, Any] = {}
        if (tags_text := _text_field(form, "tags")) is not None:
            try:
                tags = json.loads(tags_text)
            except ValueError as exc:
                raise ValidationFailed("tags must be a JSON object", field="tags") from exc
            if not isinstance(tags, dict):
                raise ValidationFailed("tags must be a JSON object", field="tags")
        registration = Registration(
            name=request.path_params["name"],
            source=str(artifact_path) if attr is None else f"{artifact_path}:{attr}",
            flavor=flavor,
            reference=reference_path,
            target=_text_field(form, "target"),
            schema=schema,
            description=_text_field(form, "description") or "",
            tags=tags,
            trust_pickle=trust_pickle,
            trust_code=attr is not None,
            trusted_types=trusted_types,
            strict_categories=_flag(form, "strict_categories"),
            actor=actor,
        )
        return await asyncio.to_thread(app.registry.register, registration)


@guarded()
async def list_endpoints(request: Request) -> Response:
    app = services(request)
    require(request)
    endpoints = await asyncio.to_thread(app.endpoints.all)
    body = []
    for endpoint in endpoints:
        entry = endpoint.to_dict()
        status = app.plane.find(endpoint.name)
        entry["ready"] = bool(status and status.ready)
        entry["error"] = status.error if status else None
        body.append(entry)
    return JSON({"endpoints": body})


async def _object(request: Request) -> dict[str, Any]:
    payload = await read_json(request, services(request).settings.server.max_body_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    return payload


def _model_field(payload: dict[str, Any]) -> ModelRef:
    model = payload.get("model")
    if not isinstance(model, str):
        raise ValidationFailed(
            "'model' must be a string like 'churn:1' or 'churn@champion'", field="model"
        )
    return parse_model_ref(model)


@guarded()
async def create_endpoint(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    payload = await _object(request)
    name = check_name("endpoint", payload.get("name"), field="name")
    if "pipeline" in payload:
        if "model" in payload:
            raise ValidationFailed(
                "give either 'model' (one model) or 'pipeline' (steps), not both", field="model"
            )
        endpoint = await asyncio.to_thread(
            create_from_json, app.registry, app.endpoints, name, payload["pipeline"], actor
        )
        await app.plane.refresh()
        return JSON(endpoint.to_dict(), status_code=201)
    ref = _model_field(payload)
    endpoint = await asyncio.to_thread(
        lambda: app.endpoints.create(name, ref.name, ref.version, actor, alias=ref.alias)
    )
    await app.plane.refresh(only=name)
    return JSON(endpoint.to_dict(), status_code=201)


@guarded()
async def show_endpoint(request: Request) -> Response:
    app = services(request)
    require(request)
    endpoint = await asyncio.to_thread(app.endpoints.get, request.path_params["name"])
    body = endpoint.to_dict()
    status = app.plane.find(endpoint.name)
    body["ready"] = bool(status and status.ready)
    body["error"] = status.error if status else None
    if status is not None and status.routing is not None:
        body["serving"] = status.routing
        # What answers: the primary's runtime, and each served version's.
        body["runtime"] = status.runtimes.get(status.primary.version)
        body["runtimes"] = {str(v): r for v, r in sorted(status.runtimes.items())}
    if endpoint.pipeline is not None:
        body["pipeline"] = await asyncio.to_thread(pipeline_view, request, endpoint)
    return JSON(body)


def _revision_field(payload: dict[str, Any]) -> int | None:
    """The revision the caller read (optimistic check), as a JSON integer or absent."""
    revision = payload.get("revision")
    if revision is None:
        return None
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise ValidationFailed(
            "'revision' must be the endpoint's revision number (an integer)", field="revision"
        )
    return revision


def _force(request: Request, payload: dict[str, Any] | None = None) -> bool:
    """``?force=true`` or ``{"force": true}``: end a rollout in progress first."""
    value = (payload or {}).get("force")
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed("'force' must be true or false", field="force")
    return flag_param(request, "force") or bool(value)


async def _end_rollout(request: Request, name: str, actor: str, action: str) -> int | None:
    """Roll back the rollout in progress on ``name`` (forced change); its id, if any."""
    app = services(request)
    ended = await asyncio.to_thread(app.rollouts.end_for, name, actor, action)
    if ended is None:
        return None
    await app.plane.refresh(only=name)
    return ended.id


@guarded()
async def update_endpoint(request: Request) -> Response:
    """Point the endpoint at another version of its model: ``{"model": "churn:2"}``, or
    make it follow an alias: ``{"model": "churn@champion"}``; optionally
    ``"revision": N`` (409 if it changed since) and ``"force": true`` (roll back a
    rollout in progress first; without it such an endpoint answers 409)."""
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    payload = await _object(request)
    revision = _revision_field(payload)
    force = _force(request, payload)
    current = await asyncio.to_thread(app.endpoints.get, name)
    if current.pipeline is not None:
        raise ValidationFailed(
            f"endpoint {name!r} is a pipeline: change one step's version on its endpoint "
            f"({name}.<step>), or roll it out with a rollout on that step",
            field="model",
        )
    ref = _model_field(payload)
    if ref.name != current.model:
        raise ValidationFailed(
            f"endpoint {name!r} serves model {current.model!r}; create a new endpoint for "
            f"{ref.name!r}",
            field="model",
        )
    resolved = await asyncio.to_thread(lambda: app.registry.resolve(ref, servable=True))
    if revision is not None and revision != current.revision:
        # Refused before a forced change ends anything.
        raise Conflict(
            f"endpoint {name!r} changed meanwhile (revision {current.revision}, "
            f"expected {revision})",
            field="revision",
        )
    details: dict[str, Any] = {}
    if force and (ended := await _end_rollout(request, name, actor, "update")) is not None:
        details = {"forced": True, "ended_rollout": ended}
        if revision is not None:
            revision += 1  # the rollback the caller asked for bumped it once
    endpoint = await asyncio.to_thread(
        lambda: app.endpoints.update(
            name,
            actor=actor,
            action="set-version",
            primary_version=None if ref.alias else resolved.version,
            expected_revision=revision,
            details=details,
            follow=ref.alias,
            unfollow=ref.alias is None,
        )
    )
    await app.plane.refresh(only=name)
    return JSON(endpoint.to_dict())


@guarded()
async def delete_endpoint(request: Request) -> Response:
    """Delete the endpoint; 409 while a rollout is in progress unless ``?force=true``
    (which rolls the rollout back first)."""
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    force = _force(request)
    await asyncio.to_thread(app.endpoints.get, name)
    details: dict[str, Any] = {}
    if force and (ended := await _end_rollout(request, name, actor, "delete")) is not None:
        details = {"forced": True, "ended_rollout": ended}
    await asyncio.to_thread(app.endpoints.delete, name, actor, details)
    await app.plane.refresh()
    return Response(status_code=204)


@guarded()
async def endpoint_history(request: Request) -> Response:
    """The endpoint's audit trail, newest first: ``?limit=N`` (1-1000, default 100)."""
    app = services(request)
    require(request)
    name = request.path_params["name"]
    limit = int_param(request, "limit", maximum=MAX_HISTORY) or 100
    await asyncio.to_thread(app.endpoints.get, name)
    history = await asyncio.to_thread(app.endpoints.history, name, limit)
    return JSON({"endpoint": name, "history": history})


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{name}", show_model, methods=["GET"]),
    Route("/v1/models/{name}/versions", register_version, methods=["POST"]),
    Route("/v1/models/{name}/versions/{version:int}", show_version, methods=["GET"]),
    Route("/v1/endpoints", list_endpoints, methods=["GET"]),
    Route("/v1/endpoints", create_endpoint, methods=["POST"]),
    Route("/v1/endpoints/{name}", show_endpoint, methods=["GET"]),
    Route("/v1/endpoints/{name}", update_endpoint, methods=["PATCH", "PUT"]),
    Route("/v1/endpoints/{name}", delete_endpoint, methods=["DELETE"]),
    Route("/v1/endpoints/{name}/history", endpoint_history, methods=["GET"]),
    *registry.routes,
]
