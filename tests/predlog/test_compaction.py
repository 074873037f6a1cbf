"""Compaction: a day's segments become one file with the same rows, never duplicated or lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import modelport
from modelport.batch import Batch
from modelport.predlog.compaction import (
    GRACE_S,
    CompactionAbandoned,
    compact_day,
    compact_endpoint,
    is_finished,
    live_segments,
)
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.reader import WindowSpec
from modelport.predlog.records import PredictionRecord
from modelport.predlog.window import ParquetWindow

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

    result = compact_day(day, grace_s=0)

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
    merged = compact_day(day, grace_s=0).merged
    # As if the process died right after the rename: the old segments are back.
    for path in backup.glob("*.parquet"):
        shutil.copy(path, day / path.name)

    assert len(list(day.glob("*.parquet"))) == 7
    assert live_segments(sorted(day.glob("*.parquet"))) == [merged]
    pd.testing.assert_frame_equal(frame(log), before)

    # The next run removes the leftovers and keeps the merged file.
    compact_day(day, grace_s=0)
    assert [p.name for p in day.glob("*.parquet")] == [merged.name]  # type: ignore[union-attr]


def test_segments_written_later_merge_with_the_merged_file(
    log: ParquetPredictionLog, day: Path, make_record: MakeRecord, noon: float
) -> None:
    first = compact_day(day, grace_s=0).merged
    log.write([make_record("late", at=noon + 100)])
    before = frame(log)

    second = compact_day(day, grace_s=0)

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


def test_replaced_segments_stay_for_the_grace_period_hidden_then_go(
    log: ParquetPredictionLog, day: Path
) -> None:
    before = frame(log)

    merged = compact_day(day).merged
    assert merged is not None

    # Within the grace period the sources stay on disk, hidden behind the merged file.
    assert len(list(day.glob("*.parquet"))) == 7
    assert log.segments("churn") == [merged]
    pd.testing.assert_frame_equal(frame(log), before)
    compact_day(day)
    assert len(list(day.glob("*.parquet"))) == 7

    # Once the merged file is older than the grace period, the next run removes them.
    old = time.time() - GRACE_S - 1
    os.utime(merged, (old, old))
    assert compact_day(day).merged is None
    assert [p.name for p in day.glob("*.parquet")] == [merged.name]
    assert is_finished(day)
    pd.testing.assert_frame_equal(frame(log), before)


def test_a_finished_day_is_skipped_by_listing_alone(log: ParquetPredictionLog, day: Path) -> None:
    compact_endpoint(log.root, "churn", before=date(2026, 3, 2), grace_s=0)
    (day / ".compact.lock").unlink()

    assert compact_endpoint(log.root, "churn", before=date(2026, 3, 2), grace_s=0) == []
    # compact_day was never entered: it would have taken the folder's lock file.
    assert not (day / ".compact.lock").exists()


def test_compaction_streams_row_groups_bounded_by_its_memory(
    log: ParquetPredictionLog,
    make_record: MakeRecord,
    make_batch: Callable[..., Batch],
    noon: float,
) -> None:
    rows_per_segment = 2_000
    for index in range(10):
        batch = make_batch(
            tenure=np.arange(rows_per_segment, dtype=np.float64),
            plan=[f"plan-{index}-{n}" for n in range(rows_per_segment)],
        )
        log.write([make_record(f"big{index}", at=noon + index, features=batch)])
    day = log.root / "churn" / "2026-03-01"
    before = frame(log)

    result = compact_day(day, grace_s=0, memory_mb=1)

    assert result.rows == 10 * rows_per_segment
    metadata = pq.read_metadata(result.merged)  # type: ignore[arg-type]
    groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
    # The day (several MB as rows) was written in groups that each fit the budget.
    assert len(groups) > 1
    assert max(group.total_byte_size for group in groups) <= 1024 * 1024
    assert sum(group.num_rows for group in groups) == 10 * rows_per_segment
    pd.testing.assert_frame_equal(frame(log), before)


def test_a_feature_whose_kind_changed_reads_the_same_after_compaction(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float
) -> None:
    numeric = Batch({"plan": np.array([1.5, 2.5])}, 2)
    text = Batch({"plan": np.array(["basic", None], dtype=object)}, 2)
    log.write([make_record("numeric", at=noon, features=numeric)])
    log.write([make_record("text", at=noon + 1, features=text)])
    before = frame(log)

    compact_day(log.root / "churn" / "2026-03-01", grace_s=0)

    after = frame(log)
    assert after["feature.plan"].tolist() == before["feature.plan"].tolist()
    pd.testing.assert_frame_equal(after, before)


def test_a_compaction_told_to_stop_changes_nothing(log: ParquetPredictionLog, day: Path) -> None:
    listing = sorted(p.name for p in day.iterdir() if p.name != ".compact.lock")
    before = frame(log)

    with pytest.raises(CompactionAbandoned):
        compact_day(day, grace_s=0, memory_mb=1, keep_going=lambda: False)
    with pytest.raises(CompactionAbandoned):
        compact_endpoint(log.root, "churn", before=date(2026, 3, 2), keep_going=lambda: False)

    assert sorted(p.name for p in day.iterdir() if p.name != ".compact.lock") == listing
    pd.testing.assert_frame_equal(frame(log), before)


def test_a_read_that_listed_before_a_compaction_sees_every_row_once(
    log: ParquetPredictionLog, day: Path
) -> None:
    before = frame(log)
    listed = log.segments("churn")

    compact_day(day, grace_s=0)  # the listed files are gone, merged into one

    window = ParquetWindow(listed, WindowSpec(), relist=lambda: log.segments("churn"))
    rows = window.table().to_pandas().sort_values(["request_id", "row"], ignore_index=True)
    pd.testing.assert_frame_equal(rows, before)
    assert window.skipped == []


def test_a_window_opened_before_a_compaction_reads_every_row_once(
    log: ParquetPredictionLog, day: Path
) -> None:
    before = frame(log)
    # Rows selected from the old segments; their data is read after they are gone.
    window = log.window("churn")

    compact_day(day, grace_s=0)

    rows = window.table().to_pandas().sort_values(["request_id", "row"], ignore_index=True)
    pd.testing.assert_frame_equal(rows, before)
    assert window.skipped == []


def test_a_window_within_the_grace_period_needs_no_fresh_listing(
    log: ParquetPredictionLog, day: Path
) -> None:
    before = frame(log)
    listed = log.segments("churn")

    compact_day(day)  # default grace: the listed sources are still there

    window = ParquetWindow(listed, WindowSpec())
    assert window.column("request_id") is not None
    rows = window.table().to_pandas().sort_values(["request_id", "row"], ignore_index=True)
    pd.testing.assert_frame_equal(rows, before)


PEAK_SCRIPT = """
import sys
from pathlib import Path
import pyarrow as pa
from modelport.predlog.compaction import compact_day
result = compact_day(Path(sys.argv[1]), grace_s=0, memory_mb=int(sys.argv[2]))
print(result.rows, pa.default_memory_pool().max_memory())
"""


def test_compaction_memory_does_not_grow_with_the_day(
    log: ParquetPredictionLog,
    make_record: MakeRecord,
    make_batch: Callable[..., Batch],
    noon: float,
) -> None:
    rows_per_segment, segments = 40_000, 8
    for index in range(segments):
        batch = make_batch(
            tenure=np.arange(rows_per_segment, dtype=np.float64),
            plan=[f"plan-{index}-{n:08d}-of-a-long-name" for n in range(rows_per_segment)],
        )
        log.write([make_record(f"big{index}", at=noon + index, features=batch)])
    day = log.root / "churn" / "2026-03-01"
    day_bytes = log.read("churn").nbytes
    assert day_bytes > 30 * 1024 * 1024

    # A fresh process, so the memory pool's peak is the compaction's alone.
    env = {**os.environ, "PYTHONPATH": str(Path(modelport.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(day), "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )

    rows, peak = (int(word) for word in done.stdout.split())
    assert rows == rows_per_segment * segments
    # The budget plus one source row group (one flush), far below the day itself.
    assert peak < day_bytes / 2, (peak, day_bytes)
    assert log.read("churn").num_rows == rows_per_segment * segments


def test_a_dead_writers_temporary_file_goes_once_it_is_old(day: Path) -> None:
    fresh, stale = day / ".1-2-3.parquet.tmp", day / ".4-5-6.parquet.tmp"
    fresh.write_bytes(b"being written")
    stale.write_bytes(b"left by a killed writer")
    old = time.time() - GRACE_S - 1
    os.utime(stale, (old, old))

    compact_day(day, grace_s=0)

    assert fresh.exists() and not stale.exists()
