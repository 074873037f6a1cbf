"""Admin API: models and endpoints (who may call what: ``api/auth.ROUTE_PERMISSIONS``)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.responses import JSON, guarded
from modelport.errors import BodyTooLarge, InvalidRequest, ValidationFailed
from modelport.registry.records import ModelVersion, parse_ref
from modelport.registry.service import Registration
from modelport.schema import InputSchema


@guarded()
async def list_models(request: Request) -> Response:
    app = services(request)
    require(request)
    return JSON({"models": await asyncio.to_thread(app.registry.list_models)})


@guarded()
async def show_model(request: Request) -> Response:
    app = services(request)
    require(request)
    versions = await asyncio.to_thread(app.registry.versions, request.path_params["name"])
    return JSON({"name": request.path_params["name"], "versions": [v.to_dict() for v in versions]})


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


@guarded()
async def register_version(request: Request) -> Response:
    """multipart/form-data: artifact (file), reference (file, optional), flavor, target,
    description, tags (JSON object), schema (JSON), trust_pickle, strict_categories."""
    app = services(request)
    actor = require(request)
    declared = request.headers.get("content-length")
    limit = app.settings.server.max_body_bytes * 32
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"upload of {declared} bytes exceeds the limit of {limit}")
    # The form's spooled files are closed (and deleted) when the block ends.
    async with request.form() as form:
        version = await _register_upload(request, actor, form)
    return JSON(version.to_dict(), status_code=201)


async def _register_upload(request: Request, actor: str, form: FormData) -> ModelVersion:
    app = services(request)
    artifact = form.get("artifact")
    if not isinstance(artifact, UploadFile):
        raise ValidationFailed("multipart field 'artifact' (a file) is required", field="artifact")
    flavor = _text_field(form, "flavor") or "sklearn"
    if flavor == "python":
        raise InvalidRequest(
            "python predictors are registered from the CLI, not uploaded", field="flavor"
        )
    with tempfile.TemporaryDirectory() as folder:
        artifact_path = Path(folder) / Path(artifact.filename or "artifact").name
        artifact_path.write_bytes(await artifact.read())
        reference_path = None
        reference = form.get("reference")
        if isinstance(reference, UploadFile):
            reference_path = Path(folder) / Path(reference.filename or "reference.parquet").name
            reference_path.write_bytes(await reference.read())
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
            source=str(artifact_path),
            flavor=flavor,
            reference=reference_path,
            target=_text_field(form, "target"),
            schema=schema,
            description=_text_field(form, "description") or "",
            tags=tags,
            trust_pickle=_text_field(form, "trust_pickle") in ("1", "true"),
            strict_categories=_text_field(form, "strict_categories") in ("1", "true"),
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


def _model_field(payload: dict[str, Any]) -> tuple[str, int | None]:
    model = payload.get("model")
    if not isinstance(model, str):
        raise ValidationFailed("'model' must be a string like 'churn:1'", field="model")
    return parse_ref(model)


@guarded()
async def create_endpoint(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    payload = await _object(request)
    name = payload.get("name")
    if not isinstance(name, str):
        raise ValidationFailed("'name' must be a string", field="name")
    model, version = _model_field(payload)
    endpoint = await asyncio.to_thread(app.endpoints.create, name, model, version, actor)
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
    return JSON(body)


@guarded()
async def update_endpoint(request: Request) -> Response:
    """Point the endpoint at another version of its model: ``{"model": "churn:2"}``."""
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    payload = await _object(request)
    current = await asyncio.to_thread(app.endpoints.get, name)
    model, version = _model_field(payload)
    if model != current.model:
        raise ValidationFailed(
            f"endpoint {name!r} serves model {current.model!r}; create a new endpoint for "
            f"{model!r}",
            field="model",
        )
    resolved = await asyncio.to_thread(app.registry.get, model, version)
    revision = payload.get("revision")
    endpoint = await asyncio.to_thread(
        lambda: app.endpoints.update(
            name,
            actor=actor,
            action="set-version",
            primary_version=resolved.version,
            expected_revision=revision if isinstance(revision, int) else None,
        )
    )
    await app.plane.refresh(only=name)
    return JSON(endpoint.to_dict())


@guarded()
async def delete_endpoint(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    await asyncio.to_thread(app.endpoints.delete, request.path_params["name"], actor)
    await app.plane.refresh()
    return Response(status_code=204)


@guarded()
async def endpoint_history(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    await asyncio.to_thread(app.endpoints.get, name)
    return JSON({"endpoint": name, "history": await asyncio.to_thread(app.endpoints.history, name)})


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
]
