from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@dataclass(frozen=True)
class NumericModel:
    """A LogisticRegression on numeric features, as skops and as ONNX (with and without
    ZipMap), with its reference data."""

    skops: Path
    onnx_zipmap: Path
    onnx_plain: Path
    reference: Path
    features: pd.DataFrame
    labels: np.ndarray


@pytest.fixture(scope="session")
def numeric_model(tmp_path_factory: pytest.TempPathFactory) -> NumericModel:
    import skops.io as sio
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("numeric")
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    frame["approved"] = np.where(frame.a + 0.5 * frame.b > 0, "yes", "no")
    matrix = frame[["a", "b"]].to_numpy(np.float32)
    model = LogisticRegression().fit(matrix, frame["approved"])

    paths = NumericModel(
        skops=folder / "approve.skops",
        onnx_zipmap=folder / "approve-zipmap.onnx",
        onnx_plain=folder / "approve-plain.onnx",
        reference=folder / "approve.parquet",
        features=frame[["a", "b"]],
        labels=model.predict(matrix),
    )
    sio.dump(model, paths.skops)
    paths.onnx_zipmap.write_bytes(to_onnx(model, matrix[:1]).SerializeToString())
    plain = to_onnx(model, matrix[:1], options={"zipmap": False})
    paths.onnx_plain.write_bytes(plain.SerializeToString())
    frame.to_parquet(paths.reference)
    return paths
