"""``promtool check metrics`` (from the Debian package ``prometheus``) accepts a real
server's ``/metrics``: names, types, units and help text follow Prometheus conventions."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from support import LiveServer, churn_instance

from .helpers import scrape

PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="PROMTOOL MISSING: `apt-get install -y prometheus` to check /metrics with promtool",
)
def test_promtool_accepts_the_metrics_of_a_server_that_answered(server: LiveServer) -> None:
    assert PROMTOOL is not None
    with server.client() as client:
        answer = client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
        assert answer.status_code == 200
        assert client.get("/no/such/route").status_code == 404
        refused = client.post("/v1/endpoints/churn/predict", json={"instances": [{"tenure": "x"}]})
        assert refused.status_code == 422
    text = scrape(server)
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
