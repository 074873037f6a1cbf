"""The prediction-log read contract (``modelport.predlog.reader.PredictionLog``), run
against every implementation in ``BACKENDS``.

A backend gives a fresh log plus two things only it knows how to do to what it stores:
``damage`` one stored piece (the one holding a request), either so that nothing of it can
be opened or so that it opens but its data cannot be read, and ``compact`` what an
endpoint holds (merge stored pieces, as a store reorganises itself). Everything else goes
through the protocol. To add a backend, add a factory to ``BACKENDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.batch import Batch, Prediction
from modelport.predlog import columns as col
from modelport.predlog.compaction import compact_endpoint
from modelport.predlog.feedback import FeedbackItem, FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.reader import PredictionLog, WindowSpec, join_labels
from modelport.predlog.records import PredictionRecord
from modelport.store.db import Database

ENDPOINT = "churn"
# An hour ago: recent enough that what is written now is "written since" it.
START = float(int(time.time()) - 3600)


@dataclass
class Backend:
    log: PredictionLog
    # Make the stored piece holding this request unreadable: "whole" (nothing of it
    # opens) or "inside" (it opens, its data does not read).
    damage: Callable[[str, str], None]
    # Merge what the endpoint holds so far.
    compact: Callable[[], None]


def parquet(folder: Path) -> Backend:
    log = ParquetPredictionLog(folder / "logs")

    def damage(request_id: str, how: str) -> None:
        (path,) = [
            p
            for p in log.segments(ENDPOINT)
            if request_id in pq.read_table(p, columns=[col.REQUEST_ID])[col.REQUEST_ID].to_pylist()
        ]
        data = bytearray(path.read_bytes())
        if how == "whole":
            del data[-64:]  # the footer, and with it the schema
        else:
            # Every page header of every column chunk: the footer still describes them.
            metadata = pq.read_metadata(path)
            for group in range(metadata.num_row_groups):
                for index in range(metadata.num_columns):
                    chunk = metadata.row_group(group).column(index)
                    for offset in (chunk.dictionary_page_offset, chunk.data_page_offset):
                        if offset:
                            data[offset : offset + 16] = b"\xff" * 16
        path.write_bytes(bytes(data))

    def compact() -> None:
        # No grace period: the merged files replace their sources at once.
        compact_endpoint(log.root, ENDPOINT, before=date.today() + timedelta(days=2), grace_s=0)

    return Backend(log, damage, compact)


BACKENDS: dict[str, Callable[[Path], Backend]] = {"parquet": parquet}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def log(backend: Backend) -> PredictionLog:
    return backend.log


def record(
    request_id: str, at: float, *, version: int = 1, role: str = "primary", rows: int = 1
) -> PredictionRecord:
    """One call of ``rows`` rows, ``at`` seconds after START."""
    return PredictionRecord(
        request_id=request_id,
        endpoint=ENDPOINT,
        model="churn",
        version=version,
        role=role,
        ts=START + at,
        latency_ms=2.0,
        features=Batch({"tenure": np.arange(rows, dtype=np.float64)}, rows),
        prediction=Prediction(np.zeros(rows, dtype=np.int64), np.full((rows, 2), 0.5)),
        classes=("0", "1"),
    )


def moment(at: float) -> datetime:
    return datetime.fromtimestamp(START + at, UTC)


def ids(table: pa.Table) -> list[str]:
    return list(table[col.REQUEST_ID].to_pylist())


def keys(table: pa.Table) -> list[tuple[str, str]]:
    return list(zip(ids(table), table[col.ROLE].to_pylist(), strict=True))


@pytest.fixture
def traffic(log: PredictionLog) -> PredictionLog:
    """r0..r5 ten seconds apart, one write each: versions 1, 2, 1, ...; r5 a shadow."""
    for i in range(6):
        role = "shadow" if i == 5 else "primary"
        log.write([record(f"r{i}", 10.0 * i, version=1 + i % 2, role=role)])
    return log


# -- which rows ------------------------------------------------------------------------------


def test_a_time_window_holds_since_and_excludes_until(traffic: PredictionLog) -> None:
    since, until = moment(10), moment(30)

    assert ids(traffic.read(ENDPOINT, since=since, until=until)) == ["r1", "r2"]
    assert ids(traffic.read(ENDPOINT, since=since)) == ["r1", "r2", "r3", "r4", "r5"]
    assert ids(traffic.read(ENDPOINT, until=until)) == ["r0", "r1", "r2"]
    window = traffic.window(ENDPOINT, WindowSpec(since, until))
    assert window.n_rows == 2 and ids(window.table([col.REQUEST_ID])) == ["r1", "r2"]


def test_last_keeps_the_newest_rows_that_pass_the_other_filters(traffic: PredictionLog) -> None:
    assert ids(traffic.read(ENDPOINT, last=2)) == ["r4", "r5"]
    assert ids(traffic.read(ENDPOINT, last=2, version=1)) == ["r2", "r4"]
    assert ids(traffic.read(ENDPOINT, last=2, until=moment(30))) == ["r1", "r2"]
    assert ids(traffic.read(ENDPOINT, last=100)) == [f"r{i}" for i in range(6)]
    newest = traffic.window(ENDPOINT, WindowSpec(last=2))
    assert ids(newest.table()) == ["r4", "r5"]
    assert ids(traffic.window(ENDPOINT, newest.spec.previous()).table()) == ["r2", "r3"]


def test_versions_and_roles_filter(traffic: PredictionLog) -> None:
    assert ids(traffic.read(ENDPOINT, version=2)) == ["r1", "r3", "r5"]
    assert ids(traffic.read(ENDPOINT, role="shadow")) == ["r5"]
    assert ids(traffic.read(ENDPOINT, version=2, role="primary")) == ["r1", "r3"]
    served = traffic.window(ENDPOINT, versions=[1, 2], roles=["primary", "canary"])
    assert ids(served.table()) == ["r0", "r1", "r2", "r3", "r4"]
    assert traffic.window(ENDPOINT, versions=[3]).n_rows == 0


def test_columns_come_back_typed_even_when_no_row_does(
    log: PredictionLog, traffic: PredictionLog
) -> None:
    wanted = [col.REQUEST_ID, col.TS, col.VERSION, col.PREDICTION_VALUE, col.proba("1")]
    expected = pa.schema([(name, col.column_type(name)) for name in wanted])

    for table in (
        log.read("nobody", columns=wanted),
        log.read(ENDPOINT, columns=wanted, version=99),
        log.window(ENDPOINT, WindowSpec(since=moment(1000))).table(wanted),
    ):
        assert table.num_rows == 0 and table.schema == expected
    everything = log.read("nobody")
    assert everything.schema == pa.schema([(n, col.column_type(n)) for n in col.META])
    # A column no stored row holds comes back typed too, next to the rows that exist.
    assert log.read(ENDPOINT, columns=[col.LABEL_VALUE]).schema.field(0).type == pa.float64()


# -- incremental reads -----------------------------------------------------------------------


def test_a_cursor_returns_each_new_row_once(log: PredictionLog) -> None:
    log.write([record("early", -10.0)])  # before the cursor's moment
    log.write([record("a", 0.0), record("b", 1.0)])
    cursor = log.follow(ENDPOINT, moment(0), [col.VERSION])

    assert ids(cursor.read()) == ["a", "b"]
    assert cursor.read().num_rows == 0
    log.write([record("c", 2.0)])
    log.write([record("d", 3.0)])
    assert ids(cursor.read()) == ["c", "d"]
    assert cursor.read().num_rows == 0
    assert ids(cursor.rows()) == ["a", "b", "c", "d"]
    assert cursor.rows().column_names[:4] == [col.REQUEST_ID, col.ROW, col.ROLE, col.VERSION]


def test_a_row_with_an_older_time_in_a_later_write_is_returned(log: PredictionLog) -> None:
    """A shadow copy carries its request's arrival time and is written after newer rows."""
    log.write([record("a", 5.0), record("b", 6.0)])
    cursor = log.follow(ENDPOINT, moment(0), [])
    assert ids(cursor.read()) == ["a", "b"]

    log.write([record("a", 5.0, role="shadow", version=2), record("c", 7.0)])

    assert keys(cursor.read()) == [("a", "shadow"), ("c", "primary")]
    assert cursor.read().num_rows == 0


