"""The Open Inference Protocol v2 REST surface (KServe / Triton / MLServer compatible).

Model names are endpoint names. Inputs are either one ``[N, F]`` tensor in schema order
or one tensor per feature named like it (shape ``[N]`` or ``[N, 1]``); outputs are
``predict`` (labels or values) and, for probabilistic classifiers, ``predict_proba``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport import __version__
from modelport.api.auth import require
from modelport.api.body import parse_json, read_body, request_id_from
from modelport.api.responses import JSON, guarded
from modelport.api.state import services
from modelport.api.v2_binary import attach_binary_inputs, split_body
from modelport.batch import Batch
from modelport.errors import (
    MissingFeature,
    UnexpectedFeature,
    ValidationFailed,
    VersionNotFound,
    WrongDatatype,
    WrongShape,
    WrongType,
)
from modelport.schema import InputSchema, OutputSpec
from modelport.serving.dataplane import EndpointRuntime, PredictResult, new_request_id
from modelport.serving.decode import decode_column

NUMERIC_DATATYPES = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64",
}  # fmt: skip
DATATYPES = NUMERIC_DATATYPES | {"BYTES"}


def _flatten(data: Any, where: str) -> list[Any]:
    """Tensor data may be flat or nested (row-major); either way, a flat list."""
    if not isinstance(data, list):
        raise WrongType(f"{where}.data must be a list", field=f"{where}.data")
    if any(isinstance(value, list) for value in data):
        return list(_walk(data))
    return data


def _walk(data: list[Any]) -> Any:
    for value in data:
        if isinstance(value, list):
            yield from _walk(value)
        else:
            yield value


def _check_tensor(tensor: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise WrongType(f"{where} must be a tensor object", field=where)
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise ValidationFailed(f"{where}.{key} is missing", field=f"{where}.{key}")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str):
        raise WrongType(f"{where}.name must be a string", field=f"{where}.name")
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or not shape
    ):
        raise WrongShape(
            f"{where}.shape must be a list of non-negative integers", field=f"{where}.shape"
        )
    if datatype not in DATATYPES:
        raise WrongDatatype(
            f"{where}.datatype {datatype!r} is not a v2 datatype", field=f"{where}.datatype"
        )
    data = _flatten(tensor["data"], where)
    if math.prod(shape) != len(data):
        raise WrongShape(
            f"{where}: shape {shape} holds {math.prod(shape)} values but data has {len(data)}",
            field=f"{where}.shape",
        )
    return name, shape, datatype, data


def _check_values(values: list[Any], datatype: str, where: str) -> None:
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in values):
            raise WrongDatatype(f"{where}: BYTES data must be strings", field=f"{where}.data")
    elif datatype == "BOOL":
        if not all(isinstance(v, bool) for v in values):
            raise WrongDatatype(f"{where}: BOOL data must be booleans", field=f"{where}.data")
    elif not all(type(v) in (int, float) for v in values):
        raise WrongDatatype(f"{where}: {datatype} data must be numbers", field=f"{where}.data")
    elif datatype.startswith(("INT", "UINT")) and not all(isinstance(v, int) for v in values):
        raise WrongDatatype(f"{where}: {datatype} data must be integers", field=f"{where}.data")


def decode_v2(payload: Any, schema: InputSchema) -> Batch:
    if not isinstance(payload, dict):
        raise WrongType("request body must be a JSON object", field="body")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ValidationFailed("'inputs' must be a non-empty list of tensors", field="inputs")
    tensors = [_check_tensor(t, i) for i, t in enumerate(inputs)]
    features = schema.features
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and len(features) > 1:
        name, shape, datatype, data = tensors[0]
        rows, width = shape
        if width != len(features):
            raise WrongShape(
                f"inputs[0]: shape [{rows}, {width}] but the model takes {len(features)} "
                f"features ({', '.join(schema.names)})",
                field="inputs[0].shape",
            )
        if any(not f.numeric for f in features):
            raise WrongDatatype(
                "one [N, F] tensor only fits all-numeric models; send one tensor per feature",
                field="inputs[0]",
            )
        if datatype == "BYTES":
            raise WrongDatatype(
                "inputs[0]: numeric features need a numeric datatype", field="inputs[0].datatype"
            )
        _check_values(data, datatype, "inputs[0]")
        matrix = np.asarray(data, dtype=np.float64).reshape(rows, width)
        columns = {}
        for position, feature in enumerate(features):
            columns[feature.name] = decode_column(
                matrix[:, position].tolist(), feature, _cell(position)
            )
        return Batch(columns, rows)

    by_name = {t[0]: (i, t) for i, t in enumerate(tensors)}
    unknown = [n for n in by_name if schema.get(n) is None]
    if unknown:
        raise UnexpectedFeature(
            f"input tensor {unknown[0]!r} is not a feature of this model", field=unknown[0]
        )
    missing = [f.name for f in features if f.name not in by_name]
    if missing:
        raise MissingFeature(
            f"input tensor for feature {missing[0]!r} is missing", field=missing[0], missing=missing
        )
    count: int | None = None
    columns = {}
    for feature in features:
        index, (name, shape, datatype, data) = by_name[feature.name]
        where = f"inputs[{index}]"
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise WrongShape(
                f"{where}: a per-feature tensor has shape [N] or [N, 1], got {shape}",
                field=f"{where}.shape",
            )
        if count is None:
            count = shape[0]
        elif shape[0] != count:
            raise WrongShape(
                f"{where}: {shape[0]} rows but other inputs have {count}", field=f"{where}.shape"
            )
        if feature.numeric and datatype == "BYTES":
            raise WrongDatatype(
                f"{where}: feature {feature.name!r} is numeric, got BYTES",
                field=f"{where}.datatype",
            )
        if not feature.numeric and datatype != "BYTES":
            raise WrongDatatype(
                f"{where}: feature {feature.name!r} is categorical; use BYTES",
                field=f"{where}.datatype",
            )
        _check_values(data, datatype, where)
        columns[feature.name] = decode_column(data, feature, _named(index))
    if not count:
        raise ValidationFailed("inputs hold no rows", field="inputs")
    return Batch(columns, count)


def _cell(position: int) -> Any:
    return lambda row: f"inputs[0].data[{row}][{position}]"


def _named(index: int) -> Any:
    return lambda row: f"inputs[{index}].data[{row}]"


def _label_datatype(output: OutputSpec) -> str:
    if output.kind == "regression":
        return "FP64"
    if output.classes and all(_is_int(c) for c in output.classes):
        return "INT64"
    return "BYTES"


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _outputs(result: PredictResult, wanted: set[str] | None) -> list[dict[str, Any]]:
    prediction = result.prediction
    rows = len(prediction.outputs)
    datatype = _label_datatype(result.version.output)
    labels = prediction.outputs.tolist()
    if datatype == "BYTES":
        labels = [str(v) for v in labels]
    elif datatype == "INT64":
        labels = [int(v) for v in labels]
    tensors = [{"name": "predict", "shape": [rows], "datatype": datatype, "data": labels}]
    if prediction.probabilities is not None:
        width = prediction.probabilities.shape[1]
        tensors.append(
            {
                "name": "predict_proba",
                "shape": [rows, width],
                "datatype": "FP64",
                "data": prediction.probabilities.ravel().tolist(),
                "parameters": {"classes": result.version.output.classes},
            }
        )
    if wanted:
        tensors = [t for t in tensors if t["name"] in wanted]
    return tensors


def _requested_outputs(payload: dict[str, Any]) -> set[str] | None:
    requested = payload.get("outputs")
    if requested is None:
        return None
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise ValidationFailed("'outputs' must be a list of {\"name\": ...}", field="outputs")
    names = {o["name"] for o in requested}
    unknown = names - {"predict", "predict_proba"}
    if unknown:
        raise ValidationFailed(
            f"unknown output {sorted(unknown)[0]!r}; this model has 'predict' and 'predict_proba'",
            field="outputs",
        )
    return names


def _runtime_for(request: Request) -> EndpointRuntime:
    app = services(request)
    runtime = app.plane.runtime(request.path_params["name"])
    version = request.path_params.get("version")
    if version is not None and version != str(runtime.endpoint.primary_version):
        loaded = {str(v) for v, _ in runtime.runners}
        if version not in loaded:
            raise VersionNotFound(
                f"version {version} is not served by {runtime.endpoint.name!r}", field="version"
            )
    return runtime


@guarded(v2=True)
async def infer(request: Request) -> Response:
    started = time.perf_counter()
    app = services(request)
    require(request, app.settings.auth, "client")
    body = await read_body(request, app.settings.server.max_body_bytes)
    header_length = request.headers.get("inference-header-content-length")
    if header_length is not None:
        header, blob = split_body(body, header_length)
        payload = parse_json(header)
        attach_binary_inputs(payload, blob)
    else:
        payload = parse_json(body)
    request_id = request_id_from(request, payload) or new_request_id()
    request.state.request_id = request_id
    runtime = _runtime_for(request)
    name = runtime.endpoint.name
    try:
        batch = decode_v2(payload, runtime.schema)
        wanted = _requested_outputs(payload)
    except ValidationFailed as exc:
        app.telemetry.invalid.labels(name, exc.code).inc()
        raise
    result = await app.plane.predict(
        name, batch, request_id=request_id, started=started, headers=request.headers
    )
    answer = {
        "model_name": name,
        "model_version": str(result.version.version),
        "id": request_id,
        "parameters": {"role": result.role},
        "outputs": _outputs(result, wanted),
    }
    return JSON(answer, headers={"x-request-id": request_id})


def _tensor_metadata(schema: InputSchema, output: OutputSpec) -> dict[str, Any]:
    inputs = [
        {"name": f.name, "datatype": "FP64" if f.numeric else "BYTES", "shape": [-1, 1]}
        for f in schema.features
    ]
    outputs: list[dict[str, Any]] = [
        {"name": "predict", "datatype": _label_datatype(output), "shape": [-1]}
    ]
    if output.has_probabilities:
        outputs.append(
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(output.classes)]}
        )
    return {"inputs": inputs, "outputs": outputs}


@guarded(v2=True)
async def model_metadata(request: Request) -> Response:
    app = services(request)
    require(request, app.settings.auth, "client")
    runtime = _runtime_for(request)
    version = runtime.primary
    versions = sorted({str(v) for v, _ in runtime.runners} | {str(version.version)})
    return JSON(
        {
            "name": runtime.endpoint.name,
            "versions": versions,
            "platform": f"modelport-{version.flavor}",
            **_tensor_metadata(version.input_schema, version.output),
            "parameters": {"model": version.name, "classes": version.output.classes},
        }
    )


@guarded(v2=True)
async def model_ready(request: Request) -> Response:
    runtime = _runtime_for(request)
    status = 200 if runtime.ready else 503
    return JSON({"name": runtime.endpoint.name, "ready": runtime.ready}, status_code=status)


async def live(request: Request) -> Response:
    return JSON({"live": True})


async def ready(request: Request) -> Response:
    app = services(request)
    runtimes = app.plane.runtimes.values()
    is_ready = all(r.ready for r in runtimes)
    return JSON({"ready": is_ready}, status_code=200 if is_ready else 503)


async def server_metadata(request: Request) -> Response:
    return JSON({"name": "modelport", "version": __version__, "extensions": []})


routes = [
    Route("/v2", server_metadata, methods=["GET"]),
    Route("/v2/health/live", live, methods=["GET"]),
    Route("/v2/health/ready", ready, methods=["GET"]),
    Route("/v2/models/{name}", model_metadata, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}", model_metadata, methods=["GET"]),
    Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
    Route("/v2/models/{name}/infer", infer, methods=["POST"]),
    Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
]
