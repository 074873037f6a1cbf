"""All-numeric estimators fitted on a DataFrame are fed a float matrix, with equal answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelport.batch import Batch
from modelport.registry.flavors.sklearn import SklearnPredictor, describe_estimator
from modelport.registry.reference import infer_schema


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    features, labels = make_classification(n_samples=500, n_features=20, random_state=0)
    return pd.DataFrame(features, columns=[f"f{i}" for i in range(20)]), labels


def test_frame_fitted_models_take_the_matrix_path_with_the_same_answers() -> None:
    frame, labels = _frame()
    schema = infer_schema(frame, list(frame.columns))
    for model in (LogisticRegression(), make_pipeline(StandardScaler(), LogisticRegression())):
        model.fit(frame, labels)
        predictor = SklearnPredictor(model, schema, describe_estimator(model).output)
        assert not predictor._wants_frame
        got = predictor.predict(Batch.from_frame(frame.head(50), schema))
        np.testing.assert_allclose(
            got.probabilities, model.predict_proba(frame.head(50)), rtol=1e-9, atol=1e-12
        )


def test_reordered_schema_keeps_the_frame_path() -> None:
    frame, labels = _frame()
    model = LogisticRegression().fit(frame, labels)
    schema = infer_schema(frame, list(reversed(frame.columns)))
    predictor = SklearnPredictor(model, schema, describe_estimator(model).output)
    assert predictor._wants_frame
    got = predictor.predict(Batch.from_frame(frame.head(5), schema))
    np.testing.assert_allclose(got.probabilities, model.predict_proba(frame.head(5)))
