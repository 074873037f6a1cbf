"""Commands that talk to a running server or watch what it logs: ``modelport predict`` (the
payload forms it takes, how it says a payload or a request was refused) and ``modelport
logs tail --follow``."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from support import LiveServer, churn_instance, cli_env, run_cli


def _predict(server: LiveServer, *args: str, check: bool = True) -> tuple[int, str, str]:
    result = run_cli(
        "predict", *args, "--url", server.url, cwd=server.cwd, check=check
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_one_instance_a_list_and_a_file_are_answered_like_http(served_churn: LiveServer) -> None:
    rows = [churn_instance(3, 50.5, "basic"), churn_instance(60, 99.0, "pro")]
    with served_churn.client() as client:
        expected = client.post("/v1/endpoints/churn/predict", json={"instances": rows}).json()
    (served_churn.cwd / "payload.json").write_text(json.dumps({"instances": rows * 2}))

    _, single, _ = _predict(served_churn, "churn", json.dumps(rows[0]), "--request-id", "cli-1")
    _, listed, _ = _predict(served_churn, "churn", json.dumps(rows))
    _, from_file, _ = _predict(served_churn, "churn", "@payload.json")

    one = json.loads(single)
    assert (one["model"], one["version"], one["request_id"]) == ("churn", 1, "cli-1")
    assert one["predictions"] == expected["predictions"][:1]
    np.testing.assert_allclose(one["probabilities"], expected["probabilities"][:1])
    both = json.loads(listed)
    assert both["predictions"] == expected["predictions"]
    np.testing.assert_allclose(both["probabilities"], expected["probabilities"])
    assert json.loads(from_file)["predictions"] == expected["predictions"] * 2
    # The --request-id reached the server: it is the key the log holds.
    served_churn.wait_for(lambda: "cli-1" in _logged_ids(served_churn.cwd), timeout=30)


def _logged_ids(project: Path) -> list[str]:
    table = ParquetPredictionLog(project / ".modelport" / "logs").read("churn")
    return table["request_id"].to_pylist() if table.num_rows else []


def test_bad_payloads_exit_1_with_a_clear_error(served_churn: LiveServer) -> None:
    (served_churn.cwd / "broken.json").write_text('{"tenure": ')

    for payload, message in [
        ('{"tenure": 3,', "payload is not valid JSON"),
        ("@broken.json", "payload is not valid JSON"),
        ("42", "payload must be a JSON object or a list of objects"),
    ]:
        code, stdout, stderr = _predict(served_churn, "churn", payload, check=False)
        assert code == 1, payload
        assert stdout == ""
        line = _one_error_line(stderr)
        assert line.startswith("error (") and "[payload]" in line and message in line, line


def test_an_http_error_is_printed_with_its_code_and_exits_1(served_churn: LiveServer) -> None:
    unknown = _predict(served_churn, "nope", json.dumps(churn_instance()), check=False)
    wrong = _predict(
        served_churn, "churn", json.dumps(churn_instance() | {"tenure": "x"}), check=False
    )

    assert unknown[0] == 1 and unknown[1] == ""
    line = _one_error_line(unknown[2])
    assert "404" in line and "endpoint_not_found" in line and "'nope'" in line
    assert wrong[0] == 1 and wrong[1] == ""
    line = _one_error_line(wrong[2])
    assert "422" in line and "wrong_type" in line and "tenure" in line


def test_a_missing_payload_file_is_a_clear_error(project: Path) -> None:
    result = run_cli(
        "predict", "churn", "@missing.json", "--url", "http://127.0.0.1:9", cwd=project, check=False
    )  # fmt: skip
    assert result.returncode == 1
    line = _one_error_line(result.stderr)
    assert line.startswith("error (") and "missing.json" in line


def _send(server: LiveServer, request_ids: list[str]) -> None:
    with server.client() as client:
        for request_id in request_ids:
            response = client.post(
                "/v1/endpoints/churn/predict",
                json={"instances": [churn_instance()]},
                headers={"X-Request-ID": request_id},
            )
            assert response.status_code == 200, response.text


def _follow(project: Path) -> subprocess.Popen[str]:
    """``modelport logs tail churn --follow -n 2`` running in the background (JSON lines:
    its output is a pipe)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport.cli.main",
            "logs",
            "tail",
            "churn",
            "--follow",
            "-n",
            "2",
        ],
        cwd=project,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _Lines:
    """The JSON lines a running ``logs tail --follow`` prints, read in the background."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.queue.put(line)

    def until(self, request_ids: set[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not request_ids <= {row["request_id"] for row in self.seen}:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never printed {request_ids}; printed {self.seen}"
            try:
                self.seen.append(json.loads(self.queue.get(timeout=min(remaining, 1.0))))
            except queue.Empty:
                assert self.process.poll() is None, f"tail exited; printed {self.seen}"


def test_logs_tail_follow_prints_new_requests_as_they_are_logged(served_churn: LiveServer) -> None:
    first = [f"tail-before-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    _send(served_churn, first)
    served_churn.wait_for(lambda: set(first) <= set(_logged_ids(served_churn.cwd)), timeout=30)
    process = _follow(served_churn.cwd)
    try:
        lines = _Lines(process)
        lines.until(set(first))  # the newest two, printed at once
        later = [f"tail-after-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        _send(served_churn, later)

        lines.until(set(later))

        assert process.poll() is None  # still following
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    printed = [row["request_id"] for row in lines.seen]
    assert printed[:2] == first
    assert sorted(printed[2:]) == sorted(later)  # each new request once, nothing repeated
    assert all(row["version"] == 1 and row["role"] == "primary" for row in lines.seen)
    assert all(row["status"] == "ok" and row["prediction"] is not None for row in lines.seen)
    assert "Traceback" not in errors


def _record(request_id: str, role: str, version: int, at: float) -> PredictionRecord:
    batch = Batch(
        {
            "tenure": np.array([3.0]),
            "charges": np.array([50.5]),
            "plan": np.array(["basic"], dtype=object),
        },
        1,
    )
    return PredictionRecord(
        request_id=request_id, endpoint="churn", model="churn", version=version, role=role,
        ts=at, latency_ms=1.0, features=batch, prediction=Prediction(np.array([0])),
        classes=("0", "1"),
    )  # fmt: skip


def test_logs_tail_follow_prints_rows_logged_after_newer_ones(project: Path) -> None:
    """The server logs a shadow copy with its request's arrival time, after the primary's
    answer and often in the next segment; ``--follow`` must still print it."""
    log = ParquetPredictionLog(project / ".modelport" / "logs")
    arrived = time.time() - 10
    log.write([_record("a", "primary", 1, arrived)])
    process = _follow(project)
    try:
        lines = _Lines(process)
        lines.until({"a"})
        # The next segment: a's shadow copy (a's arrival time) and a newer request b.
        log.write([_record("a", "shadow", 2, arrived), _record("b", "primary", 1, arrived + 1)])

        lines.until({"b"})
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert sorted((row["request_id"], row["role"]) for row in lines.seen) == [
        ("a", "primary"),
        ("a", "shadow"),
        ("b", "primary"),
    ]