def test_a_cursor_from_now_on_starts_with_the_newest_rows(log: PredictionLog) -> None:
    for i in range(4):
        log.write([record(f"old{i}", float(i))])
    cursor = log.follow(ENDPOINT, last=2)

    assert ids(cursor.read()) == ["old2", "old3"]
    log.write([record("old0", 0.0, role="shadow", version=2)])  # an old time, written now
    assert keys(cursor.read()) == [("old0", "shadow")]
    assert cursor.read().num_rows == 0
    assert log.follow(ENDPOINT).read().num_rows == 0


def test_a_cursor_keeps_to_its_roles(log: PredictionLog) -> None:
    log.write([record("a", 1.0), record("a", 1.0, role="shadow", version=2)])
    cursor = log.follow(ENDPOINT, moment(0), [], roles=["shadow"])

    assert keys(cursor.read()) == [("a", "shadow")]


def test_compaction_neither_repeats_nor_loses_rows(backend: Backend) -> None:
    log = backend.log
    log.write([record("a", 1.0, rows=2)])
    log.write([record("b", 2.0)])
    cursor = log.follow(ENDPOINT, moment(0), [])
    assert ids(cursor.read()) == ["a", "a", "b"]
    log.write([record("c", 3.0)])  # not read yet when it is merged with what was

    backend.compact()

    assert ids(cursor.read()) == ["c"]
    log.write([record("d", 4.0)])
    assert ids(cursor.read()) == ["d"]
    backend.compact()  # everything merged again: nothing new
    assert cursor.read().num_rows == 0
    assert sorted(ids(cursor.rows())) == ["a", "a", "b", "c", "d"]


