"""The columnar batch that flows through the data plane, and what a model answers.

Requests are decoded once into columns (one numpy array per feature, in schema order);
runners concatenate the batches of concurrent requests, predictors consume them, and
the recorder writes the very same arrays to the prediction log.

Numeric features are float64 with NaN for missing; categorical features are object
arrays of ``str`` with ``None`` for missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.schema import InputSchema

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Batch:
    """``columns`` maps feature name to a 1-D array of length ``n_rows``.

    ``matrix``, when set, is the same data as one ``[n_rows, n_features]`` float64 matrix
    (all features numeric, columns in order); the columns are views into it. Decoders build
    it in one numpy call, and matrix-fed models and the log writer use it directly instead
    of assembling columns per batch.
    """

    columns: dict[str, np.ndarray[Any, Any]]
    n_rows: int
    matrix: np.ndarray[Any, np.dtype[np.float64]] | None = None

    @classmethod
    def from_matrix(cls, names: Sequence[str], matrix: np.ndarray[Any, Any]) -> Batch:
        return cls({name: matrix[:, i] for i, name in enumerate(names)}, len(matrix), matrix)

    @classmethod
    def concat(cls, batches: Sequence[Batch]) -> Batch:
        if len(batches) == 1:
            return batches[0]
        names = list(batches[0].columns)
        if all(b.matrix is not None for b in batches):
            return cls.from_matrix(names, np.concatenate([b.matrix for b in batches]))
        columns = {name: np.concatenate([b.columns[name] for b in batches]) for name in names}
        return cls(columns, sum(b.n_rows for b in batches))

    def slice(self, start: int, stop: int) -> Batch:
        if self.matrix is not None:
            return Batch.from_matrix(list(self.columns), self.matrix[start:stop])
        return Batch({k: v[start:stop] for k, v in self.columns.items()}, stop - start)

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd  # here: the command line imports this module without pandas

        return pd.DataFrame(self.columns, copy=False)

    def to_matrix(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """All columns as one float64 matrix in column order (numeric features only)."""
        if self.matrix is not None:
            return self.matrix
        matrix = np.empty((self.n_rows, len(self.columns)), dtype=np.float64)
        for index, column in enumerate(self.columns.values()):
            matrix[:, index] = column
        return matrix

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, schema: InputSchema) -> Batch:
        """Columns of ``frame`` named by ``schema``, coerced to the data-plane dtypes."""
        import pandas as pd

        columns: dict[str, np.ndarray[Any, Any]] = {}
        for feature in schema.features:
            series = frame[feature.name]
            if feature.numeric:
                columns[feature.name] = pd.to_numeric(series, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
            else:
                values = series.astype(object).to_numpy()
                columns[feature.name] = np.array(
                    [None if _missing(v, pd.NA) else str(v) for v in values], dtype=object
                )
        return cls(columns, len(frame))


def _missing(value: object, na: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is na


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a predictor returns for a batch.

    ``outputs`` holds class labels (classification) or float64 values (regression);
    ``probabilities`` is ``[n_rows, n_classes]`` in the order of ``OutputSpec.classes``.
    """

    outputs: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, np.dtype[np.float64]] | None = None

    def slice(self, start: int, stop: int) -> Prediction:
        proba = None if self.probabilities is None else self.probabilities[start:stop]
        return Prediction(self.outputs[start:stop], proba)
