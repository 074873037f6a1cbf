"""Batch scoring fixtures: a churn project and input files of its three features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from modelport.config import Settings
from modelport.predlog.parquet import ParquetPredictionLog
from support import make_churn_data


def customers(n: int, seed: int = 5, start: int = 0) -> pd.DataFrame:
    """``n`` customers with an ``id`` column (c<start>...), an extra column, no label."""
    frame = make_churn_data(n, seed).drop(columns=["churned"])
    frame.insert(0, "id", [f"c{i}" for i in range(start, start + n)])
    frame["segment"] = "retail"
    return frame


def logged_batch_rows(project: Path, endpoint: str = "churn") -> pd.DataFrame:
    """Every row of the endpoint's log with role ``batch``."""
    settings = Settings.load(project / "modelport.toml")
    log = ParquetPredictionLog(project / settings.log_dir)
    return log.read(endpoint, role="batch").to_pandas()


def parquet_rows(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


@pytest.fixture
def customers_file(churn_project: Path) -> Path:
    path = churn_project / "customers.parquet"
    customers(3000).to_parquet(path, index=False)
    return path
