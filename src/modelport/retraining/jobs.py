"""Retrains running in worker processes, so a server never trains in its own process.

A job is ``python -m modelport retrain ENDPOINT ... --json`` run as a child process
with the server's settings: the training holds its own interpreter, never the
server's, and a trainer that crashes or hangs takes only its process with it (a job
longer than ``retrain.timeout_s`` is stopped). The HTTP API's retrains and the
retraining policies both start jobs here.

The worker speaks a small protocol (``--progress-json``): one JSON line per stage on
stderr (``{"stage": "training", "fraction": null}``), a last ``{"error": {"code",
"field", "message"}}`` line when it fails, and the outcome as one JSON line on stdout
when it succeeds. It gets the server's settings section by section through
``MODELPORT_<SECTION>`` environment variables, so it opens the same store whatever
file or environment the server was configured from.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

from modelport.config import Settings
from modelport.errors import Conflict, NotFound
from modelport.retraining.request import RetrainOutcome, RetrainRequest, Stage

STAGES = ("gathering", "training", "evaluating", "registering", "rolling out")

logger = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed"]


@dataclass
class RetrainJob:
    job: str  # 32 hex digits
    request: RetrainRequest
    state: JobState
    stage: Stage | None
    started_at: str
    finished_at: str | None = None
    outcome: RetrainOutcome | None = None  # when done
    error: str | None = None  # when failed: the worker's one-line reason

    def to_dict(self) -> dict[str, Any]:
        request = self.request
        return {
            "job": self.job,
            "endpoint": request.endpoint,
            "trainer": request.trainer,
            "state": self.state,
            "stage": self.stage,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
            "error": self.error,
        }


# Called once when a job ends (done or failed), on a background thread.
OnFinished = Callable[[RetrainJob], None]


class RetrainJobs:
    """Start, follow and stop retrain jobs: one worker process each, one job at a time
    per endpoint; a job is remembered by this process (not across restarts)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jobs: dict[str, RetrainJob] = {}
        self._processes: dict[str, subprocess.Popen[str]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._timed_out: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, request: RetrainRequest, on_finished: OnFinished | None = None) -> RetrainJob:
        """Start the worker process and return at once."""
        with self._lock:
            if self._stopping.is_set():
                raise Conflict("the server is stopping; no retrain starts now", field="endpoint")
            running = self._running(request.endpoint)
            if running is not None:
                raise Conflict(
                    f"endpoint {request.endpoint!r} already has retrain job {running.job} "
                    "running; wait for it to finish",
                    field="endpoint",
                )
            job = RetrainJob(
                job=uuid.uuid4().hex,
                request=request,
                state="running",
                stage=None,
                started_at=_now(),
            )
            # stdout into a file: a trainer that prints a lot must not block on a full
            # pipe while stderr is being read.
            output = tempfile.TemporaryFile("w+", encoding="utf-8")
            try:
                process = subprocess.Popen(
                    worker_command(request),
                    env=worker_env(self.settings),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.PIPE,
                    text=True,
                    # Its own process group: stopping it stops whatever the trainer
                    # started too (joblib workers, say).
                    start_new_session=True,
                )
            except BaseException:
                output.close()
                raise
            self._jobs[job.job] = job
            self._processes[job.job] = process
            thread = threading.Thread(
                target=self._follow,
                args=(job, process, output, on_finished),
                name=f"retrain-{request.endpoint}",
                daemon=True,
            )
            self._threads[job.job] = thread
            thread.start()
            return job

    def get(self, job: str) -> RetrainJob:
        """The job, or NotFound."""
        with self._lock:
            found = self._jobs.get(job)
        if found is None:
            raise NotFound(f"no retrain job {job!r} on this server", field="job")
        return found

    def running(self, endpoint: str) -> RetrainJob | None:
        """The endpoint's job still running, if any (one at a time per endpoint)."""
        with self._lock:
            return self._running(endpoint)

    def process_id(self, job: str) -> int | None:
        """The worker's process id while the job runs."""
        with self._lock:
            process = self._processes.get(job)
        return None if process is None else process.pid

    def stop(self, timeout_s: float) -> None:
        """Stop every running job's process (a stopping server)."""
        self._stopping.set()
        with self._lock:
            processes = list(self._processes.values())
            threads = list(self._threads.values())
        for process in processes:
            _signal(process, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
        for thread in threads:
            thread.join(timeout_s)

    def _running(self, endpoint: str) -> RetrainJob | None:
        for job in self._jobs.values():
            if job.state == "running" and job.request.endpoint == endpoint:
                return job
        return None

    # -- following one worker -----------------------------------------------------------
    def _follow(
        self,
        job: RetrainJob,
        process: subprocess.Popen[str],
        stdout: IO[str],
        on_finished: OnFinished | None,
    ) -> None:
        timeout_s = self.settings.retrain.timeout_s
        timer = threading.Timer(timeout_s, self._time_out, args=(job.job, process))
        timer.daemon = True
        timer.start()
        error: dict[str, Any] | None = None
        last_line = ""
        try:
            assert process.stderr is not None
            for line in process.stderr:
                message = _message(line)
                if message is None:
                    last_line = line.strip() or last_line
                elif isinstance(message.get("error"), dict):
                    error = message["error"]
                elif message.get("stage") in STAGES:
                    job.stage = message["stage"]
            code = process.wait()
            stdout.seek(0)
            output = stdout.read()
        finally:
            timer.cancel()
            stdout.close()
            if process.stderr is not None:
                process.stderr.close()
        with self._lock:
            timed_out = job.job in self._timed_out
            outcome = _outcome(output) if code == 0 and not timed_out else None
            if outcome is not None:
                job.outcome, job.state = outcome, "done"
            else:
                job.state = "failed"
                job.error = self._reason(job, code, timed_out, error, last_line)
            job.finished_at = _now()
            self._processes.pop(job.job, None)
            self._threads.pop(job.job, None)
        if job.state == "failed":
            logger.warning(
                "retrain job %s of %s failed: %s", job.job, job.request.endpoint, job.error
            )
        if on_finished is not None:
            try:
                on_finished(job)
            except Exception:
                logger.exception("handling the end of retrain job %s failed", job.job)

    def _time_out(self, job: str, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._timed_out.add(job)
        _signal(process, signal.SIGKILL)

    def _reason(
        self,
        job: RetrainJob,
        code: int,
        timed_out: bool,
        error: dict[str, Any] | None,
        last_line: str,
    ) -> str:
        if timed_out:
            return (
                f"the retrain took longer than retrain.timeout_s "
                f"({self.settings.retrain.timeout_s:g}s) and was stopped"
                + (f" while {job.stage}" if job.stage else "")
            )
        if error is not None:
            return f"{error.get('code')}: {error.get('message')}"
        if self._stopping.is_set():
            return "the server stopped while the retrain ran"
        if code < 0:
            return f"the worker process was killed by signal {-code}" + (
                f" while {job.stage}" if job.stage else ""
            )
        if code == 0:
            return "the worker process answered no outcome"
        return f"the worker process exited with code {code}" + (
            f": {last_line}" if last_line else ""
        )


def worker_command(request: RetrainRequest) -> list[str]:
    """``python -m modelport retrain run ENDPOINT ...`` for ``request``."""
    command = [
        sys.executable,
        "-m",
        "modelport",
        "retrain",
        "run",
        request.endpoint,
        "--trainer",
        request.trainer,
        "--since",
        f"{max(1, round(request.since.total_seconds()))}s",
        "--min-labels",
        str(request.min_labels),
        "--holdout",
        repr(request.holdout),
        "--split",
        request.split,
        "--rollout" if request.rollout else "--no-rollout",
        "--actor",
        request.actor,
        "--json",
        "--progress-json",
    ]
    if request.with_reference:
        command.append("--with-reference")
    if request.reason:
        command += ["--reason", request.reason]
    if request.extra_lineage:
        command += ["--lineage-json", json.dumps(request.extra_lineage, default=str)]
    options = request.rollout_options
    for key in ("steps", "step_every", "step_after", "shadow_for", "sample", "sticky_key"):
        if options.get(key) is not None:
            value = options[key]
            text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
            command += [f"--{key.replace('_', '-')}", text]
    for gate in options.get("gates") or []:
        command += ["--gate", str(gate)]
    for key in ("min_samples", "alpha"):
        if options.get(key) is not None:
            command += [f"--{key.replace('_', '-')}", str(options[key])]
    return command


def worker_env(settings: Settings) -> dict[str, str]:
    """This process's environment with every settings section as JSON, so the worker
    reads exactly these settings (environment variables win over any config file)."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Nested overrides would be merged into the sections below; drop them.
        if not (key.startswith("MODELPORT_") and "__" in key)
    }
    for name in type(settings).model_fields:
        section = getattr(settings, name).model_dump(mode="json")
        env[f"MODELPORT_{name.upper()}"] = json.dumps(section)
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _signal(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Send ``sig`` to the worker's process group (the worker and what it started)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        process.send_signal(sig)


def _message(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _outcome(output: str) -> RetrainOutcome | None:
    for line in reversed(output.strip().splitlines()):
        data = _message(line)
        if data is None or "version" not in data:
            continue
        try:
            return RetrainOutcome(
                endpoint=str(data["endpoint"]),
                model=str(data["model"]),
                version=int(data["version"]),
                parent=int(data["parent"]),
                lineage=dict(data["lineage"]),
                rollout_id=None if data["rollout_id"] is None else int(data["rollout_id"]),
                seconds=float(data["seconds"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat()


__all__ = ["JobState", "OnFinished", "RetrainJob", "RetrainJobs", "worker_command", "worker_env"]
