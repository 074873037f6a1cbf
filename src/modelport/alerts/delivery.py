"""Deliver notifications in the background: one bounded queue and one thread per notifier.

``Delivery.submit(notification)`` never blocks and never raises: it puts the
notification on every notifier's queue (a full queue drops it, reported as a failed
outcome with ``error="queue full"`` and counted). Each notifier has its own worker thread,
so a receiver that fails or hangs holds up only its own queue — never the caller (alert
evaluation), serving, or the other receivers.

A worker tries each notification up to ``attempts`` times, waiting
``backoff_s * 2**n`` (capped at ``max_backoff_s``) between attempts. Every failed
attempt calls ``on_failure(notifier, error)`` (the composition root counts it as
``modelport_alert_notifications_failed_total{notifier}``); the end of each notification
calls ``on_outcome(Outcome)`` once: delivered, or failed after N attempts with the last
error (what alert history stores).

``stop(deadline_s)`` drains what is queued until the deadline; then the workers give up
what remains (each reported as failed, ``error="shut down before delivery"``) and the
backoff waits end at once. A request already in flight ends by its notifier's timeout
on a daemon thread, so shutdown never waits on a hung receiver; each worker closes its
notifier (its HTTP client) when it ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelport.alerts.notifiers import Notification, Notifier

logger = logging.getLogger(__name__)

QUEUE_FULL = "queue full"
SHUT_DOWN = "shut down before delivery"


@dataclass(frozen=True)
class Outcome:
    """How one notification ended for one notifier."""

    notifier: str
    notification: Notification
    delivered: bool
    attempts: int
    error: str | None = None


OutcomeCallback = Callable[[Outcome], None]
FailureCallback = Callable[[str, str], None]

_STOP = object()


class _Worker:
    """One notifier's queue and thread."""

    def __init__(self, notifier: Notifier, delivery: Delivery) -> None:
        self.notifier = notifier
        self.delivery = delivery
        self.queue: queue.Queue[object] = queue.Queue()
        self.thread = threading.Thread(
            target=self._run, name=f"notifier-{notifier.name}", daemon=True
        )

    def offer(self, notification: Notification) -> bool:
        if self.queue.qsize() >= self.delivery.queue_size:
            return False
        self.queue.put(notification)
        return True

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                self.close()
                return
            assert isinstance(item, Notification)
            self.delivery.deliver(self.notifier, item)

    def close(self) -> None:
        close = getattr(self.notifier, "close", None)
        if callable(close):
            close()


class Delivery:
    """Send notifications to every notifier in the background, with retries."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        *,
        queue_size: int = 100,
        attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        on_outcome: OutcomeCallback | None = None,
        on_failure: FailureCallback | None = None,
    ) -> None:
        names = [notifier.name for notifier in notifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique: {names}")
        if queue_size < 1 or attempts < 1 or backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("queue_size and attempts must be >= 1, backoffs >= 0")
        self.queue_size = queue_size
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._on_outcome = on_outcome
        self._on_failure = on_failure
        self._abort = threading.Event()
        self._started = False
        self._workers = [_Worker(notifier, self) for notifier in notifiers]

    @property
    def notifiers(self) -> list[str]:
        return [worker.notifier.name for worker in self._workers]

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for worker in self._workers:
            worker.thread.start()

    def submit(self, notification: Notification) -> None:
        """Queue ``notification`` for every notifier; never blocks, never raises."""
        for worker in self._workers:
            if not worker.offer(notification):
                name = worker.notifier.name
                logger.warning("notifier %s: queue full, notification dropped", name)
                self._failed(name, QUEUE_FULL)
                self._report(Outcome(name, notification, False, 0, QUEUE_FULL))

    def stop(self, deadline_s: float = 5.0) -> None:
        """Drain the queues until ``deadline_s``, then give up what remains."""
        if not self._started:
            for worker in self._workers:
                worker.close()
            return
        for worker in self._workers:
            worker.queue.put(_STOP)
        end = time.monotonic() + deadline_s
        for worker in self._workers:
            worker.thread.join(max(0.0, end - time.monotonic()))
        self._abort.set()
        for worker in self._workers:
            if worker.thread.is_alive():
                logger.warning("notifier %s: still busy at shutdown", worker.notifier.name)

    def deliver(self, notifier: Notifier, notification: Notification) -> Outcome:
        """Send with retries and backoff; report and return the outcome."""
        error: str | None = SHUT_DOWN
        attempt = 0
        while attempt < self.attempts and not self._abort.is_set():
            attempt += 1
            try:
                notifier.send(notification)
            except Exception as exc:  # any failure of a receiver is one failed attempt
                error = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "notifier %s: attempt %d/%d failed: %s",
                    notifier.name,
                    attempt,
                    self.attempts,
                    error,
                )
                self._failed(notifier.name, error)
                if attempt < self.attempts and self._abort.wait(self._backoff(attempt)):
                    break
                continue
            outcome = Outcome(notifier.name, notification, True, attempt)
            self._report(outcome)
            return outcome
        outcome = Outcome(notifier.name, notification, False, attempt, error)
        self._report(outcome)
        return outcome

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    def _failed(self, name: str, error: str) -> None:
        if self._on_failure is None:
            return
        try:
            self._on_failure(name, error)
        except Exception:
            logger.exception("notifier %s: failure callback raised", name)

    def _report(self, outcome: Outcome) -> None:
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(outcome)
        except Exception:
            logger.exception("notifier %s: outcome callback raised", outcome.notifier)
