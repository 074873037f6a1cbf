"""Labels per pipeline step through the real server: each step's labels for the same
request rows kept apart, each step's performance read from its own labels only, a label
naming no step going to the final step, unknown steps and skipped rows refused.

A label for a row the step skipped (its ``when`` condition) is refused with 422 naming
``items[i].row``, nothing of the call stored: that step gave the row no answer to label.
This holds for a label naming no step too when the final step skipped the row (the
pipeline answered the step's default, not a model's answer).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, run_cli

from .chain import PIPELINE, instances


def ask(client: httpx.Client, rows: list[dict[str, float]]) -> dict[str, Any]:
    """The pipeline's answer with each step's, and which rows skipped the scorer."""
    response = client.post("/v1/endpoints/intake/predict?steps=1", json={"instances": rows})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    skipped = set(body["steps"]["scorer"]["skipped"])
    body["ran"] = [row for row in range(len(rows)) if row not in skipped]
    body["skipped"] = sorted(skipped)
    return body


def performance(client: httpx.Client, endpoint: str, since: datetime) -> dict[str, Any]:
    until = datetime.now(UTC) + timedelta(minutes=1)
    response = client.get(
        f"/v1/endpoints/{endpoint}/monitoring",
        params={"since": since.isoformat(), "until": until.isoformat()},
    )
    assert response.status_code == 200, response.text
    section: dict[str, Any] = response.json()["performance"]
    return section


def settled(
    client: httpx.Client, endpoint: str, since: datetime, rows: int, timeout: float = 30.0
) -> dict[str, Any]:
    """``endpoint``'s performance section once ``rows`` labelled rows are logged (the log
    is flushed in the background); the last one read if that never happens."""
    deadline = time.monotonic() + timeout
    section = performance(client, endpoint, since)
    while section.get("labelled_rows") != rows and time.monotonic() < deadline:
        time.sleep(0.3)
        section = performance(client, endpoint, since)
    return section


def wait_logged(server: LiveServer, endpoint: str, request_id: str, timeout: float = 15.0) -> None:
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = log.read(endpoint)
        if "request_id" in table.column_names and request_id in table["request_id"].to_pylist():
            return
        time.sleep(0.2)
    raise AssertionError(f"{endpoint} never logged request {request_id}")


@pytest.fixture(scope="module")
def intake(server: LiveServer) -> str:
    with server.client() as client:
        response = client.post("/v1/endpoints", json={"name": "intake", "pipeline": PIPELINE})
        assert response.status_code == 201, response.text
    server.wait_ready("intake")
    return "intake"


def test_each_step_is_judged_by_its_own_labels(server: LiveServer, intake: str) -> None:
    since = datetime.now(UTC)  # the window holds this test's requests only
    with server.client() as client:
        first = ask(client, instances(40, seed=5))
        second = ask(client, instances(20, seed=6))
        both = first["ran"] + second["ran"]
        assert first["skipped"] and first["ran"] and second["ran"]  # the condition bites
        a, b = first["request_id"], second["request_id"]
        detect = first["steps"]["detect"]["predictions"]
        scorer = first["steps"]["scorer"]["predictions"]

        # The detector's labels agree with every answer it gave, half naming the pipeline
        # and the step, half the step alone (the pipeline found from the request id).
        right = [
            {"request_id": a, "row": row, "label": label, "step": "detect"}
            | ({"endpoint": "intake"} if row % 2 else {})
            for row, label in enumerate(detect)
        ]
        # The scorer's labels contradict its answers, for the same request rows.
        wrong = [
            {"request_id": a, "row": row, "label": 1 - scorer[row], "endpoint": "intake"}
            | {"step": "scorer"}
            for row in first["ran"]
        ]
        # Labels naming no step are the final step's (the pipeline's answer is its).
        final = second["predictions"]
        plain = [{"request_id": b, "row": row, "label": 1 - final[row]} for row in second["ran"]]
        for labels in (right, wrong, plain):
            answer = client.post("/v1/feedback", json=labels)
            assert answer.status_code == 200, answer.text
            assert answer.json()["matched"] == len(labels)
            assert answer.json()["replaced"] == 0  # the other step's label stays

        detector = settled(client, "intake.detect", since, rows=40)
        scoring = settled(client, "intake.scorer", since, rows=len(both))

    assert detector["labelled_rows"] == 40
    assert detector["metrics"]["accuracy"] == 1.0
    assert scoring["labelled_rows"] == len(both)
    assert scoring["metrics"]["accuracy"] == 0.0


def test_an_unknown_step_is_refused_naming_the_field_and_nothing_is_stored(
    server: LiveServer, intake: str
) -> None:
    since = datetime.now(UTC)  # the window holds this test's requests only
    with server.client() as client:
        answer = ask(client, instances(6, seed=7))
        request_id = answer["request_id"]
        good = {"request_id": request_id, "label": answer["steps"]["detect"]["predictions"][0]}
        by_index = client.post(
            "/v1/feedback",
            json=[good | {"step": "detect"}, good | {"step": "nope"}],
        )
        by_pipeline = client.post(
            "/v1/feedback", json=[good | {"endpoint": "intake", "step": "nope"}]
        )
        not_a_pipeline = client.post(
            "/v1/feedback", json=[good | {"endpoint": "intake.detect", "step": "detect"}]
        )
        # A later good label for another request shows the log is read by now.
        other = ask(client, instances(3, seed=8))
        labels = [
            {"request_id": other["request_id"], "row": row, "label": label, "step": "detect"}
            for row, label in enumerate(other["steps"]["detect"]["predictions"])
        ]
        assert client.post("/v1/feedback", json=labels).status_code == 200
        detector = settled(client, "intake.detect", since, rows=3)

    for refused, field in ((by_index, "items[1].step"), (by_pipeline, "items[0].step")):
        assert refused.status_code == 404, refused.text
        error = refused.json()
        assert (error["code"], error["field"]) == ("step_not_found", field)
        assert "'nope'" in error["message"] and "detect, scorer" in error["message"]
    assert not_a_pipeline.status_code == 422
    assert not_a_pipeline.json()["field"] == "items[0].step"
    assert detector["labelled_rows"] == 3  # none of the refused calls' labels


def test_a_label_for_a_row_the_step_skipped_is_refused(server: LiveServer, intake: str) -> None:
    with server.client() as client:
        answer = ask(client, instances(30, seed=9))
        skipped, ran = answer["skipped"][0], answer["ran"][0]
        request_id = answer["request_id"]
        label = {"request_id": request_id, "row": skipped, "label": 1}
        fine = {"request_id": request_id, "row": ran, "label": 1, "step": "scorer"}
        named = client.post("/v1/feedback", json=[fine, label | {"step": "scorer"}])
        unnamed = client.post("/v1/feedback", json=[label])
        # The detector answered that row: its label is welcome.
        detector = client.post("/v1/feedback", json=[label | {"step": "detect"}])

    for refused, field in ((named, "items[1].row"), (unnamed, "items[0].row")):
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field
        assert "skipped intake.scorer" in refused.json()["message"]
    assert detector.status_code == 200 and detector.json()["matched"] == 1


def test_the_cli_ingests_labels_of_a_step(server: LiveServer, intake: str) -> None:
    since = datetime.now(UTC)  # the window holds this test's requests only
    with server.client() as client:
        answer = ask(client, instances(12, seed=11))
    request_id = answer["request_id"]
    wait_logged(server, "intake.detect", request_id)
    wait_logged(server, "intake.scorer", request_id)
    detect = answer["steps"]["detect"]["predictions"]
    scorer = answer["steps"]["scorer"]["predictions"]
    by_column = server.cwd / "detect-labels.csv"
    by_column.write_text(
        "request_id,row,label,step\n"
        + "".join(f"{request_id},{row},{label},detect\n" for row, label in enumerate(detect))
    )
    by_option = server.cwd / "scorer-labels.csv"
    by_option.write_text(
        "request_id,row,label\n"
        + "".join(f"{request_id},{row},{1 - scorer[row]}\n" for row in answer["ran"])
    )

    column = run_cli("feedback", "ingest", str(by_column), cwd=server.cwd)
    option = run_cli(
        "feedback", "ingest", str(by_option), "--endpoint", "intake", "--step", "scorer",
        cwd=server.cwd,
    )  # fmt: skip
    unknown = run_cli(
        "feedback", "ingest", str(by_option), "--endpoint", "intake", "--step", "nope",
        cwd=server.cwd, check=False,
    )  # fmt: skip

    assert f"{len(detect)} matched" in column.stdout
    assert f"{len(answer['ran'])} matched" in option.stdout
    assert unknown.returncode == 1 and "items[0].step" in unknown.stdout + unknown.stderr
    with server.client() as client:
        detector = settled(client, "intake.detect", since, rows=len(detect))
        scoring = settled(client, "intake.scorer", since, rows=len(answer["ran"]))
    assert (detector["labelled_rows"], detector["metrics"]["accuracy"]) == (len(detect), 1.0)
    assert (scoring["labelled_rows"], scoring["metrics"]["accuracy"]) == (len(answer["ran"]), 0.0)
