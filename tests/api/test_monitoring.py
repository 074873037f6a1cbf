"""Monitoring through a real server: the report over HTTP and from the CLI, the live
window against the log, concept drift end to end through feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelport.config import Settings
from modelport.monitoring.live.series import SeriesStore
from modelport.monitoring.live.state import WindowState
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.reader import WindowSpec
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.profile import ReferenceProfile
from modelport.registry.service import Registry
from modelport.store.db import Database
from modelport.vocabulary import SERVED_ROLES
from support import LiveServer, run_cli

from .conftest import make_churn_project

# One endpoint per test that counts rows, so the tests hold in any order.
ENDPOINTS = ("live", "stable", "drifting", "compacting")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("monitoring"), churn_files)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
    for name in ENDPOINTS:
        EndpointStore(db, registry).create(name, "churn", 1)
    db.dispose()
    env = {"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2", "MODELPORT_MONITORING__INTERVAL_S": "0.2"}
    live = LiveServer(folder, env=env).start()
    try:
        yield live
    finally:
        live.stop()


def database(server: LiveServer) -> Database:
    return Database(f"sqlite:///{server.cwd / '.modelport' / 'modelport.db'}")


def instances(rows: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    plans = ["basic", "plus", "pro"]
    return [
        {"tenure": int(t), "charges": round(float(c), 2), "plan": plans[int(p)]}
        for t, c, p in zip(
            rng.integers(0, 72, rows), rng.normal(70, 20, rows), rng.choice(3, rows), strict=True
        )
    ]


def send(server: LiveServer, endpoint: str, rows: int, seed: int, per_request: int = 100) -> list:
    """Predict in requests of ``per_request`` rows; (request id, row, prediction) in order."""
    answered = []
    with server.client() as client:
        for index in range(rows // per_request):
            request_id = f"{endpoint}-{seed}-{index}"
            body = client.post(
                f"/v1/endpoints/{endpoint}/predict",
                json={"instances": instances(per_request, seed * 1000 + index)},
                headers={"X-Request-ID": request_id},
            ).json()
            answered += [(request_id, row, p) for row, p in enumerate(body["predictions"])]
    return answered


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("generated_at", "elapsed_s")}


def test_the_http_report_and_the_cli_report_are_the_same(server: LiveServer) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    answered = send(server, "churn", 600, seed=1)
    labels = [{"request_id": r, "row": row, "label": p} for r, row, p in answered[::3]]
    until = datetime.now(UTC) + timedelta(minutes=1)
    params = {"since": since.isoformat(), "until": until.isoformat(), "slice": "plan"}
    with server.client() as client:
        assert client.post("/v1/feedback", json=labels).json()["matched"] == 200
        over_http = client.get("/v1/endpoints/churn/monitoring", params=params)
        page = client.get("/v1/endpoints/churn/monitoring", params={**params, "format": "html"})

    from_cli = run_cli(
        "monitor",
        "report",
        "churn",
        "--since",
        params["since"],
        "--until",
        params["until"],
        "--slice",
        "plan",
        "--format",
        "json",
        cwd=server.cwd,
    )

    assert over_http.status_code == 200
    assert comparable(json.loads(from_cli.stdout)) == comparable(over_http.json())
    body = over_http.json()
    assert body["window"]["rows"] == 600 and body["performance"]["labelled_rows"] == 200
    assert body["performance"]["metrics"]["accuracy"] == 1.0  # labelled with the answers
    assert page.headers["content-type"].startswith("text/html") and "<svg" in page.text
    table = run_cli("monitor", "report", "churn", "--since", params["since"], cwd=server.cwd)
    assert "baseline: reference sample of churn:1" in table.stdout


def test_bad_requests_get_a_clear_error(server: LiveServer) -> None:
    with server.client() as client:
        unknown = client.get("/v1/endpoints/nobody/monitoring", params={"window": "1h"})
        window = client.get("/v1/endpoints/churn/monitoring", params={"window": "soon"})
        output = client.get("/v1/endpoints/churn/monitoring", params={"format": "pdf"})
        version = client.get("/v1/endpoints/churn/monitoring", params={"version": "9"})
        history = client.get("/v1/endpoints/churn/monitoring/history", params={"since": "x"})

    assert (unknown.status_code, unknown.json()["code"]) == (404, "endpoint_not_found")
    assert (window.status_code, window.json()["field"]) == (422, "window")
    assert (output.status_code, output.json()["field"]) == (422, "format")
    assert (version.status_code, version.json()["code"]) == (404, "version_not_found")
    assert (history.status_code, history.json()["field"]) == (422, "since")
    cli = run_cli("monitor", "report", "churn", "--window", "soon", cwd=server.cwd, check=False)
    assert cli.returncode == 1
    assert cli.stderr.strip().splitlines() == [
        "error (validation_error [window]): window must be a duration like 30s, 15m, 1h or "
        "7d, got 'soon'"
    ]


def test_the_live_window_counts_what_the_log_holds(server: LiveServer) -> None:
    send(server, "live", 700, seed=2, per_request=35)
    with server.client() as client:
        refused = client.post("/v1/endpoints/live/predict", json={"instances": [{"tenure": "x"}]})
        live = client.get("/v1/endpoints/live/monitoring/live")
        history = client.get(
            "/v1/endpoints/live/monitoring/history", params={"feature": "tenure", "stat": "psi"}
        )
    assert refused.status_code == 422 and live.status_code == 200
    window = live.json()["windows"][0]
    assert window["quality"]["invalid_requests"]["by_code"] == {"missing_feature": 1}

    db = database(server)
    try:
        series = SeriesStore(db)
        states = [WindowState.from_dict(row.state) for row in series.states("live", 1)]
        streamed = states[0]
        for other in states[1:]:
            streamed = streamed.merge(other)
        version = Registry(db, ArtifactStore(server.cwd / ".modelport/artifacts")).get("churn", 1)
    finally:
        db.dispose()
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    server.wait_for(lambda: log.window("live", WindowSpec(), roles=SERVED_ROLES).n_rows == 700)
    batch = WindowState.from_log(
        log.window("live", WindowSpec(), roles=SERVED_ROLES),
        ReferenceProfile.from_dict(version.profile),  # type: ignore[arg-type]
        version.input_schema,
        version.output,
    )
    assert streamed.rows == batch.rows == 700
    for name, counts in batch.columns.items():
        np.testing.assert_array_equal(streamed.columns[name].counts_, counts.counts_)
    points = history.json()["points"]
    assert points and points[-1]["feature"] == "tenure" and points[-1]["baseline"] == "reference"
    from_cli = run_cli(
        "monitor",
        "history",
        "live",
        "--feature",
        "tenure",
        "--stat",
        "psi",
        "--format",
        "json",
        cwd=server.cwd,
    )
    stored = json.loads(from_cli.stdout)["points"]
    assert [p["window_start"] for p in stored] == [p["window_start"] for p in points]
    current = json.loads(run_cli("monitor", "live", "live", cwd=server.cwd).stdout)["windows"]
    served = live.json()["windows"]
    assert [w["window_start"] for w in current] == [w["window_start"] for w in served]


def label_stream(answered: list, change_at: int | None, seed: int) -> list[dict[str, Any]]:
    """Labels in prediction order: wrong 10% of the time, 50% from ``change_at`` on."""
    rng = np.random.default_rng(seed)
    labels = []
    for position, (request_id, row, predicted) in enumerate(answered):
        rate = 0.5 if change_at is not None and position >= change_at else 0.1
        label = 1 - predicted if rng.random() < rate else predicted
        labels.append({"request_id": request_id, "row": row, "label": label})
    return labels


def test_detectors_fire_after_an_error_rate_change_through_feedback(server: LiveServer) -> None:
    drifting = send(server, "drifting", 4_000, seed=3)
    stable = send(server, "stable", 4_000, seed=4)
    with server.client() as client:
        for answered, change in ((drifting, 2_000), (stable, None)):
            body = client.post("/v1/feedback", json=label_stream(answered, change, seed=5))
            assert body.json()["matched"] == 4_000
        client.get("/v1/endpoints/drifting/monitoring/live")  # a tick: labels are matched
        reports = {
            name: client.get(
                f"/v1/endpoints/{name}/monitoring", params={"sections": "concept,performance"}
            ).json()
            for name in ("drifting", "stable")
        }
        streamed = client.get("/v1/endpoints/drifting/monitoring/events").json()["events"]
        quiet = client.get("/v1/endpoints/stable/monitoring/events").json()["events"]

    detectors = reports["drifting"]["concept_drift"]["detectors"]
    first = {d["name"]: d["events"][0]["position"] for d in detectors if d["events"]}
    assert set(first) == {"adwin", "ddm", "page_hinkley"}
    assert all(2_000 <= position < 2_400 for position in first.values()), first
    assert all(not d["events"] for d in reports["stable"]["concept_drift"]["detectors"])
    assert reports["drifting"]["concept_drift"]["stream"] == 4_000
    # The server ran the same detectors on the same labels as they arrived.
    live_first: dict[str, int] = {}
    for event in streamed:
        live_first.setdefault(event["detector"], event["position"])
    assert live_first == first and quiet == []
    lines = run_cli("monitor", "events", "drifting", cwd=server.cwd).stdout.splitlines()
    assert [json.loads(line)["position"] for line in lines] == [e["position"] for e in streamed]
    event = detectors[0]["events"][0]
    assert event["request_id"].startswith("drifting-3-") and event["label_received_at"]


def test_compacting_today_while_serving_keeps_every_row_once(server: LiveServer) -> None:
    for part in range(3):  # each report flushes the log: at least three segments
        send(server, "compacting", 100, seed=60 + part, per_request=25)
        with server.client() as client:
            client.get("/v1/endpoints/compacting/monitoring", params={"sections": "drift"})
    with server.client() as client:
        before = client.get(
            "/v1/endpoints/compacting/monitoring", params={"sections": "drift"}
        ).json()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()

    compacted = run_cli("logs", "compact", "compacting", "--before", tomorrow, cwd=server.cwd)
    send(server, "compacting", 60, seed=7, per_request=30)  # the server keeps writing segments
    with server.client() as client:
        after = client.get(
            "/v1/endpoints/compacting/monitoring", params={"sections": "drift"}
        ).json()

    assert "files -> 1" in compacted.stdout
    assert after["window"]["rows"] == before["window"]["rows"] + 60
