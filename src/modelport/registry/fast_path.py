"""The ONNX fast path: a scikit-learn version served by onnxruntime, once proven equal.

At registration (when a reference sample is given) and on request (``modelport models
fast-path NAME:VERSION --check``), the estimator is converted with skl2onnx and both
models predict the version's reference sample. The converted model may serve only if it
agrees with the original on every row:

* classifiers: identical labels (same values, same dtype) and class probabilities within
  ``PROBABILITY_ATOL`` (1e-6) absolute;
* regressors: every value within ``REGRESSION_TOL`` absolute *or* relative (1e-6): a
  regressor's scale is the user's, so a pure absolute bound would be meaningless for
  values in the millions and a pure relative one for values near zero.

The outcome is recorded on the version either way (``registry/fast_path_state.py``);
a model that cannot be converted (an estimator skl2onnx does not know, a custom
transformer, categorical features) records ``unavailable`` and the reason, and is served
by scikit-learn as before: the check never fails a registration. The converted bytes are
kept in the artifact store beside the original (their sha256 recorded), so serving never
converts. Conversion asks for double-precision inputs (``DoubleTensorType``) so linear
models compute in float64 like scikit-learn; where a converter only takes float32 the
check says whether that still agrees.

skl2onnx and onnx take seconds to import; they are imported inside :func:`convert` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.fast_path_state import FAILED, PASSED, UNAVAILABLE
from modelport.registry.flavors.onnx import _session
from modelport.registry.flavors.sklearn import SklearnPredictor
from modelport.registry.records import ModelVersion
from modelport.schema import InputSchema, OutputSpec

PROBABILITY_ATOL = 1e-6
REGRESSION_TOL = 1e-6
_MAX_REASON = 400


@dataclass(frozen=True)
class CheckOutcome:
    """What a check found: the state to store, and the ONNX bytes when it passed."""

    state: dict[str, Any]
    onnx: bytes | None = None


class FastPathPredictor:
    """A converted scikit-learn model on onnxruntime, answering exactly what
    :class:`~modelport.registry.flavors.sklearn.SklearnPredictor` answers: labels from
    the estimator's own ``classes_`` (same values and dtype), probabilities as float64 in
    that order, regression values as float64."""

    runtime = "onnx"

    def __init__(self, session: Any, output: OutputSpec, state: dict[str, Any]) -> None:
        self.session = session
        self.output = output
        inputs = session.get_inputs()
        outputs = [o.name for o in session.get_outputs()]
        self._input = inputs[0].name
        self._float32 = inputs[0].type == "tensor(float)"
        order = state.get("feature_order")
        self._order = None if order is None else np.asarray(order, dtype=np.intp)
        self._classes = _classes(state)
        # Probabilistic classifiers answer the most probable class, as the scikit-learn
        # predictor does; only the probabilities output is computed into numpy.
        self._proba = (
            output.kind == "classification"
            and output.has_probabilities
            and self._classes is not None
            and len(outputs) > 1
        )
        self._fetch = [outputs[1]] if self._proba else [outputs[0]]

    def predict(self, batch: Batch) -> Prediction:
        matrix = batch.to_matrix()
        if self._order is not None:
            matrix = matrix[:, self._order]
        if self._float32:
            matrix = matrix.astype(np.float32)
        (result,) = self.session.run(self._fetch, {self._input: matrix})
        if self._proba:
            assert self._classes is not None
            probabilities = np.asarray(result, dtype=np.float64)
            return Prediction(self._classes[probabilities.argmax(axis=1)], probabilities)
        values = np.asarray(result)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if self.output.kind == "regression":
            return Prediction(values.astype(np.float64, copy=False), None)
        if self._classes is not None:
            values = values.astype(self._classes.dtype, copy=False)
        return Prediction(values, None)


def _classes(state: dict[str, Any]) -> np.ndarray[Any, Any] | None:
    classes = state.get("classes")
    if classes is None:
        return None
    dtype = np.dtype(str(state.get("classes_dtype") or "O"))
    if dtype.kind == "O":
        array = np.empty(len(classes), dtype=object)
        array[:] = classes
        return array
    return np.asarray(classes, dtype=dtype)


def load_predictor(artifacts: ArtifactStore, version: ModelVersion) -> FastPathPredictor:
    """The version's fast-path predictor from its verified ONNX artifact (no conversion)."""
    state = version.fast_path or {}
    path = artifacts.verified(str(state["artifact_path"]), str(state["artifact_sha256"]))
    return FastPathPredictor(_session(path), version.output, state)


