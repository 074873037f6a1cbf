"""The formulas of the performance metrics, once, on counts and sums.

The report counts its labelled rows exactly (:mod:`.exact`); a live window keeps
mergeable counts (:mod:`.counts`). Both hand the same totals to these functions, so a
metric means the same on either path:

* precision, recall and F1 per class from hits, predicted and actual counts; undefined
  (NaN here, ``None`` in answers) when a class was never predicted, never labelled, or
  (F1) both; macro averages over the classes that occur, an undefined value counting 0
  (as scikit-learn's ``zero_division=0``); for binary models the positive class's own;
* MAE, RMSE, the mean error (bias) and R² = 1 − SSE/SST from sums of errors.

>>> hits, predicted, actual = np.array([2, 1]), np.array([3, 1]), np.array([2, 2])
>>> scores = per_class(hits, predicted, actual)
>>> of_class(scores, 1), round(macro(scores, predicted, actual)["macro_f1"], 4)
({'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666}, 0.7333)
>>> regression_scores(n=2, error=1.0, absolute=1.0, squared=1.0, spread=2.0)["r2"]
0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
METRICS = ("precision", "recall", "f1")
# Log loss clips the probability of the true class here (as scikit-learn does).
PROBABILITY_FLOOR = 1e-15


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to divide by."""
    return float(part / whole) if whole else None


def per_class(
    hits: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]
) -> dict[str, FloatArray]:
    """Precision, recall and F1 of each class; NaN where undefined."""
    hits, predicted, actual = (np.asarray(a, dtype=np.float64) for a in (hits, predicted, actual))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(actual > 0, hits / actual, np.nan)
        p, r = np.nan_to_num(precision), np.nan_to_num(recall)
        f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1.0), 0.0)
    f1 = np.where(np.isnan(precision) & np.isnan(recall), np.nan, f1)
    return {"precision": precision, "recall": recall, "f1": f1}


def macro(
    scores: dict[str, FloatArray], predicted: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]
) -> dict[str, float | None]:
    """Macro precision, recall and F1 over the classes that were labelled or predicted."""
    seen = (np.asarray(actual) > 0) | (np.asarray(predicted) > 0)
    result: dict[str, float | None] = {}
    for name in METRICS:
        chosen = np.nan_to_num(scores[name][seen], nan=0.0)
        result[f"macro_{name}"] = float(np.mean(chosen)) if len(chosen) else None
    return result


def of_class(scores: dict[str, FloatArray], index: int) -> dict[str, float | None]:
    """One class's precision, recall and F1 (the positive class of a binary model)."""
    return {name: defined(scores[name][index]) for name in METRICS}


def defined(value: float) -> float | None:
    """A score as answers give it: None instead of NaN."""
    return float(value) if np.isfinite(value) else None


def regression_scores(
    n: float, error: float, absolute: float, squared: float, spread: float
) -> dict[str, float | None]:
    """MAE, RMSE, mean error and R² from the sums of errors, absolute and squared errors
    over ``n`` rows, and ``spread``, the labels' sum of squared deviations (SST)."""
    return {
        "mae": absolute / n,
        "rmse": float(np.sqrt(squared / n)),
        "mean_error": error / n,
        "r2": 1.0 - squared / spread if n > 1 and spread > 0 else None,
    }
