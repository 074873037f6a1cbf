from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from modelport.codecs.decode import MAX_ROWS, decode_instances, decode_rows
from modelport.errors import (
    MissingFeature,
    NotAllowedNaN,
    UnexpectedFeature,
    UnknownCategory,
    ValidationFailed,
    WrongShape,
    WrongType,
)
from modelport.schema import FeatureSpec, InputSchema

SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="tenure", kind="int"),
        FeatureSpec(name="charges", kind="float", nullable=True),
        FeatureSpec(name="plan", kind="category", categories=["basic", "pro"]),
        FeatureSpec(name="promo", kind="bool"),
    ]
)
STRICT = InputSchema(
    features=[
        FeatureSpec(name="plan", kind="category", categories=["basic", "pro"], allow_unknown=False),
        FeatureSpec(name="region", kind="category", nullable=True, allow_unknown=False),
    ]
)


def instance(**changes: Any) -> dict[str, Any]:
    return {"tenure": 3, "charges": 50.5, "plan": "basic", "promo": False, **changes}


def test_instances_become_typed_columns_in_schema_order() -> None:
    batch = decode_instances(
        [
            instance(),
            {"promo": True, "plan": "gold", "charges": None, "tenure": 12.0},
        ],
        SCHEMA,
    )

    assert batch.n_rows == 2
    assert list(batch.columns) == ["tenure", "charges", "plan", "promo"]
    assert batch.columns["tenure"].dtype == np.float64
    assert batch.columns["tenure"].tolist() == [3.0, 12.0]
    assert batch.columns["charges"][0] == 50.5 and math.isnan(batch.columns["charges"][1])
    # Unknown categories pass when the feature allows them; they are logged as they came.
    assert batch.columns["plan"].dtype == object
    assert batch.columns["plan"].tolist() == ["basic", "gold"]
    assert batch.columns["promo"].tolist() == [0.0, 1.0]


def test_rows_follow_the_schema_order() -> None:
    batch = decode_rows([[3, 50.5, "pro", True], [0, None, "basic", 0]], SCHEMA)

    assert batch.n_rows == 2
    assert batch.columns["tenure"].tolist() == [3.0, 0.0]
    assert batch.columns["plan"].tolist() == ["pro", "basic"]
    assert batch.columns["promo"].tolist() == [1.0, 0.0]


def test_integer_categories_are_read_as_their_text() -> None:
    schema = InputSchema(features=[FeatureSpec(name="zip", kind="category")])

    assert decode_rows([[10115], ["10117"]], schema).columns["zip"].tolist() == ["10115", "10117"]


def test_missing_values_in_a_nullable_category_are_none() -> None:
    batch = decode_instances([{"plan": "pro", "region": None}], STRICT)

    assert batch.columns["region"].tolist() == [None]


REFUSALS = [
    # (payload for decode_instances, error class, code, field)
    (
        [instance(), {"tenure": 1, "charges": 2.0, "promo": True}],
        MissingFeature,
        "missing_feature",
        "instances[1].plan",
    ),
    ([instance(colour="red")], UnexpectedFeature, "unexpected_feature", "instances[0].colour"),
    ([instance(tenure="3")], WrongType, "wrong_type", "instances[0].tenure"),
    ([instance(), instance(charges="cheap")], WrongType, "wrong_type", "instances[1].charges"),
    ([instance(tenure=True)], WrongType, "wrong_type", "instances[0].tenure"),
    ([instance(promo=2)], WrongType, "wrong_type", "instances[0].promo"),
    ([instance(promo="yes")], WrongType, "wrong_type", "instances[0].promo"),
    ([instance(plan=3.5)], WrongType, "wrong_type", "instances[0].plan"),
    ([instance(plan=True)], WrongType, "wrong_type", "instances[0].plan"),
    ([instance(tenure=None)], NotAllowedNaN, "nan_not_allowed", "instances[0].tenure"),
    ([instance(plan=None)], NotAllowedNaN, "nan_not_allowed", "instances[0].plan"),
    (
        [instance(), instance(charges=float("nan"))],
        NotAllowedNaN,
        "nan_not_allowed",
        "instances[1].charges",
    ),
    ([instance(charges=float("inf"))], NotAllowedNaN, "nan_not_allowed", "instances[0].charges"),
    (
        [instance(tenure=float("-inf"), promo=None)],
        NotAllowedNaN,
        "nan_not_allowed",
        "instances[0].tenure",
    ),
    ([instance(), "tenure=3"], WrongType, "wrong_type", "instances[1]"),
    ([], ValidationFailed, "validation_error", "instances"),
    ({"tenure": 3}, WrongType, "wrong_type", "instances"),
    ("[]", WrongType, "wrong_type", "instances"),
    ([instance()] * (MAX_ROWS + 1), ValidationFailed, "validation_error", "instances"),
]


