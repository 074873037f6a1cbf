from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelport.batch import Batch, Prediction
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord

# Noon UTC on a fixed day, so day folders and time filters are predictable.
NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def churn_batch(
    tenure: Sequence[float] = (3.0, np.nan), plan: Sequence[str | None] = ("basic", None)
) -> Batch:
    return Batch(
        {"tenure": np.array(tenure, dtype=np.float64), "plan": np.array(plan, dtype=object)},
        len(tenure),
    )


@pytest.fixture
def noon() -> float:
    """2026-03-01 12:00 UTC as seconds since the epoch."""
    return NOON


@pytest.fixture
def make_batch() -> Callable[..., Batch]:
    """``make_batch(tenure=[...], plan=[...])``: numeric and categorical features."""
    return churn_batch


@pytest.fixture
def make_record() -> Callable[..., PredictionRecord]:
    """A logged classification call: two rows by default, numeric and categorical."""

    def make(
        request_id: str = "req-1",
        *,
        at: float = NOON,
        endpoint: str = "churn",
        version: int = 1,
        role: str = "primary",
        features: Batch | None = None,
        labels: Sequence[Any] | None = None,
        classes: Sequence[str] = ("0", "1"),
        probabilities: np.ndarray[Any, Any] | None = None,
        **fields: Any,
    ) -> PredictionRecord:
        batch = churn_batch() if features is None else features
        outputs = np.asarray(labels) if labels is not None else np.arange(batch.n_rows) % 2
        if probabilities is None:
            probabilities = np.tile(np.linspace(0.9, 0.1, len(classes)), (batch.n_rows, 1))
        return PredictionRecord(
            request_id=request_id,
            endpoint=endpoint,
            model="churn",
            version=version,
            role=role,
            ts=at,
            latency_ms=2.5,
            features=batch,
            prediction=Prediction(outputs, probabilities),
            classes=tuple(classes),
            **fields,
        )

    return make


@pytest.fixture
def log(tmp_path: Path) -> ParquetPredictionLog:
    return ParquetPredictionLog(tmp_path / "logs")
