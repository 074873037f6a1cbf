"""GET /metrics speaks the Prometheus text format with per endpoint/version/role series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import modelport
from support import LiveServer, churn_instance, register_churn

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


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_types_build_info_process_metrics_and_http_durations_by_route_template(
    server: LiveServer,
) -> None:
    with server.client() as client:
        assert (
            client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}
            ).status_code
            == 200
        )
        assert client.get("/no/such/path/42").status_code == 404
        text = client.get("/metrics").text
    families = _families(text)
    types = {name: family.type for name, family in families.items()}
    assert types["modelport_requests"] == "counter"
    assert types["modelport_mirror_requests"] == "counter"
    assert types["modelport_errors"] == "counter"
    assert types["modelport_request_latency_seconds"] == "histogram"
    assert types["modelport_http_request_duration_seconds"] == "histogram"
    assert types["modelport_build_info"] == "gauge"
    assert types["process_cpu_seconds"] == "counter"
    assert types["process_resident_memory_bytes"] == "gauge"
    assert "# TYPE modelport_requests_total counter" in text
    assert "# TYPE modelport_http_request_duration_seconds histogram" in text

    (build,) = families["modelport_build_info"].samples
    assert build.labels == {"version": modelport.__version__} and build.value == 1
    assert "python_info" in families

    durations = families["modelport_http_request_duration_seconds"].samples
    assert {s.labels.get("route") for s in durations} >= {
        "/v1/endpoints/{name}/predict",
        "unmatched",
    }
    assert not any("churn" in s.labels.get("route", "") for s in durations)
    assert not any("42" in s.labels.get("route", "") for s in durations)
    predict = metric(
        text,
        "modelport_http_request_duration_seconds_count",
        method="POST",
        route="/v1/endpoints/{name}/predict",
        status="200",
    )
    assert predict is not None and predict >= 1
    unmatched = metric(
        text, "modelport_http_request_duration_seconds_count", route="unmatched", status="404"
    )
    assert unmatched is not None and unmatched >= 1
    # No rollout: no rollout series at all, not a zero per strategy and phase.
    assert metric(text, "modelport_rollout_active") is None


def _counters(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        if family.type not in ("counter", "histogram"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_total", "_count", "_bucket")):
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_counters_only_increase(server: LiveServer) -> None:
    before = _counters(scrape(server))
    with server.client() as client:
        for tenure in range(4):
            client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance(tenure=tenure)]}
            )
        client.post("/v1/endpoints/churn/predict", json={"instances": [{"tenure": "x"}]})
    after = _counters(scrape(server))
    assert set(before) <= set(after)
    decreased = {key: (before[key], after[key]) for key in before if after[key] < before[key]}
    assert not decreased
    # A series first seen now (nothing answered before this test) grew from zero.
    grew = [key for key in after if after[key] > before.get(key, 0.0)]
    assert any(name == "modelport_requests_total" for name, _ in grew)


def _rollout_status(server: LiveServer) -> dict[str, Any]:
    with server.client() as client:
        body: dict[str, Any] = client.get("/v1/endpoints/churn/rollout").json()
    return body


def test_shadow_copies_are_counted_apart_from_served_requests_and_canary_weight_is_a_ratio(
    server: LiveServer, churn_files: tuple[Path, Path]
) -> None:
    register_churn(server.cwd, churn_files, endpoint="churn-two")  # churn:2
    primary = {"endpoint": "churn", "version": "1", "role": "primary"}
    shadow = {"endpoint": "churn", "version": "2", "role": "shadow"}
    with server.client() as client:
        options = {"version": 2, "strategy": "shadow"}
        started = client.post("/v1/endpoints/churn/rollout", json=options)
        assert started.status_code == 201, started.text

        def shadowing() -> bool:
            serving = _rollout_status(server).get("serving") or {}
            return (serving.get("routing") or {}).get("strategy") == "shadow"

        server.wait_for(shadowing, timeout=30)
        before = scrape(server)
        for tenure in range(6):
            answer = client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance(tenure=tenure)]}
            )
            assert answer.status_code == 200

        def copies() -> float:
            text = scrape(server)
            return (metric(text, "modelport_mirror_requests_total", **shadow) or 0.0) - (
                metric(before, "modelport_mirror_requests_total", **shadow) or 0.0
            )

        server.wait_for(lambda: copies() + dropped_since(server, before) == 6)
        after = scrape(server)
        served = (metric(after, "modelport_requests_total", **primary) or 0.0) - (
            metric(before, "modelport_requests_total", **primary) or 0.0
        )
        assert served == 6
        # Background copies never reach the served-request counter.
        assert metric(after, "modelport_requests_total", role="shadow") is None
        assert metric(after, "modelport_mirror_requests_total", role="primary") is None
        # The controller publishes the rollout series on its next tick.
        server.wait_for(
            lambda: metric(scrape(server), "modelport_rollout_active", endpoint="churn") == 1,
            timeout=30,
        )
        after = scrape(server)
        assert metric(after, "modelport_rollout_active", endpoint="churn", phase="shadow") == 1
        active = [
            s
            for s in _families(after)["modelport_rollout_active"].samples
            if s.labels["endpoint"] == "churn"
        ]
        assert len(active) == 1
        assert metric(after, "modelport_rollout_canary_weight_ratio", endpoint="churn") == 0
        assert client.post("/v1/endpoints/churn/rollout/rollback").status_code == 200

        def ended() -> bool:
            return "modelport_rollout_canary_weight_ratio{" not in scrape(server)

        server.wait_for(ended, timeout=30)

        started = client.post(
            "/v1/endpoints/churn/rollout",
            json={
                "version": 2,
                "strategy": "canary",
                "steps": "30,100",
                "step_every": "1h",
                "min_samples": 1000,
                "gates": ["error_rate<=0.1"],
            },
        )
        assert started.status_code == 201, started.text

        def ratio() -> float | None:
            return metric(scrape(server), "modelport_rollout_canary_weight_ratio", endpoint="churn")

        server.wait_for(lambda: ratio() is not None, timeout=30)
        value = ratio()
        assert value is not None and 0 < value <= 1 and value == 0.3
        text = scrape(server)
        assert metric(text, "modelport_rollout_active", endpoint="churn", phase="canary") == 1
        assert metric(text, "modelport_rollout_active", endpoint="churn", phase="shadow") is None
        assert client.post("/v1/endpoints/churn/rollout/rollback").status_code == 200
        server.wait_for(ended, timeout=30)


def dropped_since(server: LiveServer, before: str) -> float:
    """Copies of churn:2 dropped since ``before`` (when the candidate fell behind)."""
    labels = {"endpoint": "churn", "version": "2", "role": "shadow", "code": "mirror_dropped"}
    now = metric(scrape(server), "modelport_errors_total", **labels) or 0.0
    return now - (metric(before, "modelport_errors_total", **labels) or 0.0)
