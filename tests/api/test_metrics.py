"""GET /metrics speaks the Prometheus text format with per endpoint/version/role series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from support import LiveServer, churn_instance

from .helpers import metric, scrape


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


def test_rows_batches_and_written_log_rows_are_counted(server: LiveServer) -> None:
    primary = {"endpoint": "churn", "version": "1", "role": "primary"}
    model = {"endpoint": "churn", "version": "1"}
    before = scrape(server)
    with server.client() as client:
        answer = client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance(tenure=t) for t in (1, 2, 3)]},
        )
    assert answer.status_code == 200
    after = scrape(server)

    def delta(name: str, **labels: str) -> float:
        return (metric(after, name, **labels) or 0.0) - (metric(before, name, **labels) or 0.0)

    assert delta("modelport_predictions_total", **primary) == 3
    assert delta("modelport_requests_total", **primary) == 1
    # One model call of 3 rows: in the (2, 4] bucket of the batch histogram.
    assert delta("modelport_model_batch_rows_count", **model) == 1
    assert delta("modelport_model_batch_rows_sum", **model) == 3
    assert delta("modelport_model_batch_rows_bucket", **model, le="2.0") == 0
    assert delta("modelport_model_batch_rows_bucket", **model, le="4.0") == 1

    predicted = metric(after, "modelport_predictions_total", **primary)
    assert predicted is not None and predicted >= 3

    def all_written() -> bool:
        written = metric(scrape(server), "modelport_log_written_rows_total")
        return written is not None and written >= predicted

    server.wait_for(all_written)
