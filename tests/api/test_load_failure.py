"""A model that fails to load makes only its own endpoint not ready."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import LiveServer, churn_instance

from .conftest import make_churn_project
from .helpers import metric, register_python

# A predictor of its own: its blob in the content-addressed store is shared with nobody.
FRAGILE = """
import numpy as np


class Fragile:
    classes = [0, 1]
    input_schema = [
        {"name": "tenure", "kind": "int"},
        {"name": "charges", "kind": "float"},
        {"name": "plan", "kind": "category", "categories": ["basic", "plus", "pro"]},
    ]

    def predict(self, frame):
        return np.zeros(len(frame), dtype=int)
"""


@pytest.fixture(scope="module")
def half_broken(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """Endpoints ``churn`` (fine) and ``broken``, whose artifact was damaged on disk after
    registration: the store's sha256 check refuses to load it."""
    folder = make_churn_project(tmp_path_factory.mktemp("half-broken"), churn_files)
    (folder / "fragile.py").write_text(FRAGILE)
    artifact, _ = register_python(
        folder, "fragile", f"{folder / 'fragile.py'}:Fragile", ("broken",)
    )
    blob = folder / ".modelport" / "artifacts" / artifact
    blob.write_text(blob.read_text() + "\n# tampered with\n")
    live = LiveServer(folder).start()
    try:
        yield live
    finally:
        live.stop()


def test_only_the_endpoint_whose_model_fails_to_load_is_not_ready(
    half_broken: LiveServer,
) -> None:
    with half_broken.client() as client:
        refused = client.post(
            "/v1/endpoints/broken/predict", json={"instances": [churn_instance()]}
        )
        model_ready = client.get("/v2/models/broken/ready")
        server_ready = client.get("/v2/health/ready")
        churn = client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
        churn_ready = client.get("/v2/models/churn/ready")
        listed = {e["name"]: e for e in client.get("/v1/endpoints").json()["endpoints"]}
        metrics = client.get("/metrics").text
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "not_ready" and "corrupt" in refused.json()["message"]
    assert model_ready.status_code == 503 and model_ready.json()["ready"] is False
    assert server_ready.status_code == 503
    assert churn.status_code == 200 and churn.json()["version"] == 1
    assert churn_ready.status_code == 200
    assert metric(metrics, "modelport_endpoint_ready", endpoint="broken") == 0
    assert metric(metrics, "modelport_endpoint_ready", endpoint="churn") == 1
    assert listed["broken"]["ready"] is False
    assert "corrupt" in listed["broken"]["error"]
    assert listed["churn"]["ready"] is True and listed["churn"]["error"] is None
    assert "endpoint broken is not ready" in half_broken.output()
