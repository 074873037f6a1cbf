"""scikit-learn estimators: skops files by default, joblib/pickle only when trusted.

skops refuses to instantiate types it does not know; types from scikit-learn and numpy
themselves are accepted here, anything else must be named with ``trusted_types``.
Pickle executes arbitrary code on load, so it needs an explicit ``trust_pickle``.
"""

from __future__ import annotations

import copy
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.errors import ArtifactError
from modelport.registry.flavors.base import Flavor, Inspection, Predictor
from modelport.schema import FeatureSpec, InputSchema, OutputSpec, label_text

_SAFE_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.")


def _load_estimator(path: Path, loader: dict[str, Any]) -> Any:
    if loader.get("format") == "pickle":
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:
            raise ArtifactError(f"cannot unpickle {path.name}: {exc}") from exc
    import skops.io as sio

    try:
        return sio.load(path, trusted=list(loader.get("trusted_types", [])))
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
            import skops.io as sio

            try:
                untrusted = sio.get_untrusted_types(file=path)
            except Exception as exc:
                raise ArtifactError(f"{path.name} is not a readable skops file: {exc}") from exc
            allowed = set(options.get("trusted_types") or [])
            refused = [
                t for t in untrusted if not t.startswith(_SAFE_MODULE_PREFIXES) and t not in allowed
            ]
            if refused:
                raise ArtifactError(
                    f"{path.name} contains types skops does not trust: {', '.join(refused)}; "
                    "pass --trust-type for each if you trust them"
                )
            loader = {"format": "skops", "trusted_types": list(untrusted)}
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