@pytest.mark.parametrize(("payload", "error", "code", "field"), REFUSALS)
def test_instance_refusals_name_the_field(
    payload: Any, error: type[ValidationFailed], code: str, field: str
) -> None:
    with pytest.raises(error) as refused:
        decode_instances(payload, SCHEMA)

    assert type(refused.value) is error
    assert (refused.value.code, refused.value.field, refused.value.status) == (code, field, 422)


def test_every_missing_feature_is_listed() -> None:
    with pytest.raises(MissingFeature) as refused:
        decode_instances([{"tenure": 1}], SCHEMA)

    assert refused.value.details["missing"] == ["charges", "plan", "promo"]
    assert "(and 2 more)" in refused.value.message


@pytest.mark.parametrize(
    ("rows", "error", "field"),
    [
        ([["basic", None]], None, None),
        ([["gold", None]], UnknownCategory, "inputs[0][0]"),
        ([["basic", "mars"]], UnknownCategory, "inputs[0][1]"),
    ],
)
def test_unknown_categories_are_refused_when_the_schema_says_so(
    rows: list[list[Any]], error: type[ValidationFailed] | None, field: str | None
) -> None:
    if error is None:
        assert decode_rows(rows, STRICT).columns["plan"].tolist() == ["basic"]
        return
    with pytest.raises(error) as refused:
        decode_rows(rows, STRICT)
    assert (refused.value.code, refused.value.field) == ("unknown_category", field)


@pytest.mark.parametrize(
    ("rows", "error", "code", "field"),
    [
        ([[3, 50.5, "pro"]], WrongShape, "wrong_shape", "inputs[0]"),
        (
            [[3, 50.5, "pro", True], [3, 50.5, "pro", True, 1]],
            WrongShape,
            "wrong_shape",
            "inputs[1]",
        ),
        ([{"tenure": 3}], WrongShape, "wrong_shape", "inputs[0]"),
        ([[3, "x", "pro", True]], WrongType, "wrong_type", "inputs[0][1]"),
        (
            [[3, 1.0, "pro", True], [None, 1.0, "pro", True]],
            NotAllowedNaN,
            "nan_not_allowed",
            "inputs[1][0]",
        ),
        ([], ValidationFailed, "validation_error", "inputs"),
        (None, WrongType, "wrong_type", "inputs"),
    ],
)
def test_row_refusals_name_the_position(
    rows: Any, error: type[ValidationFailed], code: str, field: str
) -> None:
    with pytest.raises(error) as refused:
        decode_rows(rows, SCHEMA)

    assert type(refused.value) is error
    assert (refused.value.code, refused.value.field) == (code, field)


def test_rows_report_the_field_name_the_caller_used() -> None:
    with pytest.raises(WrongShape) as refused:
        decode_rows([[1]], SCHEMA, field="dataframe_split.data")

    assert refused.value.field == "dataframe_split.data[0]"
    assert "tenure, charges, plan, promo" in refused.value.message


def test_at_most_max_rows_are_accepted() -> None:
    batch = decode_rows([[1, 2.0, "pro", False]] * MAX_ROWS, SCHEMA)

    assert batch.n_rows == MAX_ROWS


NUMERIC = InputSchema(
    features=[
        FeatureSpec(name="tenure", kind="int"),
        FeatureSpec(name="charges", kind="float", nullable=True),
    ]
)


