"""Every bad request gets a precise error, and nothing stored is damaged."""

from __future__ import annotations

from typing import Any

import pytest

from support import LiveServer, churn_instance

from .helpers import PREDICTORS, metric, register_python, scrape
from .predictors import Recording, read_calls

PREDICT = "/v1/endpoints/churn/predict"
JSON_TYPE = {"content-type": "application/json"}


def _post(server: LiveServer, body: Any, path: str = PREDICT, **kwargs: Any) -> Any:
    with server.client() as client:
        if isinstance(body, bytes | str):
            headers = {**JSON_TYPE, **kwargs.pop("headers", {})}
            return client.post(path, content=body, headers=headers, **kwargs)
        return client.post(path, json=body, **kwargs)


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"instances": [{"tenure": 3, "charges": 1.0}]},
            422,
            "missing_feature",
            "instances[0].plan",
        ),
        (
            {"instances": [{**churn_instance(), "colour": "red"}]},
            422,
            "unexpected_feature",
            "instances[0].colour",
        ),
        (
            {"instances": [{**churn_instance(), "tenure": "three"}]},
            422,
            "wrong_type",
            "instances[0].tenure",
        ),
        (
            {"instances": [churn_instance(), {**churn_instance(), "charges": True}]},
            422,
            "wrong_type",
            "instances[1].charges",
        ),
        (
            {"instances": [{**churn_instance(), "charges": None}]},
            422,
            "nan_not_allowed",
            "instances[0].charges",
        ),
        (
            {"instances": [{**churn_instance(), "plan": 3.5}]},
            422,
            "wrong_type",
            "instances[0].plan",
        ),
        ({"inputs": [[1, 2.0]]}, 422, "wrong_shape", "inputs[0]"),
        ({"instances": []}, 422, "validation_error", "instances"),
        ({"instances": {"tenure": 1}}, 422, "wrong_type", "instances"),
        ({}, 422, "validation_error", "instances"),
        ({"instances": [churn_instance()], "extra": 1}, 422, "unexpected_feature", "extra"),
        ([1, 2, 3], 422, "wrong_type", "body"),
    ],
)
def test_schema_violations_name_the_field(
    server: LiveServer, body: Any, status: int, code: str, field: str
) -> None:
    response = _post(server, body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] == code
    assert error["field"] == field
    assert field.split(".")[-1].split("[")[0] in error["message"] or field in error["message"]
    assert "Traceback" not in response.text


