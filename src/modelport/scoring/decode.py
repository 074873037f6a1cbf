"""One chunk of input rows -> the data plane's columnar ``Batch``, and the rows refused.

Validation is the data plane's own: every value goes through
:func:`modelport.codecs.decode.decode_column`, the function that checks the values of a
request (types, nulls, finiteness, whole numbers, known categories, string length), so a
row is refused here for exactly the reasons, codes and messages a request would be.

Two things are added for files. A column Arrow already proves valid (numbers without
nulls, all finite, whole where the feature is ``int``; text within the length limit and
the known categories) is taken as one numpy array, which is what ``decode_column`` would
return for it, without visiting each value in Python. And where ``decode_column`` refuses
a column, it is asked again block by block, then row by row inside the failing blocks,
so every bad row is named and the rest of the chunk is still scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.batch import Batch
from modelport.codecs.decode import MAX_STRING_BYTES, decode_column
from modelport.errors import ValidationFailed
from modelport.schema import FeatureSpec, InputSchema

# Values asked at once when a column holds a bad one: a failing block goes row by row.
BLOCK_ROWS = 512
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class Reject:
    """One refused row: its position in the chunk and why (as a request would be told)."""

    index: int
    code: str
    field: str
    reason: str


@dataclass
class DecodedChunk:
    batch: Batch
    # Positions (in the chunk) of the rows in ``batch``, in order.
    kept: np.ndarray[Any, np.dtype[np.int64]]
    rejects: list[Reject] = field(default_factory=list)
    # The same values as ``batch``, one contiguous array per feature (``batch`` may
    # hold them as one row-major matrix for the model).
    columns: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict)


def decode_chunk(
    table: pa.Table,
    schema: InputSchema,
    *,
    first_row: int,
    text: bool = False,
    max_string_bytes: int = MAX_STRING_BYTES,
) -> DecodedChunk:
    """Validate ``table`` (input rows ``first_row`` onwards) against ``schema``.

    ``text`` says the feature columns are CSV text, converted to numbers first."""
    n = table.num_rows
    columns: dict[str, np.ndarray[Any, Any]] = {}
    failures: dict[int, ValidationFailed] = {}
    for spec in schema.features:
        array = table.column(spec.name).combine_chunks()
        if isinstance(array, pa.DictionaryArray):
            array = array.dictionary_decode()
        converted = _from_text(array, spec) if text else array

        def where(index: int, name: str = spec.name) -> str:
            return f"rows[{first_row + index}].{name}"

        if isinstance(converted, list):
            values = converted
        else:
            fast = _proven(converted, spec, max_string_bytes)
            if fast is not None:
                columns[spec.name] = fast
                continue
            values = _python_values(converted, spec)
        column, refused = _decode_isolating(values, spec, where, max_string_bytes)
        columns[spec.name] = column
        for index, error in refused.items():
            failures.setdefault(index, error)
    if not failures:
        return DecodedChunk(
            _batch(columns, n, schema), np.arange(n, dtype=np.int64), columns=columns
        )
    keep = np.ones(n, dtype=bool)
    keep[list(failures)] = False
    kept = np.flatnonzero(keep).astype(np.int64)
    rejects = [
        Reject(index, error.code, error.field or "", error.message)
        for index, error in sorted(failures.items())
    ]
    picked = {name: column[kept] for name, column in columns.items()}
    return DecodedChunk(_batch(picked, len(kept), schema), kept, rejects, picked)


def _batch(columns: dict[str, np.ndarray[Any, Any]], n: int, schema: InputSchema) -> Batch:
    if n and all(f.kind in ("float", "int") for f in schema.features):
        # As the data plane builds plain numeric requests: one float matrix.
        matrix = np.empty((n, len(schema.features)), dtype=np.float64)
        for index, name in enumerate(schema.names):
            matrix[:, index] = columns[name]
        return Batch.from_matrix(schema.names, matrix)
    return Batch(columns, n)


def _proven(array: pa.Array, spec: FeatureSpec, max_string_bytes: int) -> Any:
    """The column as ``decode_column`` would return it, when Arrow proves every value
    valid; None when some value needs a closer look."""
    if array.null_count and not spec.nullable:
        return None
    kind = array.type
    if spec.kind in ("float", "int"):
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        # Nulls become NaN, as decode_column writes a missing value of a nullable feature.
        column = array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        present = column
        if array.null_count:
            present = column[array.is_valid().to_numpy(zero_copy_only=False)]
        if not np.isfinite(present).all():
            return None
        if spec.kind == "int" and not pa.types.is_integer(kind):
            if not np.array_equal(present, np.round(present)):
                return None
        return column
    if spec.kind == "bool":
        if not pa.types.is_boolean(kind) or array.null_count:
            return None
        return array.to_numpy(zero_copy_only=False).astype(np.float64)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    if len(array) and (pc.max(pc.binary_length(array)).as_py() or 0) > max_string_bytes:
        return None
    if not spec.allow_unknown:
        known = pa.array(spec.categories, type=kind)
        if not pc.all(pc.or_kleene(pc.is_in(array, value_set=known), pc.is_null(array))).as_py():
            return None
    return array.to_numpy(zero_copy_only=False).astype(object)


def _python_values(array: pa.Array, spec: FeatureSpec) -> list[Any]:
    values: list[Any] = array.to_pylist()
    if pa.types.is_decimal(array.type):
        return [None if v is None else float(v) for v in values]
    return values


def _decode_isolating(
    values: list[Any],
    spec: FeatureSpec,
    where: Callable[[int], str],
    max_string_bytes: int,
) -> tuple[np.ndarray[Any, Any], dict[int, ValidationFailed]]:
    """``decode_column`` over ``values``; where it refuses, the refused rows and the
    decoded others (refused positions hold a placeholder)."""
    try:
        return decode_column(values, spec, where, max_string_bytes), {}
    except ValidationFailed:
        pass  # some rows are refused: find them, block by block below
    column = np.empty(len(values), dtype=np.float64 if spec.numeric else object)
    refused: dict[int, ValidationFailed] = {}
    for start in range(0, len(values), BLOCK_ROWS):
        block = values[start : start + BLOCK_ROWS]
        try:
            column[start : start + len(block)] = decode_column(
                block, spec, _shifted(where, start), max_string_bytes
            )
            continue
        except ValidationFailed:
            pass  # a refused row in this block: decode it row by row below
        for offset, value in enumerate(block):
            index = start + offset
            try:
                column[index] = decode_column(
                    [value], spec, _shifted(where, index), max_string_bytes
                )[0]
            except ValidationFailed as error:
                refused[index] = error
                column[index] = np.nan if spec.numeric else None
    return column, refused


def _shifted(where: Callable[[int], str], start: int) -> Callable[[int], str]:
    return lambda index: where(start + index)


def _from_text(array: pa.Array, spec: FeatureSpec) -> pa.Array | list[Any]:
    """A CSV text column as the values a JSON request would carry: an Arrow array when
    every value converts, else Python values (text that is no number stays text, for
    ``decode_column`` to refuse by name)."""
    if not spec.numeric:
        return array
    if spec.kind in ("float", "int"):
        try:
            return pc.cast(array, pa.float64())
        except pa.ArrowInvalid:
            return [_number(v) for v in array.to_pylist()]
    return [_boolean(v) for v in array.to_pylist()]


def _number(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass  # not an integer: try a float next
    try:
        return float(text)
    except ValueError:
        return text


def _boolean(text: str | None) -> Any:
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return text
