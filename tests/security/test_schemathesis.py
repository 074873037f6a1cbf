"""schemathesis over /openapi.json against a real server: no 5xx, and every answer is one
the document describes (status, content type, body schema).

Each operation runs three times: path names pointing at real objects (endpoint ``churn``
serving churn:1, with churn:2 registered as a rollout candidate), at missing ones, and as
generated. Examples are few per operation and derandomized, so a run is reproducible.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.conftest import make_churn_project
from modelport.api.app import ROUTES
from modelport.api.openapi import build_document
from support import LiveServer

TOKEN = "schemathesis-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Path parameters per target: objects that exist, and names nothing has.
# No batch job runs here: both targets ask for one nothing started (404).
REAL = {"name": "churn", "version": "1", "alias": "champion", "job": "0" * 32}
MISSING = {"name": "no-such-thing", "version": "99", "alias": "no-such-alias", "job": "f" * 32}
# Deleting the real endpoint would leave the other operations nothing to find.
SPARE = "churn-spare"

# Operations whose 5xx lie in code being reworked elsewhere (names, query bounds, v2
# codecs, uploads, auth): a 5xx answer there is not yet judged; every other answer is.
# Lift an entry once its fix has landed.
KNOWN_SERVER_ERRORS: dict[str, str] = {}


def _register_candidate(folder: Path, files: tuple[Path, Path]) -> None:
    """churn:2, so a rollout can start on ``churn``."""
    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    model, reference = files
    shutil.copy(model, folder / "model-2.skops")
    shutil.copy(reference, folder / "train-2.parquet")
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    try:
        Registry(db, ArtifactStore(folder / settings.store.home / "artifacts")).register(
            Registration(
                name="churn",
                source=str(folder / "model-2.skops"),
                flavor="sklearn",
                reference=folder / "train-2.parquet",
                target="churned",
            )
        )
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    churn_files: tuple[Path, Path],
    churn_files_v2: tuple[Path, Path],
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("schemathesis"), churn_files)
    _register_candidate(folder, churn_files_v2)
    server = LiveServer(
        folder,
        env={
            "MODELPORT_AUTH__ADMIN_TOKENS": f'["{TOKEN}"]',
            "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2",
        },
    ).start()
    try:
        yield server
    finally:
        server.stop()


# The document the server serves (tests/api/test_openapi.py checks they are the same).
schema = schemathesis.openapi.from_dict(build_document(ROUTES))
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE], with_security_parameters=False
)


def _aim(case: Any, target: str, live: LiveServer) -> None:
    """Point the case's path parameters at ``target``'s objects."""
    if target == "generated" or not case.path_parameters:
        return
    values = REAL if target == "real" else MISSING
    for key in case.path_parameters:
        case.path_parameters[key] = values[key]
    if target == "real" and case.method == "DELETE" and case.path == "/v1/endpoints/{name}":
        case.path_parameters["name"] = SPARE
        with httpx.Client(base_url=live.url, headers=AUTH, timeout=30) as client:
            client.post("/v1/endpoints", json={"name": SPARE, "model": "churn:1"})


@pytest.fixture(params=["real", "missing", "generated"])
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@schema.parametrize()
@pytest.mark.usefixtures("target")
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_answers_match_the_document(
    case: Any, target: str, live: LiveServer
) -> None:
    _aim(case, target, live)
    response = case.call(base_url=live.url, headers=AUTH, timeout=60)
    if response.status_code >= 500 and f"{case.method} {case.path}" in KNOWN_SERVER_ERRORS:
        return
    case.validate_response(response, checks=CHECKS, headers=AUTH)


def test_the_run_reaches_real_objects(live: LiveServer) -> None:
    """The fixture's objects exist, so the "real" runs hit them rather than 404s."""
    with httpx.Client(base_url=live.url, headers=AUTH, timeout=30) as client:
        assert client.get("/v1/endpoints/churn").status_code == 200
        assert [v["version"] for v in client.get("/v1/models/churn").json()["versions"]] == [1, 2]
