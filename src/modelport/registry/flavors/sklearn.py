"""scikit-learn estimators: skops files by default, joblib/pickle only when trusted.

A skops file loads only if every type in it is trusted by skops itself (its own default
list) or named by the operator (``--trust-type`` / ``trust_types``); nothing is trusted
by its module prefix, and no function the file names is called unless one of those two
lists holds it. The operator's list is stored with the version and is the one used at
every later load. Pickle executes arbitrary code on load, so it needs ``trust_pickle``.
"""

from __future__ import annotations

import copy
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.errors import ArtifactError, UntrustedTypes
from modelport.registry.flavors.base import Flavor, Inspection, Predictor
from modelport.schema import FeatureSpec, InputSchema, OutputSpec, label_text

# A dotted Python path: ``module.sub.Name`` (what skops reports and compares).
_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def trusted_type_names(names: Iterable[str]) -> list[str]:
    """The operator's trusted types, checked and in a stable order.

    >>> trusted_type_names(["sklearn.tree._tree.Tree", "_operator.neg", "_operator.neg"])
    ['_operator.neg', 'sklearn.tree._tree.Tree']
    """
    checked = set()
    for name in names:
        if not isinstance(name, str) or not _TYPE_NAME.match(name):
            raise ArtifactError(
                f"trusted type {name!r} is not a dotted name such as 'sklearn.tree._tree.Tree'",
                field="trust_types",
            )
        checked.add(name)
    return sorted(checked)


def _refuse_untrusted(path: Path, untrusted: Iterable[str]) -> None:
    refused = sorted(set(untrusted))
    if refused:
        raise UntrustedTypes(
            f"{path.name} contains types that neither skops nor the operator trusts: "
            f"{', '.join(refused)}; pass --trust-type (HTTP: trust_types) for each one "
            "only if you trust the file's author to run that code",
            field="trust_types",
            types=refused,
        )


def _untrusted_types(path: Path, trusted: list[str]) -> list[str]:
    """Types in the skops file at ``path`` that skops' defaults and ``trusted`` lack.

    Only ``schema.json`` is read: nothing is imported or built.
    """
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ArtifactError(f"{path.name} is not a readable skops file: {exc}") from exc
    return [name for name in untrusted if name not in trusted]


def _load_estimator(path: Path, loader: dict[str, Any]) -> Any:
    if loader.get("format") == "pickle":
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:
            raise ArtifactError(f"cannot unpickle {path.name}: {exc}") from exc
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    trusted = list(loader.get("trusted_types", []))
    # The list stored at registration, audited before skops builds anything; refused
    # with the same error as at registration, naming the types.
    _refuse_untrusted(path, _untrusted_types(path, trusted))
    try:
        return sio.load(path, trusted=trusted)
    except UntrustedTypesFoundException as exc:
        raise UntrustedTypes(f"{path.name}: {exc}", field="trust_types") from exc
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise ArtifactError(
            f"{path.name} is not a readable skops file ({exc}); joblib/pickle files need "
            "--trust-pickle"
        ) from exc


