"""Service figures per time bucket straight from a real Parquet log: a regressor's
predictions as mean and percentiles, a classifier's as class counts, each bucket on its
step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from modelport.batch import Batch, Prediction
from modelport.errors import ValidationFailed
from modelport.monitoring.traffic import make_span, service_series
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord

START = datetime(2026, 3, 2, 12, tzinfo=UTC)


def record(
    request_id: str, seconds: float, outputs: list[float] | list[str], kind: str
) -> PredictionRecord:
    rows = len(outputs)
    return PredictionRecord(
        request_id=request_id,
        endpoint="price",
        model="price",
        version=1,
        role="primary",
        ts=(START + timedelta(seconds=seconds)).timestamp(),
        latency_ms=5.0,
        features=Batch({"x": np.arange(rows, dtype=np.float64)}, rows),
        prediction=Prediction(np.asarray(outputs)),
        classes=("a", "b") if kind == "classification" else (),
        kind=kind,
    )


def test_a_regressors_predictions_are_summarised_per_bucket(tmp_path: Path) -> None:
    log = ParquetPredictionLog(tmp_path / "logs")
    log.write(
        [
            record("r1", 5, [1.0, 2.0, 3.0, 4.0, 5.0], "regression"),
            record("r2", 70, [10.0], "regression"),
        ]
    )
    span = make_span(START, START + timedelta(minutes=3), 60)

    body = service_series(log, "price", span, versions=None, roles=["primary"], predictions=True)

    predictions = body["predictions"]
    assert (predictions["kind"], predictions["rows"]) == ("regression", [5, 1, 0])
    assert predictions["mean"] == [3.0, 10.0, None]
    assert predictions["p50"] == [3.0, 10.0, None]
    assert predictions["p10"][0] == pytest.approx(1.4)
    assert predictions["p90"][0] == pytest.approx(4.6)
    assert [b["requests"] for b in body["buckets"]] == [1, 1, 0]


def test_a_classifiers_predictions_are_counted_per_class(tmp_path: Path) -> None:
    log = ParquetPredictionLog(tmp_path / "logs")
    log.write(
        [
            record("c1", 1, ["b", "a", "b"], "classification"),
            record("c2", 61, ["a"], "classification"),
        ]
    )
    span = make_span(START, START + timedelta(minutes=2), 60)

    body = service_series(log, "price", span, versions=None, roles=["primary"], predictions=True)

    assert body["predictions"]["classes"] == ["a", "b"]
    assert body["predictions"]["counts"] == [[1, 2], [1, 0]]


def test_a_span_with_nothing_logged_has_no_prediction_kind(tmp_path: Path) -> None:
    log = ParquetPredictionLog(tmp_path / "logs")
    span = make_span(START, START + timedelta(minutes=2), 60)
    body = service_series(log, "price", span, versions=None, roles=["primary"], predictions=True)
    assert body["predictions"] == {"kind": None, "rows": [0, 0]}
    assert body["totals"]["requests"] == 0


def test_spans_are_validated_and_aligned_to_the_step() -> None:
    span = make_span(START + timedelta(seconds=90), START + timedelta(minutes=10), 60)
    assert (span.start, span.buckets) == (START + timedelta(minutes=1), 9)
    with pytest.raises(ValidationFailed, match="since must be before until"):
        make_span(START, START, 60)
    with pytest.raises(ValidationFailed) as refused:
        make_span(START, START + timedelta(days=30), 60)
    assert refused.value.field == "step"
