"""Open Inference Protocol v2 against a real server, as a standard client sends it."""

from __future__ import annotations

from typing import Any

import pytest

from support import LiveServer

INFER = "/v2/models/churn/infer"


def _per_feature(rows: int = 2) -> dict[str, Any]:
    return {
        "id": "v2-request",
        "inputs": [
            {"name": "tenure", "shape": [rows], "datatype": "INT64", "data": [3, 60][:rows]},
            {
                "name": "charges",
                "shape": [rows, 1],
                "datatype": "FP64",
                "data": [[50.0], [90.0]][:rows],
            },
            {"name": "plan", "shape": [rows], "datatype": "BYTES", "data": ["basic", "pro"][:rows]},
        ],
    }


def test_health_and_server_metadata(server: LiveServer) -> None:
    with server.client() as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/v2").json()["name"] == "modelport"
        assert client.get("/v2/models/churn/ready").status_code == 200
        assert client.get("/v2/models/nope/ready").status_code == 404


def test_model_metadata_lists_tensors(server: LiveServer) -> None:
    with server.client() as client:
        metadata = client.get("/v2/models/churn").json()
    assert metadata["name"] == "churn" and metadata["versions"] == ["1"]
    assert [i["name"] for i in metadata["inputs"]] == ["tenure", "charges", "plan"]
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]}["plan"] == "BYTES"
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]


def test_infer_with_one_tensor_per_feature(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(INFER, json=_per_feature())
        simple = client.post(
            "/v1/endpoints/churn/predict",
            json={"inputs": [[3, 50.0, "basic"], [60, 90.0, "pro"]]},
        ).json()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "churn" and body["model_version"] == "1"
    assert body["id"] == "v2-request"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"]["shape"] == [2]
    assert outputs["predict_proba"]["shape"] == [2, 2]
    assert outputs["predict_proba"]["datatype"] == "FP64"
    flat = [p for row in simple["probabilities"] for p in row]
    assert outputs["predict_proba"]["data"] == pytest.approx(flat, abs=1e-12)


def test_requested_outputs_only(server: LiveServer) -> None:
    body = {**_per_feature(1), "outputs": [{"name": "predict"}]}
    with server.client() as client:
        response = client.post(INFER, json=body)
    assert [o["name"] for o in response.json()["outputs"]] == ["predict"]


def test_versioned_infer_path(server: LiveServer) -> None:
    with server.client() as client:
        assert (
            client.post("/v2/models/churn/versions/1/infer", json=_per_feature()).status_code == 200
        )
        missing = client.post("/v2/models/churn/versions/9/infer", json=_per_feature())
    assert missing.status_code == 404
    assert missing.json()["code"] == "version_not_found"
    assert "error" in missing.json()


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda b: b["inputs"][0].update(shape=[3]), "wrong_shape", "inputs[0].shape"),
        (lambda b: b["inputs"][2].update(datatype="FP32"), "wrong_datatype", "inputs[2].datatype"),
        (lambda b: b["inputs"][1].update(datatype="BYTES"), "wrong_datatype", "inputs[1].datatype"),
        (lambda b: b["inputs"][0].update(datatype="FLOAT"), "wrong_datatype", "inputs[0].datatype"),
        (lambda b: b["inputs"][0].update(data=["a", "b"]), "wrong_datatype", "inputs[0].data"),
        (lambda b: b["inputs"].pop(), "missing_feature", "plan"),
        (lambda b: b["inputs"][0].update(name="age"), "unexpected_feature", "age"),
        (lambda b: b["inputs"][1].update(shape=[2, 2]), "wrong_shape", "inputs[1].shape"),
        (lambda b: b["inputs"][0].pop("datatype"), "validation_error", "inputs[0].datatype"),
    ],
)
def test_v2_bad_tensors(server: LiveServer, mutate: Any, code: str, field: str) -> None:
    body = _per_feature()
    mutate(body)
    with server.client() as client:
        response = client.post(INFER, json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == code and error["field"] == field
    assert error["error"] == error["message"]


def test_unknown_model_v2(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post("/v2/models/nope/infer", json=_per_feature())
    assert response.status_code == 404 and "error" in response.json()


def _binary_request(header: dict[str, Any], blob: bytes) -> tuple[bytes, dict[str, str]]:
    import json

    head = json.dumps(header).encode()
    return head + blob, {
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream",
    }


def test_binary_tensor_extension(server: LiveServer) -> None:
    import struct

    import numpy as np

    plan = b"".join(struct.pack("<I", len(v)) + v for v in (b"basic", b"pro"))
    tenure = np.array([3, 60], dtype="<i8").tobytes()
    charges = np.array([50.0, 90.0], dtype="<f8").tobytes()
    header = {
        "inputs": [
            {
                "name": "tenure",
                "shape": [2],
                "datatype": "INT64",
                "parameters": {"binary_data_size": len(tenure)},
            },
            {
                "name": "charges",
                "shape": [2],
                "datatype": "FP64",
                "parameters": {"binary_data_size": len(charges)},
            },
            {
                "name": "plan",
                "shape": [2],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(plan)},
            },
        ]
    }
    body, headers = _binary_request(header, tenure + charges + plan)
    with server.client() as client:
        binary = client.post(INFER, content=body, headers=headers)
        plain = client.post(INFER, json=_per_feature())
    assert binary.status_code == 200, binary.text
    assert binary.json()["outputs"][1]["data"] == plain.json()["outputs"][1]["data"]


def test_binary_extension_errors(server: LiveServer) -> None:
    header = {
        "inputs": [
            {
                "name": "tenure",
                "shape": [2],
                "datatype": "INT64",
                "parameters": {"binary_data_size": 64},
            }
        ]
    }
    body, headers = _binary_request(header, b"\x00" * 16)
    with server.client() as client:
        too_short = client.post(INFER, content=body, headers=headers)
        bad_length = client.post(
            INFER, content=b"{}", headers={"Inference-Header-Content-Length": "999"}
        )
    assert too_short.status_code == 422 and too_short.json()["code"] == "wrong_shape"
    assert bad_length.status_code == 400 and bad_length.json()["code"] == "malformed_json"
