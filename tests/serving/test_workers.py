"""``modelport serve --workers N``: N processes on one port, one control plane, nothing
lost on SIGTERM, a dead worker replaced, a worker that cannot start stops them all.

Which worker answered is read from ``/metrics``: with several workers every sample
carries the answering worker's ``worker`` label (its process id). Each request goes
on a connection of its own, so the kernel hands requests to both workers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from modelport.cli import common
from modelport.cli.main import app
from modelport.config import DEFAULT_TOML
from modelport.predlog import columns as col
from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance, cli_env, free_port, register_churn

WORKERS_ENV = {"MODELPORT_SERVER__WORKERS": "2", "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}
WORKER_LABEL = re.compile(r'^modelport_workers\{worker="(\d+)"\} (\S+)$', re.MULTILINE)
PROMTOOL = shutil.which("promtool")
# Give-up bound while waiting for workers to come up (start-up on a loaded machine).
PATIENCE_S = 180.0


def _fresh(
    server: LiveServer,
    method: str,
    path: str,
    *,
    json: object = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request on a connection of its own (not kept alive)."""
    sent = {"Connection": "close", **(headers or {})}
    return httpx.request(method, server.url + path, json=json, headers=sent, timeout=30)


def _scrape(server: LiveServer) -> tuple[int, str]:
    """The answering worker's process id and its exposition."""
    text = _fresh(server, "GET", "/metrics").text
    match = WORKER_LABEL.search(text)
    assert match is not None, text[:2000]
    assert float(match.group(2)) == 2.0
    return int(match.group(1)), text


def _until(done: Callable[[], bool], what: str, server: LiveServer) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen in time:\n{server.output()[-4000:]}")
        time.sleep(0.05)


def _every_worker(server: LiveServer, exclude: frozenset[int] = frozenset()) -> dict[int, str]:
    """One exposition from each of two live workers (waiting until both answered)."""
    seen: dict[int, str] = {}

    def both() -> bool:
        pid, text = _scrape(server)
        if pid not in exclude:
            seen[pid] = text
        return len(seen) == 2

    _until(both, "two workers answering", server)
    return seen


def _parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^PPid:\s+(\d+)$", status, re.MULTILINE)
    assert match is not None, status
    return int(match.group(1))


def _start(project: Path) -> LiveServer:
    server = LiveServer(project, env=WORKERS_ENV).start(timeout=PATIENCE_S)
    return server


@pytest.fixture(scope="module")
def workers_project(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Path:
    project = tmp_path_factory.mktemp("workers")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("MODELPORT_")]:
            patch.delenv(key)
        register_churn(project, churn_files)
    return project


@pytest.fixture(scope="module")
def two_workers(workers_project: Path) -> Iterator[LiveServer]:
    """``server.workers = 2`` (from the environment) on one port for the module."""
    server = _start(workers_project)
    try:
        yield server
    finally:
        server.stop()


def test_two_workers_answer_on_one_port_under_one_supervisor(two_workers: LiveServer) -> None:
    workers = _every_worker(two_workers)
    assert two_workers.process is not None
    for pid in workers:
        assert pid != two_workers.process.pid
        assert _parent_of(pid) == two_workers.process.pid
    for pid, text in workers.items():
        # Process figures are the answering worker's own, and say so.
        assert re.search(rf'^process_resident_memory_bytes\{{worker="{pid}"\}}', text, re.M)
        assert f'worker="{next(iter(set(workers) - {pid}))}"' not in text


