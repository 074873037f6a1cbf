"""Holdout metrics, computed by modelport the way monitoring computes them.

The new version and its parent answer the same holdout rows through their serving
predictors; :mod:`~modelport.monitoring.metrics.exact` scores both. Classification keeps
accuracy, macro F1 (and F1 of the positive class for two classes), ROC AUC and log loss
where probabilities allow; regression MAE, RMSE and R².
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.batch import Batch
from modelport.monitoring.metrics.exact import classification_metrics, regression_metrics
from modelport.registry.flavors import Predictor
from modelport.schema import InputSchema, OutputSpec, label_text

if TYPE_CHECKING:
    import pandas as pd

CLASSIFICATION = ("accuracy", "macro_f1", "f1", "roc_auc", "log_loss")
REGRESSION = ("mae", "rmse", "r2")


def holdout_metrics(
    predictor: Predictor,
    features: pd.DataFrame,
    labels: pd.Series,
    schema: InputSchema,
    output: OutputSpec,
) -> dict[str, float]:
    """The metrics of ``predictor`` on the holdout rows (those that can be computed)."""
    prediction = predictor.predict(Batch.from_frame(features, schema))
    if output.kind == "regression":
        truth = labels.to_numpy(dtype=np.float64)
        answers = np.asarray(prediction.outputs, dtype=np.float64)
        return _numbers(regression_metrics(truth, answers), REGRESSION)
    truth = np.array([label_text(v) for v in labels], dtype=object)
    answers = np.array([label_text(v) for v in prediction.outputs], dtype=object)
    found = classification_metrics(truth, answers, list(output.classes), prediction.probabilities)
    return _numbers(found, CLASSIFICATION)


def _numbers(metrics: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    return {
        name: float(metrics[name])
        for name in names
        if isinstance(metrics.get(name), int | float) and np.isfinite(metrics[name])
    }
