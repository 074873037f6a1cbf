"""The dashboard's monitoring queries through a real server: the columnar history
(``format=columns``, ``decision=1``) agrees with the stored points, and the live window
answers an endpoint without traffic with no windows when asked to (``empty=1``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import pytest

from modelport.config import Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import LiveServer

from .conftest import make_churn_project


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("columns"), churn_files)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
    EndpointStore(db, registry).create("quiet", "churn", 1)
    db.dispose()
    env = {"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2", "MODELPORT_MONITORING__INTERVAL_S": "0.2"}
    live = LiveServer(folder, env=env).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def drifted(server: LiveServer) -> dict[str, Any]:
    """600 rows whose tenure left the reference's range; the heat map's answer once the
    collector stored the window."""
    rng = np.random.default_rng(7)
    with server.client() as client:
        for _ in range(6):
            rows = [
                {"tenure": int(t), "charges": round(float(c), 2), "plan": "basic"}
                for t, c in zip(rng.integers(300, 400, 100), rng.normal(70, 20, 100), strict=True)
            ]
            assert client.post("/v1/endpoints/churn/predict", json={"instances": rows}).is_success

        answers: list[dict[str, Any]] = []

        def stored() -> bool:
            answers.append(
                client.get(
                    "/v1/endpoints/churn/monitoring/history", params={"decision": "1"}
                ).json()
            )
            tenure = [e for e in answers[-1]["series"] if e["feature"] == "tenure"]
            return bool(tenure) and tenure[0]["rows"][-1] == 600

        server.wait_for(stored, timeout=30)
    return answers[-1]


def test_the_heat_map_answer_marks_the_drifted_features(drifted: dict[str, Any]) -> None:
    by_feature = {entry["feature"]: entry for entry in drifted["series"]}
    assert sorted(by_feature) == ["charges", "plan", "tenure"]
    assert (drifted["version"], drifted["window"], len(drifted["times"])) == (1, "1h", 1)
    assert by_feature["tenure"]["drifted"] == [True]
    assert by_feature["charges"]["drifted"] == [False]
    assert by_feature["tenure"]["statistic"] == "psi"
    assert by_feature["plan"]["statistic"] == "cramers_v"  # categorical: it decides
    assert [entry["feature"] for entry in drifted["outputs"]][0] == "__prediction__"


def test_columns_agree_with_the_stored_points(server: LiveServer, drifted: dict[str, Any]) -> None:
    with server.client() as client:
        points = client.get(
            "/v1/endpoints/churn/monitoring/history", params={"feature": "tenure", "stat": "psi"}
        ).json()["points"]
        columns = client.get(
            "/v1/endpoints/churn/monitoring/history",
            params={"format": "columns", "feature": ["tenure", "plan"], "stat": "missing_rate"},
        ).json()
    tenure = next(entry for entry in drifted["series"] if entry["feature"] == "tenure")
    [point] = points
    assert drifted["times"] == [point["window_start"]]
    assert tenure["values"] == [pytest.approx(point["value"], rel=1e-5)]
    assert tenure["thresholds"] == [point["threshold"]] and tenure["threshold"] == 0.04
    assert [(e["feature"], e["statistic"]) for e in columns["series"]] == [
        ("plan", "missing_rate"),
        ("tenure", "missing_rate"),
    ]
    assert columns["decision"] is False and columns["series"][0]["values"] == [0.0]


def test_live_without_a_window_is_404_unless_empty_is_asked_for(server: LiveServer) -> None:
    with server.client() as client:
        missing = client.get("/v1/endpoints/quiet/monitoring/live")
        empty = client.get("/v1/endpoints/quiet/monitoring/live", params={"empty": "1"})
        history = client.get("/v1/endpoints/quiet/monitoring/history", params={"decision": "1"})
        unknown = client.get("/v1/endpoints/nobody/monitoring/live", params={"empty": "1"})
    assert missing.status_code == 404
    assert (empty.status_code, empty.json()) == (200, {"endpoint": "quiet", "windows": []})
    assert history.status_code == 200
    assert (history.json()["times"], history.json()["series"]) == ([], [])
    assert (unknown.status_code, unknown.json()["code"]) == (404, "endpoint_not_found")


def test_live_windows_carry_the_binned_counts_for_histograms(
    server: LiveServer, drifted: dict[str, Any]
) -> None:
    with server.client() as client:
        [window] = client.get("/v1/endpoints/churn/monitoring/live").json()["windows"]
    tenure = next(entry for entry in window["features"] if entry["feature"] == "tenure")
    histogram = tenure["histogram"]
    assert sum(histogram["current_counts"]) == 600
    # Numeric: a bin below the first cut, between cuts, above the last; then missing.
    assert len(histogram["reference_counts"]) == len(histogram["cut_points"]) + 2
    assert len(histogram["current_counts"]) == len(histogram["reference_counts"])
    plan = next(entry for entry in window["features"] if entry["feature"] == "plan")
    # Categorical: the named categories, then unseen and missing.
    assert sorted(plan["histogram"]["categories"]) == ["basic", "plus", "pro"]
    assert len(plan["histogram"]["current_counts"]) == 5
    basic = plan["histogram"]["categories"].index("basic")
    assert plan["histogram"]["current_counts"][basic] == 600


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "csv"}, "format"),
        ({"decision": "maybe"}, "decision"),
        ({"format": "columns", "window": "soon"}, "window"),
        ({"format": "columns", "since": "whenever"}, "since"),
        ({"format": "columns", "version": "0"}, "version"),
        ({"decision": "1", "columns": "0"}, "columns"),
        ({"decision": "1", "columns": "many"}, "columns"),
    ],
)
def test_bad_parameters_name_the_field(
    server: LiveServer, params: dict[str, str], field: str
) -> None:
    with server.client() as client:
        answer = client.get("/v1/endpoints/churn/monitoring/history", params=params)
    assert (answer.status_code, answer.json()["field"]) == (422, field)


def test_both_answers_match_the_documented_schema(
    server: LiveServer, drifted: dict[str, Any]
) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
        points = client.get("/v1/endpoints/churn/monitoring/history").json()
    root = {"$ref": "#/components/schemas/SeriesHistory", "components": document["components"]}
    validator = jsonschema_rs.Draft202012Validator(root)
    validator.validate(points)
    validator.validate(drifted)
    assert not validator.is_valid({"endpoint": "churn", "times": []})
