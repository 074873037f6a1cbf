"""Writing a synthetic prediction log (and labels) through the real stores."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.predlog.feedback import FeedbackItem, FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from modelport.registry.records import ModelVersion
from modelport.rollout.spec import RolloutSpec
from modelport.rollout.state import Rollout
from modelport.schema import FeatureSpec, InputSchema, OutputSpec
from modelport.store.db import Database


class LogWriter:
    def __init__(self, folder: Path, kind: str = "classification") -> None:
        self.log = ParquetPredictionLog(folder / "logs")
        self.db = Database(f"sqlite:///{folder / 'modelport.db'}")
        self.feedback = FeedbackStore(self.db, self.log)
        self.kind = kind
        self.records: list[PredictionRecord] = []
        self.now = time.time()

    def add(
        self,
        request_id: str,
        role: str,
        version: int,
        output: str | float | None,
        *,
        latency_ms: float = 5.0,
        plan: str = "basic",
        tenure: float = 10.0,
    ) -> None:
        batch = Batch({"tenure": np.array([tenure]), "plan": np.array([plan], dtype=object)}, 1)
        prediction = None if output is None else Prediction(np.array([output], dtype=object))
        if prediction is not None and self.kind == "regression":
            prediction = Prediction(np.array([float(output)]))  # type: ignore[arg-type]
        self.records.append(
            PredictionRecord(
                request_id=request_id,
                endpoint="churn",
                model="churn",
                version=version,
                role=role,
                ts=self.now,
                latency_ms=latency_ms,
                features=batch,
                prediction=prediction,
                classes=("0", "1") if self.kind == "classification" else (),
                kind=self.kind,
                status="ok" if prediction is not None else "error",
                error=None if prediction is not None else "prediction_failed: boom",
            )
        )

    def label(self, request_id: str, label: object) -> None:
        self.feedback.ingest([FeedbackItem(request_id, label, endpoint="churn")])

    def flush(self) -> None:
        self.log.write(self.records)
        self.records = []


def shadow_rollout() -> Rollout:
    """An active shadow rollout of churn:2 against churn:1, started five minutes ago."""
    moment = datetime.now(UTC) - timedelta(minutes=5)
    return Rollout(
        id=1, endpoint="churn", model="churn", candidate=2, baseline=1, strategy="shadow",
        phase="shadow", status="active", step=0, weight=0.0, step_started_at=moment,
        spec=RolloutSpec(strategy="shadow"), verdicts={}, note="", revision=1,
        created_by="test", created_at=moment, updated_at=moment, finished_at=None,
    )  # fmt: skip


def version_of_kind(kind: str) -> ModelVersion:
    """churn:2 with tenure and plan as inputs, answering ``kind``."""
    schema = InputSchema(
        features=[
            FeatureSpec(name="tenure", kind="float"),
            FeatureSpec(name="plan", kind="category", categories=["basic", "pro"]),
        ]
    )
    return ModelVersion(
        name="churn", version=2, flavor="python", artifact_path="", artifact_sha256="",
        input_schema=schema, output=OutputSpec(kind=kind, classes=["0", "1"]),
        created_at=datetime.now(UTC),
    )  # fmt: skip
