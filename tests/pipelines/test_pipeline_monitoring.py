"""Every step of a pipeline monitored like an endpoint of its own, through the real server
and the real CLI: a drift injected in the pipeline's request shows in the inputs a later
step reads from the step before it, though nobody touched that step; a step's report
says how many of the pipeline's rows it ran; the logs read step by step or together."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, run_cli

from .chain import PIPELINE, instances

REQUESTS = 4
ROWS = 100


def send(client: httpx.Client, seed: int, tenure_shift: float = 0.0) -> list[dict[str, Any]]:
    """``REQUESTS`` requests of ``ROWS`` rows; each answer with its steps' answers."""
    answers = []
    for index in range(REQUESTS):
        rows = instances(ROWS, seed=seed + index, tenure_shift=tenure_shift)
        response = client.post("/v1/endpoints/intake/predict?steps=1", json={"instances": rows})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def skipped(answers: list[dict[str, Any]]) -> int:
    return sum(len(answer["steps"]["scorer"]["skipped"]) for answer in answers)


def wait_logged(server: LiveServer, endpoint: str, rows: int, timeout: float = 15.0) -> None:
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read(endpoint, columns=["request_id"]).num_rows >= rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"{endpoint} never logged {rows} rows")


@pytest.fixture(scope="module")
def traffic(server: LiveServer) -> dict[str, Any]:
    """The pipeline, normal traffic, then traffic whose tenure is shifted so far that the
    detector calls nearly every customer active: the scorer runs far more often, on
    detector confidences it rarely saw."""
    with server.client() as client:
        created = client.post("/v1/endpoints", json={"name": "intake", "pipeline": PIPELINE})
        assert created.status_code == 201, created.text
        server.wait_ready("intake")
        normal = send(client, seed=10)
        between = datetime.now(UTC)
        shifted = send(client, seed=50, tenure_shift=40)
    sent = 2 * REQUESTS * ROWS
    ran = sent - skipped(normal) - skipped(shifted)
    wait_logged(server, "intake.detect", sent)
    wait_logged(server, "intake.scorer", ran)
    return {"normal": normal, "shifted": shifted, "between": between.isoformat(), "ran": ran}


def drifted(report: dict[str, Any]) -> set[str]:
    return {entry["feature"] for entry in report["features"] if entry.get("drifted")}


def test_a_shift_upstream_shows_in_the_downstream_steps_inputs(
    server: LiveServer, traffic: dict[str, Any]
) -> None:
    shifted_skips = skipped(traffic["shifted"])
    # The normal traffic skipped the scorer for many rows, the shifted one for few.
    assert skipped(traffic["normal"]) > shifted_skips + 100
    since = traffic["between"]
    cli = run_cli(
        "monitor", "report", "intake", "--step", "scorer", "--since", since,
        "--format", "json", cwd=server.cwd,
    )  # fmt: skip
    report = json.loads(cli.stdout)
    assert report["endpoint"] == "intake.scorer" and report["model"] == "scorer"
    # The scorer's inputs mapped from the detector moved; its own version did not change.
    assert drifted(report) & {"activity_p", "activity"}, report["features"]
    assert report["pipeline"] == {
        "pipeline": "intake",
        "step": "scorer",
        "when": "detect.prediction == 1",
        "rows_in": REQUESTS * ROWS,
        "rows_run": REQUESTS * ROWS - shifted_skips,
        "skipped": shifted_skips,
        "skip_rate": pytest.approx(shifted_skips / (REQUESTS * ROWS)),
    }
    # Compared with the scorer's rows of the normal traffic rather than its reference
    # (KS decides: a few hundred rows are too few for PSI's bins), the detector's
    # confidence moved too.
    against_normal = run_cli(
        "monitor", "report", "intake", "--step", "scorer", "--since", since,
        "--baseline", f"..{since}", "--decision", "numeric=ks", "--format", "json",
        cwd=server.cwd,
    )  # fmt: skip
    assert "activity_p" in drifted(json.loads(against_normal.stdout))

    with server.client() as client:
        http = client.get(
            "/v1/endpoints/intake/monitoring", params={"step": "scorer", "since": since}
        )
        direct = client.get("/v1/endpoints/intake.scorer/monitoring", params={"since": since})
    assert http.status_code == 200, http.text
    assert drifted(http.json()) == drifted(report)
    assert http.json()["pipeline"] == report["pipeline"]
    assert direct.status_code == 200 and direct.json()["pipeline"] == report["pipeline"]

    text = run_cli("monitor", "report", "intake", "--step", "scorer", cwd=server.cwd).stdout
    assert "pipeline intake, step scorer (when detect.prediction == 1)" in text
    assert f"of {2 * REQUESTS * ROWS} rows" in text