@pytest.mark.skipif(PROMTOOL is None, reason="PROMTOOL MISSING: `apt-get install -y prometheus`")
def test_promtool_accepts_a_workers_labelled_metrics(two_workers: LiveServer) -> None:
    assert PROMTOOL is not None
    _, text = _scrape(two_workers)
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_endpoint_created_through_one_worker_is_served_by_every_worker(
    two_workers: LiveServer,
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    created = _fresh(two_workers, "POST", "/v1/endpoints", json={"name": name, "model": "churn:1"})
    assert created.status_code == 201, created.text
    try:
        ready: dict[int, bool] = {}

        def served_everywhere() -> bool:
            answer = _fresh(
                two_workers,
                "POST",
                f"/v1/endpoints/{name}/predict",
                json={"instances": [churn_instance()]},
            )
            # Every request is answered, by whichever worker took the connection.
            assert answer.status_code == 200, answer.text
            pid, text = _scrape(two_workers)
            pattern = rf'^modelport_endpoint_ready\{{endpoint="{name}",worker="{pid}"\}} 1\.0$'
            ready[pid] = re.search(pattern, text, re.M) is not None
            return len(ready) == 2 and all(ready.values())

        _until(served_everywhere, f"{name} ready on both workers", two_workers)
    finally:
        assert _fresh(two_workers, "DELETE", f"/v1/endpoints/{name}").status_code in (200, 204)


def test_a_killed_worker_is_replaced_and_says_so(two_workers: LiveServer) -> None:
    victim = next(iter(_every_worker(two_workers)))
    os.kill(victim, signal.SIGKILL)
    _until(
        lambda: f"worker {victim} exited unexpectedly" in two_workers.output(),
        "the supervisor's warning",
        two_workers,
    )
    replaced = _every_worker(two_workers, exclude=frozenset({victim}))
    assert victim not in replaced
    assert two_workers.process is not None and two_workers.process.poll() is None
    answer = _fresh(
        two_workers, "POST", "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}
    )
    assert answer.status_code == 200


def test_sigterm_loses_no_acknowledged_prediction_of_any_worker(
    tmp_path: Path, churn_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("MODELPORT_")]:
        monkeypatch.delenv(key)
    (tmp_path / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(tmp_path, churn_files)
    server = _start(tmp_path)
    try:
        workers = set(_every_worker(server))
        acknowledged: set[str] = set()
        answered_by: set[int] = set()
        while len(acknowledged) < 150 or answered_by != workers:
            request_id = uuid.uuid4().hex
            answer = _fresh(
                server,
                "POST",
                "/v1/endpoints/churn/predict",
                json={"instances": [churn_instance(tenure=len(acknowledged) % 70)]},
                headers={"X-Request-ID": request_id},
            )
            assert answer.status_code == 200, answer.text
            acknowledged.add(request_id)
            if len(acknowledged) % 25 == 0:
                answered_by.add(_scrape(server)[0])
            assert len(acknowledged) < 5000, "one worker never took a connection"
    finally:
        code = server.stop(signal.SIGTERM)
    assert code == 0, server.output()[-4000:]
    log = ParquetPredictionLog(tmp_path / ".modelport" / "logs")
    logged = log.read("churn", columns=[col.REQUEST_ID])[col.REQUEST_ID].to_pylist()
    assert len(logged) == len(acknowledged)
    assert set(logged) == acknowledged
    # Each worker wrote segments of its own (their names hold the writer's process id).
    writers = {path.name.split("-")[1] for path in log.segments("churn")}
    assert writers == {str(pid) for pid in workers}


def _gone(pid: int) -> bool:
    """Exited (reaped, or a zombie nobody has reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return re.search(r"^State:\s+Z", status, re.MULTILINE) is not None


def test_workers_stop_gracefully_when_their_supervisor_is_killed(
    tmp_path: Path, churn_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("MODELPORT_")]:
        monkeypatch.delenv(key)
    (tmp_path / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(tmp_path, churn_files)
    server = _start(tmp_path)
    workers = set(_every_worker(server))
    assert server.process is not None
    supervisor = server.process.pid
    server.stop(signal.SIGKILL)
    _until(lambda: all(_gone(pid) for pid in workers), "both workers gone", server)
    output = server.output()
    assert output.count(f"the supervisor (process {supervisor}) is gone") == 2, output[-4000:]
    # Each left through its graceful shutdown: its log flushed.
    for pid in workers:
        assert f"[worker {pid}] modelport.server: prediction log flushed" in output
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/v2/health/live", timeout=1)


def test_a_worker_that_cannot_start_stops_the_server_non_zero(project: Path) -> None:
    (project / "modelport.toml").write_text(
        DEFAULT_TOML.replace(
            '# [[alerts.rules]]\n# name = "churn-drift"',
            '[[alerts.rules]]\nname = "broken"\nendpoint = "churn"\nmetric = "no.such.metric"',
        )
    )
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "modelport.cli.main", "serve", "--workers", "2"]
        + ["--port", str(port)],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=2 * PATIENCE_S,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert re.search(r"worker \d+ could not start; every worker stopped", result.stderr)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=1)


def _serve_in_process(
    project: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    """``modelport serve ARGS`` through the real command, in this process (refusals only:
    these never get as far as binding)."""
    monkeypatch.setattr(common.state, "_settings", None)  # read this project's settings
    monkeypatch.setattr(common.errors, "width", 200)
    result = CliRunner().invoke(app, ["serve", "--port", str(free_port()), *args])
    return result.exit_code, " ".join((result.output + result.stderr).split())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than or equal to 1"),
        ("-1", "greater than or equal to 1"),
        ("65", "less than or equal to 64"),
        ("two", "should be a valid integer"),
    ],
)
def test_an_invalid_worker_count_is_refused_naming_the_option(
    project: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    code, text = _serve_in_process(project, monkeypatch, "--workers", value)
    assert code == 2, text
    assert "Invalid value for '--workers'" in text and message in text


def test_an_invalid_workers_setting_is_refused_naming_the_field(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_SERVER__WORKERS", "0")
    code, text = _serve_in_process(project, monkeypatch)
    assert code == 1, text
    assert "server.workers" in text and "greater than or equal to 1" in text
