"""The binary tensor data extension of the Open Inference Protocol (as Triton's clients
send by default): a JSON header of ``Inference-Header-Content-Length`` bytes, then the raw
bytes of each input that declares ``parameters.binary_data_size``, in input order.

Numeric tensors are little-endian arrays; BYTES elements are each a 4-byte little-endian
length followed by that many bytes of UTF-8. An element whose length runs past its
input's bytes, or is longer than ``max_string_bytes``, is refused (422), never cut short.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from modelport.errors import MalformedBody, ValueTooLong, WrongDatatype, WrongShape

# The default of ``serving.max_string_bytes`` (as in ``codecs.decode``).
MAX_STRING_BYTES = 4096

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


def attach_binary_inputs(
    payload: Any, blob: bytes, *, max_string_bytes: int = MAX_STRING_BYTES
) -> None:
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
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or offset + size > len(blob)
        ):
            raise WrongShape(
                f"{where}: binary_data_size {size!r} exceeds the binary data",
                field=f"{where}.parameters.binary_data_size",
            )
        chunk = blob[offset : offset + size]
        offset += size
        tensor["data"] = _decode(chunk, tensor.get("datatype"), where, max_string_bytes)
    if offset != len(blob):
        raise WrongShape(
            f"{len(blob) - offset} bytes of binary data belong to no input", field="inputs"
        )


def _decode(chunk: bytes, datatype: Any, where: str, max_string_bytes: int) -> list[Any]:
    if datatype == "BYTES":
        return _decode_bytes(chunk, where, max_string_bytes)
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


def _decode_bytes(chunk: bytes, where: str, max_string_bytes: int) -> list[str]:
    """BYTES elements: each a 4-byte little-endian length, then that many UTF-8 bytes.

    >>> _decode_bytes(b"\\x02\\x00\\x00\\x00hi", "inputs[0]", 10)
    ['hi']
    """
    values: list[str] = []
    position = 0
    while position < len(chunk):
        field = f"{where}.data[{len(values)}]"
        if position + 4 > len(chunk):
            raise WrongShape(f"{field}: truncated BYTES length", field=field)
        (length,) = struct.unpack_from("<I", chunk, position)
        position += 4
        if length > len(chunk) - position:
            raise WrongShape(
                f"{field}: declares {length} bytes but only {len(chunk) - position} remain "
                "in this input's binary data",
                field=field,
            )
        if length > max_string_bytes:
            raise ValueTooLong(
                f"{field} is longer than {max_string_bytes} bytes (UTF-8), the longest accepted",
                field=field,
                limit=max_string_bytes,
            )
        try:
            values.append(chunk[position : position + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise WrongDatatype(f"{field} is not UTF-8 text", field=field) from None
        position += length
    return values