def test_all_numeric_requests_decode_to_the_same_columns_either_way() -> None:
    by_instance = decode_instances(
        [{"charges": 50.5, "tenure": 3}, {"tenure": 12, "charges": 1e308}], NUMERIC
    )
    by_row = decode_rows([[3, 50.5], [12, 1e308]], NUMERIC)

    for batch in (by_instance, by_row):
        assert list(batch.columns) == ["tenure", "charges"]
        assert batch.columns["tenure"].tolist() == [3.0, 12.0]
        assert batch.columns["charges"].tolist() == [50.5, 1e308]
        assert batch.to_matrix().tolist() == [[3.0, 50.5], [12.0, 1e308]]


@pytest.mark.parametrize(
    ("value", "error", "code"),
    [
        (None, NotAllowedNaN, "nan_not_allowed"),
        (float("nan"), NotAllowedNaN, "nan_not_allowed"),
        (float("-inf"), NotAllowedNaN, "nan_not_allowed"),
        (True, WrongType, "wrong_type"),
        ("3", WrongType, "wrong_type"),
        ([3], WrongType, "wrong_type"),
    ],
)
def test_all_numeric_refusals_still_name_the_value(
    value: Any, error: type[ValidationFailed], code: str
) -> None:
    with pytest.raises(error) as by_row:
        decode_rows([[1, 2.0], [value, 2.0]], NUMERIC)
    with pytest.raises(error) as by_instance:
        decode_instances(
            [{"tenure": 1, "charges": 2.0}, {"tenure": value, "charges": 2.0}], NUMERIC
        )

    assert (by_row.value.code, by_row.value.field) == (code, "inputs[1][0]")
    assert (by_instance.value.code, by_instance.value.field) == (code, "instances[1].tenure")


def test_all_numeric_missing_values_where_allowed() -> None:
    batch = decode_rows([[1, None], [2, 3.5]], NUMERIC)

    assert math.isnan(batch.columns["charges"][0]) and batch.columns["charges"][1] == 3.5


def test_int_features_refuse_fractions_but_accept_whole_floats() -> None:
    from modelport.codecs.decode import decode_instances
    from modelport.errors import WrongType
    from modelport.schema import FeatureSpec, InputSchema

    schema = InputSchema(
        features=[FeatureSpec(name="a", kind="int"), FeatureSpec(name="b", kind="float")]
    )
    assert decode_instances([{"a": 3.0, "b": 1}], schema).columns["a"].tolist() == [3.0]
    with pytest.raises(WrongType) as refused:
        decode_instances([{"a": 1, "b": 0.5}, {"a": 1.5, "b": 0.5}], schema)
    assert refused.value.field == "instances[1].a"


@pytest.mark.parametrize(
    ("text", "limit", "refused"),
    [
        ("x" * 8, 8, False),
        ("x" * 9, 8, True),
        ("é" * 4, 8, False),  # 4 characters, 8 bytes
        ("é" * 5, 8, True),  # 5 characters, 10 bytes: the limit counts UTF-8 bytes
        ("😀" * 2, 8, False),
        ("😀" * 2 + "x", 8, True),
    ],
)
def test_string_values_are_limited_in_utf8_bytes(text: str, limit: int, refused: bool) -> None:
    from modelport.errors import ValueTooLong

    for decode, payload, field in (
        (decode_instances, [instance(plan=text)], "instances[0].plan"),
        (decode_rows, [[3, 50.5, text, False]], "inputs[0][2]"),
    ):
        if not refused:
            batch = decode(payload, SCHEMA, max_string_bytes=limit)
            assert batch.columns["plan"].tolist() == [text]
            continue
        with pytest.raises(ValueTooLong) as caught:
            decode(payload, SCHEMA, max_string_bytes=limit)
        assert (caught.value.code, caught.value.field, caught.value.status) == (
            "value_too_long",
            field,
            422,
        )
        assert text not in caught.value.message


def test_the_default_string_limit_is_4096_bytes() -> None:
    from modelport.errors import ValueTooLong

    assert decode_instances([instance(plan="x" * 4096)], SCHEMA).n_rows == 1
    with pytest.raises(ValueTooLong):
        decode_instances([instance(plan="x" * 4097)], SCHEMA)


