"""``modelport serve --workers N``: N server processes answering on one port.

The command's process becomes a supervisor: it binds the port once and starts N worker
processes (spawned, not forked) that accept connections on that one shared socket; each
builds its own :class:`~modelport.server.Services` from the same settings, as a server
of one process does. We use uvicorn's own supervisor (``uvicorn.supervisors.Multiprocess``)
rather than writing one: it passes the socket to its children, forwards SIGTERM/SIGINT to
them and waits for each to finish its graceful shutdown, and restarts a worker that dies.
A shared socket rather than one ``SO_REUSEPORT`` socket per worker: the port is bound
(and refused, with one clear error) once, before any worker starts; no other process of
the same user can join the port's group and take a share of its traffic; and a
connection waiting in the backlog is never lost with a worker that dies.

What N processes share is the control plane (the SQLite or PostgreSQL store: registry,
endpoints, rollouts, leases) and the prediction-log folder; each writes its own log
segments (their names hold the process id and a random part) and keeps its own
in-memory state (micro-batches, recent requests, /metrics figures). A change made
through any worker or the CLI reaches every worker within ``server.policy_refresh_s``.

Failures:

* a worker that dies after it started (killed, out of memory) is started again by the
  supervisor, which logs a warning naming both process ids; what the dead worker held
  in memory is lost as with a SIGKILL of a single-process server (the records of its
  last ``log.flush_interval_s``);
* a worker that cannot start (a setting or a store it cannot use) stops them all, and
  the command exits non-zero;
* a worker whose supervisor is gone (SIGKILLed) stops by itself, gracefully: it never
  serves on unsupervised.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import signal
import threading
import time
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from modelport.config import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

logger = logging.getLogger(__name__)

# How often a worker checks that its supervisor is still there.
ORPHAN_CHECK_S = 1.0
# How long a worker may take to answer the supervisor's liveness ping before it counts
# as hung and is replaced (a worker that exits is noticed at once).
HEALTHCHECK_TIMEOUT_S = 60
# The supervisor waits for a worker's answer in slices this long (signals in between).
PING_SLICE_S = 0.25
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s [worker %(process)d] %(name)s: %(message)s"


def uvicorn_options(log_level: str) -> dict[str, Any]:
    """What every ``modelport serve`` hands uvicorn, with one process or several."""
    return {
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
    }


class Supervisor(Multiprocess):
    """uvicorn's supervisor with its liveness check replaced, saying why a worker was
    replaced and remembering whether it stopped because a worker could not start (the
    command then exits non-zero).

    Written here rather than inherited: uvicorn's check sends a ping and waits out its
    whole timeout for the answer, also when the worker is exiting (a worker that failed
    its start-up then went unnoticed for the full timeout), and its 5 s default is
    shorter than a worker's start-up on a loaded machine (workers were killed while still
    importing). This one waits for the answer *or* the worker's exit, in short slices so a
    signal to the supervisor is handled at once."""

    failed = False

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if self._answers(process):
                continue
            process.kill()  # hung, or gone already
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error(
                    "worker %s could not start; every worker stopped (exit code %d)",
                    process.pid,
                    STARTUP_FAILURE,
                )
                self.failed = True
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement
            logger.warning(
                "worker %s exited unexpectedly (exit code %s); started worker %s in its place",
                process.pid,
                process.exitcode,
                replacement.pid,
            )

    def _answers(self, process: Process) -> bool:
        """Whether ``process`` answers a ping within the health-check timeout (True
        also when a signal to the supervisor arrives meanwhile: it is handled first)."""
        if not process.process.is_alive():
            return False
        try:
            process.parent_conn.send(b"ping")
            deadline = time.monotonic() + self.config.timeout_worker_healthcheck
            while time.monotonic() < deadline:
                ready = wait([process.parent_conn, process.process.sentinel], PING_SLICE_S)
                if process.parent_conn in ready:
                    process.parent_conn.recv()
                    return True
                if ready or self.signal_queue:
                    return not ready  # exited; or stopping, checked next round
            return False
        except (OSError, EOFError, pickle.UnpicklingError):
            return False


def serve_workers(settings: Settings, *, insecure: bool, log_level: str) -> int:
    """Serve ``settings.server.workers`` processes on one port until SIGTERM/SIGINT;
    returns the exit code (0 after a clean stop)."""
    from sqlalchemy.exc import SQLAlchemyError

    from modelport.store.db import Database

    # Bring the store's schema up to date once, here: N workers opening a new store at
    # the same moment would each run the same migrations against each other.
    try:
        Database(settings.database_url).dispose()
    except SQLAlchemyError as exc:
        logger.error("cannot open the store; no worker started: %s", exc)
        return STARTUP_FAILURE
    workers = settings.server.workers
    config = Config(
        functools.partial(worker_app, settings, insecure, log_level, os.getpid()),
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=workers,
        timeout_worker_healthcheck=HEALTHCHECK_TIMEOUT_S,
        **uvicorn_options(log_level),
    )
    try:
        sock = config.bind_socket()
    except SystemExit:
        # uvicorn logged why (address in use, permission); nothing was started.
        return STARTUP_FAILURE
    supervisor = Supervisor(config, sockets=[sock])
    try:
        supervisor.run()
    finally:
        sock.close()
    return STARTUP_FAILURE if supervisor.failed else 0


def worker_app(settings: Settings, insecure: bool, log_level: str, supervisor: int) -> Starlette:
    """The app of one worker process of ``supervisor`` (uvicorn calls this in the worker)."""
    from modelport.api.app import create_app

    logging.basicConfig(level=log_level.upper(), format=WORKER_LOG_FORMAT)
    _stop_when_orphaned(supervisor)
    return create_app(settings, insecure=insecure)


def _stop_when_orphaned(supervisor: int) -> None:
    """Stop this worker gracefully (as SIGTERM does) once its supervisor is gone.

    uvicorn's workers keep serving when their supervisor is SIGKILLed; a worker nobody
    restarts or stops must not hold the port on its own. Polling the parent's id is
    portable where ``PR_SET_PDEATHSIG`` is Linux only."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(ORPHAN_CHECK_S)
        logger.warning("the supervisor (process %d) is gone; stopping this worker", supervisor)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="modelport-orphan-watch", daemon=True).start()
