"""Compaction: a day's segments become one file with the same rows, never duplicated or lost."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from modelport.predlog.compaction import compact_day, compact_endpoint, live_segments
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord

MakeRecord = Callable[..., PredictionRecord]


@pytest.fixture
def day(log: ParquetPredictionLog, make_record: MakeRecord, noon: float) -> Path:
    for index in range(6):
        log.write([make_record(f"r{index}", at=noon + index)])
    return log.root / "churn" / "2026-03-01"


def frame(log: ParquetPredictionLog) -> pd.DataFrame:
    return log.read("churn").to_pandas().sort_values(["request_id", "row"], ignore_index=True)


def test_compaction_keeps_every_row_once_in_one_file(log: ParquetPredictionLog, day: Path) -> None:
    before = frame(log)

    result = compact_day(day)

    assert (result.replaced, result.rows) == (6, 12)
    assert [p.name for p in day.glob("*.parquet")] == [result.merged.name]  # type: ignore[union-attr]
    pd.testing.assert_frame_equal(frame(log), before)
    assert log.read("churn")["request_id"].to_pylist()[:4] == ["r0", "r0", "r1", "r1"]


def test_a_crash_before_the_old_segments_are_deleted_shows_no_duplicates(
    log: ParquetPredictionLog, day: Path, tmp_path: Path
) -> None:
    before = frame(log)
    backup = tmp_path / "backup"
    shutil.copytree(day, backup)
    merged = compact_day(day).merged
    # As if the process died right after the rename: the old segments are back.
    for path in backup.glob("*.parquet"):
        shutil.copy(path, day / path.name)

    assert len(list(day.glob("*.parquet"))) == 7
    assert live_segments(sorted(day.glob("*.parquet"))) == [merged]
    pd.testing.assert_frame_equal(frame(log), before)

    # The next run removes the leftovers and keeps the merged file.
    compact_day(day)
    assert [p.name for p in day.glob("*.parquet")] == [merged.name]  # type: ignore[union-attr]


def test_segments_written_later_merge_with_the_merged_file(
    log: ParquetPredictionLog, day: Path, make_record: MakeRecord, noon: float
) -> None:
    first = compact_day(day).merged
    log.write([make_record("late", at=noon + 100)])
    before = frame(log)

    second = compact_day(day)

    assert second.replaced == 2 and second.rows == 14
    assert first is not None and not first.exists()
    pd.testing.assert_frame_equal(frame(log), before)


def test_an_unreadable_segment_is_left_alone_and_still_reported(
    log: ParquetPredictionLog, day: Path
) -> None:
    broken = day / "0000000000001-1-000001.parquet"
    broken.write_bytes(b"not parquet")

    result = compact_day(day)

    assert result.skipped == (broken.name,) and broken.exists()
    assert log.read("churn").num_rows == 12
    assert [path for path, _ in log.last_read.skipped] == [str(broken)]


def test_only_finished_days_are_compacted_by_default(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float, day: Path
) -> None:
    assert compact_endpoint(log.root, "churn", before=date(2026, 3, 1)) == []
    results = compact_endpoint(log.root, "churn", before=date(2026, 3, 2))
    assert [r.folder for r in results] == [day]
    assert compact_endpoint(log.root, "nobody") == []