def test_malformed_json_is_400(server: LiveServer) -> None:
    response = _post(server, b'{"instances": [', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_empty_body_is_400(server: LiveServer) -> None:
    assert _post(server, b"").json()["code"] == "malformed_json"


def test_nan_literal_is_refused(server: LiveServer) -> None:
    # NaN is not JSON; a client that sends it gets a clear 400, not a prediction on NaN.
    response = _post(server, b'{"instances": [{"tenure": NaN, "charges": 1, "plan": "pro"}]}')
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_unknown_endpoint_is_404(server: LiveServer) -> None:
    response = _post(server, {"instances": [churn_instance()]}, path="/v1/endpoints/nope/predict")
    assert response.status_code == 404
    assert response.json()["code"] == "endpoint_not_found"
    assert response.json()["field"] == "endpoint"


def test_oversized_body_is_413(server: LiveServer) -> None:
    huge = b'{"instances": [' + b" " * (9 * 1024 * 1024) + b"]}"
    response = _post(server, huge)
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_bad_request_ids_are_refused(server: LiveServer) -> None:
    response = _post(server, {"id": 42, "instances": [churn_instance()]})
    assert response.status_code == 400 and response.json()["field"] == "id"
    response = _post(server, {"instances": [churn_instance()]}, headers={"X-Request-ID": "x" * 300})
    assert response.status_code == 400 and response.json()["field"] == "X-Request-ID"


def test_unknown_route_and_method(server: LiveServer) -> None:
    with server.client() as client:
        assert client.get("/v1/nowhere").json()["code"] == "not_found"
        assert client.get(PREDICT).status_code == 405


def test_bad_requests_are_counted_and_leave_the_server_healthy(server: LiveServer) -> None:
    _post(server, {"instances": [{**churn_instance(), "tenure": "x"}]})
    with server.client() as client:
        metrics = client.get("/metrics").text
        ok = client.post(PREDICT, json={"instances": [churn_instance()]})
    assert 'modelport_invalid_requests_total{code="wrong_type",endpoint="churn"}' in metrics
    assert ok.status_code == 200


@pytest.fixture(scope="module")
def recording(server: LiveServer) -> LiveServer:
    """Endpoint ``recording``: a model that writes down every call it gets."""
    register_python(server.cwd, "recording", f"{PREDICTORS}:Recording", ("recording",))
    server.wait_ready("recording")
    return server


def _v2(**change: Any) -> dict[str, Any]:
    tensors = {
        "tenure": {"name": "tenure", "shape": [2], "datatype": "INT64", "data": [3, 60]},
        "charges": {"name": "charges", "shape": [2], "datatype": "FP64", "data": [5.0, 9.0]},
        "plan": {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", "pro"]},
    }
    for name, tensor in change.items():
        if tensor is None:
            del tensors[name]
        else:
            tensors[name] = {**tensors[name], **tensor}
    return {"inputs": list(tensors.values())}


INVALID = [
    # (path, body, status, code)
    ("v1", {"instances": [{"tenure": 3, "charges": 1.0}]}, 422, "missing_feature"),
    ("v1", {"instances": [{**churn_instance(), "tenure": "three"}]}, 422, "wrong_type"),
    ("v1", {"instances": [churn_instance(), {**churn_instance(), "plan": 2.5}]}, 422, "wrong_type"),
    ("v1", {"instances": [{**churn_instance(), "colour": "red"}]}, 422, "unexpected_feature"),
    ("v1", {"instances": [churn_instance()], "extra": 1}, 422, "unexpected_feature"),
    ("v1", {"instances": [{**churn_instance(), "charges": None}]}, 422, "nan_not_allowed"),
    ("v1", b'{"instances": [{"tenure": NaN, "charges": 1, "plan": "pro"}]}', 400, "malformed_json"),
    ("v1", b'{"instances": [', 400, "malformed_json"),
    ("v1", {"inputs": [[1, 2.0]]}, 422, "wrong_shape"),
    ("v1", {"instances": []}, 422, "validation_error"),
    ("v2", _v2(tenure={"shape": [3]}), 422, "wrong_shape"),
    ("v2", _v2(charges={"shape": [1], "data": [5.0]}), 422, "wrong_shape"),
    ("v2", _v2(plan={"datatype": "FP64", "data": [1.0, 2.0]}), 422, "wrong_datatype"),
    ("v2", _v2(tenure={"data": ["a", "b"]}), 422, "wrong_datatype"),
    ("v2", _v2(plan=None), 422, "missing_feature"),
    ("v2", _v2(tenure={"name": "age"}), 422, "unexpected_feature"),
    ("v2", {**_v2(), "outputs": [{"name": "explanation"}]}, 422, "validation_error"),
    ("v2", b'{"inputs": [', 400, "malformed_json"),
]


def test_invalid_requests_never_reach_the_model(recording: LiveServer) -> None:
    server = recording
    paths = {"v1": "/v1/endpoints/recording/predict", "v2": "/v2/models/recording/infer"}
    calls_file = server.cwd / Recording.calls_file
    warmed_up = read_calls(calls_file)
    assert warmed_up, "the warm-up should have called the model"

    def model_calls() -> float:
        text = scrape(server)
        return metric(text, "modelport_model_batch_rows_count", endpoint="recording") or 0.0

    calls_before = model_calls()

    answers = []
    with server.client() as client:
        for path, body, _, _ in INVALID:
            if isinstance(body, bytes):
                answers.append(client.post(paths[path], content=body, headers=JSON_TYPE))
            else:
                answers.append(client.post(paths[path], json=body))
    got = [(a.status_code, a.json().get("code", a.text)) for a in answers]
    assert got == [(status, code) for _, _, status, code in INVALID]
    assert read_calls(calls_file) == warmed_up, "an invalid request reached the model"
    assert model_calls() == calls_before

    # The check can see a call: one valid request makes exactly one.
    with server.client() as client:
        valid = client.post(paths["v1"], json={"instances": [churn_instance(tenure=5)]})
    assert valid.status_code == 200 and valid.json()["predictions"] == [1]
    assert read_calls(calls_file) == [*warmed_up, {"tenure": [5]}]
    assert model_calls() == calls_before + 1
