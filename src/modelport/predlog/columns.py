"""Column names of the prediction log, defined once.

Every reader and writer of logged rows spells columns through this module: the log's
segments, the stored reference sample of a version (the same names, so a reference is
read like a window of the log), exports, and the labels joined to them::

    request_id, row, endpoint, model, version, role, ts, latency_ms, status, error,
    feature.<name>..., prediction | prediction_value, proba.<class>...,
    label, label_value, label_received_at            (joined from feedback)

Monitoring compares a version's outputs under *series names* (``__prediction__``,
``__proba__<class>``) that sit beside feature names in stored series; they map to log
columns here too.

>>> feature("tenure"), proba("1"), output_column("regression")
('feature.tenure', 'proba.1', 'prediction_value')
>>> log_column("__proba__1"), log_column("tenure"), series_name("proba.1")
('proba.1', 'feature.tenure', '__proba__1')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from modelport.schema import OutputSpec

REQUEST_ID = "request_id"
ROW = "row"
ENDPOINT = "endpoint"
MODEL = "model"
VERSION = "version"
ROLE = "role"
TS = "ts"
LATENCY_MS = "latency_ms"
STATUS = "status"
ERROR = "error"
PREDICTION = "prediction"
PREDICTION_VALUE = "prediction_value"
LABEL = "label"
LABEL_VALUE = "label_value"
LABEL_RECEIVED_AT = "label_received_at"
# The endpoint a label was sent for (stored feedback only; not joined to rows).
LABEL_ENDPOINT = "label_endpoint"
FEATURE_PREFIX = "feature."
PROBA_PREFIX = "proba."

META = [REQUEST_ID, ROW, ENDPOINT, MODEL, VERSION, ROLE, TS, LATENCY_MS, STATUS, ERROR]
# A logged row is identified by its request and its row within the request.
KEY = [REQUEST_ID, ROW]
STATUS_OK = "ok"
STATUS_ERROR = "error"

TIMESTAMP = pa.timestamp("us", tz="UTC")
TYPES: dict[str, pa.DataType] = {
    REQUEST_ID: pa.string(),
    ROW: pa.int32(),
    ENDPOINT: pa.string(),
    MODEL: pa.string(),
    VERSION: pa.int32(),
    ROLE: pa.string(),
    TS: TIMESTAMP,
    LATENCY_MS: pa.float64(),
    STATUS: pa.string(),
    ERROR: pa.string(),
    PREDICTION: pa.string(),
    PREDICTION_VALUE: pa.float64(),
    LABEL: pa.string(),
    LABEL_VALUE: pa.float64(),
    LABEL_RECEIVED_AT: TIMESTAMP,
    LABEL_ENDPOINT: pa.string(),
}

# Series names of a version's outputs in monitoring (beside its feature names).
SERIES_PREDICTION = "__prediction__"
SERIES_PROBA_PREFIX = "__proba__"


def feature(name: str) -> str:
    return FEATURE_PREFIX + name


def proba(label: str) -> str:
    return PROBA_PREFIX + label


def is_feature(column: str) -> bool:
    return column.startswith(FEATURE_PREFIX)


def feature_name(column: str) -> str:
    return column.removeprefix(FEATURE_PREFIX)


def output_column(kind: str) -> str:
    """Where a version's answer is logged: the class label, or the regression value."""
    return PREDICTION_VALUE if kind == "regression" else PREDICTION


def output_columns(output: OutputSpec) -> list[str]:
    """A version's logged outputs: its answer, then one probability column per class."""
    names = [output_column(output.kind)]
    if output.has_probabilities:
        names += [proba(label) for label in output.classes]
    return names


def is_output(column: str) -> bool:
    """A version's logged answer: the prediction, its value, or a class probability."""
    return column in (PREDICTION, PREDICTION_VALUE) or column.startswith(PROBA_PREFIX)


def column_type(column: str) -> pa.DataType:
    """The Arrow type of a column in every segment (features: float64 or string, so an
    absent one reads as nulls)."""
    if column in TYPES:
        return TYPES[column]
    if column.startswith(PROBA_PREFIX):
        return pa.float64()
    return pa.null()


def series_output(label: str | None = None) -> str:
    """Series name of the prediction (``label`` None) or of one class's probability."""
    return SERIES_PREDICTION if label is None else SERIES_PROBA_PREFIX + label


def is_series_output(name: str) -> bool:
    return name == SERIES_PREDICTION or name.startswith(SERIES_PROBA_PREFIX)


def log_column(series: str, kind: str = "classification") -> str:
    """The log column holding a monitored series (a feature or an output)."""
    if series == SERIES_PREDICTION:
        return output_column(kind)
    if series.startswith(SERIES_PROBA_PREFIX):
        return proba(series.removeprefix(SERIES_PROBA_PREFIX))
    return feature(series)


def series_name(column: str) -> str:
    """The monitored series of a log column (inverse of :func:`log_column`)."""
    if column in (PREDICTION, PREDICTION_VALUE):
        return SERIES_PREDICTION
    if column.startswith(PROBA_PREFIX):
        return SERIES_PROBA_PREFIX + column.removeprefix(PROBA_PREFIX)
    return feature_name(column)


def empty_table(columns: list[str]) -> pa.Table:
    """A table with no rows but every asked-for column, typed where the type is known."""
    return pa.table({name: pa.array([], column_type(name)) for name in columns})
