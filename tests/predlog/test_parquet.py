from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.batch import Batch, Prediction
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord, records_to_table

MakeRecord = Callable[..., PredictionRecord]
HOUR = 3600.0


def test_written_records_read_back_identically(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float
) -> None:
    records = [make_record("a", at=noon), make_record("b", at=noon + 1, version=2)]

    assert log.write(records) == 4
    table = log.read("churn")

    pd.testing.assert_frame_equal(table.to_pandas(), records_to_table(records).to_pandas())
    assert log.last_read.skipped == []
    assert log.endpoints() == ["churn"]


def test_each_write_adds_one_immutable_segment_per_endpoint(
    log: ParquetPredictionLog, make_record: MakeRecord
) -> None:
    log.write([make_record("a"), make_record("b", endpoint="pricing")])
    log.write([make_record("c")])

    assert len(log.segments("churn")) == 2
    assert len(log.segments("pricing")) == 1
    assert log.read("pricing")["request_id"].to_pylist() == ["b", "b"]
    assert not list(log.root.rglob("*.tmp"))


def test_reading_an_unknown_endpoint_gives_an_empty_table(log: ParquetPredictionLog) -> None:
    assert log.read("nobody").num_rows == 0
    assert log.endpoints() == []


@pytest.fixture
def day_of_traffic(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float
) -> ParquetPredictionLog:
    """Requests r0..r5, one per hour from 10:00 on 2026-03-01, across two versions and
    roles, plus one the day before; one segment each."""
    log.write([make_record("yesterday", at=noon - 24 * HOUR)])
    for hour in range(6):
        log.write(
            [
                make_record(
                    f"r{hour}",
                    at=noon + (hour - 2) * HOUR,
                    version=1 + hour % 2,
                    role="shadow" if hour == 5 else "primary",
                )
            ]
        )
    return log


def ids(table: pa.Table) -> list[str]:
    return list(dict.fromkeys(table["request_id"].to_pylist()))


def test_read_filters_by_time_version_role_and_count(day_of_traffic: ParquetPredictionLog) -> None:
    log = day_of_traffic
    noon = datetime(2026, 3, 1, 12, tzinfo=UTC)

    assert ids(log.read("churn")) == ["yesterday", "r0", "r1", "r2", "r3", "r4", "r5"]
    assert ids(log.read("churn", since=noon)) == ["r2", "r3", "r4", "r5"]
    assert ids(log.read("churn", until=noon)) == ["yesterday", "r0", "r1"]
    assert ids(log.read("churn", since=noon, until=noon + timedelta(hours=2))) == ["r2", "r3"]
    assert ids(log.read("churn", version=2)) == ["r1", "r3", "r5"]
    assert ids(log.read("churn", role="shadow")) == ["r5"]
    assert ids(log.read("churn", version=1, role="primary", since=noon)) == ["r2", "r4"]
    # ``last`` counts rows (two per request here), newest last.
    assert log.read("churn", last=3)["request_id"].to_pylist() == ["r4", "r5", "r5"]
    assert ids(log.read("churn", last=2, version=1)) == ["r4"]
    # Matching rows may sit several segments back from the newest.
    assert ids(log.read("churn", last=2, version=1, until=noon)) == ["r0"]
    assert ids(log.read("churn", last=100, role="shadow")) == ["r5"]


def test_a_zone_other_than_utc_means_the_same_instant(
    day_of_traffic: ParquetPredictionLog,
) -> None:
    paris_noon = datetime(2026, 3, 1, 13, tzinfo=timezone(timedelta(hours=1)))

    assert ids(day_of_traffic.read("churn", since=paris_noon)) == ["r2", "r3", "r4", "r5"]


