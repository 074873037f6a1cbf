"""``promtool check metrics`` (from the Debian package ``prometheus``) accepts a real
server's ``/metrics``: names, types, units and help text follow Prometheus conventions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support import LiveServer, churn_instance, register_churn

from .helpers import scrape

PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="PROMTOOL MISSING: `apt-get install -y prometheus` to check /metrics with promtool",
)
def test_promtool_accepts_the_metrics_of_a_server_during_a_canary(
    server: LiveServer, churn_files: tuple[Path, Path]
) -> None:
    assert PROMTOOL is not None
    register_churn(server.cwd, churn_files, endpoint="churn-two")  # churn:2
    with server.client() as client:
        answer = client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
        assert answer.status_code == 200
        assert client.get("/no/such/route").status_code == 404
        refused = client.post("/v1/endpoints/churn/predict", json={"instances": [{"tenure": "x"}]})
        assert refused.status_code == 422
        started = client.post(
            "/v1/endpoints/churn/rollout",
            json={
                "version": 2,
                "strategy": "canary",
                "steps": "50,100",
                "step_every": "1h",
                "min_samples": 1000,
                "gates": ["error_rate<=0.1"],
            },
        )
        assert started.status_code == 201, started.text
        server.wait_for(lambda: "modelport_rollout_gate_verdict{" in scrape(server), timeout=30)
        for _ in range(4):
            client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
    text = scrape(server)
    assert 'modelport_rollout_canary_weight_ratio{endpoint="churn"} 0.5' in text
    assert 'modelport_rollout_mirrors_dropped_total{endpoint="churn"}' in text
    assert "modelport_http_request_duration_seconds_bucket" in text
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    printed = (checked.stdout + checked.stderr).strip()
    assert checked.returncode == 0, printed
    assert printed == "", printed
