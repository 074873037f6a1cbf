"""The Open Inference Protocol v2 (KServe / Triton / MLServer compatible), transport-free.

Model names are endpoint names. Inputs are either one ``[N, F]`` tensor in schema order
or one tensor per feature named like it (shape ``[N]`` or ``[N, 1]``); outputs are
``predict`` (labels or values) and, for probabilistic classifiers, ``predict_proba``.
Bodies may carry tensors in the binary extension (:mod:`.v2_binary`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelport import __version__
from modelport.batch import Batch
from modelport.codecs.body import parse_json
from modelport.codecs.decode import MAX_STRING_BYTES, decode_column
from modelport.codecs.v2_binary import attach_binary_inputs, split_body
from modelport.errors import (
    MissingFeature,
    UnexpectedFeature,
    ValidationFailed,
    WrongDatatype,
    WrongShape,
    WrongType,
)
from modelport.registry.records import ModelVersion
from modelport.schema import InputSchema, OutputSpec
from modelport.vocabulary import PredictionEvent


def parse_body(
    body: bytes, header_length: str | None, *, max_string_bytes: int = MAX_STRING_BYTES
) -> Any:
    """The request's JSON, with binary tensor data (if any) filled into its inputs."""
    if header_length is None:
        return parse_json(body)
    header, blob = split_body(body, header_length)
    payload = parse_json(header)
    attach_binary_inputs(payload, blob, max_string_bytes=max_string_bytes)
    return payload


NUMERIC_DATATYPES = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64",
}  # fmt: skip
DATATYPES = NUMERIC_DATATYPES | {"BYTES"}


# Tensors here are [N], [N, 1] or [N, F]; a deeper shape is refused before its data is
# walked (which recurses once per dimension).
MAX_DIMS = 8


def _flatten(data: Any, shape: list[int], where: str) -> list[Any]:
    """Tensor data is flat, or nested exactly as ``shape`` says (row-major); either way
    a flat list. A count that disagrees with the shape is a shape error; nesting that
    disagrees with it (deeper, shallower, ragged) is a data error."""
    if not isinstance(data, list):
        raise WrongType(f"{where}.data must be a list", field=f"{where}.data")
    if not any(isinstance(value, list) for value in data):
        flat = data
    else:
        flat = []
        _walk(data, len(shape), where, flat)
    if math.prod(shape) != len(flat):
        raise WrongShape(
            f"{where}: shape {shape} holds {math.prod(shape)} values but data has {len(flat)}",
            field=f"{where}.shape",
        )
    if flat is not data:
        _check_nesting(data, shape, 0, where)
    return flat


def _walk(data: list[Any], depth_left: int, where: str, flat: list[Any]) -> None:
    """Every value of ``data`` in row-major order; lists at most ``depth_left`` deep."""
    if depth_left == 0:
        raise WrongShape(f"{where}: data is nested deeper than its shape", field=f"{where}.data")
    for value in data:
        if isinstance(value, list):
            _walk(value, depth_left - 1, where, flat)
        else:
            flat.append(value)


def _check_nesting(data: list[Any], shape: list[int], depth: int, where: str) -> None:
    field = f"{where}.data"
    if len(data) != shape[depth]:
        raise WrongShape(
            f"{where}: data has {len(data)} elements at depth {depth}; shape {shape} says "
            f"{shape[depth]}",
            field=field,
        )
    innermost = depth == len(shape) - 1
    for value in data:
        if not isinstance(value, list):
            if not innermost:
                raise WrongShape(
                    f"{where}: data is nested less deeply than shape {shape}", field=field
                )
        elif innermost:
            raise WrongShape(f"{where}: data is nested deeper than shape {shape}", field=field)
        else:
            _check_nesting(value, shape, depth + 1, where)


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
    if len(shape) > MAX_DIMS:
        raise WrongShape(
            f"{where}.shape has {len(shape)} dimensions; at most {MAX_DIMS}",
            field=f"{where}.shape",
        )
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise WrongDatatype(
            f"{where}.datatype {str(datatype)[:40]!r} is not a v2 datatype",
            field=f"{where}.datatype",
        )
    data = _flatten(tensor["data"], shape, where)
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


