"""Trainers that ship with modelport, for the docs, the demo and tests.

``modelport retrain churn --trainer modelport.retraining.examples:logistic`` fits a
logistic regression on the parent's features: numeric ones standardised, text ones
one-hot encoded (categories not seen in training are ignored when serving).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelport.retraining.trainer import TrainContext

if TYPE_CHECKING:
    import pandas as pd


def _columns(context: TrainContext) -> ColumnTransformer:
    numeric = [f.name for f in context.schema.features if f.numeric]
    text = [f.name for f in context.schema.features if not f.numeric]
    parts: list[tuple[str, object, list[str]]] = []
    if numeric:
        parts.append(("numeric", StandardScaler(), numeric))
    if text:
        parts.append(("text", OneHotEncoder(handle_unknown="ignore"), text))
    return ColumnTransformer(parts)


def logistic(features: pd.DataFrame, labels: pd.Series, context: TrainContext) -> Pipeline:
    """A logistic regression (a linear regression for a regression endpoint)."""
    if context.output.kind == "regression":
        estimator: object = LinearRegression()
    else:
        estimator = LogisticRegression(max_iter=1000)
    model = Pipeline([("columns", _columns(context)), ("model", estimator)])
    return model.fit(features, labels)
