"""Retraining fixtures: a churn server whose traffic drifted, every row labelled."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, make_churn_data

TRAFFIC_ROWS = 600
PER_REQUEST = 100
TRAINERS = """\
import time


def raises(features, labels, context):
    raise RuntimeError("the data looks wrong to me")


def not_a_model(features, labels, context):
    return "a string"


def slow(features, labels, context):
    time.sleep(120)


def sees(features, labels, context):
    from modelport.retraining.examples import logistic

    assert list(features.columns) == context.schema.names
    assert context.parent.ref == "churn:1" and context.holdout_rows > 0
    return logistic(features, labels, context)
"""


def drifted_rows(n: int, seed: int) -> tuple[list[dict[str, object]], list[int]]:
    """Customers with higher charges than churn:1 saw, who now churn on charges alone."""
    frame = make_churn_data(n, seed).drop(columns=["churned"])
    frame["charges"] = (frame["charges"] + 20).round(2)
    noise = np.random.default_rng(seed).random(n) < 0.03
    labels = ((frame["charges"] > 90) ^ noise).astype(int).tolist()
    return frame.to_dict(orient="records"), labels


def send_labelled_traffic(server: LiveServer, n: int = TRAFFIC_ROWS, seed: int = 11) -> None:
    """``n`` drifted rows through the endpoint, every one labelled, then logged."""
    rows, labels = drifted_rows(n, seed)
    with server.client() as client:
        for start in range(0, n, PER_REQUEST):
            request_id = f"drift-{start}"
            answer = client.post(
                "/v1/endpoints/churn/predict",
                json={"instances": rows[start : start + PER_REQUEST]},
                headers={"X-Request-ID": request_id},
            )
            assert answer.status_code == 200, answer.text
            feedback = [
                {"request_id": request_id, "row": row, "label": label}
                for row, label in enumerate(labels[start : start + PER_REQUEST])
            ]
            sent = client.post("/v1/feedback", json=feedback)
            assert sent.status_code == 200, sent.text
    wait_logged(server.cwd, n)


def wait_logged(project: Path, n: int, timeout: float = 20.0) -> None:
    log = ParquetPredictionLog(project / ".modelport" / "logs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "churn" in log.endpoints() and log.read("churn", columns=["row"]).num_rows >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{n} rows were not logged in {timeout}s")


@pytest.fixture
def trainers_dir(churn_project: Path) -> Path:
    """A folder holding ``mytrainers.py`` (put on PYTHONPATH for workers and the CLI)."""
    folder = churn_project / "trainers"
    folder.mkdir()
    (folder / "mytrainers.py").write_text(TRAINERS)
    return folder


def python_path(folder: Path) -> str:
    return os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture
def drifted_server(churn_project: Path, trainers_dir: Path) -> Iterator[LiveServer]:
    """churn:1 serving 600 drifted, labelled rows; the default config (no trainer allowed)."""
    server = LiveServer(churn_project, env={"PYTHONPATH": python_path(trainers_dir)}).start()
    try:
        send_labelled_traffic(server)
        yield server
    finally:
        server.stop()
