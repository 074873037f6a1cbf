"""A damaged log segment is skipped by the rollout readers: the step window the controller
analyses (a cursor of the log) and the shadow report return the good rows, say which file they
skipped, never raise, and keep reading segments written afterwards."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.rollout import RolloutService
from modelport.rollout.evidence import BASE_COLUMNS
from modelport.rollout.report import shadow_report
from modelport.store.db import Database
from rollout.logdata import LogWriter, shadow_rollout, version_of_kind
from rollout.traffic import PRIMARY, SAME

SINCE = datetime.now(UTC) - timedelta(minutes=5)


def _canary_traffic(writer: LogWriter, prefix: str, n: int) -> None:
    """``n`` requests, every other one answered by the canary (and copied to the primary)."""
    for i in range(n):
        if i % 2:
            writer.add(f"{prefix}-p{i}", "primary", PRIMARY, "0")
        else:
            writer.add(f"{prefix}-c{i}", "canary", SAME, "0")
            writer.add(f"{prefix}-c{i}", "baseline", PRIMARY, "0")
    writer.flush()


def _damage(log: ParquetPredictionLog) -> list[Path]:
    """Three unreadable segments next to the good ones, named like real segments: a
    truncated copy of a good one (footer gone), garbage, and an empty file."""
    good = log.segments("churn")[0]
    folder = good.parent
    stem = good.stem.split("-")[0]
    damaged = [folder / f"{stem}-99990-{n:06d}.parquet" for n in (1, 2, 3)]
    shutil.copyfile(good, damaged[0])
    damaged[0].write_bytes(damaged[0].read_bytes()[:-64])
    damaged[1].write_bytes(b"PAR1 not really parquet " * 20)
    damaged[2].write_bytes(b"")
    return damaged


def _warned(caplog: pytest.LogCaptureFixture, paths: list[Path]) -> set[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    return {str(p) for p in paths if any(str(p) in m for m in messages)}


def test_the_step_window_skips_damaged_segments_and_keeps_reading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = LogWriter(tmp_path)
    _canary_traffic(writer, "first", 10)
    damaged = _damage(writer.log)
    window = writer.log.follow("churn", SINCE, BASE_COLUMNS)
    primaries = writer.log.follow("churn", SINCE, BASE_COLUMNS, roles=["primary"])

    with caplog.at_level(logging.WARNING, logger="modelport"):
        rows = window.rows()
        primary_rows = primaries.rows()

    assert len(rows) == 15 and set(rows["request_id"].to_pylist()) == {
        *(f"first-p{i}" for i in range(1, 10, 2)),
        *(f"first-c{i}" for i in range(0, 10, 2)),
    }
    assert sorted(primary_rows["request_id"].to_pylist()) == sorted(
        f"first-p{i}" for i in range(1, 10, 2)
    )
    assert _warned(caplog, damaged) == {str(p) for p in damaged}

    _canary_traffic(writer, "second", 10)  # a new segment after the damaged ones

    later = window.rows()
    assert len(later) == 30
    assert {r for r in later["request_id"].to_pylist() if r.startswith("second-")} == {
        *(f"second-p{i}" for i in range(1, 10, 2)),
        *(f"second-c{i}" for i in range(0, 10, 2)),
    }
    assert len(primaries.rows()) == 10


def test_the_shadow_report_skips_damaged_segments_and_keeps_reading(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    for i in range(20):
        writer.add(f"r{i}", "primary", 1, "0")
        writer.add(f"r{i}", "shadow", 2, "1" if i % 4 == 0 else "0")
    writer.flush()
    damaged = _damage(writer.log)

    report = shadow_report(writer.log, shadow_rollout(), version_of_kind("classification"), "plan")

    assert report["requests"]["primary"] == report["requests"]["candidate"] == 20
    assert report["requests"]["paired_rows"] == 20
    assert report["comparison"]["agreement"] == 0.75
    assert sorted(path for path, _ in writer.log.last_read.skipped) == sorted(map(str, damaged))

    for i in range(20, 30):
        writer.add(f"r{i}", "primary", 1, "0")
        writer.add(f"r{i}", "shadow", 2, "0")
    writer.flush()
    later = shadow_report(writer.log, shadow_rollout(), version_of_kind("classification"), None)
    assert later["requests"]["paired_rows"] == 30
    assert later["comparison"]["agreement"] == round(25 / 30, 4)


def test_rollout_status_and_report_survive_a_damaged_segment(rollout_project: Path) -> None:
    """Through the service the CLI and the HTTP API call: a fresh analysis (the
    controller's reading of the step window) and the report."""
    home = rollout_project / ".modelport"
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        log = ParquetPredictionLog(home / "logs")
        service = RolloutService(registry, EndpointStore(db, registry), log, FeedbackStore(db, log))
        service.start(
            "churn",
            {"version": SAME, "strategy": "canary", "steps": "50,100", "step_every": "1h"},
            "test",
        )
        writer = LogWriter(home)
        _canary_traffic(writer, "first", 20)
        _damage(writer.log)

        status = service.status("churn", fresh=True)["rollout"]
        report = service.report("churn")

        assert status["status"] == "active"
        assert status["verdicts"]["evidence"]["candidate_requests"] == 10
        assert report["requests"]["candidate"] == 10 and report["requests"]["paired_rows"] == 10

        _canary_traffic(writer, "second", 20)

        status = service.status("churn", fresh=True)["rollout"]
        assert status["verdicts"]["evidence"]["candidate_requests"] == 20
        assert service.report("churn")["requests"]["paired_rows"] == 20
    finally:
        db.dispose()
