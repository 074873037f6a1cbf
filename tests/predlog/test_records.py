from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from modelport.batch import Batch, Prediction
from modelport.predlog.columns import META as META_COLUMNS
from modelport.predlog.records import PredictionRecord, records_to_table

MakeRecord = Callable[..., PredictionRecord]


def test_features_become_typed_columns_keeping_missing_values(
    make_record: MakeRecord, make_batch: Callable[..., Batch]
) -> None:
    table = records_to_table([make_record(features=make_batch((3.0, np.nan), ("pro", None)))])

    assert table.schema.field("feature.tenure").type == pa.float64()
    assert table.schema.field("feature.plan").type == pa.string()
    tenure = table["feature.tenure"].to_pylist()
    assert tenure[0] == 3.0 and math.isnan(tenure[1])
    assert table["feature.plan"].to_pylist() == ["pro", None]


def test_meta_columns_are_typed_and_repeated_per_row(make_record: MakeRecord, noon: float) -> None:
    table = records_to_table([make_record("a"), make_record("b", version=2, role="shadow")])

    assert table.column_names[: len(META_COLUMNS)] == META_COLUMNS
    assert table.schema.field("row").type == pa.int32()
    assert table.schema.field("version").type == pa.int32()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table["request_id"].to_pylist() == ["a", "a", "b", "b"]
    assert table["row"].to_pylist() == [0, 1, 0, 1]
    assert table["role"].to_pylist() == ["primary", "primary", "shadow", "shadow"]
    assert {ts.timestamp() for ts in table["ts"].to_pylist()} == {noon}


def test_predictions_are_strings_and_probabilities_one_column_per_class(
    make_record: MakeRecord,
) -> None:
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7]])
    table = records_to_table([make_record(labels=[0, 1], probabilities=probabilities)])

    assert table["prediction"].to_pylist() == ["0", "1"]
    assert table["proba.0"].to_pylist() == [0.8, 0.3]
    assert table["proba.1"].to_pylist() == [0.2, 0.7]
    assert table["prediction_value"].null_count == 2


def test_a_failed_request_without_features_still_logs_one_row(noon: float) -> None:
    failed = PredictionRecord(
        request_id="bad",
        endpoint="churn",
        model="churn",
        version=1,
        role="primary",
        ts=noon,
        latency_ms=0.4,
        status="invalid",
        error="missing_feature",
    )

    table = records_to_table([failed])

    assert table.num_rows == 1
    row = table.to_pylist()[0]
    assert (row["request_id"], row["row"], row["status"], row["error"]) == (
        "bad",
        0,
        "invalid",
        "missing_feature",
    )
    assert row["prediction"] is None


def test_failed_and_successful_records_share_one_table(
    make_record: MakeRecord, noon: float
) -> None:
    failed = PredictionRecord("bad", "churn", "churn", 1, "primary", noon, 0.4, status="error")

    table = records_to_table([make_record("ok"), failed])

    assert table.num_rows == 3
    assert table["feature.plan"].to_pylist() == ["basic", None, None]
    assert math.isnan(table["feature.tenure"].to_pylist()[2])
    assert table["status"].to_pylist() == ["ok", "ok", "error"]


def test_versions_with_different_classes_share_one_segment(make_record: MakeRecord) -> None:
    first = make_record("v1", version=1, classes=("0", "1"), labels=[0, 1])
    second = make_record(
        "v2",
        version=2,
        classes=("no", "maybe", "yes"),
        labels=["yes", "no"],
        probabilities=np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]),
    )

    table = records_to_table([first, second])

    assert {c for c in table.column_names if c.startswith("proba.")} == {
        "proba.0",
        "proba.1",
        "proba.no",
        "proba.maybe",
        "proba.yes",
    }
    assert table["prediction"].to_pylist() == ["0", "1", "yes", "no"]
    assert table["proba.yes"].to_pylist() == [None, None, 0.7, 0.1]
    assert table["proba.0"].to_pylist()[2:] == [None, None]


def test_regression_values_are_numbers(noon: float) -> None:
    record = PredictionRecord(
        "r",
        "price",
        "price",
        1,
        "primary",
        noon,
        1.0,
        Batch({"x": np.array([1.0, 2.0])}, 2),
        Prediction(np.array([10.5, 20.25])),
        kind="regression",
    )

    table = records_to_table([record])

    assert table["prediction_value"].to_pylist() == [10.5, 20.25]
    assert table["prediction"].to_pylist() == [None, None]


def test_one_pass_for_a_classifiers_flush_equals_record_by_record(
    make_record: MakeRecord, noon: float
) -> None:
    """A flush of answered classifier requests is converted in one pass; the same
    records with one failed request among them take the record-by-record path, and
    both write the same rows."""
    rng = np.random.default_rng(3)
    answered = []
    for index in range(40):
        probabilities = rng.dirichlet([1.0, 1.0], size=2)
        labels = list(probabilities.argmax(axis=1))
        answered.append(make_record(f"r{index}", labels=labels, probabilities=probabilities))
    failed = PredictionRecord(
        request_id="failed", endpoint="churn", model="churn", version=1, role="primary",
        ts=noon, latency_ms=1.0, features=answered[0].features, prediction=None,
        classes=answered[0].classes, status="error", error="model_error",
    )  # fmt: skip

    one_pass = records_to_table(answered)
    by_record = records_to_table([*answered, failed]).slice(0, one_pass.num_rows)

    assert one_pass.column_names == by_record.column_names
    predicted = [n for n in one_pass.column_names if n.startswith(("prediction", "proba."))]
    assert predicted == ["prediction", "prediction_value", "proba.0", "proba.1"]
    for name in predicted:
        assert one_pass[name].to_pylist() == by_record[name].to_pylist(), name
    assert one_pass["prediction"].to_pylist()[:2] == [
        str(v) for v in answered[0].prediction.outputs
    ]  # type: ignore[union-attr]
