"""Any Python object with ``predict(batch)`` (and optionally ``predict_proba``).

The entry point is ``path/to/file.py:attr`` (the file is copied into the artifact store
and loaded from there) or ``package.module:attr`` (imported from the environment). A
class is instantiated without arguments. ``predict`` receives a pandas DataFrame with
one column per feature; it may return labels/values, and ``predict_proba`` a
``[N, C]`` array. Optional attributes: ``classes`` (list), ``output_kind``
("classification"/"regression"), ``input_schema`` (list of FeatureSpec dicts).

Importing the module runs its code, so registration needs ``trust_code`` (the CLI's
``--trust-code``), checked before anything is imported. What runs afterwards is the
digest-verified copy in the artifact store, never the original file.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.errors import ArtifactError, UntrustedCode
from modelport.registry.flavors.base import Flavor, Inspection, Predictor
from modelport.schema import FeatureSpec, InputSchema, OutputSpec, label_text


def split_entry_point(source: str) -> tuple[str, str]:
    target, _, attr = source.rpartition(":")
    if not target or not attr:
        raise ArtifactError(
            f"python predictor must be given as 'module:attr' or 'file.py:attr', got {source!r}"
        )
    return target, attr


def _resolve(path: Path | None, loader: dict[str, Any]) -> Any:
    attr = str(loader["attr"])
    try:
        if path is not None:
            module_name = f"modelport_user_{uuid.uuid4().hex}"
            # Blobs in the artifact store have no ``.py`` suffix, so the loader is named
            # explicitly instead of being guessed from the file name.
            source_loader = importlib.machinery.SourceFileLoader(module_name, str(path))
            spec = importlib.util.spec_from_file_location(module_name, path, loader=source_loader)
            if spec is None or spec.loader is None:
                raise ArtifactError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(str(loader["module"]))
        obj = getattr(module, attr)
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(f"cannot load python predictor {attr!r}: {exc}") from exc
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise ArtifactError(f"cannot instantiate {attr}: {exc}") from exc
    if not callable(getattr(obj, "predict", None)):
        raise ArtifactError(f"python predictor {attr!r} has no predict(batch) method")
    return obj


class PythonPredictor:
    # What answers (``endpoints show`` names it per served version).
    runtime = "python"

    def __init__(self, user: Any, output: OutputSpec) -> None:
        self.user = user
        self.output = output
        self._proba = output.has_probabilities and callable(getattr(user, "predict_proba", None))

    def predict(self, batch: Batch) -> Prediction:
        frame = batch.to_frame()
        if self._proba:
            probabilities = np.asarray(self.user.predict_proba(frame), dtype=np.float64)
            classes = np.asarray(self.output.classes, dtype=object)
            if len(classes) == probabilities.shape[1]:
                return Prediction(classes[probabilities.argmax(axis=1)], probabilities)
            return Prediction(np.asarray(self.user.predict(frame)), probabilities)
        outputs = np.asarray(self.user.predict(frame)).reshape(batch.n_rows)
        if self.output.kind == "regression":
            outputs = outputs.astype(np.float64)
        return Prediction(outputs, None)


class PythonFlavor(Flavor):
    name = "python"

    def inspect(self, path: Path | None, options: dict[str, Any]) -> Inspection:
        loader = {"attr": options["attr"], "module": options.get("module")}
        if options.get("trust_code") is not True:
            where = path.name if path is not None else loader["module"]
            raise UntrustedCode(
                f"the python flavor imports {where} and runs its code; pass --trust-code "
                "if you trust it",
                field="trust_code",
            )
        user = _resolve(path, loader)
        inspection = Inspection(loader=loader)
        classes = getattr(user, "classes", None)
        kind = getattr(user, "output_kind", None)
        if kind is None:
            kind = "classification" if classes is not None else "regression"
        if kind not in ("classification", "regression"):
            raise ArtifactError(f"output_kind must be classification or regression, got {kind!r}")
        inspection.output = OutputSpec(
            kind=kind,
            classes=[label_text(c) for c in classes or []],
            has_probabilities=kind == "classification"
            and callable(getattr(user, "predict_proba", None)),
        )
        declared = getattr(user, "input_schema", None)
        if declared is not None:
            try:
                inspection.schema = InputSchema(
                    features=[FeatureSpec.model_validate(f) for f in declared]
                )
            except Exception as exc:
                raise ArtifactError(
                    f"input_schema of the python predictor is invalid: {exc}"
                ) from exc
        return inspection

    def load(
        self, path: Path | None, loader: dict[str, Any], schema: InputSchema, output: OutputSpec
    ) -> Predictor:
        return PythonPredictor(_resolve(path, loader), output)
