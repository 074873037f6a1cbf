"""An ONNX model that takes one input tensor per feature (numbers and strings), registered
with the CLI and served: /v1 and /v2 answer what the scikit-learn model it was converted
from answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.config import DEFAULT_TOML
from support import LiveServer, make_churn_data, run_cli

ROWS = 200


@dataclass
class Served:
    server: LiveServer
    features: pd.DataFrame  # rows to ask about, in the reference's column order
    labels: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, Any]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    project = tmp_path_factory.mktemp("onnx-per-feature")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    data = make_churn_data(1000, seed=3)
    features = data.drop(columns=["churned"])
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
            (StandardScaler(), ["tenure", "charges"]),
        ),
        LogisticRegression(),
    ).fit(features, data["churned"])
    # One [N, 1] tensor per feature, named like it, deliberately not in the reference's
    # column order (tenure, charges, plan): inputs are matched by name.
    per_feature = [
        ("plan", StringTensorType([None, 1])),
        ("charges", FloatTensorType([None, 1])),
        ("tenure", FloatTensorType([None, 1])),
    ]
    for name, options in (("zipmap", {}), ("plain", {"zipmap": False})):
        converted = to_onnx(model, initial_types=per_feature, options=options or None)
        (project / f"{name}.onnx").write_bytes(converted.SerializeToString())
    data.to_parquet(project / "train.parquet")
    for number, name in enumerate(("zipmap", "plain"), start=1):
        run_cli(
            "models", "register", "churn", f"{name}.onnx", "--flavor", "onnx",
            "--reference", "train.parquet", "--target", "churned",
            cwd=project,
        )  # fmt: skip
        run_cli("endpoints", "create", name, "--model", f"churn:{number}", cwd=project)
    asked = features.sample(ROWS, random_state=1).reset_index(drop=True)
    server = LiveServer(project).start()
    try:
        yield Served(server, asked, model.predict(asked), model.predict_proba(asked))
    finally:
        server.stop()


ENDPOINTS = pytest.mark.parametrize("endpoint", ["zipmap", "plain"])


@ENDPOINTS
def test_v1_answers_what_the_sklearn_model_answers(served: Served, endpoint: str) -> None:
    instances = served.features.to_dict(orient="records")
    with served.server.client() as client:
        response = client.post(f"/v1/endpoints/{endpoint}/predict", json={"instances": instances})
        version = client.get(f"/v1/models/churn/versions/{1 if endpoint == 'zipmap' else 2}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["classes"] == ["0", "1"]
    assert body["predictions"] == served.labels.tolist()
    np.testing.assert_allclose(body["probabilities"], served.probabilities, atol=1e-5)
    schema = {f["name"]: f["kind"] for f in version.json()["input_schema"]["features"]}
    assert schema == {"plan": "category", "charges": "float", "tenure": "int"}


@ENDPOINTS
def test_v2_per_feature_tensors_answer_what_the_sklearn_model_answers(
    served: Served, endpoint: str
) -> None:
    frame = served.features
    inputs = [
        {"name": "tenure", "shape": [ROWS], "datatype": "INT64", "data": frame.tenure.tolist()},
        {"name": "charges", "shape": [ROWS, 1], "datatype": "FP64", "data": frame.charges.tolist()},
        {"name": "plan", "shape": [ROWS], "datatype": "BYTES", "data": frame.plan.tolist()},
    ]
    with served.server.client() as client:
        metadata = client.get(f"/v2/models/{endpoint}").json()
        response = client.post(f"/v2/models/{endpoint}/infer", json={"inputs": inputs})

    assert sorted(i["name"] for i in metadata["inputs"]) == ["charges", "plan", "tenure"]
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["predict"]["data"] == served.labels.tolist()
    proba = outputs["predict_proba"]
    assert proba["shape"] == [ROWS, 2] and proba["datatype"] == "FP64"
    assert proba["parameters"]["classes"] == ["0", "1"]
    np.testing.assert_allclose(
        np.asarray(proba["data"]).reshape(ROWS, 2), served.probabilities, atol=1e-5
    )
