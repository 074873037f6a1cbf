"""One logged prediction call, and how it becomes typed columns.

A record covers one request (possibly many rows) and keeps the very arrays the data plane
used, so logging costs a reference, not a copy, on the request path. The columns it
becomes are named in :mod:`modelport.predlog.columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from modelport.batch import Batch, Prediction
from modelport.predlog import columns as col
from modelport.schema import label_text

_EMPTY = Batch({}, 0)


@dataclass(slots=True)
class PredictionRecord:
    request_id: str
    endpoint: str
    model: str
    version: int
    role: str
    ts: float  # seconds since the epoch, when the request arrived
    latency_ms: float
    features: Batch = _EMPTY
    prediction: Prediction | None = None
    classes: Sequence[str] = field(default_factory=tuple)
    kind: str = "classification"
    status: str = "ok"
    error: str | None = None
    # The request's rows these are, when not all of them (a pipeline step that some rows
    # skipped): a label for row 3 of the request must join row 3 here.
    rows: np.ndarray[Any, Any] | None = None

    @property
    def n_rows(self) -> int:
        # A request that failed before decoding still leaves one row behind.
        return max(self.features.n_rows, 1)


def _feature_array(values: list[np.ndarray[Any, Any]]) -> pa.Array:
    joined = np.concatenate(values) if len(values) > 1 else values[0]
    if joined.dtype == object:
        return pa.array(joined, type=pa.string())
    return pa.array(joined.astype(np.float64, copy=False), type=pa.float64())


def records_to_table(records: Sequence[PredictionRecord]) -> pa.Table:
    """Typed columns for records of one endpoint (any mix of versions and roles)."""
    sizes = np.fromiter((r.n_rows for r in records), dtype=np.int64, count=len(records))
    total = int(sizes.sum())

    # Which record each row belongs to: per-record values are repeated by one ``take``
    # in Arrow instead of building a Python object per row.
    owner = pa.array(np.repeat(np.arange(len(records)), sizes))

    def repeat(values: list[Any], arrow_type: pa.DataType) -> pa.Array:
        return pa.array(values, type=arrow_type).take(owner)

    columns: dict[str, pa.Array] = {
        col.REQUEST_ID: repeat([r.request_id for r in records], pa.string()),
        col.ROW: pa.array(
            np.concatenate(
                [
                    np.arange(n) if r.rows is None else r.rows
                    for r, n in zip(records, sizes, strict=True)
                ]
            ),
            type=pa.int32(),
        ),
        col.ENDPOINT: repeat([r.endpoint for r in records], pa.string()),
        col.MODEL: repeat([r.model for r in records], pa.string()),
        col.VERSION: pa.array(np.repeat([r.version for r in records], sizes), type=pa.int32()),
        col.ROLE: repeat([r.role for r in records], pa.string()),
        col.TS: pa.array(
            np.repeat(np.array([r.ts for r in records], dtype=np.float64) * 1e6, sizes).astype(
                "datetime64[us]"
            ),
            type=col.TIMESTAMP,
        ),
        col.LATENCY_MS: pa.array(
            np.repeat([r.latency_ms for r in records], sizes), type=pa.float64()
        ),
        col.STATUS: repeat([r.status for r in records], pa.string()),
        col.ERROR: repeat([r.error for r in records], pa.string()),
    }

    columns.update(_feature_columns(records))

    columns.update(_prediction_columns(records))
    table = pa.table(columns)
    assert table.num_rows == total
    return table


def _prediction_columns(records: Sequence[PredictionRecord]) -> dict[str, pa.Array]:
    """The prediction, its value and each class's probability, for every row."""
    first = records[0]
    predictions = [r.prediction for r in records]
    answered = [p for p in predictions if p is not None and p.probabilities is not None]
    if (
        first.kind != "regression"
        and len(answered) == len(records)
        and all(r.kind == first.kind and r.classes == first.classes for r in records)
        and len({np.asarray(p.outputs).dtype for p in answered}) == 1
    ):
        # The common case, a classifier answering every request of the flush: one
        # concatenate and one conversion for all of them (record by record, the
        # conversions held the interpreter for tens of milliseconds per flush).
        outputs = np.concatenate([np.asarray(p.outputs) for p in answered])
        by_class = np.ascontiguousarray(
            np.concatenate([np.asarray(p.probabilities) for p in answered]).T, dtype=np.float64
        )
        found: dict[str, pa.Array] = {
            col.PREDICTION: pa.array(_label_strings(outputs), type=pa.string()),
            col.PREDICTION_VALUE: pa.nulls(len(outputs), pa.float64()),
        }
        for position, label in enumerate(dict.fromkeys(first.classes)):
            found[col.proba(label)] = pa.array(
                by_class[position], type=pa.float64(), from_pandas=True
            )
        return found
    columns: dict[str, pa.Array] = {}
    labels: list[Any] = []
    values: list[Any] = []
    class_names: dict[str, None] = {}
    for record in records:
        class_names.update(dict.fromkeys(record.classes))
    proba: dict[str, list[np.ndarray[Any, Any]]] = {c: [] for c in class_names}
    for record in records:
        n = record.n_rows
        prediction = record.prediction
        if prediction is None:
            labels.append(np.full(n, None, dtype=object))
            values.append(np.full(n, np.nan))
        elif record.kind == "regression":
            labels.append(np.full(n, None, dtype=object))
            values.append(np.asarray(prediction.outputs, dtype=np.float64))
        else:
            labels.append(_label_strings(np.asarray(prediction.outputs)))
            values.append(np.full(n, np.nan))
        for index, label in enumerate(class_names):
            if prediction is not None and prediction.probabilities is not None:
                position = list(record.classes).index(label) if label in record.classes else -1
                if position >= 0 and index < len(class_names):
                    proba[label].append(prediction.probabilities[:, position])
                    continue
            proba[label].append(np.full(n, np.nan))
    columns[col.PREDICTION] = pa.array(np.concatenate(labels), type=pa.string())
    columns[col.PREDICTION_VALUE] = pa.array(
        np.concatenate(values), type=pa.float64(), from_pandas=True
    )
    for label, parts in proba.items():
        columns[col.proba(label)] = pa.array(
            np.concatenate(parts), type=pa.float64(), from_pandas=True
        )
    return columns