# -- damage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["whole", "inside"])
def test_a_damaged_piece_is_skipped_with_a_warning_and_never_fails_a_read(
    backend: Backend, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    log = backend.log
    for i, name in enumerate(["a", "b", "c"]):
        log.write([record(name, float(i), rows=2)])
    cursor = log.follow(ENDPOINT, moment(0), [col.VERSION])
    backend.damage("b", how)

    with caplog.at_level(logging.WARNING, logger="modelport"):
        assert ids(log.read(ENDPOINT)) == ["a", "a", "c", "c"]
        assert ids(log.read(ENDPOINT, last=3)) == ["a", "c", "c"]
        window = log.window(ENDPOINT)
        assert ids(window.table([col.REQUEST_ID, col.VERSION])) == ["a", "a", "c", "c"]
        assert ids(cursor.read()) == ["a", "a", "c", "c"]

    ((where, why),) = window.skipped
    assert where and why
    assert [w for w, _ in cursor.skipped] == [where]
    assert any(where in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    log.write([record("d", 3.0)])  # reading goes on after it
    assert ids(cursor.read()) == ["d"]


# -- labels and request ids ------------------------------------------------------------------


@pytest.fixture
def feedback(log: PredictionLog, tmp_path: Path) -> Iterator[FeedbackStore]:
    db = Database(f"sqlite:///{tmp_path / 'labels.db'}")
    try:
        yield FeedbackStore(db, log)
    finally:
        db.dispose()


def _labelled(rows: pa.Table) -> list[tuple[Any, ...]]:
    return list(zip(ids(rows), rows[col.ROW].to_pylist(), rows[col.LABEL].to_pylist(), strict=True))


def test_labels_join_on_request_and_row(log: PredictionLog, feedback: FeedbackStore) -> None:
    log.write([record("b", 2.0, rows=2), record("a", 1.0), record("none", 3.0)])
    feedback.ingest([FeedbackItem("b", "1", row=1), FeedbackItem("a", 0), FeedbackItem("x", 1)])
    rows = log.read(ENDPOINT)

    everything = join_labels(rows, feedback.labels(), keep_unlabelled=True)
    labelled = join_labels(rows, feedback.labels(), keep_unlabelled=False)

    # Oldest first, whatever order the log or the labels hold them in.
    assert _labelled(everything) == [
        ("a", 0, "0"), ("b", 0, None), ("b", 1, "1"), ("none", 0, None),
    ]  # fmt: skip
    assert _labelled(labelled) == [("a", 0, "0"), ("b", 1, "1")]
    assert labelled[col.LABEL_VALUE].to_pylist() == [0.0, 1.0]
    assert labelled.column_names == [*rows.column_names, *[col.LABEL, col.LABEL_VALUE,
                                                           col.LABEL_RECEIVED_AT]]  # fmt: skip
    assert labelled.schema.field(col.LABEL_RECEIVED_AT).type == col.TIMESTAMP
    empty = join_labels(log.read("nobody"), feedback.labels(), keep_unlabelled=True)
    assert empty.num_rows == 0 and col.LABEL_RECEIVED_AT in empty.column_names


def test_a_label_sent_again_replaces_the_earlier_one(
    log: PredictionLog, feedback: FeedbackStore
) -> None:
    log.write([record("a", 1.0)])
    feedback.ingest([FeedbackItem("a", 0)])
    first = join_labels(log.read(ENDPOINT), feedback.labels(), keep_unlabelled=False)
    feedback.ingest([FeedbackItem("a", 1)])

    again = join_labels(log.read(ENDPOINT), feedback.labels(), keep_unlabelled=False)

    assert _labelled(again) == [("a", 0, "1")]
    assert again[col.LABEL_RECEIVED_AT][0].as_py() >= first[col.LABEL_RECEIVED_AT][0].as_py()


def test_request_ids_are_found_under_their_endpoint(log: PredictionLog) -> None:
    log.write([record("a", 1.0), record("b", 2.0)])
    log.write([PredictionRecord("p", "pricing", "pricing", 1, "primary", START, 1.0)])

    assert log.find_request_ids(["a", "p", "zzz"]) == {"a": ENDPOINT, "p": "pricing"}
    assert log.find_request_ids([]) == {}
