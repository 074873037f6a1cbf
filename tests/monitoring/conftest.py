"""A small shop: a registered classifier with reference data, its endpoint, a real log.

``World.log_frame(frame, at=...)`` runs the real model on a frame and writes the answers
to the prediction log through ``ParquetPredictionLog.write``, as the server's recorder
would, so reports read exactly what serving leaves behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.batch import Batch
from modelport.config import MonitoringSettings
from modelport.monitoring.live.series import SeriesStore
from modelport.monitoring.reports.service import MonitoringService
from modelport.predlog.feedback import FeedbackItem, FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.reader import LogWindow, WindowSpec
from modelport.predlog.records import PredictionRecord
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registration, Registry
from modelport.schema import FeatureSpec, InputSchema
from modelport.store.db import Database
from modelport.vocabulary import SERVED_ROLES

SCORER = '''
import numpy as np


class Scorer:
    """Says "yes" more often for high ``a`` and the pro plan."""

    classes = ["no", "yes"]

    def predict_proba(self, frame):
        a = np.nan_to_num(frame["a"].to_numpy(dtype=float), nan=10.0)
        z = (a - 10.0) / 2.0 + np.where(frame["plan"].to_numpy() == "pro", 1.0, -0.5)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame):
        return np.where(self.predict_proba(frame)[:, 1] > 0.5, "yes", "no")
'''

# Noon UTC, a fixed day: windows and day folders are predictable.
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
FEATURES = ["a", "b", "c", "plan", "region"]
SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="a", kind="float", nullable=True),
        FeatureSpec(name="b", kind="float", nullable=True),
        FeatureSpec(name="c", kind="float", nullable=True, minimum=-1.0, maximum=1.0),
        FeatureSpec(name="plan", kind="category", nullable=True),
        FeatureSpec(name="region", kind="category", nullable=True),
    ]
)


def shop_frame(rows: int, seed: int) -> pd.DataFrame:
    """Samples of one fixed distribution."""
    rng = np.random.default_rng(seed)
    plans = np.array(["free", "basic", "pro"], dtype=object)
    regions = np.array(["eu", "us", "apac"], dtype=object)
    return pd.DataFrame(
        {
            "a": rng.normal(10.0, 2.0, rows),
            "b": rng.lognormal(0.0, 0.5, rows),
            "c": rng.uniform(-1.0, 1.0, rows),
            "plan": plans[rng.choice(3, rows, p=[0.5, 0.3, 0.2])],
            "region": regions[rng.choice(3, rows, p=[0.4, 0.4, 0.2])],
        }
    )


@dataclass
class World:
    folder: Path
    db: Database
    registry: Registry
    endpoints: EndpointStore
    log: ParquetPredictionLog
    feedback: FeedbackStore
    series: SeriesStore
    version: ModelVersion

    def service(self) -> MonitoringService:
        return MonitoringService(self.registry, self.endpoints, self.log, self.feedback)

    def window(self, spec: WindowSpec | None = None, **options: Any) -> LogWindow:
        """The logged rows of ``spec`` as reports read them (the served roles, unless
        ``roles`` says otherwise)."""
        options.setdefault("roles", SERVED_ROLES)
        return self.log.window("shop", spec or WindowSpec(), **options)

    def register(self, reference: pd.DataFrame | None = None) -> ModelVersion:
        path = None
        if reference is not None:
            path = self.folder / f"reference-{len(reference)}.parquet"
            reference.to_parquet(path)
        return self.registry.register(
            Registration(
                name="shop",
                source=f"{self.folder / 'scorer.py'}:Scorer",
                flavor="python",
                trust_code=True,
                reference=path,
                schema=SCHEMA,
            )
        )

    def log_frame(
        self,
        frame: pd.DataFrame,
        *,
        at: datetime = NOON,
        version: ModelVersion | None = None,
        rows_per_request: int = 50,
        prefix: str = "req",
        role: str = "primary",
        endpoint: str = "shop",
        spacing_s: float = 0.01,
    ) -> list[str]:
        """Predict and log ``frame`` in requests of ``rows_per_request`` rows; request ids."""
        version = version or self.version
        predictor = self.registry.load(version)
        batch = Batch.from_frame(frame, version.input_schema)
        prediction = predictor.predict(batch)
        records, ids = [], []
        for start in range(0, len(frame), rows_per_request):
            stop = min(start + rows_per_request, len(frame))
            request_id = f"{prefix}-{start // rows_per_request}"
            ids.append(request_id)
            records.append(
                PredictionRecord(
                    request_id=request_id,
                    endpoint=endpoint,
                    model=version.name,
                    version=version.version,
                    role=role,
                    ts=at.timestamp() + start * spacing_s,
                    latency_ms=1.0,
                    features=batch.slice(start, stop),
                    prediction=prediction.slice(start, stop),
                    classes=version.output.classes,
                    kind=version.output.kind,
                )
            )
        self.log.write(records)
        return ids

    def label(self, labels: list[tuple[str, int, object]], endpoint: str = "shop") -> None:
        self.feedback.ingest([FeedbackItem(r, label, row, endpoint) for r, row, label in labels])


def by_feature(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["feature"]: entry for entry in entries}


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two runs on the same data."""
    return {k: v for k, v in report.items() if k not in ("generated_at", "elapsed_s")}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(tmp_path / "artifacts"))
    (tmp_path / "scorer.py").write_text(SCORER)
    log = ParquetPredictionLog(tmp_path / "logs")
    endpoints = EndpointStore(db, registry)
    shop = World(
        tmp_path, db, registry, endpoints, log, FeedbackStore(db, log), SeriesStore(db), None
    )  # type: ignore[arg-type]
    shop.version = shop.register(shop_frame(5_000, seed=1))
    endpoints.create("shop", "shop", shop.version.version)
    try:
        yield shop
    finally:
        db.dispose()


@pytest.fixture
def monitoring_settings() -> MonitoringSettings:
    return MonitoringSettings(interval_s=0.1, recent_predictions=100_000)
