"""GET /metrics speaks the Prometheus text format with per endpoint/version/role series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from support import LiveServer, churn_instance


def test_metrics_count_requests_latency_and_log_queue(server: LiveServer) -> None:
    with server.client() as client:
        for _ in range(5):
            client.post("/v1/endpoints/churn/predict", json={"instances": [churn_instance()]})
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = [
        s
        for s in families["modelport_requests"].samples
        if s.labels == {"endpoint": "churn", "version": "1", "role": "primary"}
    ]
    assert requests and requests[0].value >= 5
    latency = families["modelport_request_latency_seconds"]
    counts = [s for s in latency.samples if s.name.endswith("_count")]
    assert counts and counts[0].value >= 5
    assert "modelport_log_queue_depth" in families
    assert "modelport_log_dropped_records" in families
    assert families["modelport_endpoint_ready"].samples[0].value == 1
