"""Retrain jobs in worker processes, followed from this process (a server's view)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.errors import Conflict, NotFound
from modelport.retraining.jobs import RetrainJob, RetrainJobs, worker_command, worker_env
from modelport.retraining.request import RetrainRequest
from support import LiveServer

from .conftest import python_path


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def jobs(
    drifted_server: LiveServer, trainers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RetrainJobs]:
    """Jobs over the drifted server's store; workers find ``mytrainers``."""
    monkeypatch.setenv("PYTHONPATH", python_path(trainers_dir))
    settings = Settings.load(drifted_server.cwd / "modelport.toml")
    running = RetrainJobs(settings)
    yield running
    running.stop(5.0)


def slow(endpoint: str = "churn") -> RetrainRequest:
    return RetrainRequest(endpoint=endpoint, trainer="mytrainers:slow", rollout=False)


def test_a_killed_worker_fails_its_job_with_the_signal(jobs: RetrainJobs) -> None:
    finished: list[RetrainJob] = []
    job = jobs.start(slow(), on_finished=finished.append)
    assert jobs.running("churn") is job and jobs.get(job.job) is job
    with pytest.raises(Conflict, match="already has retrain job"):
        jobs.start(slow())
    wait_for(lambda: job.stage == "training")
    pid = jobs.process_id(job.job)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: finished)
    assert finished == [job] and job.state == "failed" and job.finished_at is not None
    assert job.error == "the worker process was killed by signal 9 while training"
    assert jobs.running("churn") is None and jobs.process_id(job.job) is None


def test_stopping_terminates_running_workers(jobs: RetrainJobs) -> None:
    job = jobs.start(slow())
    wait_for(lambda: jobs.process_id(job.job) is not None and job.stage is not None)
    pid = jobs.process_id(job.job)
    jobs.stop(5.0)
    assert job.state == "failed" and job.error == "the server stopped while the retrain ran"
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(Conflict, match="stopping"):
        jobs.start(slow())


def test_unknown_job_is_not_found(jobs: RetrainJobs) -> None:
    with pytest.raises(NotFound):
        jobs.get("0" * 32)


def test_the_worker_gets_every_option_and_the_servers_settings(tmp_path: Path) -> None:
    request = RetrainRequest(
        endpoint="churn",
        trainer="pkg.mod:fit",
        with_reference=True,
        min_labels=50,
        holdout=0.3,
        split="random",
        rollout=False,
        actor="policy:nightly",
        reason="drift",
        extra_lineage={"policy": "nightly", "attempt": 2},
    )
    command = worker_command(request)
    assert command[1:6] == ["-m", "modelport", "retrain", "run", "churn"]
    pairs = dict(zip(command[6::1], command[7::1], strict=False))
    assert pairs["--trainer"] == "pkg.mod:fit" and pairs["--since"] == "2592000s"
    assert pairs["--min-labels"] == "50" and pairs["--holdout"] == "0.3"
    assert pairs["--split"] == "random" and pairs["--actor"] == "policy:nightly"
    assert pairs["--reason"] == "drift"
    assert pairs["--lineage-json"] == '{"policy": "nightly", "attempt": 2}'
    assert {"--no-rollout", "--with-reference", "--json", "--progress-json"} <= set(command)

    settings = Settings(store={"home": tmp_path / "store"}, retrain={"trainers": ["a:*"]})
    env = worker_env(settings)
    for key, value in env.items():
        if key.startswith("MODELPORT_"):
            os.environ[key] = value
    try:
        assert Settings.load() == settings
    finally:
        for key in env:
            if key.startswith("MODELPORT_"):
                os.environ.pop(key, None)
