"""The recorder: the request path hands records over, a background thread writes them.

``record()`` never blocks and never raises: it appends to a bounded in-memory queue or,
when the queue is full, drops the record and counts it (``dropped``) with a rate-limited
warning. A writer thread flushes every ``flush_interval_s`` (or sooner when a batch is
large), so a SIGKILL can lose at most that interval's records; ``close()`` flushes
everything, which is what graceful shutdown calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from modelport.predlog.records import PredictionRecord

logger = logging.getLogger(__name__)

_WRITE_ATTEMPTS = 3


class RecordSink(Protocol):
    def write(self, records: list[PredictionRecord]) -> int: ...


class Recorder:
    def __init__(
        self,
        sink: RecordSink,
        *,
        queue_size: int = 100_000,
        flush_interval_s: float = 1.0,
        max_batch_records: int = 50_000,
        on_written: Callable[[int], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
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
        # Only one drain at a time: the writer thread, or the caller of flush()/close()
        # when no writer runs.
        self._drain_lock = threading.Lock()
        self._last_drop_warning = 0.0
        self._in_flight = 0
        self.dropped = 0
        self.written_rows = 0
        self.write_errors = 0

    @property
    def depth(self) -> int:
        return len(self._queue) + self._in_flight

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
            self._notify(self._on_dropped, 1)
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
        """Block until everything queued before this call is on disk."""
        if self._thread is None or not self._thread.is_alive():
            self._drain()
            return True
        deadline = time.monotonic() + timeout
        with self._flushed:
            self._wakeup.set()
            while self.depth > 0:
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
        self._drain()

    def _run(self) -> None:
        while not self._stopping:
            self._wakeup.wait(self.flush_interval_s)
            self._wakeup.clear()
            self._drain()

    def _drain(self) -> None:
        with self._drain_lock:
            while self._queue:
                # Count the batch as in flight before taking it off the queue, so that
                # ``depth`` never reads 0 while records are still on their way to disk.
                take = min(len(self._queue), self.max_batch_records)
                self._in_flight = take
                batch = [self._queue.popleft() for _ in range(take)]
                self._write_with_retry(batch)
                self._in_flight = 0
        with self._flushed:
            self._flushed.notify_all()

    @staticmethod
    def _notify(callback: Callable[[int], None] | None, count: int) -> None:
        # A failing metrics callback must neither reach the request path nor kill the
        # writer thread.
        if callback is None:
            return
        try:
            callback(count)
        except Exception:
            logger.exception("prediction log callback failed")

    def _write_with_retry(self, batch: list[PredictionRecord]) -> None:
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                rows = self.sink.write(batch)
            except Exception:
                self.write_errors += 1
                logger.exception("writing %d log records failed (attempt %d)", len(batch), attempt)
                if attempt + 1 < _WRITE_ATTEMPTS:
                    time.sleep(0.2 * (attempt + 1))
                continue
            self.written_rows += rows
            self._notify(self._on_written, rows)
            return
        self.dropped += len(batch)
        self._notify(self._on_dropped, len(batch))
        logger.error("gave up writing %d log records; they are counted as dropped", len(batch))