def _nested(obj: Any, seen: set[int]) -> Iterator[Any]:
    """Every scikit-learn object reachable from ``obj`` (pipeline steps, transformers...)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
        yield obj
        for value in vars(obj).values():
            yield from _nested(value, seen)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _nested(item, seen)


def matrix_ready(estimator: Any, schema: InputSchema) -> Any | None:
    """A copy of ``estimator`` that takes a float matrix, or None if it needs a frame.

    An estimator fitted on a DataFrame checks column names on every call, and building a
    DataFrame per batch costs several times the prediction itself. When every feature is
    numeric and the fitted names are the schema in order, a copy without the recorded
    names computes the same thing from a plain matrix; the caller verifies that.
    """
    if any(not f.numeric for f in schema.features):
        return None
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:
        return estimator
    if [str(n) for n in fitted] != schema.names:
        return None
    clone = copy.deepcopy(estimator)
    for obj in _nested(clone, set()):
        if "feature_names_in_" in vars(obj):
            delattr(obj, "feature_names_in_")
    return clone


class SklearnPredictor:
    # What answers (``endpoints show`` names it per served version).
    runtime = "sklearn"

    def __init__(self, estimator: Any, schema: InputSchema, output: OutputSpec) -> None:
        self.estimator = estimator
        self.output = output
        self._names = schema.names
        self._classes = getattr(estimator, "classes_", None)
        self._wants_frame = True
        fitted = getattr(estimator, "feature_names_in_", None)
        # The estimator checks column order; the schema may list features differently.
        self._frame_order = (
            [str(n) for n in fitted]
            if fitted is not None and [str(n) for n in fitted] != schema.names
            else None
        )
        fast = matrix_ready(estimator, schema)
        if fast is not None and self._same_answers(fast, schema):
            self.estimator = fast
            self._wants_frame = False

    def _same_answers(self, fast: Any, schema: InputSchema) -> bool:
        if fast is self.estimator:
            return True
        rng = np.random.default_rng(0)
        columns = {name: rng.normal(size=4) for name in schema.names}
        probe = Batch(columns, 4)
        method = "predict_proba" if self.output.has_probabilities else "predict"
        try:
            frame = probe.to_frame()
            if self._frame_order is not None:
                frame = frame[self._frame_order]
            expected = getattr(self.estimator, method)(frame)
            actual = getattr(fast, method)(probe.to_matrix())
        except Exception:
            return False
        expected, actual = np.asarray(expected), np.asarray(actual)
        if expected.dtype.kind == "f":
            # A frame arrives column-major, a matrix row-major: the same sums in another
            # order may differ in the last bit, nothing more.
            return bool(np.allclose(expected, actual, rtol=1e-9, atol=1e-12))
        return bool(np.array_equal(expected, actual))

    def predict(self, batch: Batch) -> Prediction:
        features: Any
        if self._wants_frame:
            features = batch.to_frame()
            if self._frame_order is not None:
                features = features[self._frame_order]
        else:
            features = batch.to_matrix()
        if self.output.has_probabilities and self._classes is not None:
            probabilities = np.asarray(self.estimator.predict_proba(features), dtype=np.float64)
            # The most probable class is what predict() answers for probabilistic
            # classifiers; computing it here saves a second pass through the model.
            return Prediction(self._classes[probabilities.argmax(axis=1)], probabilities)
        outputs = np.asarray(self.estimator.predict(features))
        if self.output.kind == "regression":
            outputs = outputs.astype(np.float64, copy=False)
        return Prediction(outputs, None)


def describe_estimator(estimator: Any) -> Inspection:
    if not hasattr(estimator, "predict"):
        raise ArtifactError(f"{type(estimator).__name__} has no predict(); not an estimator")
    inspection = Inspection()
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        inspection.output = OutputSpec(
            kind="classification",
            classes=[label_text(c) for c in classes],
            has_probabilities=hasattr(estimator, "predict_proba"),
        )
    else:
        inspection.output = OutputSpec(kind="regression")
    names = getattr(estimator, "feature_names_in_", None)
    count = getattr(estimator, "n_features_in_", None)
    if names is not None:
        features = [FeatureSpec(name=str(n), kind="float") for n in names]
        inspection.schema = InputSchema(features=features)
    elif count is not None:
        inspection.schema = InputSchema(
            features=[FeatureSpec(name=f"f{i}", kind="float") for i in range(int(count))]
        )
    return inspection


class SklearnFlavor(Flavor):
    name = "sklearn"

    def inspect(self, path: Path | None, options: dict[str, Any]) -> Inspection:
        if path is None:
            raise ArtifactError("the sklearn flavor needs an artifact file")
        loader: dict[str, Any]
        if zipfile.is_zipfile(path):
            trusted = trusted_type_names(options.get("trusted_types") or [])
            _refuse_untrusted(path, _untrusted_types(path, trusted))
            loader = {"format": "skops", "trusted_types": trusted}
        elif options.get("trust_pickle"):
            loader = {"format": "pickle"}
        else:
            raise ArtifactError(
                f"{path.name} is not a skops file; joblib/pickle files run code when loaded "
                "and need --trust-pickle"
            )
        estimator = _load_estimator(path, loader)
        inspection = describe_estimator(estimator)
        inspection.loader = loader
        return inspection

    def load(
        self, path: Path | None, loader: dict[str, Any], schema: InputSchema, output: OutputSpec
    ) -> Predictor:
        assert path is not None
        return SklearnPredictor(_load_estimator(path, loader), schema, output)
