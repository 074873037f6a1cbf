"""The trainer contract: importing, calling and checking what comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression

from modelport.config import Settings
from modelport.errors import ValidationFailed
from modelport.registry.service import Registration
from modelport.retraining.examples import logistic
from modelport.retraining.gather import fingerprint
from modelport.retraining.request import RetrainRequest
from modelport.retraining.trainer import (
    TrainContext,
    TrainerFailed,
    TrainerNotAllowed,
    call_trainer,
    check_model,
    load_trainer,
    require_allowed,
)
from modelport.schema import OutputSpec
from modelport.server import Services

BINARY = OutputSpec(kind="classification", classes=["0", "1"], has_probabilities=True)
HOLDOUT = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})


def test_loading_names_what_is_missing() -> None:
    assert load_trainer("modelport.retraining.examples:logistic") is logistic
    missing = "cannot import trainer module 'no_such_pkg.train': ModuleNotFoundError"
    with pytest.raises(TrainerFailed, match=missing):
        load_trainer("no_such_pkg.train:fit")
    with pytest.raises(TrainerFailed, match="has no function 'fit'"):
        load_trainer("modelport.retraining.examples:fit")
    with pytest.raises(ValidationFailed, match="module:function") as refused:
        load_trainer("examples.logistic")
    assert refused.value.field == "trainer"


def test_a_raising_trainer_is_reported_with_its_error() -> None:
    def broken(features: pd.DataFrame, labels: pd.Series, context: object) -> None:
        raise ValueError("no rows for plan 'pro'")

    with pytest.raises(TrainerFailed, match="raised ValueError: no rows for plan 'pro'"):
        call_trainer("pkg:broken", broken, HOLDOUT, pd.Series(["0"] * 4), None)  # type: ignore[arg-type]


def test_only_allowed_trainers_pass() -> None:
    require_allowed("mypkg.train:fit", ["other:*", "mypkg.train:*"])
    with pytest.raises(TrainerNotAllowed) as refused:
        require_allowed("os:system", [])
    assert refused.value.status == 403 and refused.value.code == "trainer_not_allowed"
    assert refused.value.field == "trainer" and "none" in refused.value.message


def test_what_a_trainer_returns_is_checked_before_anything_is_registered() -> None:
    labels = np.array(["0", "1", "0", "1"])
    fitted = DummyClassifier(strategy="most_frequent").fit(HOLDOUT, labels)
    check_model("pkg:fit", fitted, HOLDOUT, BINARY)

    with pytest.raises(TrainerFailed, match="returned NoneType, which has no predict"):
        check_model("pkg:fit", None, HOLDOUT, BINARY)
    unfitted = DummyClassifier()
    with pytest.raises(TrainerFailed, match="failed on the holdout"):
        check_model("pkg:fit", unfitted, HOLDOUT, BINARY)
    other = DummyClassifier().fit(HOLDOUT, np.array(["0", "1", "2", "2"]))
    with pytest.raises(TrainerFailed, match=r"classes the parent does not \(2;"):
        check_model("pkg:fit", other, HOLDOUT, BINARY)
    regressor = LinearRegression().fit(HOLDOUT, [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(TrainerFailed, match="has no classes_"):
        check_model("pkg:fit", regressor, HOLDOUT, BINARY)
    check_model("pkg:fit", regressor, HOLDOUT, OutputSpec(kind="regression"))
    with pytest.raises(TrainerFailed, match="numbers are needed"):
        check_model("pkg:fit", fitted, HOLDOUT, OutputSpec(kind="regression"))


def test_the_fingerprint_follows_rows_labels_and_their_order() -> None:
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0], "plan": ["a", "b", "c"]})
    labels = pd.Series(["0", "1", "0"])
    same = fingerprint(features.copy(), labels.copy())
    assert fingerprint(features, labels) == same and same.startswith("sha256:")
    assert fingerprint(features, pd.Series(["0", "1", "1"])) != same
    assert fingerprint(features.iloc[::-1].reset_index(drop=True), labels[::-1]) != same
    assert fingerprint(features.rename(columns={"x": "y"}), labels) != same


def test_the_example_trainer_fits_numeric_and_categorical_features(churn_project: Path) -> None:
    services = Services.build(Settings.load(churn_project / "modelport.toml"))
    try:
        parent = services.registry.get("churn", 1)
    finally:
        services.close()
    frame = pd.DataFrame(
        {"tenure": [1.0, 40.0, 3.0, 60.0], "charges": [90.0, 20.0, 95.0, 30.0],
         "plan": ["basic", "pro", "basic", "plus"]}
    )  # fmt: skip
    now = datetime.now(UTC)
    context = TrainContext(
        "churn", parent, parent.input_schema, parent.output, now - timedelta(days=1), now, 1
    )
    model = logistic(frame, pd.Series(["1", "0", "1", "0"]), context)
    check_model("example", model, frame, parent.output)
    assert list(model.predict(frame)) == ["1", "0", "1", "0"]


def test_with_reference_refuses_a_parent_without_labels(churn_project: Path) -> None:
    settings = Settings.load(churn_project / "modelport.toml")
    services = Services.build(settings)
    try:
        unlabelled = pd.read_parquet(churn_project / "train.parquet").drop(columns=["churned"])
        unlabelled.to_parquet(churn_project / "unlabelled.parquet")
        version = services.registry.register(
            Registration(
                name="churn",
                source=str(churn_project / "model.skops"),
                flavor="sklearn",
                reference=churn_project / "unlabelled.parquet",
            )
        )
        services.endpoints.update("churn", primary_version=version.version)
        request = RetrainRequest(
            endpoint="churn", trainer="modelport.retraining.examples:logistic",
            with_reference=True, min_labels=1,
        )  # fmt: skip
        with pytest.raises(ValidationFailed, match="has no labels") as refused:
            services.retrainer.run(request)
        assert refused.value.field == "with_reference"
        assert [v.version for v in services.registry.versions("churn")] == [1, 2]
    finally:
        services.close()
