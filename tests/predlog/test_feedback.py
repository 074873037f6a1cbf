from __future__ import annotations

from typing import Any

import pytest

from modelport.errors import ValidationFailed
from modelport.predlog.feedback import MAX_ITEMS, FeedbackItem, parse_items


def test_one_object_is_one_item() -> None:
    assert parse_items({"request_id": "r1", "label": 1}) == [FeedbackItem("r1", 1)]


def test_a_list_of_objects() -> None:
    items = parse_items(
        [
            {"request_id": "r1", "label": "yes"},
            {"request_id": "r1", "label": False, "row": 2, "endpoint": "churn"},
        ]
    )

    assert items == [FeedbackItem("r1", "yes"), FeedbackItem("r1", False, 2, "churn")]


def test_an_items_envelope() -> None:
    payload = {"items": [{"request_id": "r1", "label": 0.5}, {"request_id": "r2", "label": 0}]}

    assert [item.request_id for item in parse_items(payload)] == ["r1", "r2"]


GOOD = {"request_id": "ok", "label": 1}


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ([], "items", "non-empty list"),
        ({"items": []}, "items", "non-empty list"),
        ("r1,1", "items", "non-empty list"),
        (None, "items", "non-empty list"),
        ({"items": {"request_id": "r1"}}, "items[0].label", "missing"),
        ([GOOD, GOOD, "r3"], "items[2]", "must be an object"),
        ([GOOD, GOOD, {"label": 1}], "items[2].request_id", "non-empty string"),
        ([GOOD, GOOD, {"request_id": "", "label": 1}], "items[2].request_id", "non-empty"),
        ([GOOD, GOOD, {"request_id": 7, "label": 1}], "items[2].request_id", "string"),
        ([GOOD, GOOD, {"request_id": "x" * 201, "label": 1}], "items[2].request_id", "string"),
        ([GOOD, GOOD, {"request_id": "r3"}], "items[2].label", "missing"),
        ([GOOD, GOOD, {"request_id": "r3", "label": None}], "items[2].label", "string, number"),
        ([GOOD, GOOD, {"request_id": "r3", "label": [1]}], "items[2].label", "string, number"),
        ([GOOD, GOOD, {"request_id": "r3", "label": {"a": 1}}], "items[2].label", "string"),
        ([GOOD, GOOD, {"request_id": "r3", "label": float("nan")}], "items[2].label", "finite"),
        ([GOOD, GOOD, {"request_id": "r3", "label": float("inf")}], "items[2].label", "finite"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": -1}], "items[2].row", "non-neg"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": "0"}], "items[2].row", "integer"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": True}], "items[2].row", "integer"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": 1.5}], "items[2].row", "integer"),
        ([GOOD, GOOD, {"request_id": "r", "label": 1, "endpoint": 3}], "items[2].endpoint", "str"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "lable": 2}], "items[2]", "lable"),
    ],
)
def test_malformed_feedback_is_refused_naming_the_field(
    payload: Any, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_items(payload)

    assert refused.value.field == field
    assert refused.value.code == "validation_error"
    assert message in refused.value.message


def test_too_many_items_are_refused() -> None:
    with pytest.raises(ValidationFailed, match=f"at most {MAX_ITEMS}"):
        parse_items([GOOD] * (MAX_ITEMS + 1))


def test_float_class_labels_join_integer_feedback() -> None:
    """A model trained on float classes predicts 1.0; a label sent as 1 must match it."""
    import numpy as np

    from modelport.batch import Batch, Prediction
    from modelport.predlog.records import PredictionRecord, records_to_table
    from modelport.schema import label_text

    record = PredictionRecord(
        request_id="r",
        endpoint="e",
        model="m",
        version=1,
        role="primary",
        ts=0.0,
        latency_ms=1.0,
        features=Batch({"x": np.array([1.0])}, 1),
        prediction=Prediction(np.array([1.0])),
        classes=["0", "1"],
    )
    assert records_to_table([record])["prediction"].to_pylist() == [label_text(1)] == ["1"]
