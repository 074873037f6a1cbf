"""Turning request payloads into a validated columnar ``Batch``.

Every refusal names the offending field the way the caller wrote it
(``instances[3].tenure``, ``inputs[0][2]``) and carries a stable error code. A string
longer than ``max_string_bytes`` (UTF-8) is refused before it can reach a model or the
prediction log.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from modelport.batch import Batch
from modelport.errors import (
    MissingFeature,
    NotAllowedNaN,
    UnexpectedFeature,
    UnknownCategory,
    ValidationFailed,
    ValueTooLong,
    WrongShape,
    WrongType,
)
from modelport.schema import FeatureSpec, InputSchema

MAX_ROWS = 10_000
# The default of ``serving.max_string_bytes``: longest string value of one input.
MAX_STRING_BYTES = 4096
# How much of a caller's unknown key an error repeats.
_SHOWN = 80
_NUMBER_TYPES = (int, float)


def decode_instances(
    instances: Any, schema: InputSchema, *, max_string_bytes: int = MAX_STRING_BYTES
) -> Batch:
    """``[{feature: value, ...}, ...]`` -> Batch."""
    _check_rows(instances, "instances")
    names = schema.names
    expected = set(names)
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise WrongType(f"instances[{index}] must be an object", field=f"instances[{index}]")
        if len(instance) != len(names) or instance.keys() != expected:
            missing = [n for n in names if n not in instance]
            if missing:
                raise MissingFeature(
                    f"instances[{index}] lacks feature {missing[0]!r}"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                    field=f"instances[{index}].{missing[0]}",
                    missing=missing,
                )
            extra = sorted(_shown(str(k)) for k in instance if k not in expected)
            raise UnexpectedFeature(
                f"instances[{index}] has unknown feature {extra[0]!r}",
                field=f"instances[{index}].{extra[0]}",
                unexpected=extra[:20],
            )
    if _plain_numeric(schema):
        fast = _numeric_matrix([[instance[n] for n in names] for instance in instances], schema)
        if fast is not None:
            return Batch.from_matrix(names, fast)
    columns = {}
    for spec in schema.features:
        values = [instance[spec.name] for instance in instances]
        where = _instance_field(spec.name)
        columns[spec.name] = decode_column(values, spec, where, max_string_bytes)
    return Batch(columns, len(instances))


def decode_rows(
    rows: Any,
    schema: InputSchema,
    field: str = "inputs",
    *,
    max_string_bytes: int = MAX_STRING_BYTES,
) -> Batch:
    """``[[v1, v2, ...], ...]`` in schema order -> Batch.

    >>> schema = InputSchema(features=[FeatureSpec(name="tenure", kind="int"),
    ...                                FeatureSpec(name="plan", kind="category")])
    >>> decode_rows([[3, "pro"], [12, "basic"]], schema).columns["tenure"]
    array([ 3., 12.])
    >>> decode_rows([[3, "pro"], ["12", "basic"]], schema)
    Traceback (most recent call last):
    ...
    modelport.errors.WrongType: inputs[1][0] must be a number, got str '12'
    """
    _check_rows(rows, field)
    width = len(schema.features)
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise WrongShape(
                f"{field}[{index}] must be a list of {width} values", field=f"{field}[{index}]"
            )
        if len(row) != width:
            raise WrongShape(
                f"{field}[{index}] has {len(row)} values; the schema has {width} features "
                f"({', '.join(schema.names)})",
                field=f"{field}[{index}]",
            )
    if _plain_numeric(schema):
        fast = _numeric_matrix(rows, schema)
        if fast is not None:
            return Batch.from_matrix(schema.names, fast)
    columns = {}
    for position, spec in enumerate(schema.features):
        values = [row[position] for row in rows]
        where = _row_field(field, position)
        columns[spec.name] = decode_column(values, spec, where, max_string_bytes)
    return Batch(columns, len(rows))


def _plain_numeric(schema: InputSchema) -> bool:
    return all(f.kind in ("float", "int") for f in schema.features)


def _numeric_matrix(
    rows: list[list[Any]], schema: InputSchema
) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    """The common case in one numpy call: every value a finite int or float.

    Returns None when anything is unusual (null, bool, string, NaN); the per-column path
    then finds the culprit and names it.
    """
    for row in rows:
        for value in row:
            if type(value) not in _NUMBER_TYPES:
                return None
    matrix = np.array(rows, dtype=np.float64)
    if not math.isfinite(float(matrix.sum())):
        return None
    integers = [i for i, f in enumerate(schema.features) if f.kind == "int"]
    if integers and not np.array_equal(matrix[:, integers], np.round(matrix[:, integers])):
        return None
    return matrix


def _instance_field(name: str) -> Callable[[int], str]:
    return lambda index: f"instances[{index}].{name}"


def _row_field(field: str, position: int) -> Callable[[int], str]:
    return lambda index: f"{field}[{index}][{position}]"


def _check_rows(rows: Any, field: str) -> None:
    if not isinstance(rows, list):
        raise WrongType(f"{field} must be a list", field=field)
    if not rows:
        raise ValidationFailed(f"{field} is empty", field=field)
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"{field} has {len(rows)} rows; at most {MAX_ROWS}", field=field)


def decode_column(
    values: Sequence[Any],
    spec: FeatureSpec,
    where: Callable[[int], str],
    max_string_bytes: int = MAX_STRING_BYTES,
) -> np.ndarray[Any, Any]:
    if spec.numeric:
        return _numeric(values, spec, where)
    return _categorical(values, spec, where, max_string_bytes)


def check_length(text: str, limit: int, field: str) -> None:
    """:class:`ValueTooLong` (422) when ``text`` takes more than ``limit`` UTF-8 bytes.

    >>> check_length("ü" * 3, 6, "plan")
    >>> check_length("ü" * 4, 6, "plan")
    Traceback (most recent call last):
    ...
    modelport.errors.ValueTooLong: plan is longer than 6 bytes (UTF-8), the longest accepted
    """
    # A code point takes 1 to 4 bytes: most strings are decided without encoding them.
    if len(text) * 4 <= limit:
        return
    if len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit:
        raise ValueTooLong(
            f"{field} is longer than {limit} bytes (UTF-8), the longest accepted",
            field=field,
            limit=limit,
        )


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _numeric(
    values: Sequence[Any], spec: FeatureSpec, where: Callable[[int], str]
) -> np.ndarray[Any, Any]:
    # The common case (all plain numbers) costs one pass; the slow path finds the culprit.
    whole = spec.kind != "int" or all(type(v) is int for v in values)
    if spec.kind != "bool" and whole and all(type(v) in _NUMBER_TYPES for v in values):
        column = np.array(values, dtype=np.float64)
        if not np.isfinite(column).all():
            index = int(np.flatnonzero(~np.isfinite(column))[0])
            raise NotAllowedNaN(f"{where(index)} must be finite", field=where(index))
        return column
    column = np.empty(len(values), dtype=np.float64)
    for index, value in enumerate(values):
        if value is None:
            if not spec.nullable:
                raise _null_refused(spec, where(index))
            column[index] = math.nan
        elif isinstance(value, bool):
            if spec.kind != "bool":
                raise WrongType(
                    f"{where(index)} must be a number, got a boolean", field=where(index)
                )
            column[index] = float(value)
        elif isinstance(value, _NUMBER_TYPES):
            if spec.kind == "bool" and value not in (0, 1):
                raise WrongType(f"{where(index)} must be true/false or 0/1", field=where(index))
            if isinstance(value, float) and not math.isfinite(value):
                raise NotAllowedNaN(f"{where(index)} must be finite", field=where(index))
            if spec.kind == "int" and isinstance(value, float) and not value.is_integer():
                raise WrongType(
                    f"{where(index)} must be a whole number, got {value!r}", field=where(index)
                )
            column[index] = float(value)
        else:
            expected = "a boolean" if spec.kind == "bool" else "a number"
            raise WrongType(
                f"{where(index)} must be {expected}, got {type(value).__name__} {value!r:.40}",
                field=where(index),
            )
    return column


def _null_refused(spec: FeatureSpec, field: str) -> NotAllowedNaN:
    return NotAllowedNaN(
        f"{field} is null but feature {spec.name!r} does not allow missing values", field=field
    )


def _categorical(
    values: Sequence[Any],
    spec: FeatureSpec,
    where: Callable[[int], str],
    max_string_bytes: int,
) -> np.ndarray[Any, Any]:
    column = np.empty(len(values), dtype=object)
    known = set(spec.categories) if not spec.allow_unknown else None
    for index, value in enumerate(values):
        if value is None:
            if not spec.nullable:
                raise _null_refused(spec, where(index))
            column[index] = None
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise WrongType(
                f"{where(index)} must be a string category, got {type(value).__name__}",
                field=where(index),
            )
        text = str(value)
        check_length(text, max_string_bytes, where(index))
        if known is not None and text not in known:
            raise UnknownCategory(
                f"{where(index)}: {text!r:.60} is not a known category of {spec.name!r}",
                field=where(index),
            )
        column[index] = text
    return column