def decode_v2(
    payload: Any, schema: InputSchema, *, max_string_bytes: int = MAX_STRING_BYTES
) -> Batch:
    """The tensors as a validated Batch; strings longer than ``max_string_bytes`` are 422."""
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
                matrix[:, position].tolist(), feature, _cell(position), max_string_bytes
            )
        return Batch(columns, rows)

    by_name = {t[0]: (i, t) for i, t in enumerate(tensors)}
    if len(by_name) != len(tensors):
        names = [t[0] for t in tensors]
        index = next(i for i, n in enumerate(names) if n in names[:i])
        raise ValidationFailed(
            f"inputs[{index}]: another input tensor has the same name",
            field=f"inputs[{index}].name",
        )
    unknown = [n[:80] for n in by_name if schema.get(n) is None]
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
        columns[feature.name] = decode_column(data, feature, _named(index), max_string_bytes)
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


def _outputs(event: PredictionEvent, wanted: set[str] | None) -> list[dict[str, Any]]:
    prediction = event.prediction
    rows = len(prediction.outputs)
    datatype = _label_datatype(event.version.output)
    labels = prediction.outputs.tolist()
    if datatype == "INT64":
        try:
            labels = [int(v) for v in labels]
        except (TypeError, ValueError):
            datatype = "BYTES"  # a pipeline step's default that is not a number
    if datatype == "BYTES":
        labels = [str(v) for v in labels]
    tensors = [{"name": "predict", "shape": [rows], "datatype": datatype, "data": labels}]
    if prediction.probabilities is not None:
        width = prediction.probabilities.shape[1]
        tensors.append(
            {
                "name": "predict_proba",
                "shape": [rows, width],
                "datatype": "FP64",
                "data": prediction.probabilities.ravel().tolist(),
                "parameters": {"classes": event.version.output.classes},
            }
        )
    if wanted:
        tensors = [t for t in tensors if t["name"] in wanted]
    return tensors


def requested_outputs(payload: dict[str, Any]) -> set[str] | None:
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


def infer_response(
    event: PredictionEvent, wanted: set[str] | None, *, steps: bool = False
) -> dict[str, Any]:
    """The answer; with ``steps`` (a pipeline asked for ``"parameters": {"steps":
    true}``), each step's answer under ``parameters.steps``."""
    parameters: dict[str, Any] = {"role": event.role}
    if steps and event.steps:
        parameters["steps"] = {step.name: step.to_dict() for step in event.steps}
    return {
        "model_name": event.endpoint,
        "model_version": str(event.version.version),
        "id": event.request_id,
        "parameters": parameters,
        "outputs": _outputs(event, wanted),
    }


def wants_steps(payload: dict[str, Any]) -> bool:
    """Whether a v2 request asked for every pipeline step's answer."""
    parameters = payload.get("parameters")
    if parameters is None:
        return False
    if not isinstance(parameters, dict):
        raise ValidationFailed("'parameters' must be an object", field="parameters")
    value = parameters.get("steps", False)
    if not isinstance(value, bool):
        raise ValidationFailed("'parameters.steps' must be true or false", field="parameters.steps")
    return value


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


def model_metadata(name: str, version: ModelVersion, served: list[int]) -> dict[str, Any]:
    """What ``GET /v2/models/{name}`` answers: the primary's tensors, every served version."""
    versions = sorted({str(v) for v in served} | {str(version.version)})
    return {
        "name": name,
        "versions": versions,
        "platform": f"modelport-{version.flavor}",
        **_tensor_metadata(version.input_schema, version.output),
        "parameters": {"model": version.name, "classes": version.output.classes},
    }


def server_metadata() -> dict[str, Any]:
    return {"name": "modelport", "version": __version__, "extensions": []}
