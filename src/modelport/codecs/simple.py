"""modelport's simple JSON: ``{"instances": [{feature: value}, ...]}`` (objects) or
``{"inputs": [[v1, v2, ...], ...]}`` (rows in schema order); the answer carries the
predictions, class probabilities, model, version and request id."""

from __future__ import annotations

from typing import Any

from modelport.batch import Batch
from modelport.codecs.decode import MAX_STRING_BYTES, decode_instances, decode_rows
from modelport.errors import UnexpectedFeature, ValidationFailed, WrongType
from modelport.schema import InputSchema
from modelport.vocabulary import PredictionEvent, Role

_ALLOWED_KEYS = {"instances", "inputs", "id", "parameters"}


def decode_simple(
    payload: Any, schema: InputSchema, *, max_string_bytes: int = MAX_STRING_BYTES
) -> Batch:
    """The body as a validated Batch; strings longer than ``max_string_bytes`` are 422."""
    if not isinstance(payload, dict):
        raise WrongType("request body must be a JSON object", field="body")
    unknown = set(payload) - _ALLOWED_KEYS
    if unknown:
        first = sorted(unknown)[0][:80]
        raise UnexpectedFeature(
            f"unknown top-level field {first!r}; send 'instances' or 'inputs'", field=first
        )
    if "instances" in payload and "inputs" in payload:
        raise ValidationFailed("send either 'instances' or 'inputs', not both", field="inputs")
    if "instances" in payload:
        return decode_instances(payload["instances"], schema, max_string_bytes=max_string_bytes)
    if "inputs" in payload:
        inputs = payload["inputs"]
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
            raise ValidationFailed(
                "'inputs' holds rows in schema order here; named tensors go to "
                "/v2/models/{name}/infer",
                field="inputs",
            )
        return decode_rows(inputs, schema, max_string_bytes=max_string_bytes)
    raise ValidationFailed(
        "request needs 'instances' (objects) or 'inputs' (rows)", field="instances"
    )


def encode_simple(event: PredictionEvent, *, steps: bool = False) -> dict[str, Any]:
    """The answer; with ``steps``, a pipeline's answer of every step under ``"steps"``."""
    prediction = event.prediction
    body: dict[str, Any] = {
        "predictions": prediction.outputs.tolist(),
        "model": event.version.name,
        "version": event.version.version,
        "request_id": event.request_id,
    }
    if prediction.probabilities is not None:
        body["probabilities"] = prediction.probabilities.tolist()
        body["classes"] = event.version.output.classes
    if event.role != Role.PRIMARY:
        body["variant"] = event.role
    if steps and event.steps:
        body["steps"] = {step.name: step.to_dict() for step in event.steps}
    return body


def simple_payload(data: Any) -> dict[str, Any]:
    """What a person may type (one object, a list of objects, or a full body) as a body.

    >>> simple_payload({"tenure": 3})
    {'instances': [{'tenure': 3}]}
    """
    if isinstance(data, dict) and ("instances" in data or "inputs" in data):
        return data
    if isinstance(data, dict):
        return {"instances": [data]}
    if isinstance(data, list):
        return {"instances": data}
    raise ValidationFailed("payload must be a JSON object or a list of objects", field="payload")
