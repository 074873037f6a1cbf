"""The recorder: the request path hands records over, a background thread writes them.

``record()`` never blocks and never raises: it appends to a bounded in-memory queue or,
when the queue is full, drops the record and counts it (reason ``queue_full``) with a
rate-limited warning. A writer thread flushes every ``flush_interval_s`` (or sooner when
``max_batch_records`` are queued); ``close()`` writes everything, which is what graceful
shutdown calls.

Each endpoint is written on its own: a flush takes what is queued, splits it by endpoint
and writes one segment per endpoint. A failed write is counted (``on_write_error``:
endpoint and reason) and only that endpoint's records wait for a retry, without
sleeping, while the other endpoints' records are written at once. Every attempt writes
the same records under the same segment name, and a segment counts as written only once
it is durable (:func:`~modelport.predlog.files.write_durably`), so a retry never logs a
record twice. After ``WRITE_ATTEMPTS`` failed attempts the records are dropped and
counted (reason ``write_failed``).

What a SIGKILL can lose: the records still in memory, that is those answered in the
last ``flush_interval_s`` plus the write in progress (and, for an endpoint whose writes
are failing, those waiting for a retry: at most ``sum(RETRY_BACKOFF_S)`` more), and
never more than ``queue_size + max_batch_records`` records plus those waiting for a
retry.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from modelport.predlog.records import PredictionRecord

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
# Wait before the 2nd, 3rd, ... attempt of a failed write.
RETRY_BACKOFF_S = (0.2, 0.4)
# Reasons a record is dropped.
QUEUE_FULL = "queue_full"
WRITE_FAILED = "write_failed"

# (endpoint, reason, records)
DropCallback = Callable[[str, str, int], None]
# (endpoint, reason)
ErrorCallback = Callable[[str, str], None]


class RecordSink(Protocol):
    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        """Persist records; the same ``segment`` again replaces, never adds."""
        ...


@dataclass
class _Batch:
    """One endpoint's records of one flush, and the segment name every attempt uses."""

    endpoint: str
    records: list[PredictionRecord]
    segment: str
    attempts: int = 0
    retry_at: float = 0.0


