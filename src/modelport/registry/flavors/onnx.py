"""ONNX models through onnxruntime.

Two input layouts are understood: one ``[N, F]`` tensor (features in schema order) or one
``[N, 1]`` tensor per feature, named like the feature. The first output is the label (or
the regression value); a second output, a ``[N, C]`` tensor or a sequence of maps as
skl2onnx's ZipMap writes it, holds class probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.errors import ArtifactError
from modelport.registry.flavors.base import Flavor, Inspection, Predictor
from modelport.schema import FeatureSpec, InputSchema, OutputSpec

_NUMPY_OF_ONNX = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Runners already batch requests; one intra-op thread avoids oversubscribing the cores
    # that the HTTP server needs too.
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ArtifactError(f"{path.name} is not a loadable ONNX model: {exc}") from exc


class OnnxPredictor:
    # What answers (``endpoints show`` names it per served version).
    runtime = "onnx"

    def __init__(self, session: Any, schema: InputSchema, output: OutputSpec) -> None:
        self.session = session
        self.output = output
        self._inputs = session.get_inputs()
        self._outputs = [o.name for o in session.get_outputs()]
        self._matrix = len(self._inputs) == 1 and len(schema.features) > 1
        self._names = schema.names

    def _feeds(self, batch: Batch) -> dict[str, Any]:
        if self._matrix:
            tensor = self._inputs[0]
            dtype = _NUMPY_OF_ONNX.get(tensor.type, np.float32)
            return {tensor.name: batch.to_matrix().astype(dtype, copy=False)}
        feeds: dict[str, Any] = {}
        for tensor, name in zip(self._inputs, self._names, strict=False):
            dtype = _NUMPY_OF_ONNX.get(tensor.type, np.float32)
            column = batch.columns.get(tensor.name, batch.columns[name])
            feeds[tensor.name] = column.astype(dtype, copy=False).reshape(-1, 1)
        return feeds

    def predict(self, batch: Batch) -> Prediction:
        results = self.session.run(self._outputs, self._feeds(batch))
        outputs = np.asarray(results[0]).reshape(batch.n_rows, -1)[:, 0]
        if self.output.kind == "regression":
            return Prediction(outputs.astype(np.float64), None)
        probabilities = None
        if len(results) > 1:
            raw = results[1]
            if isinstance(raw, list):  # ZipMap: one {class: probability} dict per row
                keys = list(raw[0].keys()) if raw else []
                probabilities = np.array([[row[k] for k in keys] for row in raw], np.float64)
            else:
                probabilities = np.asarray(raw, dtype=np.float64)
        return Prediction(outputs, probabilities)


class OnnxFlavor(Flavor):
    name = "onnx"

    def inspect(self, path: Path | None, options: dict[str, Any]) -> Inspection:
        if path is None:
            raise ArtifactError("the onnx flavor needs an artifact file")
        session = _session(path)
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        inspection = Inspection(loader={"format": "onnx"})
        if len(inputs) == 1 and len(inputs[0].shape) == 2 and isinstance(inputs[0].shape[1], int):
            width = int(inputs[0].shape[1])
            kind = "category" if inputs[0].type == "tensor(string)" else "float"
            features = [FeatureSpec(name=f"f{i}", kind=kind) for i in range(width)]
            inspection.schema = InputSchema(features=features)
        else:
            inspection.schema = InputSchema(
                features=[
                    FeatureSpec(
                        name=tensor.name,
                        kind="category" if tensor.type == "tensor(string)" else "float",
                    )
                    for tensor in inputs
                ]
            )
        label_type = outputs[0].type
        if label_type in ("tensor(float)", "tensor(double)") and len(outputs) == 1:
            inspection.output = OutputSpec(kind="regression")
        else:
            inspection.output = OutputSpec(
                kind="classification", classes=[], has_probabilities=len(outputs) > 1
            )
        return inspection

    def load(
        self, path: Path | None, loader: dict[str, Any], schema: InputSchema, output: OutputSpec
    ) -> Predictor:
        assert path is not None
        return OnnxPredictor(_session(path), schema, output)
