"""Multivariate drift: can a classifier tell reference rows from current rows?

A domain classifier (Lipton, Wang & Smola 2018, *Detecting and correcting for label
shift*; Rabanser, Günnemann & Lipton 2019, *Failing loudly*) is trained to separate a
sample of reference rows from a sample of current rows. Its cross-validated ROC AUC is
0.5 when the two are indistinguishable and grows with any change in the joint
distribution, including ones no single feature shows (a flipped correlation). Gradient
boosted trees handle missing values and capture interactions without feature scaling.

Both samples are capped at ``max_rows`` rows and balanced, so the AUC does not depend on
traffic volume; drift is declared at ``auc >= threshold`` (default 0.55; under no drift
the cross-validated AUC stays near or below 0.5).

>>> import pandas as pd
>>> from modelport.schema import FeatureSpec, InputSchema
>>> schema = InputSchema(features=[FeatureSpec(name="x", kind="float")])
>>> rng = np.random.default_rng(0)
>>> detector = DomainClassifierDrift().fit(pd.DataFrame({"x": rng.normal(size=2_000)}), schema)
>>> detector.score(pd.DataFrame({"x": rng.normal(2.0, 1.0, size=2_000)})).drifted
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

from modelport.monitoring.stats.result import Status
from modelport.schema import InputSchema

Columns = pd.DataFrame | dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True, slots=True)
class MultivariateDrift:
    status: Status
    auc: float | None
    auc_std: float | None
    threshold: float
    drifted: bool | None
    n_reference: int
    n_current: int
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DomainClassifierDrift:
    """Cross-validated AUC of a reference-vs-current classifier."""

    reference_: np.ndarray[Any, np.dtype[np.float64]]
    categories_: dict[str, list[str]]
    names_: list[str]
    numeric_: list[bool]

    def __init__(
        self,
        threshold: float = 0.55,
        max_rows: int = 5_000,
        min_rows: int = 200,
        n_splits: int = 3,
        random_state: int = 0,
    ) -> None:
        self.threshold = threshold
        self.max_rows = max_rows
        self.min_rows = min_rows
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(self, reference: Columns, schema: InputSchema) -> DomainClassifierDrift:
        self.names_ = schema.names
        self.numeric_ = [spec.numeric for spec in schema.features]
        self.categories_ = {
            spec.name: sorted({str(v) for v in reference[spec.name] if not _missing(v)})
            for spec in schema.features
            if not spec.numeric
        }
        rng = np.random.default_rng(self.random_state)
        self.reference_ = _sample(self._encode(reference), self.max_rows, rng)
        return self

    def _encode(self, columns: Columns) -> np.ndarray[Any, np.dtype[np.float64]]:
        """A float matrix: numeric as is, categories as reference codes (unseen = -1)."""
        encoded = []
        for name, numeric in zip(self.names_, self.numeric_, strict=True):
            values = np.asarray(columns[name])
            if numeric:
                encoded.append(values.astype(np.float64))
                continue
            series = pd.Series(values, dtype=object)
            codes = pd.Index(self.categories_[name], dtype=object).get_indexer(
                pd.Index(series.astype(str))
            )
            encoded.append(np.where(series.isna(), np.nan, codes).astype(np.float64))
        return np.column_stack(encoded) if encoded else np.empty((0, 0))

    def score(self, current: Columns) -> MultivariateDrift:
        rng = np.random.default_rng(self.random_state + 1)
        current_rows = _sample(self._encode(current), self.max_rows, rng)
        size = min(len(self.reference_), len(current_rows))
        if size < self.min_rows:
            return MultivariateDrift(
                "not_enough_data", None, None, self.threshold, None,
                len(self.reference_), len(current_rows),
                f"not enough data (n={size}, need {self.min_rows})",
            )  # fmt: skip
        # Equal class sizes keep the AUC comparable across traffic volumes.
        features = np.vstack([self.reference_[:size], current_rows[:size]])
        labels = np.repeat([0, 1], size)
        model = HistGradientBoostingClassifier(max_iter=50, random_state=self.random_state)
        folds = StratifiedKFold(self.n_splits, shuffle=True, random_state=self.random_state)
        # One OpenMP thread: on a busy server, OpenMP's spin-waiting made the fits 20x slower.
        with threadpool_limits(limits=1, user_api="openmp"):
            scores = cross_val_score(model, features, labels, cv=folds, scoring="roc_auc")
        auc = float(np.mean(scores))
        return MultivariateDrift(
            "ok", auc, float(np.std(scores)), self.threshold, auc >= self.threshold,
            len(self.reference_), len(current_rows),
        )  # fmt: skip


def _sample(
    matrix: np.ndarray[Any, np.dtype[np.float64]], max_rows: int, rng: np.random.Generator
) -> np.ndarray[Any, np.dtype[np.float64]]:
    if len(matrix) <= max_rows:
        return matrix[rng.permutation(len(matrix))]
    return matrix[rng.choice(len(matrix), max_rows, replace=False)]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
