"""Reading reference data and inferring an input schema from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelport.errors import ReferenceDataError
from modelport.schema import FeatureKind, FeatureSpec, InputSchema

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
