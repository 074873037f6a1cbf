"""Compaction killed at each of its steps loses no row and duplicates none: readers see
every row exactly once right after the crash, and the next compaction finishes the job."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import modelport
from modelport.predlog.compaction import compact_day, is_finished
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from predlog.crash_compaction import KILLED, STEPS

MakeRecord = Callable[..., PredictionRecord]
SCRIPT = Path(__file__).with_name("crash_compaction.py")


def frame(log: ParquetPredictionLog) -> pd.DataFrame:
    return log.read("churn").to_pandas().sort_values(["request_id", "row"], ignore_index=True)


@pytest.mark.parametrize("step", list(STEPS))
def test_compaction_killed_at_each_step_loses_and_duplicates_nothing(
    log: ParquetPredictionLog, make_record: MakeRecord, noon: float, step: str
) -> None:
    for index in range(6):
        log.write([make_record(f"r{index}", at=noon + index)])
    day = log.root / "churn" / "2026-03-01"
    before = frame(log)
    assert len(before) == 12

    env = {**os.environ, "PYTHONPATH": str(Path(modelport.__file__).parents[1])}
    crashed = subprocess.run(
        [sys.executable, str(SCRIPT), str(day), step],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert crashed.returncode == KILLED, crashed.stderr
    # Right after the crash: every row once, whatever the compaction left behind.
    pd.testing.assert_frame_equal(frame(log), before)
    assert log.last_read.skipped == []

    compact_day(day, grace_s=0)
    compact_day(day, grace_s=0)  # removes what an interrupted run left hidden

    pd.testing.assert_frame_equal(frame(log), before)
    assert is_finished(day), sorted(p.name for p in day.iterdir())
    assert not list(day.glob(".*.tmp"))
