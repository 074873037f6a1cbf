from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import func, select

from modelport.config import Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from modelport.store.tables import ModelRow, VersionRow


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    """A registry on the project's own SQLite file and artifact folder."""
    db = Database(settings.database_url)
    try:
        yield Registry(db, ArtifactStore(settings.artifacts_dir))
    finally:
        db.dispose()


class StoreState(NamedTuple):
    """What a registration can leave behind: rows and files."""

    models: int
    versions: int
    files: frozenset[str]


@pytest.fixture
def store_state(registry: Registry) -> Callable[[], StoreState]:
    def capture() -> StoreState:
        with registry.db.session() as session:
            models = session.scalar(select(func.count()).select_from(ModelRow)) or 0
            versions = session.scalar(select(func.count()).select_from(VersionRow)) or 0
        root = registry.artifacts.root
        files = frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        return StoreState(models, versions, files)

    return capture


PREDICTOR_SOURCE = '''
import numpy as np


class Threshold:
    """Says "high" when x exceeds 0.5."""

    classes = ["high", "low"]
    input_schema = [{"name": "x", "kind": "float"}]

    def predict(self, frame):
        return np.where(frame["x"].to_numpy() > 0.5, "high", "low")

    def predict_proba(self, frame):
        high = (frame["x"].to_numpy() > 0.5).astype(float)
        return np.column_stack([high, 1 - high])
'''


@pytest.fixture
def predictor_file(project: Path) -> Path:
    """A python predictor in a plain ``.py`` file of the project."""
    path = project / "threshold.py"
    path.write_text(PREDICTOR_SOURCE)
    return path