def failure_reason(exc: BaseException) -> str:
    """A short stable word for why a write failed: the errno name, or ``error``."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        return errno.errorcode[code].lower()
    return "error"


class Recorder:
    def __init__(
        self,
        sink: RecordSink,
        *,
        queue_size: int = 100_000,
        flush_interval_s: float = 1.0,
        max_batch_records: int = 50_000,
        on_written: Callable[[int], None] | None = None,
        on_dropped: DropCallback | None = None,
        on_write_error: ErrorCallback | None = None,
    ) -> None:
        self.sink = sink
        self.queue_size = queue_size
        self.flush_interval_s = flush_interval_s
        self.max_batch_records = max_batch_records
        self._queue: deque[PredictionRecord] = deque()
        self._wakeup = threading.Event()
        self._flushed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._on_written = on_written
        self._on_dropped = on_dropped
        self._on_write_error = on_write_error
        # Only one drain at a time: the writer thread, or the caller of flush()/close()
        # when no writer runs. Only the drainer touches ``_retrying``.
        self._drain_lock = threading.Lock()
        self._retrying: dict[str, list[_Batch]] = {}
        self._retrying_records = 0
        self._last_drop_warning = 0.0
        self._in_flight = 0
        # Records ever taken off the queue (by the drainer only): what flush() waits for.
        self._taken = 0
        self.dropped = 0
        self.written_rows = 0
        self.write_errors = 0

    @property
    def depth(self) -> int:
        """Records not yet written: queued, being written, or waiting for a retry."""
        return len(self._queue) + self._in_flight + self._retrying_records

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="modelport-recorder", daemon=True
            )
            self._thread.start()

    def record(self, record: PredictionRecord) -> bool:
        """Queue one record; False (and counted) if the queue is full."""
        if len(self._queue) >= self.queue_size:
            self.dropped += 1
            self._notify(self._on_dropped, record.endpoint, QUEUE_FULL, 1)
            now = time.monotonic()
            if now - self._last_drop_warning > 5.0:
                self._last_drop_warning = now
                logger.warning(
                    "prediction log queue full (%d records): dropped %d records so far",
                    self.queue_size,
                    self.dropped,
                )
            return False
        self._queue.append(record)
        if len(self._queue) >= self.max_batch_records:
            self._wakeup.set()
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until everything queued before this call is written (or dropped after
        its last failed attempt)."""
        if self._thread is None or not self._thread.is_alive():
            self._drain(wait_for_retries=True)
            return True
        deadline = time.monotonic() + timeout
        # Records queued before this call are done once that many have been taken off
        # the queue and nothing is being written or waiting for a retry. (The length is
        # read first: a round taking records in between only raises the target.) Waiting
        # for an empty queue instead would never end under steady traffic.
        queued = len(self._queue)
        target = self._taken + queued
        with self._flushed:
            self._wakeup.set()
            while self._taken < target or self._in_flight or self._retrying_records:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._flushed.wait(min(remaining, 0.05))
                self._wakeup.set()
        return True

    def close(self) -> None:
        """Stop the writer after writing every queued record."""
        self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._drain(wait_for_retries=True)

    def _run(self) -> None:
        while not self._stopping:
            self._wakeup.wait(self._next_wait())
            self._wakeup.clear()
            self._drain(wait_for_retries=False)

    def _next_wait(self) -> float:
        due = self._next_retry()
        if due is None:
            return self.flush_interval_s
        return max(0.0, min(self.flush_interval_s, due - time.monotonic()))

    def _next_retry(self) -> float | None:
        return min(
            (batch.retry_at for batches in self._retrying.values() for batch in batches),
            default=None,
        )

    def _drain(self, *, wait_for_retries: bool) -> None:
        with self._drain_lock:
            while True:
                # One round takes what was queued when it began. Records that arrive
                # while it writes wait for the next wake-up: a writer that looped until
                # the queue was empty never slept under steady traffic and wrote a tiny
                # segment (with its fsync) every few milliseconds, holding the
                # interpreter away from the request path and multiplying what every
                # reader of the log must open.
                pending = len(self._queue)
                while pending > 0:
                    # Count the batch as in flight before taking it off the queue, so that
                    # ``depth`` never reads 0 while records are still on their way to disk.
                    take = min(pending, self.max_batch_records)
                    self._in_flight = take
                    taken = [self._queue.popleft() for _ in range(take)]
                    self._taken += take
                    pending -= take
                    for batch in _by_endpoint(taken):
                        self._attempt(batch)
                    self._in_flight = 0
                self._retry_due()
                if wait_for_retries and self._queue:
                    continue  # close() / a flush without a writer: everything goes
                due = self._next_retry()
                if not wait_for_retries or due is None:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
        with self._flushed:
            self._flushed.notify_all()

    def _retry_due(self) -> None:
        now = time.monotonic()
        for endpoint in list(self._retrying):
            waiting = self._retrying[endpoint]
            due = [batch for batch in waiting if batch.retry_at <= now]
            if not due:
                continue
            self._retrying[endpoint] = [batch for batch in waiting if batch.retry_at > now]
            if not self._retrying[endpoint]:
                del self._retrying[endpoint]
            for batch in due:
                # Still counted while it is written, so ``depth`` never reads 0 early.
                self._attempt(batch)
                self._retrying_records -= len(batch.records)

    def _attempt(self, batch: _Batch) -> None:
        """Write one endpoint's batch once; on failure schedule a retry or drop it."""
        batch.attempts += 1
        try:
            rows = self.sink.write(batch.records, segment=batch.segment)
        except Exception as exc:
            reason = failure_reason(exc)
            self.write_errors += 1
            self._notify(self._on_write_error, batch.endpoint, reason)
            count = len(batch.records)
            if batch.attempts >= WRITE_ATTEMPTS:
                self.dropped += count
                self._notify(self._on_dropped, batch.endpoint, WRITE_FAILED, count)
                logger.error(
                    "gave up writing %d log records of %s after %d attempts (%s: %s); "
                    "they are counted as dropped",
                    count,
                    batch.endpoint,
                    batch.attempts,
                    reason,
                    exc,
                )
                return
            backoff = RETRY_BACKOFF_S[min(batch.attempts, len(RETRY_BACKOFF_S)) - 1]
            batch.retry_at = time.monotonic() + backoff
            self._retrying.setdefault(batch.endpoint, []).append(batch)
            self._retrying_records += count
            logger.warning(
                "writing %d log records of %s failed (attempt %d, %s: %s); retrying",
                count,
                batch.endpoint,
                batch.attempts,
                reason,
                exc,
            )
            return
        self.written_rows += rows
        self._notify(self._on_written, rows)

    @staticmethod
    def _notify(callback: Callable[..., None] | None, *args: object) -> None:
        # A failing metrics callback must neither reach the request path nor kill the
        # writer thread.
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("prediction log callback failed")


def _by_endpoint(records: list[PredictionRecord]) -> list[_Batch]:
    groups: dict[str, list[PredictionRecord]] = {}
    for record in records:
        groups.setdefault(record.endpoint, []).append(record)
    return [_Batch(name, group, uuid.uuid4().hex[:16]) for name, group in groups.items()]
