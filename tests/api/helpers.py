"""Helpers shared by the API tests: python predictors, the log, and /metrics."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer

PREDICTORS = Path(__file__).with_name("predictors.py")


def register_python(
    folder: Path, name: str, source: str, endpoints: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Register ``source`` (``file.py:attr``) as ``name``:N in the project at ``folder``
    in-process (the CLI path has its own tests) and point ``endpoints`` at it.
    Returns the version's (artifact path, sha256)."""
    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        version = registry.register(
            Registration(name=name, source=source, flavor="python", trust_code=True)
        )
        for endpoint in endpoints:
            EndpointStore(db, registry).create(endpoint, name, version.version)
    finally:
        db.dispose()
    return version.artifact_path, version.artifact_sha256


def logged_ids(server: LiveServer, endpoint: str) -> set[str]:
    """Request ids in ``endpoint``'s prediction log; empty while nothing is flushed (the
    log then reads as a table without columns)."""
    table = ParquetPredictionLog(server.cwd / ".modelport" / "logs").read(
        endpoint, columns=["request_id"]
    )
    if "request_id" not in table.column_names:
        return set()
    return set(table["request_id"].to_pylist())


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


def scrape(server: LiveServer) -> str:
    with server.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    return response.text
