"""A standard v2 client (Triton's tritonclient) works against modelport unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import LiveServer

pytest.importorskip("tritonclient.http")


def test_triton_client_infers_and_reads_metadata(server: LiveServer) -> None:
    script = Path(__file__).with_name("v2_client.py")
    completed = subprocess.run(
        [sys.executable, str(script), f"127.0.0.1:{server.port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    assert seen["live"] and seen["ready"] and seen["model_ready"]
    assert [i["name"] for i in seen["metadata"]["inputs"]] == ["tenure", "charges", "plan"]
    assert len(seen["predict"]) == 2
    assert len(seen["proba"]) == 2 and len(seen["proba"][0]) == 2
    assert seen["proba"][0][1] > seen["proba"][1][1]
    assert seen["id"] == "triton-1"
    with server.client() as client:
        simple = client.post(
            "/v1/endpoints/churn/predict", json={"inputs": [[3, 50.0, "basic"]]}
        ).json()
    assert seen["proba"][0] == pytest.approx(simple["probabilities"][0], abs=1e-12)
