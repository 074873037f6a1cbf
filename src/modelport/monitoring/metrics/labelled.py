"""What a table of labelled predictions holds, as the arrays the metrics take.

A labelled table is logged rows joined with their feedback
(:func:`modelport.predlog.reader.join_labels`): the model's answer (``prediction`` or
``prediction_value``, ``proba.<class>``) beside the label (``label`` or ``label_value``)
and when it arrived (``label_received_at``). A column the table lacks reads as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.predlog import columns as col
from modelport.schema import OutputSpec

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Outcomes:
    """Labels and answers (class labels as objects, or regression values as floats), and
    each class's probability where the model gives them."""

    labels: np.ndarray[Any, Any]
    answers: np.ndarray[Any, Any]
    probabilities: FloatArray | None


def outcomes(table: pa.Table, output: OutputSpec) -> Outcomes:
    if output.kind == "regression":
        return Outcomes(floats(table, col.LABEL_VALUE), floats(table, col.PREDICTION_VALUE), None)
    probabilities = None
    if output.has_probabilities and output.classes:
        probabilities = np.column_stack([floats(table, col.proba(c)) for c in output.classes])
    return Outcomes(objects(table, col.LABEL), objects(table, col.PREDICTION), probabilities)


def label_delays(table: pa.Table) -> FloatArray:
    """Seconds from each prediction to its label."""
    delay = pc.subtract(table[col.LABEL_RECEIVED_AT], table[col.TS])
    seconds: FloatArray = pc.divide(pc.cast(delay, pa.int64()), 1e6).to_numpy()
    return seconds


def floats(table: pa.Table, name: str) -> FloatArray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    values: FloatArray = table[name].to_numpy().astype(np.float64)
    return values


def objects(table: pa.Table, name: str) -> np.ndarray[Any, Any]:
    if name not in table.column_names:
        return np.full(table.num_rows, None, dtype=object)
    return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=object)