def test_selected_columns_only(day_of_traffic: ParquetPredictionLog) -> None:
    table = day_of_traffic.read("churn", columns=["request_id", "feature.plan"], version=2)

    assert table.column_names == ["request_id", "feature.plan"]
    assert table.num_rows == 6


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"garbage" * 10, id="garbage"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_an_unreadable_segment_is_reported_and_skipped(
    log: ParquetPredictionLog,
    make_record: MakeRecord,
    noon: float,
    damage: Callable[[bytes], bytes],
) -> None:
    for index, request_id in enumerate(["a", "b", "c"]):
        log.write([make_record(request_id, at=noon + index)])
    broken = log.segments("churn")[1]
    broken.write_bytes(damage(broken.read_bytes()))

    table = log.read("churn")

    assert ids(table) == ["a", "c"]
    (skipped,) = log.last_read.skipped
    assert skipped[0] == str(broken)
    assert skipped[1]  # the reason, as pyarrow gave it
    # Column reads and ``last`` also step over it.
    assert log.read("churn", columns=["feature.tenure"]).num_rows == 4
    assert log.read("churn", last=3)["request_id"].to_pylist() == ["a", "c", "c"]


def test_every_unreadable_segment_is_reported_in_order(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float
) -> None:
    for index in range(5):
        log.write([make_record(f"r{index}", at=noon + index)])
    segments = log.segments("churn")
    for broken in segments[1:4]:
        broken.write_bytes(b"not parquet")

    assert ids(log.read("churn")) == ["r0", "r4"]
    assert [path for path, _ in log.last_read.skipped] == [str(p) for p in segments[1:4]]


def test_a_feature_that_changed_kind_between_segments_reads_as_text(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float
) -> None:
    numeric = Batch({"zone": np.array([1.0, 2.0])}, 2)
    textual = Batch({"zone": np.array(["north", None], dtype=object)}, 2)
    log.write([make_record("v1", at=noon, features=numeric)])
    log.write([make_record("v2", at=noon + 1, features=textual, version=2)])

    table = log.read("churn")

    assert table.schema.field("feature.zone").type == pa.string()
    assert table["feature.zone"].to_pylist() == ["1", "2", "north", None]
    assert log.last_read.skipped == []


def test_find_request_ids_across_endpoints(
    log: ParquetPredictionLog, make_record: MakeRecord
) -> None:
    log.write([make_record("a"), make_record("b", endpoint="pricing")])

    assert log.find_request_ids(["a", "b", "zzz"]) == {"a": "churn", "b": "pricing"}


@pytest.fixture(scope="module")
def million_rows(tmp_path_factory: pytest.TempPathFactory) -> ParquetPredictionLog:
    rows = 1_000_000
    rng = np.random.default_rng(0)
    features = Batch(
        {
            "tenure": rng.normal(size=rows),
            "charges": rng.normal(size=rows),
            "plan": np.array(["basic", "pro"], dtype=object)[rng.integers(0, 2, rows)],
        },
        rows,
    )
    record = PredictionRecord(
        "bulk",
        "churn",
        "churn",
        1,
        "batch",
        datetime(2026, 3, 1, tzinfo=UTC).timestamp(),
        1.0,
        features,
        Prediction(rng.integers(0, 2, rows), rng.random((rows, 2))),
        ("0", "1"),
    )
    log = ParquetPredictionLog(tmp_path_factory.mktemp("million") / "logs")
    log.write([record])
    return log


def test_one_feature_over_a_million_rows_reads_only_that_column(
    million_rows: ParquetPredictionLog,
) -> None:
    (segment,) = million_rows.segments("churn")
    stored = pq.read_schema(segment).names

    table = million_rows.read("churn", columns=["feature.charges"])

    assert len(stored) > 15
    assert table.column_names == ["feature.charges"]
    assert table.num_rows == 1_000_000
    assert table.schema.field("feature.charges").type == pa.float64()


def test_day_folders_bound_what_a_time_window_opens(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float
) -> None:
    for day in range(5):
        log.write([make_record(f"day{day}", at=noon + day * 24 * HOUR)])
    since = datetime(2026, 3, 4, tzinfo=UTC)

    opened = log.segments("churn", since=since)

    # One day of slack before ``since`` covers segments that began before midnight.
    assert [p.parent.name for p in opened] == ["2026-03-03", "2026-03-04", "2026-03-05"]
    assert ids(log.read("churn", since=since)) == ["day3", "day4"]
