"""``modelport monitor backfill`` through the CLI: closed windows are recomputed from the
log and stored, and ``monitor history`` then shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from modelport.batch import Batch
from modelport.config import Settings
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import make_churn_data, run_cli

NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)
ROWS_PER_HOUR = 300
ROWS_PER_REQUEST = 10


def _log_hour(project: Path, frame: pd.DataFrame, start: datetime, prefix: str) -> None:
    """Log ``frame`` as the churn endpoint would have, spread over the hour from ``start``,
    with churn:1's real predictions."""
    settings = Settings.load(project / "modelport.toml")
    home = project / settings.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(home / "artifacts"))
    version = registry.get("churn", 1)
    predictor = registry.load(version)
    db.dispose()
    records = []
    requests = len(frame) // ROWS_PER_REQUEST
    for index in range(requests):
        rows = frame.iloc[index * ROWS_PER_REQUEST : (index + 1) * ROWS_PER_REQUEST]
        batch = Batch.from_frame(rows, version.input_schema)
        records.append(
            PredictionRecord(
                request_id=f"{prefix}-{index}",
                endpoint="churn",
                model="churn",
                version=1,
                role="primary",
                ts=(start + timedelta(seconds=index * 3600 / requests)).timestamp(),
                latency_ms=2.0,
                features=batch,
                prediction=predictor.predict(batch),
                classes=tuple(version.output.classes),
            )
        )
    ParquetPredictionLog(home / "logs").write(records)


def test_backfill_stores_windows_that_history_then_shows(churn_project: Path) -> None:
    steady = make_churn_data(ROWS_PER_HOUR, seed=5).drop(columns=["churned"])
    shifted = make_churn_data(ROWS_PER_HOUR, seed=6).drop(columns=["churned"])
    shifted["tenure"] += 40  # long-standing customers only: tenure drifted
    _log_hour(churn_project, steady, NOON, "steady")
    _log_hour(churn_project, shifted, NOON + timedelta(hours=1), "shifted")
    span = ["--since", NOON.isoformat(), "--until", (NOON + timedelta(hours=2)).isoformat()]

    stored = run_cli("monitor", "backfill", "churn", "--every", "1h", *span, cwd=churn_project)

    assert "stored 2 windows of 1h for churn" in stored.stdout
    assert stored.stdout.count(f"version 1: {ROWS_PER_HOUR} rows") == 2
    shown = run_cli(
        "monitor", "history", "churn", "--feature", "tenure", "--stat", "ks",
        "--since", (NOON - timedelta(hours=1)).isoformat(), "--format", "json",
        cwd=churn_project,
    )  # fmt: skip
    points = json.loads(shown.stdout)["points"]
    starts = [datetime.fromisoformat(p["window_start"]) for p in points]
    assert starts == [NOON, NOON + timedelta(hours=1)]
    assert [(p["window"], p["version"], p["rows"], p["final"]) for p in points] == [
        ("1h", 1, ROWS_PER_HOUR, True)
    ] * 2
    assert [p["drifted"] for p in points] == [False, True]
    # The KS test's p-value against the reference, with 0.05 as the threshold.
    assert points[0]["p_value"] > points[0]["threshold"] > points[1]["p_value"]
    assert points[1]["value"] > points[0]["value"]