def test_unknown_keys_are_not_echoed_whole() -> None:
    with pytest.raises(UnexpectedFeature) as caught:
        decode_instances([instance(**{"k" * 10_000: 1})], SCHEMA)
    assert len(caught.value.message) < 200 and len(caught.value.field or "") < 200


V2_SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="tenure", kind="int"),
        FeatureSpec(name="plan", kind="category"),
    ]
)


def _v2(tenure: dict[str, Any]) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "tenure", "shape": [2], "datatype": "INT64", "data": [3, 60], **tenure},
            {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", "pro"]},
        ]
    }


@pytest.mark.parametrize(
    ("tenure", "field"),
    [
        ({"data": [[3], [60]]}, "inputs[0].data"),
        ({"shape": [2, 1], "data": [[3, 60]]}, "inputs[0].data"),
        ({"shape": [2, 1], "data": [[3], 60]}, "inputs[0].data"),
        ({"shape": [2, 1], "data": [[[3]], [[60]]]}, "inputs[0].data"),
        ({"shape": [3, 1], "data": [[3], [60]]}, "inputs[0].shape"),
        ({"shape": [1] * 9, "data": [3]}, "inputs[0].shape"),
    ],
)
def test_v2_data_must_be_flat_or_nested_as_its_shape(tenure: dict[str, Any], field: str) -> None:
    from modelport.codecs.v2 import decode_v2

    with pytest.raises(WrongShape) as caught:
        decode_v2(_v2(tenure), V2_SCHEMA)
    assert caught.value.field == field


def test_v2_nesting_as_the_shape_says_is_the_same_as_flat() -> None:
    from modelport.codecs.v2 import decode_v2

    flat = decode_v2(_v2({}), V2_SCHEMA)
    nested = decode_v2(_v2({"shape": [2, 1], "data": [[3], [60]]}), V2_SCHEMA)
    assert flat.columns["tenure"].tolist() == nested.columns["tenure"].tolist() == [3.0, 60.0]


def test_v2_data_deeper_than_python_can_recurse_is_refused_not_crashed() -> None:
    from modelport.codecs.v2 import decode_v2

    deep: Any = [3]
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(WrongShape):
        decode_v2(_v2({"data": [deep, 60]}), V2_SCHEMA)


def _element(text: bytes, declared: int | None = None) -> bytes:
    import struct

    return struct.pack("<I", len(text) if declared is None else declared) + text


@pytest.mark.parametrize(
    ("blob", "error", "field"),
    [
        (_element(b"basic") + _element(b"pro", declared=4), "wrong_shape", "inputs[0].data[1]"),
        (_element(b"basic") + b"\x01", "wrong_shape", "inputs[0].data[1]"),
        (_element(b"\xc3"), "wrong_datatype", "inputs[0].data[0]"),
        (_element(b"x" * 9), "value_too_long", "inputs[0].data[0]"),
    ],
)
def test_v2_binary_bytes_elements_are_never_cut_short(blob: bytes, error: str, field: str) -> None:
    from modelport.codecs.v2_binary import attach_binary_inputs
    from modelport.errors import ModelportError

    payload = {
        "inputs": [
            {
                "name": "plan",
                "shape": [2],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(blob)},
            }
        ]
    }
    with pytest.raises(ModelportError) as caught:
        attach_binary_inputs(payload, blob, max_string_bytes=8)
    assert (caught.value.code, caught.value.field, caught.value.status) == (error, field, 422)


def test_v2_binary_bytes_within_bounds_decode() -> None:
    from modelport.codecs.v2_binary import attach_binary_inputs

    blob = _element(b"basic") + _element("prö".encode())
    tensor: dict[str, Any] = {
        "name": "plan",
        "shape": [2],
        "datatype": "BYTES",
        "parameters": {"binary_data_size": len(blob)},
    }
    attach_binary_inputs({"inputs": [tensor]}, blob, max_string_bytes=8)
    assert tensor["data"] == ["basic", "prö"]
