"""The same storage fixtures over every supported backend: a SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registration, Registry
from modelport.store.db import Database

PREDICTOR = """
class Halver:
    output_kind = "regression"
    input_schema = [{"name": "x", "kind": "float"}]

    def predict(self, frame):
        return frame["x"].to_numpy() / 2
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control' / 'modelport.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> Registry:
    return Registry(database, ArtifactStore(tmp_path / "artifacts"))


@pytest.fixture
def endpoints(database: Database, registry: Registry) -> EndpointStore:
    return EndpointStore(database, registry)


@pytest.fixture
def prediction_log(tmp_path: Path) -> ParquetPredictionLog:
    return ParquetPredictionLog(tmp_path / "logs")


@pytest.fixture
def feedback(database: Database, prediction_log: ParquetPredictionLog) -> FeedbackStore:
    return FeedbackStore(database, prediction_log)


@pytest.fixture
def halver(tmp_path: Path) -> Registration:
    """A registration of a tiny python regressor; registering it is fast."""
    path = tmp_path / "halver.py"
    path.write_text(PREDICTOR)
    return Registration(name="halver", source=f"{path}:Halver", flavor="python", trust_code=True)
