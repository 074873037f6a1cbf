"""The newest rows of a real Parquet log: filters applied after reading search backwards
through as many rows as it takes, and a regressor's rows answer numbers."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.batch import Batch, Prediction
from modelport.predlog import columns as col
from modelport.predlog.newest import FILTERED_PAGE, PredictionQuery, newest_predictions
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord

SEGMENTS = 3
ROWS = 1_500  # per segment: the whole log is more than one filtered page


def record(index: int, status: str = "ok", kind: str = "classification") -> PredictionRecord:
    values = np.arange(ROWS, dtype=np.float64) + index * ROWS
    outputs = values * 0.5 if kind == "regression" else np.full(ROWS, "1", dtype=object)
    return PredictionRecord(
        request_id=f"r{index}",
        endpoint="e",
        model="m",
        version=1,
        role="primary",
        ts=1_700_000_000.0 + index,
        latency_ms=2.5,
        features=Batch({"x": values}, ROWS),
        prediction=Prediction(outputs),
        kind=kind,
        status=status,
    )


def labels_table(keys: list[tuple[str, int, str]]) -> pa.Table:
    return pa.table(
        {
            col.REQUEST_ID: pa.array([k[0] for k in keys], pa.string()),
            col.ROW: pa.array([k[1] for k in keys], pa.int32()),
            col.LABEL: pa.array([k[2] for k in keys], pa.string()),
            col.LABEL_RECEIVED_AT: pa.array([1_700_000_100_000_000] * len(keys), col.TIMESTAMP),
        }
    )


def test_a_label_on_the_oldest_row_is_found_past_the_first_page(tmp_path: Path) -> None:
    log = ParquetPredictionLog(tmp_path)
    for index in range(SEGMENTS):
        log.write([record(index)])
    stored = labels_table([("r0", 0, "1")])
    asked: list[set[str]] = []

    def labels_of(ids: Collection[str]) -> pa.Table:
        asked.append(set(ids))
        return stored.filter(pc.is_in(stored[col.REQUEST_ID], pa.array(list(ids))))

    found = newest_predictions(log, labels_of, "e", PredictionQuery(limit=5, labelled=True))
    assert [(r["request_id"], r["row"], r["label"]) for r in found.rows] == [("r0", 0, "1")]
    assert found.scanned == SEGMENTS * ROWS > FILTERED_PAGE and found.exhausted
    # Labels are asked for the requests read, never for all of them at once.
    assert len(asked) > 1 and all(ids for ids in asked)


def test_without_post_filters_one_read_of_limit_rows(tmp_path: Path) -> None:
    log = ParquetPredictionLog(tmp_path)
    for index in range(SEGMENTS):
        log.write([record(index)])
    found = newest_predictions(log, lambda ids: labels_table([]), "e", PredictionQuery(limit=3))
    assert found.scanned == 3 and not found.exhausted
    # The last three rows of the newest request, in the request's order.
    keys = [(r["request_id"], r["row"]) for r in found.rows]
    assert keys == [("r2", 1497), ("r2", 1498), ("r2", 1499)]
    assert [r["inputs"]["x"] for r in found.rows] == [4497.0, 4498.0, 4499.0]


def test_status_filter_and_regression_output(tmp_path: Path) -> None:
    log = ParquetPredictionLog(tmp_path)
    log.write([record(0, kind="regression")])
    log.write([record(1, status="error", kind="regression")])
    ok = newest_predictions(
        log, lambda ids: labels_table([]), "e", PredictionQuery(limit=2, status="ok")
    )
    assert [r["request_id"] for r in ok.rows] == ["r0", "r0"]
    assert ok.rows[0]["output"] == {"prediction": ok.rows[0]["inputs"]["x"] * 0.5}
    # The first page (the failed request and the end of the other) held enough.
    assert ok.scanned == FILTERED_PAGE and not ok.exhausted