def test_the_skip_rate_over_all_traffic_matches_the_rows_sent(
    server: LiveServer, traffic: dict[str, Any]
) -> None:
    sent = 2 * REQUESTS * ROWS
    with server.client() as client:
        scorer = client.get(
            "/v1/endpoints/intake/monitoring", params={"step": "scorer", "sections": "drift"}
        ).json()["pipeline"]
        detect = client.get(
            "/v1/endpoints/intake/monitoring", params={"step": "detect", "sections": "quality"}
        ).json()["pipeline"]
        # The newest N rows of the step: the pipeline's rows since the oldest of them.
        newest = client.get(
            "/v1/endpoints/intake/monitoring",
            params={"step": "scorer", "last": traffic["ran"], "sections": "quality"},
        ).json()["pipeline"]
    assert scorer["rows_in"] == sent and scorer["rows_run"] == traffic["ran"]
    assert scorer["skipped"] == sent - traffic["ran"]
    assert 0 < scorer["skip_rate"] < 1
    assert scorer["skip_rate"] == pytest.approx((sent - traffic["ran"]) / sent)
    assert newest == scorer
    # The first step runs every row and has no condition.
    assert detect == {
        "pipeline": "intake", "step": "detect", "when": None,
        "rows_in": sent, "rows_run": sent, "skipped": 0, "skip_rate": 0.0,
    }  # fmt: skip


def test_the_pipeline_itself_asks_for_a_step_and_an_unknown_step_is_named(
    server: LiveServer, traffic: dict[str, Any]
) -> None:
    with server.client() as client:
        report = client.get("/v1/endpoints/intake/monitoring")
        live = client.get("/v1/endpoints/intake/monitoring/live")
        unknown = client.get("/v1/endpoints/intake/monitoring", params={"step": "nope"})
        unknown_logs = client.get("/v1/endpoints/intake/predictions", params={"step": "nope"})
        not_pipeline = client.get(
            "/v1/endpoints/intake.scorer/monitoring", params={"step": "scorer"}
        )
    for refused in (report, live):
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert (body["code"], body["field"]) == ("step_required", "step")
        assert body["details"]["steps"] == ["detect", "scorer"]
        assert "detect, scorer" in body["message"]
    for missing in (unknown, unknown_logs):
        assert missing.status_code == 404, missing.text
        assert missing.json()["code"] == "step_not_found" and "'nope'" in missing.json()["message"]
    assert not_pipeline.status_code == 422 and not_pipeline.json()["field"] == "step"

    cli = run_cli("monitor", "report", "intake", cwd=server.cwd, check=False)
    assert cli.returncode == 1 and "(step_required [step])" in cli.stderr
    assert "detect, scorer" in cli.stderr
    cli = run_cli("monitor", "report", "intake", "--step", "nope", cwd=server.cwd, check=False)
    assert cli.returncode == 1 and "(step_not_found [step])" in cli.stderr
    assert "'nope'" in cli.stderr


def test_logs_and_predictions_read_one_step_or_every_step_together(
    server: LiveServer, traffic: dict[str, Any]
) -> None:
    scorer = run_cli("logs", "tail", "intake", "--step", "scorer", "-n", "30", cwd=server.cwd)
    rows = [json.loads(line) for line in scorer.stdout.splitlines()]
    assert len(rows) == 30
    assert {row["endpoint"] for row in rows} == {"intake.scorer"}
    assert {row["model"] for row in rows} == {"scorer"}

    both = run_cli("logs", "tail", "intake", "-n", "60", cwd=server.cwd)
    rows = [json.loads(line) for line in both.stdout.splitlines()]
    assert len(rows) == 60
    # Newest request first (its newest rows: 60 of each step were read), row by row,
    # each row's steps in the pipeline's order.
    newest = traffic["shifted"][-1]["request_id"]
    assert rows[0]["request_id"] == newest
    assert {(row["step"], row["endpoint"]) for row in rows} == {
        ("detect", "intake.detect"),
        ("scorer", "intake.scorer"),
    }
    first = [(row["row"], row["step"]) for row in rows if row["request_id"] == newest]
    assert first == sorted(first, key=lambda pair: (pair[0], pair[1] != "detect"))
    scorer_rows = {row["row"] for row in rows if row["step"] == "scorer"}
    skipped_rows = set(traffic["shifted"][-1]["steps"]["scorer"]["skipped"])
    assert not scorer_rows & skipped_rows

    with server.client() as client:
        one = client.get("/v1/endpoints/intake/predictions", params={"step": "scorer"}).json()
        every = client.get("/v1/endpoints/intake/predictions", params={"limit": 40}).json()
    assert one["endpoint"] == "intake.scorer" and "steps" not in one
    assert {row["model"] for row in one["predictions"]} == {"scorer"}
    assert every["steps"] == ["detect", "scorer"] and len(every["predictions"]) == 40
    assert every["predictions"][0]["request_id"] == newest
    assert {row["step"] for row in every["predictions"]} == {"detect", "scorer"}
    assert {"tenure", "activity_p"} <= set(every["features"])


def test_logs_export_a_step_or_every_step(
    server: LiveServer, traffic: dict[str, Any], tmp_path: Any
) -> None:
    import pyarrow.parquet as pq

    scorer = tmp_path / "scorer.parquet"
    run_cli("logs", "export", "intake", "--step", "scorer", "-o", str(scorer), cwd=server.cwd)
    table = pq.read_table(scorer)
    assert table.num_rows == traffic["ran"] and set(table["endpoint"].to_pylist()) == {
        "intake.scorer"
    }
    both = tmp_path / "both.parquet"
    run_cli("logs", "export", "intake", "-o", str(both), cwd=server.cwd)
    steps = pq.read_table(both)["step"].to_pylist()
    assert steps.count("detect") == 2 * REQUESTS * ROWS and steps.count("scorer") == traffic["ran"]
