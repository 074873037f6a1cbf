"""The opt-in multivariate section through a real server and the real CLI: the domain
classifier scores traffic like the reference low and shifted traffic high."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelport.config import DEFAULT_TOML, Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import LiveServer, make_churn_data, register_churn, run_cli


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """churn:1 (reference: 2,000 rows) behind endpoints ``same`` and ``shifted``."""
    folder = tmp_path_factory.mktemp("multivariate")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(folder, churn_files, endpoint="same")
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
    EndpointStore(db, registry).create("shifted", "churn", 1)
    db.dispose()
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield live
    finally:
        live.stop()


def send(server: LiveServer, endpoint: str, frame: pd.DataFrame, per_request: int = 100) -> None:
    records = frame.drop(columns=["churned"]).to_dict(orient="records")
    with server.client() as client:
        for start in range(0, len(records), per_request):
            response = client.post(
                f"/v1/endpoints/{endpoint}/predict",
                json={"instances": records[start : start + per_request]},
            )
            assert response.status_code == 200, response.text


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("generated_at", "elapsed_s")}


def test_sections_multivariate_scores_shifted_traffic_high_and_unshifted_low(
    server: LiveServer,
) -> None:
    send(server, "same", make_churn_data(1_500, seed=21))
    shifted = make_churn_data(1_500, seed=22)
    shifted["charges"] += 40.0  # two reference standard deviations
    send(server, "shifted", shifted)
    params = {"sections": "multivariate"}

    with server.client() as client:
        same = client.get("/v1/endpoints/same/monitoring", params=params)
        moved = client.get("/v1/endpoints/shifted/monitoring", params=params)
        default = client.get("/v1/endpoints/same/monitoring")
        page = client.get("/v1/endpoints/shifted/monitoring", params={**params, "format": "html"})
    from_cli = run_cli(
        "monitor", "report", "shifted", "--sections", "multivariate", "--format", "json",
        cwd=server.cwd,
    )  # fmt: skip
    table = run_cli("monitor", "report", "same", "--sections", "drift,multivariate", cwd=server.cwd)

    assert same.status_code == moved.status_code == 200
    low, high = same.json()["multivariate"], moved.json()["multivariate"]
    assert low["status"] == high["status"] == "ok"
    assert low["features"] == ["tenure", "charges", "plan"]
    assert (low["n_reference"], low["n_current"]) == (2_000, 1_500)
    assert low["auc"] < 0.6 and low["drifted"] is False and low["p_value"] >= 0.05
    assert high["auc"] > 0.8 and high["drifted"] is True and high["p_value"] < 1e-10
    assert high["top_features"][0]["feature"] == "charges"
    assert "multivariate" not in default.json() and "features" not in same.json()
    assert comparable(json.loads(from_cli.stdout)) == comparable(moved.json())
    assert "multivariate drift: ok, domain classifier AUC" in table.stdout
    assert "decided by p_value" in table.stdout
    assert "Multivariate drift" in page.text and "the rows as a whole drifted" in page.text
    assert "the classifier leaned on" in page.text and "<td>charges</td>" in page.text
