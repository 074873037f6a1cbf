"""An endpoint created by another process answers its first request in this one, without
waiting for the next poll of the control plane (another worker behind the same port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import LiveServer, churn_instance, run_cli


@pytest.fixture
def never_polling(churn_project: Path) -> Iterator[LiveServer]:
    # An hour between polls: whatever this server serves that it did not start with, it
    # loaded because a request asked for it.
    server = LiveServer(churn_project, env={"MODELPORT_SERVER__POLICY_REFRESH_S": "3600"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_an_endpoint_created_elsewhere_answers_its_first_request(
    never_polling: LiveServer,
) -> None:
    run_cli("endpoints", "create", "late", "--model", "churn:1", cwd=never_polling.cwd)
    body = {"instances": [churn_instance()]}
    with never_polling.client() as client:
        first = client.post("/v1/endpoints/late/predict", json=body)
        assert first.status_code == 200, first.text
        v2 = {
            "inputs": [
                {"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]},
                {"name": "charges", "shape": [1], "datatype": "FP64", "data": [50.5]},
                {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["basic"]},
            ]
        }
        run_cli("endpoints", "create", "later", "--model", "churn:1", cwd=never_polling.cwd)
        assert client.post("/v2/models/later/infer", json=v2).status_code == 200
        # A name nobody created is still a precise 404, however often it is asked for.
        for _ in range(3):
            missing = client.post("/v1/endpoints/nobody/predict", json=body)
            assert missing.status_code == 404
            assert (missing.json()["code"], missing.json()["field"]) == (
                "endpoint_not_found",
                "endpoint",
            )
