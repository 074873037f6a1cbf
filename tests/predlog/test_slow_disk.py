"""A slow disk never adds latency to requests: while the log writer is stuck inside a
write, ``Recorder.record()`` keeps returning at once, and nothing is lost once the disk
answers again."""

from __future__ import annotations

from collections.abc import Callable

from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.recorder import Recorder
from modelport.predlog.records import PredictionRecord
from predlog.slowdisk import BlockingSink

MakeRecord = Callable[..., PredictionRecord]


def test_record_returns_while_the_writer_is_blocked_on_the_disk(
    log: ParquetPredictionLog, make_record: MakeRecord
) -> None:
    sink = BlockingSink(log)
    recorder = Recorder(sink, flush_interval_s=0.05)
    recorder.start()
    try:
        assert recorder.record(make_record("first"))
        assert sink.entered.wait(60)  # the writer took "first" and hangs in write()

        accepted = [recorder.record(make_record(f"r{n}")) for n in range(500)]

        # Every call came back, and came back True, while the disk was still stuck: none
        # of them waited for the writer (the event is only set below).
        assert not sink.release.is_set()
        assert accepted == [True] * 500
        assert sink.calls == 1 and recorder.depth == 501
        assert sink.writes_from_request_path == 0
        assert log.segments("churn") == []
        assert recorder.dropped == 0

        sink.release.set()
        assert recorder.flush(timeout=60)
    finally:
        sink.release.set()
        recorder.close()

    table = log.read("churn")
    ids = table["request_id"].to_pylist()
    assert table.num_rows == 2 * 501  # two rows per record
    assert set(ids) == {"first", *(f"r{n}" for n in range(500))}
    assert recorder.written_rows == 2 * 501 and recorder.depth == 0


def test_a_full_queue_behind_a_stuck_disk_drops_and_counts_rather_than_waits(
    log: ParquetPredictionLog, make_record: MakeRecord
) -> None:
    sink = BlockingSink(log)
    recorder = Recorder(sink, flush_interval_s=0.05, queue_size=10)
    recorder.start()
    try:
        assert recorder.record(make_record("first"))
        assert sink.entered.wait(60)

        accepted = [recorder.record(make_record(f"r{n}")) for n in range(15)]

        assert not sink.release.is_set()
        assert accepted == [True] * 10 + [False] * 5
        assert sink.writes_from_request_path == 0
        assert recorder.dropped == 5
        sink.release.set()
        assert recorder.flush(timeout=60)
    finally:
        sink.release.set()
        recorder.close()
    assert sorted(set(log.read("churn")["request_id"].to_pylist())) == sorted(
        ["first", *(f"r{n}" for n in range(10))]
    )