def _feature_columns(records: Sequence[PredictionRecord]) -> dict[str, pa.Array]:
    first = records[0].features
    if first.matrix is not None and all(
        r.features.matrix is not None and r.features.columns.keys() == first.columns.keys()
        for r in records
    ):
        # Requests decoded as one float matrix: one concatenate for all features, turned
        # feature-major so each column reaches Arrow contiguous (a strided column is
        # copied value by value).
        matrix = np.concatenate([r.features.matrix for r in records])
        by_feature = np.ascontiguousarray(matrix.T)
        return {
            col.feature(name): pa.array(by_feature[i], type=pa.float64())
            for i, name in enumerate(first.columns)
        }
    feature_names: dict[str, None] = {}
    for record in records:
        feature_names.update(dict.fromkeys(record.features.columns))
    columns: dict[str, pa.Array] = {}
    for name in feature_names:
        textual = any(
            r.features.columns[name].dtype == object
            for r in records
            if name in r.features.columns and r.features.n_rows
        )
        parts = []
        for record in records:
            column = record.features.columns.get(name)
            if column is None or record.features.n_rows == 0:
                column = (
                    np.full(record.n_rows, None, dtype=object)
                    if textual
                    else np.full(record.n_rows, np.nan)
                )
            parts.append(column)
        columns[col.feature(name)] = _feature_array(parts)
    return columns


def _label_strings(outputs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if outputs.dtype.kind in "iu":  # the common case, vectorised in Arrow
        texts: np.ndarray[Any, Any] = (
            pa.array(outputs).cast(pa.string()).to_numpy(zero_copy_only=False)
        )
        return texts
    return np.array([label_text(v) for v in outputs], dtype=object)
