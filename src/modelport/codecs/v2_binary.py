"""The binary tensor data extension of the Open Inference Protocol (as Triton's clients
send by default): a JSON header of ``Inference-Header-Content-Length`` bytes, then the raw
bytes of each input that declares ``parameters.binary_data_size``, in input order.

Numeric tensors are little-endian arrays; BYTES elements are each a 4-byte little-endian
length followed by that many bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from modelport.errors import MalformedBody, WrongDatatype, WrongShape

_NUMPY = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}


def split_body(body: bytes, header_length: str) -> tuple[bytes, bytes]:
    if not header_length.isdigit() or int(header_length) > len(body):
        raise MalformedBody(
            f"Inference-Header-Content-Length {header_length!r} does not fit a body of "
            f"{len(body)} bytes"
        )
    cut = int(header_length)
    return body[:cut], body[cut:]


def attach_binary_inputs(payload: Any, blob: bytes) -> None:
    """Fill ``data`` of every input that carries its values in ``blob``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        return
    offset = 0
    for index, tensor in enumerate(payload["inputs"]):
        if not isinstance(tensor, dict):
            continue
        parameters = tensor.get("parameters") or {}
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        where = f"inputs[{index}]"
        if not isinstance(size, int) or size < 0 or offset + size > len(blob):
            raise WrongShape(
                f"{where}: binary_data_size {size!r} exceeds the binary data",
                field=f"{where}.parameters.binary_data_size",
            )
        chunk = blob[offset : offset + size]
        offset += size
        tensor["data"] = _decode(chunk, tensor.get("datatype"), where)
    if offset != len(blob):
        raise WrongShape(
            f"{len(blob) - offset} bytes of binary data belong to no input", field="inputs"
        )


def _decode(chunk: bytes, datatype: Any, where: str) -> list[Any]:
    if datatype == "BYTES":
        values: list[Any] = []
        position = 0
        while position < len(chunk):
            if position + 4 > len(chunk):
                raise WrongShape(f"{where}: truncated BYTES element", field=f"{where}.data")
            (length,) = struct.unpack_from("<I", chunk, position)
            position += 4
            values.append(chunk[position : position + length].decode("utf-8", "replace"))
            position += length
        return values
    dtype = _NUMPY.get(str(datatype))
    if dtype is None:
        raise WrongDatatype(
            f"{where}.datatype {datatype!r} is not a v2 datatype", field=f"{where}.datatype"
        )
    width = np.dtype(dtype).itemsize
    if len(chunk) % width:
        raise WrongShape(
            f"{where}: {len(chunk)} bytes is not a whole number of {datatype}",
            field=f"{where}.data",
        )
    array = np.frombuffer(chunk, dtype=np.dtype(dtype).newbyteorder("<"))
    result: list[Any] = array.tolist()
    return result
