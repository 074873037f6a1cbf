"""A prediction log on a disk that hangs: the real Parquet log behind a gate."""

from __future__ import annotations

import threading

from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord


class BlockingSink:
    """Writes through to ``log``, but every ``write()`` first waits until the test sets
    ``release``, as a write to a stalled disk would.

    The thread that made the sink stands for the request path: a write from it is the
    very thing that must never happen, so it is refused at once (and counted) rather
    than left to hang the test.
    """

    def __init__(self, log: ParquetPredictionLog) -> None:
        self.log = log
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0
        self.writes_from_request_path = 0
        self._request_path = threading.current_thread()

    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        if threading.current_thread() is self._request_path and not self.release.is_set():
            self.writes_from_request_path += 1
            raise AssertionError("the request path wrote to the (stalled) disk")
        self.calls += 1
        self.entered.set()
        if not self.release.wait(120):
            raise OSError("the test never released the disk")
        return self.log.write(records, segment=segment)
