"""The ONNX fast path: checked at registration, recorded, switchable, same answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelport.batch import Batch
from modelport.errors import ModelNotFound, ValidationFailed, VersionNotFound
from modelport.registry.endpoints import EndpointStore
from modelport.registry.fast_path import FastPathPredictor, compare
from modelport.registry.fast_paths import FastPaths
from modelport.registry.flavors.sklearn import SklearnPredictor
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registration, Registry
from modelport.schema import OutputSpec


def _data(kind: str, n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    if kind == "regression":
        x, y = make_regression(n_samples=n, n_features=6, noise=1.0, random_state=seed)
    else:
        x, y = make_classification(
            n_samples=n, n_features=6, n_informative=4, n_classes=3, random_state=seed
        )
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(6)]), y


def _register(
    registry: Registry,
    folder: Path,
    name: str,
    model: Any,
    kind: str = "classification",
    *,
    labels: np.ndarray[Any, Any] | None = None,
    reference: bool = True,
    trusted: list[str] | None = None,
) -> ModelVersion:
    frame, y = _data(kind)
    if labels is not None:
        y = labels[np.asarray(y) % len(labels)]
    model.fit(frame, y)
    path = folder / f"{name}.skops"
    sio.dump(model, path)
    ref = folder / f"{name}.parquet"
    frame.assign(y=y).to_parquet(ref)
    return registry.register(
        Registration(
            name=name,
            source=str(path),
            flavor="sklearn",
            reference=ref if reference else None,
            target="y" if reference else None,
            trusted_types=trusted or [],
        )
    )


def _answers(registry: Registry, version: ModelVersion, rows: int = 64) -> tuple[Any, Any]:
    frame, _ = _data(version.output.kind, n=rows, seed=7)
    batch = Batch.from_frame(frame, version.input_schema)
    fast = registry.load(version).predict(batch)
    slow = registry.flavor_predictor(version).predict(batch)
    return fast, slow


@pytest.mark.parametrize(
    ("name", "model", "kind"),
    [
        ("logistic", LogisticRegression(max_iter=500), "classification"),
        ("forest", RandomForestClassifier(n_estimators=10, random_state=0), "classification"),
        (
            "scaled",
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            "classification",
        ),
        ("ridge", Ridge(), "regression"),
    ],
)
def test_convertible_models_pass_and_serve_on_onnx_with_the_same_answers(
    registry: Registry, tmp_path: Path, name: str, model: Any, kind: str
) -> None:
    trusted = ["sklearn.tree._tree.Tree"] if name == "forest" else None
    version = _register(registry, tmp_path, name, model, kind, trusted=trusted)
    state = version.fast_path
    assert state is not None
    assert state["status"] == "passed", state
    assert state["enabled"] is True
    assert state["rows"] == 400
    assert state["max_abs_diff"] is not None and state["max_abs_diff"] <= 1e-6
    assert state["versions"]["skl2onnx"] and state["opsets"]
    stored = registry.artifacts.verified(state["artifact_path"], state["artifact_sha256"])
    assert stored.read_bytes()[:2] != b"PK"  # the ONNX model, not the skops original

    predictor = registry.load(version)
    assert isinstance(predictor, FastPathPredictor)
    fast, slow = _answers(registry, version)
    assert fast.outputs.dtype == slow.outputs.dtype
    if kind == "regression":
        np.testing.assert_allclose(fast.outputs, slow.outputs, rtol=1e-6, atol=1e-6)
        assert fast.probabilities is None
    else:
        np.testing.assert_array_equal(fast.outputs, slow.outputs)
        assert fast.probabilities is not None and slow.probabilities is not None
        assert fast.probabilities.shape == slow.probabilities.shape
        np.testing.assert_allclose(fast.probabilities, slow.probabilities, atol=1e-6, rtol=0)
    assert version.to_dict()["fast_path"]["runtime"] == "onnx"
    assert "artifact_path" not in version.to_dict()["fast_path"]


def test_string_labels_keep_their_values_and_dtype(registry: Registry, tmp_path: Path) -> None:
    labels = np.array(["gold", "silver", "bronze"], dtype=object)
    version = _register(
        registry, tmp_path, "medals", LogisticRegression(max_iter=500), labels=labels
    )
    assert version.fast_path is not None and version.fast_path["status"] == "passed"
    fast, slow = _answers(registry, version)
    assert fast.outputs.dtype == slow.outputs.dtype == object
    assert list(fast.outputs) == list(slow.outputs)


def test_unconvertible_model_is_recorded_and_served_by_sklearn(
    registry: Registry, tmp_path: Path
) -> None:
    model = make_pipeline(FunctionTransformer(np.tanh), LogisticRegression(max_iter=500))
    version = _register(registry, tmp_path, "custom", model, trusted=["numpy.tanh"])
    state = version.fast_path
    assert state is not None
    assert state["status"] == "unavailable"
    assert "FunctionTransformer" in state["reason"]
    assert "artifact_path" not in state
    assert isinstance(registry.load(version), SklearnPredictor)
    assert version.to_dict()["fast_path"]["runtime"] == "sklearn"


def test_without_a_reference_the_check_says_why(registry: Registry, tmp_path: Path) -> None:
    version = _register(registry, tmp_path, "plain", LogisticRegression(), reference=False)
    assert version.fast_path is not None
    assert version.fast_path["status"] == "unavailable"
    assert "reference" in version.fast_path["reason"]
    assert isinstance(registry.load(version), SklearnPredictor)


def test_categorical_features_are_not_converted(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    model, reference = churn_files
    version = registry.register(
        Registration(
            name="churn", source=str(model), flavor="sklearn", reference=reference,
            target="churned",
        )
    )  # fmt: skip
    assert version.fast_path is not None
    assert version.fast_path["status"] == "unavailable"
    assert "plan" in version.fast_path["reason"]


def test_disagreement_fails_the_check() -> None:
    output = OutputSpec(kind="classification", classes=["0", "1"], has_probabilities=True)
    from modelport.batch import Prediction

    labels = np.array([0, 1, 1])
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    ok, why, diff = compare(Prediction(labels, p), Prediction(labels, p + 1e-9), output)
    assert ok and why is None and diff is not None and diff < 1e-6
    ok, why, diff = compare(Prediction(labels, p), Prediction(labels, p + 1e-5), output)
    assert not ok and why is not None and "probabilities differ" in why
    flipped = np.array([0, 1, 0])
    ok, why, _ = compare(Prediction(labels, p), Prediction(flipped, p), output)
    assert not ok and why == "1 of 3 labels differ"
    regression = OutputSpec(kind="regression")
    values = np.array([1e6, 0.0, -3.0])
    ok, _, _ = compare(Prediction(values), Prediction(values * (1 + 1e-9)), regression)
    assert ok
    ok, why, _ = compare(Prediction(values), Prediction(values + 1e-3), regression)
    assert not ok and why is not None and "2 of 3 values" in why


def test_switching_off_and_on_changes_what_loads_and_bumps_endpoints(
    registry: Registry, tmp_path: Path
) -> None:
    version = _register(registry, tmp_path, "logistic", LogisticRegression(max_iter=500))
    endpoints = EndpointStore(registry.db, registry)
    endpoints.create("scorer", "logistic", 1)
    before = endpoints.get("scorer").revision
    paths = FastPaths(endpoints)

    off, moved = paths.set_enabled("logistic", 1, False, actor="tester")
    assert moved == ["scorer"]
    assert endpoints.get("scorer").revision == before + 1
    assert off.fast_path is not None and off.fast_path["enabled"] is False
    assert off.fast_path["status"] == "passed"  # the check stays recorded
    assert isinstance(registry.load(off), SklearnPredictor)
    assert registry.runtime_changed(version)
    assert not registry.runtime_changed(off)

    again, moved = paths.set_enabled("logistic", 1, False)
    assert moved == []  # no change, no reload
    assert endpoints.get("scorer").revision == before + 1

    on, moved = paths.set_enabled("logistic", 1, True)
    assert moved == ["scorer"]
    assert isinstance(registry.load(on), FastPathPredictor)
    history = [entry["action"] for entry in endpoints.history("scorer")]
    assert history.count("fast-path") == 2


def test_recheck_keeps_the_switch_and_records_a_new_check(
    registry: Registry, tmp_path: Path
) -> None:
    version = _register(registry, tmp_path, "logistic", LogisticRegression(max_iter=500))
    assert version.fast_path is not None
    paths = FastPaths(EndpointStore(registry.db, registry))
    paths.set_enabled("logistic", 1, False)
    checked, moved = paths.recheck("logistic", 1)
    assert moved == []
    assert checked.fast_path is not None
    assert checked.fast_path["enabled"] is False
    assert checked.fast_path["status"] == "passed"
    assert checked.fast_path["checked_at"] > version.fast_path["checked_at"]
    state = checked.fast_path
    assert registry.artifacts.verified(state["artifact_path"], state["artifact_sha256"])
    assert isinstance(registry.load(checked), SklearnPredictor)  # still switched off


def test_bad_requests_name_the_field(
    registry: Registry, tmp_path: Path, predictor_file: Path
) -> None:
    _register(registry, tmp_path, "logistic", LogisticRegression(max_iter=500))
    paths = FastPaths(EndpointStore(registry.db, registry))
    with pytest.raises(VersionNotFound) as missing:
        paths.set_enabled("logistic", 9, False)
    assert missing.value.field == "version"
    with pytest.raises(ModelNotFound):
        paths.recheck("nobody", 1)
    registry.register(
        Registration(name="rule", source=f"{predictor_file}:Threshold", flavor="python",
                     trust_code=True)
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as flavor:
        paths.set_enabled("rule", 1, True)
    assert flavor.value.field == "version"
    assert "python" in flavor.value.message


def test_a_damaged_converted_model_falls_back_to_sklearn(
    registry: Registry, tmp_path: Path
) -> None:
    version = _register(registry, tmp_path, "logistic", LogisticRegression(max_iter=500))
    assert version.fast_path is not None
    registry.artifacts.path(version.fast_path["artifact_path"]).write_bytes(b"not onnx")
    # The digest no longer matches: scikit-learn (verified) answers, the same answers.
    predictor = registry.load(version)
    assert isinstance(predictor, SklearnPredictor)
