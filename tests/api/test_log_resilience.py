"""The log never costs an answer: a full queue drops (and counts) records, and a damaged
segment on disk is skipped by readers while the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import LiveServer, churn_instance, run_cli

from .conftest import make_churn_project


@pytest.fixture(scope="module")
def tiny_queue(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("tiny"), churn_files)
    live = LiveServer(
        folder,
        env={"MODELPORT_LOG__QUEUE_SIZE": "5", "MODELPORT_LOG__FLUSH_INTERVAL_S": "30"},
    ).start()
    yield live
    live.stop()


def _sample(metrics: str, name: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not exposed")


def test_full_queue_keeps_answering_and_counts_drops(tiny_queue: LiveServer) -> None:
    with tiny_queue.client() as client:
        statuses = [
            client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance(tenure=i)]}
            ).status_code
            for i in range(30)
        ]
        metrics = client.get("/metrics").text
    assert statuses == [200] * 30
    assert _sample(metrics, "modelport_log_dropped_records_total") == 25
    assert _sample(metrics, "modelport_log_queue_depth") == 5
    assert "prediction log queue full" in tiny_queue.output()


def test_damaged_segment_is_skipped_and_reported(server: LiveServer) -> None:
    with server.client() as client:
        client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance()]},
            headers={"X-Request-ID": "before-damage"},
        )
    folder = server.cwd / ".modelport" / "logs" / "churn"
    server.wait_for(lambda: any(folder.rglob("*.parquet")))
    segment = sorted(folder.rglob("*.parquet"))[0]
    segment.write_bytes(segment.read_bytes()[:40])  # truncated: footer gone
    with server.client() as client:
        answer = client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [churn_instance()]},
            headers={"X-Request-ID": "after-damage"},
        )
        labels = client.post("/v1/feedback", json={"request_id": "after-damage", "label": 1})
    assert answer.status_code == 200
    assert labels.status_code == 200 and labels.json()["matched"] == 1
    exported = run_cli("logs", "export", "churn", "-o", "out.parquet", cwd=server.cwd)
    assert "skipped unreadable segment" in exported.stderr
    ids = pq.read_table(server.cwd / "out.parquet", columns=["request_id"])["request_id"]
    assert "after-damage" in ids.to_pylist()
