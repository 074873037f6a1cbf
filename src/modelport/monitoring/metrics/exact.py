"""Model quality from labelled predictions: the formulas, on plain arrays.

Classification: accuracy; precision, recall and F1 per class and macro-averaged over the
classes that occur (an undefined precision or recall counts 0, as scikit-learn's
``zero_division=0``), and of the positive class (the last of ``classes``) for binary
models; ROC AUC by the Mann–Whitney rank statistic (ties count one half, as
``sklearn.metrics.roc_auc_score``), one-vs-rest macro average for more than two classes;
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
from scipy import stats

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
ObjectArray = np.ndarray[Any, Any]
PROBABILITY_FLOOR = 1e-15


def _ratio(part: float, whole: float) -> float | None:
    return float(part / whole) if whole else None


def classification_metrics(
    y_true: ObjectArray, y_pred: ObjectArray, classes: list[str], proba: FloatArray | None
) -> dict[str, Any]:
    n = len(y_true)
    result: dict[str, Any] = {"n": n, "notes": []}
    if n == 0:
        return result
    result["accuracy"] = float(np.mean(y_true == y_pred))
    labels = list(classes) or sorted({*map(str, y_true), *map(str, y_pred)})
    per_class: dict[str, dict[str, Any]] = {}
    for label in labels:
        predicted, actual = y_pred == label, y_true == label
        hits = float(np.sum(predicted & actual))
        precision = _ratio(hits, float(predicted.sum()))
        recall = _ratio(hits, float(actual.sum()))
        f1 = None
        if precision is not None or recall is not None:
            p, r = precision or 0.0, recall or 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_class[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": int(actual.sum()),
        }
    result["per_class"] = per_class
    # Macro averages over the classes that occur (labelled or predicted), an undefined
    # precision or recall counting 0, as scikit-learn's ``zero_division=0``.
    seen = [v for label, v in per_class.items() if v["support"] or bool(np.any(y_pred == label))]
    for metric in ("precision", "recall", "f1"):
        values = [v[metric] or 0.0 for v in seen]
        result[f"macro_{metric}"] = float(np.mean(values)) if values else None
    if len(labels) == 2:
        positive = labels[-1]
        result["positive_class"] = positive
        for metric in ("precision", "recall", "f1"):
            result[metric] = per_class[positive][metric]
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
    result["mae"] = float(np.mean(np.abs(error)))
    result["rmse"] = float(np.sqrt(np.mean(error**2)))
    result["mean_error"] = float(np.mean(error))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    if n < 2 or total == 0.0:
        result["r2"] = None
        result["notes"].append(f"R² needs at least 2 labels that differ (n={n})")
    else:
        result["r2"] = float(1.0 - np.sum(error**2) / total)
    return result
