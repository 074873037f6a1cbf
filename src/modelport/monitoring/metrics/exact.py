"""Model quality of a report's labelled predictions, exactly, on plain arrays.

Classification: accuracy; precision, recall and F1 per class and macro-averaged over the
classes that occur, and of the positive class (the last of ``classes``) for binary
models (:mod:`.formulas`, shared with the live counts); ROC AUC by the Mann–Whitney
rank statistic (ties count one half, as ``sklearn.metrics.roc_auc_score``),
one-vs-rest macro average for more than two classes;
log loss ``-mean(ln p(true class))`` with probabilities clipped to ``[1e-15, 1]``.
Regression: MAE, RMSE, R² = 1 − SSE/SST and the mean error (bias). A metric that cannot
be computed says why instead of giving NaN.

>>> y = np.array(["0", "1", "1", "0"], dtype=object)
>>> p = np.array(["0", "1", "0", "0"], dtype=object)
>>> proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
>>> m = classification_metrics(y, p, ["0", "1"], proba)
>>> m["accuracy"], m["roc_auc"], round(m["log_loss"], 4)
(0.75, 1.0, 0.4004)
>>> regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 2.5]))["mae"]
0.3333333333333333
"""

from __future__ import annotations

from typing import Any

import numpy as np

# scipy is imported where a statistic needs it: importing it costs ~0.8 s and ~60 MB to
# every process that only names the statistics (alert rules, the CLI, the server).
from modelport.monitoring.metrics.formulas import (
    PROBABILITY_FLOOR,
    macro,
    of_class,
    per_class,
    regression_scores,
)

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
ObjectArray = np.ndarray[Any, Any]


def classification_metrics(
    y_true: ObjectArray, y_pred: ObjectArray, classes: list[str], proba: FloatArray | None
) -> dict[str, Any]:
    n = len(y_true)
    result: dict[str, Any] = {"n": n, "notes": []}
    if n == 0:
        return result
    result["accuracy"] = float(np.mean(y_true == y_pred))
    labels = list(classes) or sorted({*map(str, y_true), *map(str, y_pred)})
    predicted = np.array([np.sum(y_pred == label) for label in labels])
    actual = np.array([np.sum(y_true == label) for label in labels])
    hits = np.array([np.sum((y_pred == label) & (y_true == label)) for label in labels])
    scores = per_class(hits, predicted, actual)
    result["per_class"] = {
        label: {**of_class(scores, index), "support": int(actual[index])}
        for index, label in enumerate(labels)
    }
    result.update(macro(scores, predicted, actual))
    if len(labels) == 2:
        result["positive_class"] = labels[-1]
        result.update(of_class(scores, 1))
    outside = int(np.sum(~np.isin(y_true, labels)))
    if outside:
        result["notes"].append(f"{outside} labels are not among the model's classes")
    if proba is not None and classes:
        result.update(_probabilistic(y_true, list(classes), proba, result["notes"]))
    return result


def _probabilistic(
    y_true: ObjectArray, classes: list[str], proba: FloatArray, notes: list[str]
) -> dict[str, Any]:
    index = {label: i for i, label in enumerate(classes)}
    known = np.isin(y_true, classes)
    rows = np.flatnonzero(known & np.all(np.isfinite(proba), axis=1))
    if len(rows) == 0:
        notes.append("no labelled row has probabilities for its label's class")
        return {"roc_auc": None, "log_loss": None}
    columns = np.array([index[label] for label in y_true[rows]])
    chosen = np.clip(proba[rows, columns], PROBABILITY_FLOOR, 1.0)
    out: dict[str, Any] = {"log_loss": float(-np.mean(np.log(chosen)))}
    if len(classes) == 2:
        out["roc_auc"] = roc_auc(y_true[rows] == classes[1], proba[rows, 1])
    else:
        scores = [roc_auc(y_true[rows] == label, proba[rows, i]) for i, label in enumerate(classes)]
        present = [s for s in scores if s is not None]
        out["roc_auc"] = float(np.mean(present)) if present else None
    if out["roc_auc"] is None:
        notes.append("ROC AUC needs labels of both classes (one-vs-rest: of each class)")
    return out


def roc_auc(positive: np.ndarray[Any, Any], scores: FloatArray) -> float | None:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties ½."""
    from scipy import stats

    n_pos = int(np.sum(positive))
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metrics(y_true: FloatArray, y_pred: FloatArray) -> dict[str, Any]:
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    y_true, y_pred = y_true[keep], y_pred[keep]
    n = len(y_true)
    result: dict[str, Any] = {"n": n, "notes": []}
    if int((~keep).sum()):
        result["notes"].append(f"{int((~keep).sum())} labels or predictions are not numbers")
    if n == 0:
        return result
    error = y_pred - y_true
    spread = float(np.sum((y_true - y_true.mean()) ** 2))
    result.update(
        regression_scores(
            n,
            float(np.sum(error)),
            float(np.sum(np.abs(error))),
            float(np.sum(error**2)),
            spread,
        )
    )
    if result["r2"] is None:
        result["notes"].append(f"R² needs at least 2 labels that differ (n={n})")
    return result
