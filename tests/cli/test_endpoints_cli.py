"""``modelport endpoints delete``: the endpoint is gone from the store and, once it has
refreshed, from the running server; other endpoints and the logged predictions stay."""

from __future__ import annotations

import json
from pathlib import Path

from modelport.config import Settings
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import LiveServer, churn_instance, register_churn, run_cli


def _add_endpoint(project: Path, name: str) -> None:
    settings = Settings.load(project / "modelport.toml")
    db = Database(f"sqlite:///{project / settings.home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(project / settings.home / "artifacts"))
    EndpointStore(db, registry).create(name, "churn", 1)
    db.dispose()


def _predict(server: LiveServer, endpoint: str) -> tuple[int, dict[str, object]]:
    with server.client() as client:
        response = client.post(
            f"/v1/endpoints/{endpoint}/predict",
            json={"instances": [churn_instance()]},
            headers={"X-Request-ID": f"before-delete-{endpoint}"},
        )
    return response.status_code, response.json()


def test_deleted_endpoint_disappears_from_list_and_server(
    project: Path, churn_files: tuple[Path, Path]
) -> None:
    register_churn(project, churn_files)
    _add_endpoint(project, "keep")
    server = LiveServer(project, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        assert _predict(server, "churn")[0] == 200
        log = ParquetPredictionLog(project / ".modelport" / "logs")
        server.wait_for(lambda: log.read("churn").num_rows == 1, timeout=30)

        deleted = run_cli("endpoints", "delete", "churn", cwd=project)

        assert "deleted endpoint churn" in deleted.stdout
        listed = json.loads(run_cli("endpoints", "list", "--json", cwd=project).stdout)
        assert [e["name"] for e in listed] == ["keep"]
        server.wait_for(lambda: _predict(server, "churn")[0] == 404, timeout=30)
        status, body = _predict(server, "churn")
        assert (status, body["code"]) == (404, "endpoint_not_found")
        assert "churn" in str(body["message"])
        with server.client() as client:
            assert client.get("/v2/models/churn/ready").status_code == 404
        assert _predict(server, "keep")[0] == 200
    finally:
        server.stop()
    # Its logged predictions stay.
    assert log.read("churn")["request_id"].to_pylist() == ["before-delete-churn"]


def test_deleting_an_unknown_endpoint_exits_1(project: Path) -> None:
    result = run_cli("endpoints", "delete", "nope", cwd=project, check=False)

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error (endpoint_not_found [endpoint]): endpoint 'nope' does not exist"
    ]
