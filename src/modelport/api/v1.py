"""The simple JSON API: predict and feedback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.auth import require
from modelport.api.body import read_json, request_id_from
from modelport.api.responses import JSON, guarded
from modelport.api.state import services
from modelport.batch import Batch
from modelport.errors import UnexpectedFeature, ValidationFailed, WrongType
from modelport.predlog.feedback import parse_items
from modelport.schema import InputSchema
from modelport.serving.dataplane import PredictResult, new_request_id
from modelport.serving.decode import decode_instances, decode_rows

_ALLOWED_KEYS = {"instances", "inputs", "id", "parameters"}


def decode_simple(payload: Any, schema: InputSchema) -> Batch:
    if not isinstance(payload, dict):
        raise WrongType("request body must be a JSON object", field="body")
    unknown = set(payload) - _ALLOWED_KEYS
    if unknown:
        raise UnexpectedFeature(
            f"unknown top-level field {sorted(unknown)[0]!r}; send 'instances' or 'inputs'",
            field=sorted(unknown)[0],
        )
    if "instances" in payload and "inputs" in payload:
        raise ValidationFailed("send either 'instances' or 'inputs', not both", field="inputs")
    if "instances" in payload:
        return decode_instances(payload["instances"], schema)
    if "inputs" in payload:
        inputs = payload["inputs"]
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
            raise ValidationFailed(
                "'inputs' holds rows in schema order here; named tensors go to "
                "/v2/models/{name}/infer",
                field="inputs",
            )
        return decode_rows(inputs, schema)
    raise ValidationFailed(
        "request needs 'instances' (objects) or 'inputs' (rows)", field="instances"
    )


def simple_answer(result: PredictResult) -> dict[str, Any]:
    prediction = result.prediction
    body: dict[str, Any] = {
        "predictions": prediction.outputs.tolist(),
        "model": result.version.name,
        "version": result.version.version,
        "request_id": result.request_id,
    }
    if prediction.probabilities is not None:
        body["probabilities"] = prediction.probabilities.tolist()
        body["classes"] = result.version.output.classes
    if result.role != "primary":
        body["variant"] = result.role
    return body


@guarded()
async def predict(request: Request) -> Response:
    started = time.perf_counter()
    app = services(request)
    name = request.path_params["name"]
    require(request, app.settings.auth, "client")
    payload = await read_json(request, app.settings.server.max_body_bytes)
    request_id = request_id_from(request, payload) or new_request_id()
    request.state.request_id = request_id
    schema = app.plane.schema_of(name)
    try:
        batch = decode_simple(payload, schema)
    except ValidationFailed as exc:
        app.telemetry.invalid.labels(name, exc.code).inc()
        raise
    result = await app.plane.predict(
        name, batch, request_id=request_id, started=started, headers=request.headers
    )
    return JSON(simple_answer(result), headers={"x-request-id": request_id})


@guarded()
async def feedback(request: Request) -> Response:
    app = services(request)
    require(request, app.settings.auth, "client")
    payload = await read_json(request, app.settings.server.max_body_bytes)
    items = parse_items(payload)
    # Labels may follow their predictions within milliseconds: flush first so they match.
    await asyncio.to_thread(app.recorder.flush)
    result = await asyncio.to_thread(app.feedback.ingest, items)
    return JSON(result.to_dict())


routes = [
    Route("/v1/endpoints/{name}/predict", predict, methods=["POST"]),
    Route("/v1/feedback", feedback, methods=["POST"]),
]
