"""The contract every model flavor keeps, checked through the real ``Registry``.

Each flavor (sklearn, onnx, python) x each task it supports (a classifier trained on
iris, a regressor trained on diabetes; both data sets ship with scikit-learn) is trained
at test time, registered with its training data as reference into a SQLite database and
artifact store under ``tmp_path``, loaded back and asked to predict. Whatever the flavor:

- the registered input schema is the training features (names, order, kinds);
- one answer per input row; a classifier answers one of its declared classes and the
  same answer as the model that was trained;
- probabilities have one column per declared class and sum to 1 per row;
- the same batch gives identical answers, twice and after a fresh load;
- a stored artifact that was truncated, overwritten, changed or removed is refused with a
  ``ModelportError`` naming the artifact, before any flavor code reads it, and the
  model's other versions still load and answer as before;
- an artifact that is unreadable from the start is refused at registration by the flavor
  itself with an ``ArtifactError`` and leaves nothing behind.

Trust: pickles need ``trust_pickle``, python predictors ``trust_code`` (the CLI's
``--trust-code``; the HTTP upload refuses ``flavor=python`` with 403 unless the server
allows code uploads and the caller holds an admin token), and what runs afterwards is the
digest-verified copy in the store, never the original file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge

from modelport.batch import Batch, Prediction
from modelport.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ModelportError,
    UntrustedCode,
)
from modelport.registry.flavors import FLAVORS, get_flavor
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registration, Registry
from modelport.schema import label_text

StoreState = tuple[int, int, frozenset[str]]

CLASSIFIER, REGRESSOR = "classifier", "regressor"
CASES = [
    (flavor, kind) for flavor in ("sklearn", "onnx", "python") for kind in (CLASSIFIER, REGRESSOR)
]
CLASSIFIERS = [case for case in CASES if case[1] == CLASSIFIER]
CASE_IDS = [f"{flavor}-{kind}" for flavor, kind in CASES]
CLASSIFIER_IDS = [f"{flavor}-{kind}" for flavor, kind in CLASSIFIERS]
# How far a flavor may drift from the in-memory model it was made from: ONNX computes in
# float32, the others run the very same code.
TOLERANCE = {"sklearn": 1e-9, "onnx": 1e-4, "python": 1e-12}
PROBABILITY_SUM_TOLERANCE = 1e-6


def test_every_registered_flavor_is_covered() -> None:
    assert sorted(FLAVORS) == sorted({flavor for flavor, _ in CASES})


# -- training ---------------------------------------------------------------------------
def iris() -> tuple[pd.DataFrame, pd.Series]:
    """150 flowers, 4 float features (names with spaces), 3 string classes."""
    bunch = load_iris(as_frame=True)
    species = pd.Series(bunch.target_names[bunch.target.to_numpy()], name="species")
    return bunch.data, species


def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    """442 patients, 10 features (age and sex as integers, the rest floats)."""
    bunch = load_diabetes(as_frame=True, scaled=False)
    features = bunch.data.astype({"age": "int64", "sex": "int64"})
    return features, bunch.target.rename("progression")


PYTHON_CLASSIFIER = '''"""Nearest centroid, centroids learnt by the test from iris."""
import numpy as np

FEATURES = {features!r}
CENTROIDS = np.array({centroids!r})


class NearestCentroid:
    classes = {classes!r}

    def _scores(self, frame):
        x = frame[FEATURES].to_numpy(dtype=float)
        return -((x[:, None, :] - CENTROIDS[None, :, :]) ** 2).sum(axis=2)

    def predict(self, frame):
        return np.asarray(self.classes, dtype=object)[self._scores(frame).argmax(axis=1)]

    def predict_proba(self, frame):
        scores = self._scores(frame)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)
'''

PYTHON_REGRESSOR = '''"""Least squares, coefficients learnt by the test from diabetes."""
import numpy as np

FEATURES = {features!r}
COEFFICIENTS = np.array({coefficients!r})
INTERCEPT = {intercept!r}


class LeastSquares:
    output_kind = "regression"

    def predict(self, frame):
        return frame[FEATURES].to_numpy(dtype=float) @ COEFFICIENTS + INTERCEPT
'''


def import_file(path: Path, attr: str) -> Any:
    """The predictor in ``path``, imported the plain Python way (the model as trained)."""
    name = f"contract_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return getattr(module, attr)()


Answers = Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray | None]]


def train(
    flavor: str, kind: str, features: pd.DataFrame, target: pd.Series, path: Path
) -> tuple[str, Answers]:
    """Fit a model, save it in ``flavor``'s format at ``path``; return the registration
    source and how the in-memory model answers a frame."""
    if flavor == "python":
        columns = [str(c) for c in features.columns]
        x = features.to_numpy(dtype=float)
        if kind == CLASSIFIER:
            classes = sorted(target.unique().tolist())
            centroids = [x[(target == c).to_numpy()].mean(axis=0).tolist() for c in classes]
            source = PYTHON_CLASSIFIER.format(
                features=columns, centroids=centroids, classes=classes
            )
            attr = "NearestCentroid"
        else:
            design = np.column_stack([x, np.ones(len(x))])
            solution = np.linalg.lstsq(design, target.to_numpy(dtype=float), rcond=None)[0]
            source = PYTHON_REGRESSOR.format(
                features=columns,
                coefficients=solution[:-1].tolist(),
                intercept=float(solution[-1]),
            )
            attr = "LeastSquares"
        path = path.with_suffix(".py")
        path.write_text(source)
        user = import_file(path, attr)

        def python_answers(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
            proba = user.predict_proba(frame) if kind == CLASSIFIER else None
            return np.asarray(user.predict(frame)), proba

        return f"{path}:{attr}", python_answers

    estimator: Any = LogisticRegression(max_iter=1000) if kind == CLASSIFIER else Ridge()
    if flavor == "sklearn":
        import skops.io as sio

        estimator.fit(features, target)
        path = path.with_suffix(".skops")
        sio.dump(estimator, path)

        def sklearn_answers(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
            proba = estimator.predict_proba(frame) if kind == CLASSIFIER else None
            return np.asarray(estimator.predict(frame)), proba

        return str(path), sklearn_answers

    assert flavor == "onnx"
    from skl2onnx import to_onnx

    matrix = features.to_numpy(dtype=np.float32)
    estimator.fit(matrix, target.to_numpy())
    path = path.with_suffix(".onnx")
    path.write_bytes(to_onnx(estimator, matrix[:1]).SerializeToString())

    def onnx_answers(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        rows = frame.to_numpy(dtype=np.float32)
        proba = estimator.predict_proba(rows) if kind == CLASSIFIER else None
        return np.asarray(estimator.predict(rows)), proba

    return str(path), onnx_answers


@dataclass(frozen=True)
class Case:
    flavor: str
    kind: str
    features: pd.DataFrame
    target: str
    reference: Path
    source: str
    artifact: Path  # the file the source names
    # Another model of the same flavor and task (fitted on half the rows): other bytes.
    other_source: str
    answers: Answers

    @property
    def name(self) -> str:
        return f"{self.flavor}-{self.kind}"

    @property
    def classes(self) -> list[str]:
        if self.kind == REGRESSOR:
            return []
        frame = pd.read_parquet(self.reference)
        return sorted(label_text(v) for v in frame[self.target].unique())

    def registration(self, source: str | None = None, **options: Any) -> Registration:
        """Registered as its operator would: python code explicitly trusted."""
        options.setdefault("trust_code", self.flavor == "python")
        return Registration(
            name=self.name,
            source=source or self.source,
            flavor=self.flavor,
            reference=self.reference,
            target=self.target,
            **options,
        )


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Case]:
    folder = tmp_path_factory.mktemp("flavor-contract")
    data = {CLASSIFIER: iris(), REGRESSOR: diabetes()}
    references: dict[str, Path] = {}
    for kind, (features, target) in data.items():
        references[kind] = folder / f"{kind}.parquet"
        pd.concat([features, target], axis=1).to_parquet(references[kind])
    built: dict[tuple[str, str], Case] = {}
    for flavor, kind in CASES:
        features, target = data[kind]
        source, answers = train(flavor, kind, features, target, folder / f"{flavor}-{kind}")
        other_source, _ = train(
            flavor, kind, features.iloc[::2], target.iloc[::2], folder / f"{flavor}-{kind}-half"
        )
        built[flavor, kind] = Case(
            flavor=flavor,
            kind=kind,
            features=features,
            target=str(target.name),
            reference=references[kind],
            source=source,
            artifact=Path(source.rpartition(":")[0] if flavor == "python" else source),
            other_source=other_source,
            answers=answers,
        )
    return built


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request: pytest.FixtureRequest, cases: dict[tuple[str, str], Case]) -> Case:
    return cases[request.param]


@pytest.fixture(params=CLASSIFIERS, ids=CLASSIFIER_IDS)
def classifier(request: pytest.FixtureRequest, cases: dict[tuple[str, str], Case]) -> Case:
    return cases[request.param]


def predict(registry: Registry, version: ModelVersion, frame: pd.DataFrame) -> Prediction:
    return registry.load(version).predict(Batch.from_frame(frame, version.input_schema))


def assert_same(first: Prediction, second: Prediction) -> None:
    """Bit for bit: labels, values and probabilities."""
    assert first.outputs.dtype == second.outputs.dtype
    assert np.array_equal(first.outputs, second.outputs)
    if first.probabilities is None or second.probabilities is None:
        assert first.probabilities is None and second.probabilities is None
    else:
        assert np.array_equal(first.probabilities, second.probabilities)


# -- schema and outputs -----------------------------------------------------------------
def test_registered_schema_is_the_training_features(registry: Registry, case: Case) -> None:
    version = registry.register(case.registration())

    kinds = {"f": "float", "i": "int"}
    expected = [(str(n), kinds[dtype.kind]) for n, dtype in case.features.dtypes.items()]
    assert [(f.name, f.kind) for f in version.input_schema.features] == expected
    assert not any(f.nullable for f in version.input_schema.features)
    # The stored record reads back the same.
    assert registry.get(case.name, version.version).input_schema == version.input_schema


def test_declared_output_matches_the_task(registry: Registry, case: Case) -> None:
    version = registry.register(case.registration())

    if case.kind == CLASSIFIER:
        assert version.output.kind == "classification"
        assert version.output.classes == case.classes == ["setosa", "versicolor", "virginica"]
        assert version.output.has_probabilities
    else:
        assert version.output.kind == "regression"
        assert version.output.classes == []
        assert not version.output.has_probabilities


@pytest.mark.parametrize("rows", [slice(0, 1), slice(0, 7), slice(None)], ids=["1", "7", "all"])
def test_one_answer_per_row_as_the_trained_model_answers(
    registry: Registry, case: Case, rows: slice
) -> None:
    version = registry.register(case.registration())
    frame = case.features.iloc[rows]

    prediction = predict(registry, version, frame)
    expected, _ = case.answers(frame)

    assert prediction.outputs.shape == (len(frame),)
    if case.kind == CLASSIFIER:
        labels = [label_text(v) for v in prediction.outputs]
        assert set(labels) <= set(version.output.classes)
        assert labels == [label_text(v) for v in expected]
    else:
        assert prediction.outputs.dtype == np.float64
        assert np.isfinite(prediction.outputs).all()
        assert prediction.probabilities is None
        np.testing.assert_allclose(
            prediction.outputs, expected, rtol=TOLERANCE[case.flavor], atol=0
        )


def test_probabilities_are_one_distribution_per_row_over_the_declared_classes(
    registry: Registry, classifier: Case
) -> None:
    version = registry.register(classifier.registration())
    frame = classifier.features

    prediction = predict(registry, version, frame)
    _, expected = classifier.answers(frame)

    proba = prediction.probabilities
    assert proba is not None and expected is not None
    assert proba.shape == (len(frame), len(version.output.classes))
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=PROBABILITY_SUM_TOLERANCE)
    # Column i is the probability of classes[i]: the answer is the most probable column.
    most_probable = [version.output.classes[i] for i in proba.argmax(axis=1)]
    assert most_probable == [label_text(v) for v in prediction.outputs]
    np.testing.assert_allclose(proba, expected, rtol=0, atol=TOLERANCE[classifier.flavor])


def test_the_same_batch_gets_identical_answers(registry: Registry, case: Case) -> None:
    version = registry.register(case.registration())
    batch = Batch.from_frame(case.features, version.input_schema)
    predictor = registry.load(version)

    first = predictor.predict(batch)
    second = predictor.predict(batch)
    reloaded = registry.load(registry.get(case.name, version.version)).predict(batch)

    assert_same(first, second)
    assert_same(first, reloaded)


# -- damaged artifacts ------------------------------------------------------------------
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path: Path) -> None:
    size = path.stat().st_size
    path.write_bytes(np.random.default_rng(0).bytes(size))


def change_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def remove(path: Path) -> None:
    path.unlink()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "garbage": garbage,
    "one-byte-changed": change_one_byte,
    "removed": remove,
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_stored_artifact_is_refused_and_other_versions_still_work(
    registry: Registry, case: Case, damage: str
) -> None:
    kept = registry.register(case.registration(case.other_source))
    damaged = registry.register(case.registration())
    assert kept.artifact_path != damaged.artifact_path
    kept_before = predict(registry, kept, case.features)
    records_before = registry.versions(case.name)

    DAMAGES[damage](registry.artifacts.path(damaged.artifact_path))
    # The digest is checked before the flavor sees a byte of the file.
    flavor = get_flavor(case.flavor)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(ModelportError) as refused:
        patch.setattr(flavor, "load", lambda *a: pytest.fail("flavor read a bad artifact"))
        registry.load(registry.get(case.name, damaged.version))

    assert isinstance(refused.value, ArtifactIntegrityError)
    assert refused.value.code == "artifact_integrity"
    word = "missing" if damage == "removed" else "corrupt"
    assert f"artifact {damaged.artifact_path} is {word}" in refused.value.message
    # Nothing else changed: the records, the other version's file and its answers.
    assert registry.versions(case.name) == records_before
    assert registry.artifacts.verified(kept.artifact_path, kept.artifact_sha256)
    assert_same(
        predict(registry, registry.get(case.name, kept.version), case.features), kept_before
    )


def test_registering_the_artifact_again_repairs_a_damaged_version(
    registry: Registry, case: Case
) -> None:
    version = registry.register(case.registration())
    expected = predict(registry, version, case.features)
    garbage(registry.artifacts.path(version.artifact_path))

    again = registry.register(case.registration())

    assert again.artifact_path == version.artifact_path
    assert_same(predict(registry, version, case.features), expected)


# A truncated .py file may well still be a valid (different) program: only the digest of
# the stored copy can tell, which the test above checks for every flavor.
UNREADABLE = [
    (flavor, kind, damage)
    for flavor, kind in CASES
    for damage in ("truncated", "garbage")
    if (flavor, damage) != ("python", "truncated")
]
REFUSAL = {
    "sklearn": "skops file",
    "onnx": "is not a loadable ONNX model",
    "python": "cannot load python predictor",
}


@pytest.mark.parametrize(
    ("flavor", "kind", "damage"), UNREADABLE, ids=["-".join(c) for c in UNREADABLE]
)
def test_an_unreadable_artifact_is_refused_by_its_flavor_and_leaves_nothing_behind(
    registry: Registry,
    store_state: Callable[[], StoreState],
    cases: dict[tuple[str, str], Case],
    tmp_path: Path,
    flavor: str,
    kind: str,
    damage: str,
) -> None:
    case = cases[flavor, kind]
    kept = registry.register(case.registration(case.other_source))
    kept_before = predict(registry, kept, case.features)
    broken = tmp_path / f"broken{case.artifact.suffix}"
    broken.write_bytes(case.artifact.read_bytes())
    DAMAGES[damage](broken)
    source = str(broken) + case.source[len(str(case.artifact)) :]  # keeps ":Attr"
    before = store_state()

    with pytest.raises(ModelportError) as refused:
        registry.register(case.registration(source))
    # The load path refuses it the same way (the digest aside).
    with pytest.raises(ModelportError) as refused_on_load:
        get_flavor(flavor).load(broken, kept.loader, kept.input_schema, kept.output)

    for error in (refused.value, refused_on_load.value):
        assert isinstance(error, ArtifactError) and error.code == "artifact_error"
        assert REFUSAL[flavor] in error.message
    assert store_state() == before
    assert_same(predict(registry, kept, case.features), kept_before)


# -- trust ------------------------------------------------------------------------------
def test_a_pickle_needs_trust_pickle(
    registry: Registry, store_state: Callable[[], StoreState], tmp_path: Path
) -> None:
    import joblib

    features, target = iris()
    model = LogisticRegression(max_iter=1000).fit(features, target)
    pickled = tmp_path / "iris.joblib"
    joblib.dump(model, pickled)
    reference = tmp_path / "iris.parquet"
    pd.concat([features, target], axis=1).to_parquet(reference)
    request = Registration(
        name="iris", source=str(pickled), flavor="sklearn", reference=reference, target="species"
    )
    before = store_state()

    with pytest.raises(ArtifactError) as refused:
        registry.register(request)
    assert "--trust-pickle" in refused.value.message
    assert store_state() == before

    request.trust_pickle = True
    version = registry.register(request)
    assert version.loader["format"] == "pickle"
    labels = predict(registry, version, features).outputs
    assert labels.tolist() == model.predict(features).tolist()


def python_case(cases: dict[tuple[str, str], Case]) -> Case:
    return cases["python", CLASSIFIER]


def test_a_python_predictor_needs_trust_code(
    registry: Registry, store_state: Callable[[], StoreState], cases: dict[tuple[str, str], Case]
) -> None:
    """Importing the module runs it: the operator says so explicitly (``--trust-code``).
    The code is then copied into the store under its digest."""
    case = python_case(cases)
    before = store_state()

    with pytest.raises(UntrustedCode) as refused:
        registry.register(case.registration(trust_code=False))
    assert "--trust-code" in refused.value.message
    assert store_state() == before

    version = registry.register(case.registration(trust_code=True))
    digest = hashlib.sha256(case.artifact.read_bytes()).hexdigest()
    assert (version.flavor, version.artifact_sha256) == ("python", digest)
    assert version.artifact_path == registry.artifacts.relative_path(digest)
    assert version.loader == {"attr": "NearestCentroid", "module": None}


def test_the_registered_copy_runs_not_the_original_file(
    registry: Registry, cases: dict[tuple[str, str], Case], tmp_path: Path
) -> None:
    case = python_case(cases)
    original = tmp_path / "predictor.py"
    original.write_text(case.artifact.read_text())
    version = registry.register(case.registration(f"{original}:NearestCentroid"))
    expected = predict(registry, version, case.features)
    marker = tmp_path / "ran"

    original.write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")

    assert_same(predict(registry, version, case.features), expected)
    assert not marker.exists()


def test_tampered_stored_code_is_refused_before_it_runs(
    registry: Registry, cases: dict[tuple[str, str], Case], tmp_path: Path
) -> None:
    case = python_case(cases)
    version = registry.register(case.registration())
    marker = tmp_path / "ran"
    stored = registry.artifacts.path(version.artifact_path)

    stored.write_text(case.artifact.read_text() + f"\nopen({str(marker)!r}, 'w').close()\n")

    with pytest.raises(ArtifactIntegrityError, match="is corrupt"):
        registry.load(version)
    assert not marker.exists()


def test_a_python_predictor_cannot_be_uploaded_over_http_by_default(
    registry: Registry, settings: Any, cases: dict[tuple[str, str], Case]
) -> None:
    """The other half of the rule: by default only the operator registers python code;
    the HTTP admin API refuses it (tests/security covers the setting that allows it)."""
    import asyncio

    import httpx

    from modelport.api.app import create_app

    case = python_case(cases)

    async def upload() -> httpx.Response:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1"
            ) as client:
                return await client.post(
                    f"/v1/models/{case.name}/versions",
                    files={"artifact": (case.artifact.name, case.artifact.read_bytes())},
                    data={"flavor": "python", "attr": "NearestCentroid"},
                )

    response = asyncio.run(upload())

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "upload_not_allowed"
    assert response.json()["field"] == "flavor"
    assert "security.allow_code_upload" in response.json()["message"]
    assert registry.list_models() == []
