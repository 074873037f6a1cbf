"""Reference data: reading what a user registers, inferring an input schema from it, and
the sample a version stores of it.

The stored sample (at most ``REFERENCE_SAMPLE_ROWS`` rows, with the model's own answers)
names its columns as the prediction log does (:mod:`modelport.predlog.columns`):
``feature.<name>``, ``prediction`` or ``prediction_value``, ``proba.<class>`` and the
target as ``label`` or ``label_value``, so a reference is read like a window of the log.
Samples stored before kept the user's names for features and target and the series
names ``__prediction__`` / ``__proba__<class>`` for the outputs; they read the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelport.batch import Prediction
from modelport.errors import ReferenceDataError
from modelport.predlog import columns as col
from modelport.schema import FeatureKind, FeatureSpec, InputSchema, OutputSpec, label_text

MAX_INFERRED_CATEGORIES = 1000


def read_reference(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceDataError(f"reference file {path} does not exist", field="reference")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame: pd.DataFrame = pq.read_table(path).to_pandas()
            return frame
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path)
    except (pa.ArrowException, OSError, ValueError, pd.errors.ParserError) as exc:
        raise ReferenceDataError(f"cannot read reference file {path}: {exc}") from exc
    raise ReferenceDataError(f"reference file {path} must be .parquet or .csv", field="reference")


def infer_kind(series: pd.Series) -> FeatureKind:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "category"


def infer_schema(frame: pd.DataFrame, columns: list[str]) -> InputSchema:
    """Kinds, known categories and whether missing values occur, column by column.

    >>> frame = pd.DataFrame({"age": [31, 45], "plan": ["pro", None]})
    >>> schema = infer_schema(frame, ["age", "plan"])
    >>> [(f.name, f.kind, f.nullable, f.categories) for f in schema.features]
    [('age', 'int', False, []), ('plan', 'category', True, ['pro'])]
    """
    features: list[FeatureSpec] = []
    for name in columns:
        series = frame[name]
        kind = infer_kind(series)
        categories: list[str] = []
        if kind == "category":
            values = series.dropna().astype(str).unique()
            categories = sorted(values.tolist())[:MAX_INFERRED_CATEGORIES]
        features.append(
            FeatureSpec(
                name=str(name),
                kind=kind,
                nullable=bool(series.isna().any()),
                categories=categories,
            )
        )
    return InputSchema(features=features)


def sample_rows(frame: pd.DataFrame, limit: int, seed: int = 0) -> pd.DataFrame:
    """At most ``limit`` rows, drawn without replacement, in their original order."""
    if len(frame) <= limit:
        return frame.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(frame), size=limit, replace=False))
    return frame.iloc[keep].reset_index(drop=True)


def label_column(kind: str) -> str:
    """Where the target of a sample is kept: a class label, or a regression value."""
    return col.LABEL_VALUE if kind == "regression" else col.LABEL


def sample_table(
    sample: pd.DataFrame,
    schema: InputSchema,
    target: str | None,
    prediction: Prediction,
    output: OutputSpec,
) -> pa.Table:
    """The sample as stored, its columns named as in the prediction log."""
    frame = pd.DataFrame({col.feature(name): sample[name] for name in schema.names})
    if target is not None:
        values = sample[target]
        if output.kind == "regression":
            frame[col.LABEL_VALUE] = pd.to_numeric(values, errors="coerce").astype(np.float64)
        else:
            frame[col.LABEL] = [None if pd.isna(v) else label_text(v) for v in values]
    answer = col.output_column(output.kind)
    if output.kind == "regression":
        frame[answer] = np.asarray(prediction.outputs, dtype=np.float64)
    else:
        frame[answer] = [label_text(v) for v in prediction.outputs]
    if prediction.probabilities is not None:
        for index, label in enumerate(output.classes):
            frame[col.proba(label)] = prediction.probabilities[:, index]
    return pa.Table.from_pandas(frame, preserve_index=False)


def sample_columns(stored: Iterable[str], kind: str, target: str | None) -> dict[str, str]:
    """Each column of a stored sample by its log name, mapped to its name in the file
    (the same name, or the one a sample stored under the earlier names has)."""
    names = list(stored)
    if col.SERIES_PREDICTION not in names:
        return {name: name for name in names}
    return {
        label_column(kind) if name == target else col.log_column(name, kind): name for name in names
    }


def read_sample(path: Path, kind: str, target: str | None) -> pa.Table:
    """A stored sample with its columns under their log names, whichever names it has."""
    table = pq.read_table(path)
    where = sample_columns(table.column_names, kind, target)
    return table.select(list(where.values())).rename_columns(list(where))
