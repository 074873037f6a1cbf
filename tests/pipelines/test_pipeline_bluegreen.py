"""Blue-green on one step of a pipeline: the step's green version goes live after a smoke
test replayed from that step's own log, switches back at once, and the other step never
changes."""

from __future__ import annotations

import time
from pathlib import Path

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer

from .chain import PIPELINE, instances, register


def test_a_step_goes_blue_green_and_back_while_the_other_step_stays(
    server: LiveServer, worse_files: dict[str, tuple[Path, Path]]
) -> None:
    green = register(server.cwd, "scorer", worse_files["scorer"], "churned")
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    with server.client() as client:
        created = client.post("/v1/endpoints", json={"name": "bg", "pipeline": PIPELINE})
        assert created.status_code == 201, created.text
        server.wait_ready("bg")
        detect_before = client.get("/v1/endpoints/bg.detect").json()
        # Recent requests of the step for the smoke test to replay.
        for seed in range(30):
            body = {"instances": instances(4, seed, tenure_shift=30)}
            assert client.post("/v1/endpoints/bg/predict", json=body).status_code == 200
        server.wait_for(lambda: log.read("bg.scorer", columns=["row"]).num_rows >= 60)

        started = client.post(
            "/v1/endpoints/bg/rollout",
            json={"step": "scorer", "version": green, "strategy": "blue-green", "smoke": 50,
                  "keep_blue": "1h"},
        )  # fmt: skip
        assert started.status_code == 201, started.text

        def live_version() -> int:
            answer = client.post(
                "/v1/endpoints/bg/predict?steps=1",
                json={"instances": [{"tenure": 40.0, "charges": 50.0}]},
            )
            assert answer.status_code == 200, answer.text
            return int(answer.json()["steps"]["scorer"]["version"])

        deadline = time.monotonic() + 30
        while live_version() != green and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_version() == green
        status = client.get("/v1/endpoints/bg/rollout", params={"step": "scorer"}).json()
        assert status["serving"]["routing"]["standby"] == 1  # blue stays loaded

        back = client.post("/v1/endpoints/bg/rollout/rollback", params={"step": "scorer"})
        assert back.status_code == 200, back.text
        deadline = time.monotonic() + 30
        while live_version() != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_version() == 1
        detect_after = client.get("/v1/endpoints/bg.detect").json()
        history = client.get("/v1/endpoints/bg.detect/history").json()["history"]
    assert detect_after == detect_before
    assert [entry["action"] for entry in history] == ["create"]
