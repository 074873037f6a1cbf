"""Multivariate drift: can a classifier tell reference rows from current rows?

A classifier two-sample test (Lopez-Paz & Oquab 2017, *Revisiting classifier two-sample
tests*; the domain classifier of Rabanser, Günnemann & Lipton 2019, *Failing loudly*):
half of each side's rows train a classifier to separate reference (0) from current (1);
the other half is held out. Under no drift the held-out scores of the two groups are
exchangeable, so the Mann–Whitney U of current scores against reference scores (Mann &
Whitney 1947; one-sided, greater) gives an exact-in-size p-value, and
``AUC = U / (n_reference · n_current)`` is its effect size (0.5 unchanged, towards 1 moved).
The decision is ``p < alpha`` (0.05), so it depends on how many rows there are: a small
shift is found on many rows and not claimed on few.

Two classifiers are trained on the same split: a logistic regression (standardised
numeric features with missing indicators, one-hot categories), which has by far the most
power for shifts of location, and gradient-boosted trees, which catch changes in how
features go together (a flipped correlation) that a linear score cannot see. Each is
tested on the held-out rows and the smaller p-value, multiplied by two (Bonferroni), is
the p-value; the reported AUC is that classifier's. An optional ``min_auc`` adds a
materiality floor: then drift needs both ``p < alpha`` and ``auc >= min_auc``, and
``decided_by`` says which of the two settled the verdict.

The features the deciding classifier leaned on are measured by permutation importance on
the held-out rows (Breiman 2001): the drop of held-out AUC when a feature's column is
shuffled, as a share of all drops.

Both sides are capped at ``max_rows`` rows and balanced; everything runs on one thread.

>>> import pandas as pd
>>> from modelport.schema import FeatureSpec, InputSchema
>>> schema = InputSchema(features=[FeatureSpec(name="x", kind="float")])
>>> rng = np.random.default_rng(0)
>>> detector = DomainClassifierDrift().fit(pd.DataFrame({"x": rng.normal(size=2_000)}), schema)
>>> result = detector.score(pd.DataFrame({"x": rng.normal(0.2, 1.0, size=2_000)}))
>>> result.drifted, result.p_value < 0.001, result.top_features[0]["feature"]
(True, True, 'x')
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu, rankdata
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from modelport.monitoring.stats.result import Status
from modelport.schema import InputSchema

Columns = pd.DataFrame | dict[str, np.ndarray[Any, Any]]
Matrix = np.ndarray[Any, np.dtype[np.float64]]
DecidedBy = Literal["p_value", "min_auc", "both"]
CLASSIFIERS = ("logistic", "trees")


@dataclass(frozen=True, slots=True)
class MultivariateDrift:
    """``auc`` and ``classifier`` are those of the classifier with the smaller p-value;
    ``p_value`` is Bonferroni-adjusted over ``classifiers`` (each with its raw values)."""

    status: Status
    auc: float | None
    p_value: float | None
    alpha: float
    min_auc: float | None
    drifted: bool | None
    decided_by: DecidedBy | None
    classifier: str | None
    n_reference: int
    n_current: int
    n_train: int = 0
    n_test: int = 0
    classifiers: dict[str, dict[str, float]] = field(default_factory=dict)
    top_features: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DomainClassifierDrift:
    """Held-out classifier AUC with a Mann–Whitney p-value, reference vs current rows."""

    reference_: Matrix
    categories_: dict[str, list[str]]
    names_: list[str]
    numeric_: list[bool]

    def __init__(
        self,
        alpha: float = 0.05,
        min_auc: float | None = None,
        max_rows: int = 5_000,
        min_rows: int = 200,
        top_features: int = 5,
        importance_repeats: int = 3,
        random_state: int = 0,
    ) -> None:
        self.alpha = alpha
        self.min_auc = min_auc
        self.max_rows = max_rows
        self.min_rows = min_rows
        self.top_features = top_features
        self.importance_repeats = importance_repeats
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

    def _encode(self, columns: Columns) -> Matrix:
        """A float matrix: numeric as is (infinities missing), categories as reference
        codes (unseen = -1, missing = NaN)."""
        encoded = []
        for name, numeric in zip(self.names_, self.numeric_, strict=True):
            values = np.asarray(columns[name])
            if numeric:
                numbers = values.astype(np.float64)
                encoded.append(np.where(np.isfinite(numbers), numbers, np.nan))
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
                "not_enough_data", None, None, self.alpha, self.min_auc, None, None, None,
                len(self.reference_), len(current_rows),
                message=f"not enough data (n={size}, need {self.min_rows})",
            )  # fmt: skip
        # Equal class sizes; both sides were shuffled, so the first half of each trains.
        n_train = size // 2
        reference, window = self.reference_[:size], current_rows[:size]
        train = np.vstack([reference[:n_train], window[:n_train]])
        test = np.vstack([reference[n_train:], window[n_train:]])
        train_labels = np.repeat([0, 1], n_train)
        test_labels = np.repeat([0, 1], size - n_train)
        models = {name: self._model(name) for name in CLASSIFIERS}
        tested: dict[str, dict[str, float]] = {}
        # One thread (BLAS and OpenMP): on a busy server OpenMP spin-waiting made fits 20x slower.
        with threadpool_limits(limits=1), warnings.catch_warnings():
            # An unconverged fit is still a fixed function of the training half: the test
            # on the held-out half stays valid.
            warnings.simplefilter("ignore", ConvergenceWarning)
            for name, model in models.items():
                model.fit(train, train_labels)
                tested[name] = held_out_test(model.predict_proba(test)[:, 1], test_labels)
            decider = min(CLASSIFIERS, key=lambda name: (tested[name]["p_value"], name))
            leaned = self._importance(models[decider], test, test_labels)
        p_value = min(1.0, len(CLASSIFIERS) * tested[decider]["p_value"])
        auc = tested[decider]["auc"]
        drifted, decided_by = self._decide(auc, p_value)
        return MultivariateDrift(
            "ok", auc, p_value, self.alpha, self.min_auc, drifted, decided_by, decider,
            len(self.reference_), len(current_rows), n_train, size - n_train, tested, leaned,
            self._message(auc, p_value, decider, drifted, decided_by),
        )  # fmt: skip

    def _model(self, name: str) -> Pipeline | HistGradientBoostingClassifier:
        if name == "trees":
            return HistGradientBoostingClassifier(
                max_iter=50, early_stopping=False, random_state=self.random_state
            )
        numeric = [i for i, is_numeric in enumerate(self.numeric_) if is_numeric]
        categorical = [i for i, is_numeric in enumerate(self.numeric_) if not is_numeric]
        scaled = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
        )
        one_hot = OneHotEncoder(handle_unknown="ignore", max_categories=30)
        encoded = ColumnTransformer(
            [("numeric", scaled, numeric), ("categorical", one_hot, categorical)]
        )
        return make_pipeline(encoded, LogisticRegression(max_iter=300))

    def _importance(
        self,
        model: Pipeline | HistGradientBoostingClassifier,
        test: Matrix,
        labels: np.ndarray[Any, Any],
    ) -> list[dict[str, Any]]:
        """Top features by permutation importance on the held-out rows, with their share
        of the summed AUC drops."""
        rng = np.random.default_rng(self.random_state)
        base = _auc(model.predict_proba(test)[:, 1], labels)
        drops = np.zeros(test.shape[1])
        for column in range(test.shape[1]):
            shuffled = test.copy()
            for _ in range(self.importance_repeats):
                shuffled[:, column] = rng.permutation(test[:, column])
                drops[column] += base - _auc(model.predict_proba(shuffled)[:, 1], labels)
        drops = np.clip(drops / self.importance_repeats, 0.0, None)
        total = float(drops.sum())
        if total <= 0.0:
            return []
        order = np.argsort(-drops, kind="stable")[: self.top_features]
        return [
            {
                "feature": self.names_[i],
                "share": float(drops[i] / total),
                "auc_drop": float(drops[i]),
            }
            for i in order
            if drops[i] > 0.0
        ]

    def _decide(self, auc: float, p_value: float) -> tuple[bool, DecidedBy]:
        if p_value >= self.alpha:
            return False, "p_value"
        if self.min_auc is None:
            return True, "p_value"
        if auc < self.min_auc:
            return False, "min_auc"
        return True, "both"

    def _message(
        self, auc: float, p_value: float, decider: str, drifted: bool, decided_by: DecidedBy
    ) -> str:
        test = f"held-out AUC {auc:.3f} ({decider}), p = {p_value:.3g}"
        if decided_by == "p_value":
            sign = "<" if drifted else ">="
            return f"{test} {sign} alpha {self.alpha:g}: {'drift' if drifted else 'no drift'}"
        if decided_by == "min_auc":
            return (
                f"{test} < alpha {self.alpha:g} but AUC below min_auc {self.min_auc:g}: "
                "a detectable change too small to matter"
            )
        return f"{test} < alpha {self.alpha:g} and AUC >= min_auc {self.min_auc:g}: drift"


def held_out_test(scores: Matrix, labels: np.ndarray[Any, Any]) -> dict[str, float]:
    """AUC = U / (n1·n2) of current (1) against reference (0) scores, with the one-sided
    Mann–Whitney p-value (normal approximation with tie and continuity corrections).

    >>> r = held_out_test(np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.7]), np.array([0, 0, 0, 1, 1, 1]))
    >>> r["auc"], round(r["p_value"], 3)
    (1.0, 0.04)
    """
    current, reference = scores[labels == 1], scores[labels == 0]
    result = mannwhitneyu(current, reference, alternative="greater", method="asymptotic")
    return {
        "auc": float(result.statistic) / (len(current) * len(reference)),
        "p_value": float(result.pvalue),
    }


def _auc(scores: Matrix, labels: np.ndarray[Any, Any]) -> float:
    """ROC AUC from ranks (ties count one half), as ``sklearn.metrics.roc_auc_score``."""
    ranks = rankdata(scores)
    positives = labels == 1
    n_positive, n_negative = int(positives.sum()), int((~positives).sum())
    u = float(ranks[positives].sum()) - n_positive * (n_positive + 1) / 2
    return u / (n_positive * n_negative)


def _sample(matrix: Matrix, max_rows: int, rng: np.random.Generator) -> Matrix:
    if len(matrix) <= max_rows:
        return matrix[rng.permutation(len(matrix))]
    return matrix[rng.choice(len(matrix), max_rows, replace=False)]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
