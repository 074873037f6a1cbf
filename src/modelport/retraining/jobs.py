"""Retrains running in worker processes, so a server never trains in its own process.

A job is ``python -m modelport retrain ENDPOINT ... --json`` run as a child process
with the server's settings: the training holds its own interpreter, never the
server's, and a trainer that crashes or hangs takes only its process with it (a job
longer than ``retrain.timeout_s`` is stopped). The HTTP API's retrains and the
retraining policies both start jobs here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from modelport.retraining.request import RetrainOutcome, RetrainRequest, Stage

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


# Called once when a job ends (done or failed), on a background thread.
OnFinished = Callable[[RetrainJob], None]


class RetrainJobs:
    """Start, follow and stop retrain jobs (filled in by the retraining work)."""

    def start(self, request: RetrainRequest, on_finished: OnFinished | None = None) -> RetrainJob:
        """Start the worker process and return at once."""
        raise NotImplementedError

    def get(self, job: str) -> RetrainJob:
        """The job, or NotFound."""
        raise NotImplementedError

    def running(self, endpoint: str) -> RetrainJob | None:
        """The endpoint's job still running, if any (one at a time per endpoint)."""
        raise NotImplementedError

    def stop(self, timeout_s: float) -> None:
        """Stop every running job's process (a stopping server)."""
        raise NotImplementedError
