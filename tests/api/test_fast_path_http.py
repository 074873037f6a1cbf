"""The ONNX fast path against a real server: switched over HTTP (at once) and from the CLI
(another process, within the refresh interval), the endpoint says which runtime answers
and the answers stay the same; bad input gets one precise error and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from modelport.config import DEFAULT_TOML
from support import LiveServer, run_cli

TOKEN = "fast-path-admin-secret"
ENV = {"MODELPORT_AUTH__ADMIN_TOKENS": f'["{TOKEN}"]'}
FEATURES = [f"f{i}" for i in range(20)]


def make_scorer_project(folder: Path) -> Path:
    """scorer:1, a 20-feature LogisticRegression registered with its training data, behind
    endpoint ``scorer``; rule:1, a python predictor."""
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    x, y = make_classification(n_samples=1000, n_features=20, random_state=0)
    frame = pd.DataFrame(x, columns=FEATURES)
    sio.dump(LogisticRegression(max_iter=500).fit(frame, y), folder / "model.skops")
    frame.assign(y=y).to_parquet(folder / "train.parquet")
    (folder / "rule.py").write_text(
        "class Rule:\n"
        "    output_kind = 'regression'\n"
        "    input_schema = [{'name': 'x', 'kind': 'float'}]\n"
        "    def predict(self, frame):\n"
        "        return frame['x'] * 2\n"
    )
    common = ("--reference", "train.parquet", "--target", "y")
    run_cli("models", "register", "scorer", "model.skops", *common, cwd=folder)
    run_cli("models", "register", "rule", "rule.py:Rule", "--flavor", "python", "--trust-code",
            cwd=folder)  # fmt: skip
    run_cli("endpoints", "create", "scorer", "--model", "scorer:1", cwd=folder)
    return folder


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(make_scorer_project(tmp_path_factory.mktemp("fast-path")), env=ENV)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


def _instances() -> list[dict[str, float]]:
    x, _ = make_classification(n_samples=32, n_features=20, random_state=5)
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in x]


def _predict(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/endpoints/scorer/predict", json={"instances": _instances()})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _runtime(client: httpx.Client) -> str:
    shown = client.get("/v1/endpoints/scorer")
    assert shown.status_code == 200, shown.text
    runtime: str = shown.json()["runtime"]
    assert shown.json()["runtimes"] == {"1": runtime}
    return runtime


def _refused(response: httpx.Response, status: int, code: str, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body.get("field")) == (code, field), body


def test_switching_changes_what_answers_but_not_the_answers(
    live: LiveServer, client: httpx.Client
) -> None:
    switched_before = _fast_path_actions(client)  # other tests of this server recheck
    state = client.get("/v1/models/scorer/versions/1/fast-path")
    assert state.status_code == 200, state.text
    assert state.json()["status"] == "passed"
    assert state.json()["runtime"] == "onnx"
    assert _runtime(client) == "onnx"
    on_onnx = _predict(client)

    off = client.put("/v1/models/scorer/versions/1/fast-path", json={"enabled": False})
    assert off.status_code == 200, off.text
    assert off.json()["reloaded"] == ["scorer"]
    assert off.json()["fast_path"]["runtime"] == "sklearn"
    assert _runtime(client) == "sklearn"  # at once, in the server that switched it
    metrics = client.get("/metrics").text
    assert 'endpoint="scorer",runtime="sklearn",version="1"} 1.0' in metrics
    assert 'runtime="onnx"' not in metrics
    on_sklearn = _predict(client)
    assert on_sklearn["predictions"] == on_onnx["predictions"]
    np.testing.assert_allclose(
        on_sklearn["probabilities"], on_onnx["probabilities"], atol=1e-6, rtol=0
    )

    # From another process: the server sees the endpoint's new revision by itself.
    result = run_cli("models", "fast-path", "scorer:1", "--on", cwd=live.cwd)
    assert "endpoint scorer reloads scorer:1" in result.stdout
    live.wait_for(lambda: _runtime(client) == "onnx")
    assert _predict(client)["predictions"] == on_onnx["predictions"]

    metrics = client.get("/metrics").text
    assert (
        'modelport_model_runtime_info{endpoint="scorer",runtime="onnx",version="1"} 1.0' in metrics
    )

    assert _fast_path_actions(client) - switched_before == 2


def _fast_path_actions(client: httpx.Client) -> int:
    history = client.get("/v1/endpoints/scorer/history").json()
    return [entry["action"] for entry in history["history"]].count("fast-path")


def test_recheck_over_http_records_a_new_check(client: httpx.Client) -> None:
    before = client.get("/v1/models/scorer/versions/1/fast-path").json()
    checked = client.post("/v1/models/scorer/versions/1/fast-path/check")
    assert checked.status_code == 200, checked.text
    state = checked.json()["fast_path"]
    assert state["status"] == "passed" and state["rows"] == 1000
    assert state["checked_at"] > before["checked_at"]
    assert state["enabled"] == before["enabled"]
    shown = client.get("/v1/models/scorer/versions/1").json()
    assert shown["fast_path"]["checked_at"] == state["checked_at"]


def test_bad_input_is_refused_naming_the_field(client: httpx.Client) -> None:
    url = "/v1/models/scorer/versions/1/fast-path"
    before = client.get(url).json()
    _refused(client.put(url, json={"enabled": "no"}), 422, "validation_error", "enabled")
    _refused(client.put(url, json={}), 422, "validation_error", "enabled")
    _refused(client.put(url, json={"enabled": False, "on": 1}), 422, "validation_error", "on")
    _refused(
        client.put("/v1/models/scorer/versions/9/fast-path", json={"enabled": False}),
        404,
        "version_not_found",
        "version",
    )
    _refused(
        client.put("/v1/models/nobody/versions/1/fast-path", json={"enabled": False}),
        404,
        "model_not_found",
        "model",
    )
    _refused(client.get("/v1/models/rule/versions/1/fast-path"), 422, "validation_error", "version")
    _refused(
        client.put("/v1/models/rule/versions/1/fast-path", json={"enabled": True}),
        422,
        "validation_error",
        "version",
    )
    assert client.get(url).json() == before


def test_switching_needs_a_deploy_token(live: LiveServer) -> None:
    with live.client() as anonymous:
        response = anonymous.put("/v1/models/scorer/versions/1/fast-path", json={"enabled": False})
    assert response.status_code == 401