# -- checking ---------------------------------------------------------------------------
def check(
    predictor: SklearnPredictor,
    schema: InputSchema,
    output: OutputSpec,
    batch: Batch,
    expected: Prediction | None = None,
) -> CheckOutcome:
    """Convert the predictor's estimator and compare both on ``batch`` (the reference
    sample). Never raises for a model it cannot convert: that is an outcome too."""
    base: dict[str, Any] = {
        "checked_at": datetime.now(UTC).isoformat(),
        "rows": batch.n_rows,
        "max_abs_diff": None,
    }
    try:
        if batch.n_rows == 0:
            raise _Unavailable("the reference sample has no rows to check against")
        estimator = predictor.estimator
        order = _feature_order(estimator, schema)
        classes = getattr(estimator, "classes_", None)
        onnx_bytes, details = convert(estimator, len(schema.features), output)
        state = {
            **base,
            **details,
            "feature_order": order,
            "classes": None if classes is None else np.asarray(classes).tolist(),
            "classes_dtype": None if classes is None else np.asarray(classes).dtype.str,
        }
        fast = FastPathPredictor(_session_of(onnx_bytes), output, state)
        if expected is None:
            expected = predictor.predict(batch)
        actual = fast.predict(batch)
    except _Unavailable as exc:
        return CheckOutcome({**base, "status": UNAVAILABLE, "reason": str(exc)})
    except Exception as exc:  # any converter or runtime failure: recorded, never raised
        failure = f"{type(exc).__name__}: {exc}"[:_MAX_REASON]
        return CheckOutcome({**base, "status": UNAVAILABLE, "reason": failure})
    passed, why, diff = compare(expected, actual, output)
    state.update(status=PASSED if passed else FAILED, reason=why, max_abs_diff=diff)
    return CheckOutcome(state, onnx_bytes if passed else None)


class _Unavailable(Exception):
    """The model cannot take the fast path; the message says why."""


def _feature_order(estimator: Any, schema: InputSchema) -> list[int] | None:
    """Column indices that put the schema's features in the order the model was fitted
    on (None: the schema's order is the model's)."""
    categorical = [f.name for f in schema.features if not f.numeric]
    if categorical:
        raise _Unavailable(
            "categorical features are not converted (" + ", ".join(categorical[:5]) + ")"
        )
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None or [str(n) for n in fitted] == schema.names:
        return None
    names = schema.names
    missing = [str(n) for n in fitted if str(n) not in names]
    if missing:
        raise _Unavailable(f"the model's features {missing[:5]} are not in the schema")
    return [names.index(str(n)) for n in fitted]


def convert(estimator: Any, n_features: int, output: OutputSpec) -> tuple[bytes, dict[str, Any]]:
    """The estimator as ONNX bytes taking one ``[N, n_features]`` tensor, preferably
    float64; and what to record about the conversion."""
    # Imported here: several seconds, and only registration and checks need them.
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    options = None
    if output.kind == "classification" and hasattr(final, "predict_proba"):
        # A plain [N, C] tensor rather than one {class: probability} dict per row.
        options = {id(final): {"zipmap": False}}
    errors = []
    for input_type, tensor in (("double", DoubleTensorType), ("float", FloatTensorType)):
        try:
            model = convert_sklearn(
                estimator, initial_types=[("X", tensor([None, n_features]))], options=options
            )
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        opsets = {entry.domain: int(entry.version) for entry in model.opset_import}
        return model.SerializeToString(), {
            "input_type": input_type,
            "opsets": dict(sorted(opsets.items())),
            "versions": {name: _version_of(name) for name in ("skl2onnx", "onnx", "onnxruntime")},
        }
    raise _Unavailable(
        f"skl2onnx cannot convert {type(estimator).__name__}: {errors[-1]}"[:_MAX_REASON]
    )


def _version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _session_of(onnx_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def compare(
    expected: Prediction, actual: Prediction, output: OutputSpec
) -> tuple[bool, str | None, float | None]:
    """(agrees, why not, largest absolute difference) of two predictions of one batch."""
    want, got = np.asarray(expected.outputs), np.asarray(actual.outputs)
    if want.shape != got.shape:
        return False, f"outputs have shape {got.shape}, scikit-learn's {want.shape}", None
    if output.kind == "regression":
        want, got = want.astype(np.float64), got.astype(np.float64)
        if not np.array_equal(np.isnan(want), np.isnan(got)):
            return False, "missing (NaN) outputs differ", None
        finite = ~np.isnan(want)
        diff = np.abs(want[finite] - got[finite])
        largest = float(diff.max()) if diff.size else 0.0
        bound = np.maximum(REGRESSION_TOL, REGRESSION_TOL * np.abs(want[finite]))
        off = int((diff > bound).sum())
        if off:
            return (
                False,
                f"{off} of {len(want)} values differ by more than {REGRESSION_TOL:g} "
                "(absolute and relative)",
                largest,
            )
        return True, None, largest
    largest = 0.0
    if expected.probabilities is not None or actual.probabilities is not None:
        if expected.probabilities is None or actual.probabilities is None:
            return False, "only one of the two models answers probabilities", None
        p, q = expected.probabilities, actual.probabilities
        if p.shape != q.shape:
            return False, f"probabilities have shape {q.shape}, scikit-learn's {p.shape}", None
        if np.isnan(q).any() or np.isnan(p).any():
            return False, "probabilities hold NaN", None
        largest = float(np.abs(p - q).max())
    if want.dtype != got.dtype:
        return False, f"labels have dtype {got.dtype}, scikit-learn's {want.dtype}", largest
    flipped = int((want != got).sum())
    if flipped:
        return False, f"{flipped} of {len(want)} labels differ", largest
    if largest > PROBABILITY_ATOL:
        return (
            False,
            f"probabilities differ by up to {largest:.3g} (more than {PROBABILITY_ATOL:g})",
            largest,
        )
    return True, None, largest


__all__ = [
    "PROBABILITY_ATOL",
    "REGRESSION_TOL",
    "CheckOutcome",
    "FastPathPredictor",
    "check",
    "compare",
    "convert",
    "load_predictor",
]
