"""Batch runs started over HTTP: one at a time per endpoint, each on its own thread.

Paths are confined to the batch folder (``[batch] root``, default ``<store.home>/batch``):
an ``input``, ``output`` or ``rejects`` that leaves it (``..``, an absolute path
elsewhere, a symbolic link out) is refused with 422 ``unsafe_path`` naming the field, so
an admin token cannot make the server read or overwrite arbitrary files. Everything
that can refuse a run is checked before the answer (:meth:`BatchScorer.prepare`); the
scoring itself runs on a worker thread, never on the event loop. On shutdown each
running job stops after its current chunk (state ``interrupted``, resumable with
``"resume": true``).

A job's status comes from memory while this process runs it, else from its checkpoint
under the batch folder, so it survives a restart.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.errors import Conflict, ModelportError, NotFound, UnsafePath, ValidationFailed
from modelport.names import inside
from modelport.scoring.manifest import MANIFEST_SUFFIX, Manifest, RunState
from modelport.scoring.run import BatchRequest, BatchScorer, PreparedRun

logger = logging.getLogger(__name__)

FIELDS = {"input", "output", "chunk", "version", "resume", "rejects", "id_column"}
_JOB = re.compile(r"^[0-9a-f]{32}$")
# Checkpoints looked at when a job is asked for that this process does not run.
MAX_CHECKPOINTS = 10_000


@dataclass
class Job:
    manifest: Manifest
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.monotonic)
    rows_at_start: int = 0
    rows_per_s: float = 0.0


class BatchJobs:
    def __init__(self, scorer: BatchScorer, root: Path) -> None:
        self.scorer = scorer
        self.root = root
        self._jobs: dict[str, Job] = {}
        # endpoint -> job id ("" while the job is being prepared)
        self._running: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- starting -----------------------------------------------------------------------
    def start(self, endpoint: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``options`` and start the run in the background; its status."""
        request = self._request(endpoint, options)
        with self._lock:
            if self._stopping.is_set():
                raise Conflict("the server is stopping; start the run again later")
            busy = self._running.get(endpoint)
            if busy is not None:
                raise Conflict(
                    f"endpoint {endpoint!r} is already scoring a batch (job {busy or '...'}); "
                    "one batch run at a time per endpoint",
                    field="endpoint",
                )
            self._running[endpoint] = ""
        try:
            prepared = self.scorer.prepare(request)
        except BaseException:
            with self._lock:
                self._running.pop(endpoint, None)
            raise
        job = Job(prepared.manifest, rows_at_start=prepared.manifest.rows_read)
        with self._lock:
            self._jobs[prepared.manifest.job] = job
            self._running[endpoint] = prepared.manifest.job
        if prepared.finished:
            with self._lock:
                self._running.pop(endpoint, None)
            return self._status(job)
        job.thread = threading.Thread(
            target=self._run,
            args=(job, prepared),
            name=f"modelport-batch-{endpoint}",
            daemon=True,
        )
        job.thread.start()
        return self._status(job)

    def _request(self, endpoint: str, options: Mapping[str, Any]) -> BatchRequest:
        unknown = sorted(set(options) - FIELDS)
        if unknown:
            raise ValidationFailed(
                f"unknown field {unknown[0][:80]!r}; fields: {', '.join(sorted(FIELDS))}",
                field=unknown[0][:80],
            )
        for required in ("input", "output"):
            if required not in options:
                raise ValidationFailed(f"{required} is required", field=required)
        return BatchRequest(
            endpoint=endpoint,
            input=self._path(options["input"], "input"),
            output=self._path(options["output"], "output"),
            chunk=_integer(options.get("chunk"), "chunk"),
            version=_integer(options.get("version"), "version"),
            resume=_boolean(options.get("resume"), "resume"),
            rejects=None
            if options.get("rejects") is None
            else self._path(options["rejects"], "rejects"),
            id_column=_text(options.get("id_column"), "id_column"),
        )

    def _path(self, value: Any, name: str) -> Path:
        if not isinstance(value, str) or not value or "\0" in value or len(value) > 1024:
            raise ValidationFailed(
                f"{name} must be a path inside the batch folder, relative to it", field=name
            )
        try:
            return inside(self.root, value).resolve()
        except UnsafePath:
            raise UnsafePath(
                f"{name} {value[:200]!r} is outside the batch folder (batch.root); "
                "paths are relative to it",
                field=name,
            ) from None

    # -- running ------------------------------------------------------------------------
    def _run(self, job: Job, prepared: PreparedRun) -> None:
        def progress(manifest: Manifest) -> None:
            elapsed = time.monotonic() - job.started
            if elapsed > 0:
                job.rows_per_s = (manifest.rows_read - job.rows_at_start) / elapsed

        try:
            self.scorer.run(prepared, on_progress=progress, should_stop=self._stopping.is_set)
        except Exception as exc:
            if isinstance(exc, ModelportError):
                logger.error("batch job %s failed: %s", job.manifest.job, exc.message)
            else:
                logger.exception("batch job %s failed", job.manifest.job)
            # Also when the checkpoint itself could not be written (a full disk).
            job.manifest.state = RunState.FAILED
            job.manifest.error = exc.message if isinstance(exc, ModelportError) else repr(exc)
        finally:
            with self._lock:
                if self._running.get(job.manifest.endpoint) == job.manifest.job:
                    del self._running[job.manifest.endpoint]

    def wait(self, job_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """Block until the job this process runs ends (or ``timeout_s``); its status."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None and job.thread is not None:
            job.thread.join(timeout_s)
        return self.status(job_id)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let every running job finish its current chunk, then return."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        for job in list(self._jobs.values()):
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))

    # -- status -------------------------------------------------------------------------
    def status(self, job_id: str) -> dict[str, Any]:
        if _JOB.match(job_id) is None:
            raise NotFound(f"no batch job {job_id[:80]!r}", field="job")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            return self._status(job)
        manifest = self._checkpoint(job_id)
        if manifest is None:
            raise NotFound(f"no batch job {job_id!r}", field="job")
        return self._status(Job(manifest))

    def _checkpoint(self, job_id: str) -> Manifest | None:
        if not self.root.is_dir():
            return None
        for count, path in enumerate(self.root.rglob(f"*{MANIFEST_SUFFIX}")):
            if count >= MAX_CHECKPOINTS:
                break
            try:
                manifest = Manifest.load(path)
            except ModelportError:
                continue
            if manifest.job == job_id:
                return manifest
        return None

    def _status(self, job: Job) -> dict[str, Any]:
        manifest = job.manifest
        body = manifest.to_dict()
        for key in ("input", "output", "rejects"):
            body[key] = self._shown(body[key])
        running = manifest.state == RunState.RUNNING and job.thread is not None
        body["rows_per_s"] = round(job.rows_per_s, 1)
        left = max(manifest.rows_total - manifest.rows_read, 0)
        body["seconds_left"] = (
            round(left / job.rows_per_s, 1) if running and job.rows_per_s > 0 else None
        )
        body["rejects_written"] = manifest.state == RunState.DONE and manifest.rows_rejected > 0
        return body

    def _shown(self, path: str) -> str:
        """A path as the caller gave it: relative to the batch folder."""
        try:
            return str(Path(path).relative_to(self.root.resolve()))
        except ValueError:
            return path


def _integer(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{name} must be a whole number", field=name)
    if value < 1 or value > 2**31 - 1:
        raise ValidationFailed(f"{name} must be at least 1", field=name)
    return value


def _boolean(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name} must be true or false", field=name)
    return value


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationFailed(f"{name} must be a column name", field=name)
    return value
