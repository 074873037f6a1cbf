"""SIGTERM under load: every acknowledged prediction is in the log afterwards."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance

from .conftest import make_churn_project


def test_sigterm_under_load_loses_no_acknowledged_prediction(
    tmp_path: Path, churn_files: tuple[Path, Path]
) -> None:
    # A long flush interval: only the shutdown flush can save the records.
    server = LiveServer(
        make_churn_project(tmp_path, churn_files),
        env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "60"},
    ).start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            sequence = 0
            while not stop.is_set():
                request_id = f"w{worker}-{sequence}"
                sequence += 1
                try:
                    response = client.post(
                        "/v1/endpoints/churn/predict",
                        json={"instances": [churn_instance(tenure=sequence % 70)]},
                        headers={"X-Request-ID": request_id},
                    )
                except httpx.HTTPError:
                    return  # the server is going away
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(request_id)

    workers = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    code = server.stop(signal.SIGTERM)
    stop.set()
    for worker in workers:
        worker.join()
    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is the
    # signal's; what matters is that shutdown completed and flushed the log.
    assert code in (0, -signal.SIGTERM), server.output()
    assert "Application shutdown complete" in server.output()
    assert len(acknowledged) >= 500
    logged = set(
        ParquetPredictionLog(tmp_path / ".modelport" / "logs")
        .read("churn", columns=["request_id"])["request_id"]
        .to_pylist()
    )
    missing = [r for r in acknowledged if r not in logged]
    assert not missing, f"{len(missing)} acknowledged predictions missing from the log"
    assert "prediction log flushed" in server.output()
