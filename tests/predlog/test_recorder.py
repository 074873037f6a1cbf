from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterator

import pytest

from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.recorder import Recorder
from modelport.predlog.records import PredictionRecord

MakeRecord = Callable[..., PredictionRecord]


class FlakySink:
    """A sink whose first ``failures`` writes raise, like a full disk that recovers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.rows: list[str] = []
        self.writers: list[str] = []

    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.rows.extend(r.request_id for r in records)
        self.writers.append(threading.current_thread().name)
        return len(records)


class GatedSink:
    """Holds every write until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.rows: list[str] = []

    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        self.entered.set()
        self.gate.wait(30)
        self.rows.extend(r.request_id for r in records)
        return len(records)


@pytest.fixture
def recorder_factory() -> Iterator[Callable[..., Recorder]]:
    """Recorders that are closed after the test even when it fails."""
    made: list[Recorder] = []

    def make(sink: object, **options: object) -> Recorder:
        recorder = Recorder(sink, **options)  # type: ignore[arg-type]
        made.append(recorder)
        return recorder

    yield make
    for recorder in made:
        recorder.close()


def test_close_writes_everything_queued(
    log: ParquetPredictionLog, make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    written: list[int] = []
    # A flush interval far beyond the test: only close() can write these records.
    recorder = recorder_factory(
        log, flush_interval_s=3600, max_batch_records=7, on_written=written.append
    )
    recorder.start()
    for index in range(50):
        assert recorder.record(make_record(f"r{index}"))

    recorder.close()

    table = log.read("churn")
    assert table.num_rows == 100  # two rows per record
    assert len(set(table["request_id"].to_pylist())) == 50
    assert recorder.written_rows == sum(written) == 100
    assert recorder.depth == 0 and recorder.dropped == 0


def test_flush_returns_once_the_writer_has_written(
    make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    sink = GatedSink()
    recorder = recorder_factory(sink, flush_interval_s=3600)
    recorder.start()
    recorder.record(make_record("first"))
    outcome: list[bool] = []
    flusher = threading.Thread(target=lambda: outcome.append(recorder.flush(timeout=30)))
    flusher.start()

    assert sink.entered.wait(30)
    # The writer holds the batch; flush() must still be waiting for it.
    flusher.join(0.2)
    assert flusher.is_alive() and sink.rows == []
    assert recorder.depth == 1
    sink.gate.set()
    flusher.join(30)

    assert outcome == [True]
    assert sink.rows == ["first"]
    assert recorder.depth == 0


def test_flush_gives_up_after_its_timeout(
    make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    sink = GatedSink()
    recorder = recorder_factory(sink, flush_interval_s=3600)
    recorder.start()
    recorder.record(make_record("held"))

    assert recorder.flush(timeout=0.1) is False
    sink.gate.set()
    assert recorder.flush(timeout=30) is True


def test_flush_without_a_writer_thread_writes_in_the_caller(
    log: ParquetPredictionLog, make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    recorder = recorder_factory(log)
    recorder.record(make_record("a"))

    assert recorder.flush() is True
    assert log.read("churn").num_rows == 2


def test_a_full_queue_drops_counts_and_reports_without_raising(
    make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    reported: list[tuple[str, str, int]] = []
    sink = FlakySink(failures=0)
    recorder = recorder_factory(sink, queue_size=3, on_dropped=lambda *drop: reported.append(drop))

    accepted = [recorder.record(make_record(f"r{n}")) for n in range(5)]

    assert accepted == [True, True, True, False, False]
    assert recorder.dropped == 2
    assert reported == [("churn", "queue_full", 1)] * 2
    recorder.flush()
    assert sink.rows == ["r0", "r1", "r2"]
    assert recorder.record(make_record("after")) is True


def test_a_failing_callback_never_reaches_the_caller_or_stops_the_writer(
    make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("metrics backend is down")

    sink = FlakySink(failures=0)
    recorder = recorder_factory(
        sink, queue_size=1, flush_interval_s=3600, on_dropped=broken, on_written=broken
    )
    recorder.start()

    assert recorder.record(make_record("kept")) is True
    assert recorder.record(make_record("dropped")) is False
    assert recorder.flush(timeout=30)
    # The writer thread survived the failing on_written and still writes.
    assert recorder.record(make_record("later")) is True
    assert recorder.flush(timeout=30)
    assert sink.rows == ["kept", "later"]
    assert sink.writers == ["modelport-recorder"] * 2
    assert recorder.dropped == 1


def test_a_failing_sink_is_retried(
    make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    sink = FlakySink(failures=1)
    recorder = recorder_factory(sink)
    recorder.record(make_record("a"))

    recorder.flush()

    assert sink.rows == ["a"]
    assert (recorder.write_errors, recorder.dropped, recorder.written_rows) == (1, 0, 1)


def test_a_sink_that_keeps_failing_counts_the_batch_as_dropped(
    make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    reported: list[tuple[str, str, int]] = []
    errors: list[tuple[str, str]] = []
    sink = FlakySink(failures=1_000)
    recorder = recorder_factory(
        sink,
        on_dropped=lambda *drop: reported.append(drop),
        on_write_error=lambda *error: errors.append(error),
    )
    for index in range(4):
        recorder.record(make_record(f"r{index}"))

    recorder.flush()

    assert sink.attempts == 3
    assert (recorder.write_errors, recorder.dropped, recorder.written_rows) == (3, 4, 0)
    assert reported == [("churn", "write_failed", 4)]
    assert errors == [("churn", "enospc")] * 3
    assert recorder.depth == 0


class BrokenEndpointSink:
    """Writes through to the real log, except that every write of ``broken`` fails."""

    def __init__(self, log: ParquetPredictionLog, broken: str) -> None:
        self.log = log
        self.broken = broken
        self.calls: list[tuple[str, bool]] = []  # (endpoint, succeeded)

    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        endpoint = records[0].endpoint
        assert {r.endpoint for r in records} == {endpoint}, "one endpoint per write"
        if endpoint == self.broken:
            self.calls.append((endpoint, False))
            raise OSError(errno.EIO, "Input/output error")
        rows = self.log.write(records, segment=segment)
        self.calls.append((endpoint, True))
        return rows


def test_a_failing_endpoint_neither_delays_nor_duplicates_another(
    log: ParquetPredictionLog, make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    sink = BrokenEndpointSink(log, broken="pricing")
    dropped: list[tuple[str, str, int]] = []
    errors: list[tuple[str, str]] = []
    recorder = recorder_factory(
        sink,
        flush_interval_s=3600,
        on_dropped=lambda *drop: dropped.append(drop),
        on_write_error=lambda *error: errors.append(error),
    )
    recorder.start()
    for index in range(10):
        recorder.record(make_record(f"p{index}", endpoint="pricing"))
        recorder.record(make_record(f"c{index}", endpoint="churn"))

    assert recorder.flush(timeout=60)

    # churn was written in the first pass, before any retry of pricing.
    failed = ("pricing", False)
    assert sink.calls == [failed, ("churn", True), failed, failed]
    ids = log.read("churn")["request_id"].to_pylist()
    assert sorted(ids) == sorted(f"c{i}" for i in range(10) for _ in range(2))
    assert log.read("pricing").num_rows == 0
    assert dropped == [("pricing", "write_failed", 10)]
    assert errors == [("pricing", "eio")] * 3
    assert (recorder.dropped, recorder.written_rows, recorder.depth) == (10, 20, 0)


class FailsAfterRenameSink:
    """The first write reaches the disk and then fails (as when the folder's fsync
    fails after the rename): the segment is in place, yet the writer must retry."""

    def __init__(self, log: ParquetPredictionLog) -> None:
        self.log = log
        self.attempts = 0

    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        self.attempts += 1
        rows = self.log.write(records, segment=segment)
        if self.attempts == 1:
            raise OSError(errno.EIO, "fsync failed")
        return rows


def test_a_retried_write_never_writes_a_record_twice(
    log: ParquetPredictionLog, make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    sink = FailsAfterRenameSink(log)
    recorder = recorder_factory(sink)
    for index in range(5):
        recorder.record(make_record(f"r{index}"))

    recorder.flush()

    assert sink.attempts == 2 and recorder.write_errors == 1
    ids = log.read("churn")["request_id"].to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(5) for _ in range(2))
    assert len(log.segments("churn")) == 1
    assert (recorder.dropped, recorder.written_rows) == (0, 10)


def test_an_endpoint_folder_that_cannot_be_created_fails_only_that_endpoint(
    log: ParquetPredictionLog, make_record: MakeRecord, recorder_factory: Callable[..., Recorder]
) -> None:
    # A regular file where the endpoint's folder belongs: mkdir fails, also as root.
    log.root.mkdir(parents=True)
    (log.root / "pricing").write_text("not a folder")
    dropped: list[tuple[str, str, int]] = []
    errors: list[tuple[str, str]] = []
    recorder = recorder_factory(
        log,
        on_dropped=lambda *drop: dropped.append(drop),
        on_write_error=lambda *error: errors.append(error),
    )
    recorder.record(make_record("p", endpoint="pricing"))
    recorder.record(make_record("c", endpoint="churn"))

    recorder.close()

    assert log.read("churn")["request_id"].to_pylist() == ["c", "c"]
    assert dropped == [("pricing", "write_failed", 1)]
    assert len(errors) == 3 and {endpoint for endpoint, _ in errors} == {"pricing"}
    assert not list(log.root.rglob("*.tmp"))


class ArrivingSink:
    """Every write sees another record arrive meanwhile, as under steady traffic."""

    def __init__(self, make_record: MakeRecord) -> None:
        self.make_record = make_record
        self.recorder: Recorder | None = None
        self.writes: list[list[str]] = []

    def write(self, records: list[PredictionRecord], *, segment: str | None = None) -> int:
        self.writes.append([r.request_id for r in records])
        assert self.recorder is not None
        if len(self.writes) < 3:  # then traffic stops, so close() can finish
            self.recorder.record(self.make_record(f"late-{len(self.writes)}"))
        return len(records)


def test_one_write_per_round_under_steady_traffic(
    recorder_factory: Callable[..., Recorder], make_record: MakeRecord
) -> None:
    """Records arriving during a write wait for the next round (one segment per flush
    interval, not one per write), and flush() still returns under steady traffic."""
    sink = ArrivingSink(make_record)
    recorder = recorder_factory(sink, flush_interval_s=3600)
    sink.recorder = recorder
    recorder.start()
    recorder.record(make_record("first"))
    assert recorder.flush(timeout=10)
    assert sink.writes == [["first"]]
    assert recorder.depth == 1  # the record that arrived during the write waits
    assert recorder.flush(timeout=10)
    assert sink.writes == [["first"], ["late-1"]]
