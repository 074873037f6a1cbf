"""A two-step pipeline through the real server: creation, both protocols, every step
logged under the request's id, the condition's skipped rows, named failures."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pytest

from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, run_cli

from .chain import ACTIVE_FROM, PIPELINE, PIPELINE_TOML, instances


def create(client: httpx.Client, name: str, pipeline: Any = PIPELINE) -> httpx.Response:
    return client.post("/v1/endpoints", json={"name": name, "pipeline": pipeline})


def logged(server: LiveServer, endpoint: str, request_id: str, timeout: float = 15.0) -> Any:
    """The rows ``endpoint`` logged for ``request_id``, once they are flushed."""
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = log.read(endpoint)
        if "request_id" in table.column_names:
            frame = table.to_pandas()
            rows = frame[frame.request_id == request_id]
            if len(rows):
                return rows.sort_values("row").reset_index(drop=True)
        time.sleep(0.2)
    raise AssertionError(f"{endpoint} never logged request {request_id}")


@pytest.fixture(scope="module")
def intake(server: LiveServer) -> str:
    with server.client() as client:
        response = create(client, "intake")
        assert response.status_code == 201, response.text
        assert response.json()["pipeline"]["steps"][1]["when"] == "detect.prediction == 1"
    server.wait_ready("intake")
    return "intake"


def test_both_protocols_answer_and_every_step_is_logged_under_the_request_id(
    server: LiveServer, intake: str
) -> None:
    rows = [
        {"tenure": 40.0, "charges": 80.0},  # active: the scorer runs
        {"tenure": 2.0, "charges": 30.0},  # not active: the scorer is skipped
        {"tenure": 60.0, "charges": 20.0},
    ]
    with server.client() as client:
        simple = client.post(f"/v1/endpoints/{intake}/predict?steps=1", json={"instances": rows})
        assert simple.status_code == 200, simple.text
        body = simple.json()
        steps = body["steps"]
        assert list(steps) == ["detect", "scorer"]
        assert steps["detect"]["predictions"] == [1, 0, 1]
        assert steps["detect"]["skipped"] == [] and steps["scorer"]["skipped"] == [1]
        assert steps["scorer"]["endpoint"] == "intake.scorer"
        # The final answer is the scorer's; the skipped row answers the stated default,
        # with probability 1 for that class.
        assert body["predictions"][1] == 0 and body["probabilities"][1] == [1.0, 0.0]
        assert body["predictions"][0] == steps["scorer"]["predictions"][0]
        assert (body["model"], body["version"]) == ("scorer", 1)
        plain = client.post(f"/v1/endpoints/{intake}/predict", json={"instances": rows}).json()
        assert "steps" not in plain and plain["predictions"] == body["predictions"]

        tensors = [
            {"name": name, "datatype": "FP64", "shape": [3], "data": [r[name] for r in rows]}
            for name in ("tenure", "charges")
        ]
        v2 = client.post(
            f"/v2/models/{intake}/infer", json={"inputs": tensors, "parameters": {"steps": True}}
        )
        assert v2.status_code == 200, v2.text
        answer = v2.json()
        predict = next(o for o in answer["outputs"] if o["name"] == "predict")
        assert predict["data"] == body["predictions"]
        assert answer["parameters"]["steps"]["scorer"]["skipped"] == [1]
        metadata = client.get(f"/v2/models/{intake}").json()
        assert [i["name"] for i in metadata["inputs"]] == ["tenure", "charges"]
        assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]

    request_id = body["request_id"]
    detect = logged(server, "intake.detect", request_id)
    scorer = logged(server, "intake.scorer", request_id)
    assert detect.row.tolist() == [0, 1, 2]
    # The scorer saw rows 0 and 2 only, logged under the request's own row numbers, with
    # its inputs after mapping.
    assert scorer.row.tolist() == [0, 2]
    assert scorer["feature.activity"].tolist() == [1.0, 1.0]
    assert np.allclose(scorer["feature.activity_p"], [detect["proba.1"][0], detect["proba.1"][2]])
    assert set(scorer.model) == {"scorer"} and set(detect.model) == {"detector"}


def test_metrics_give_the_pipeline_latency_and_each_step_and_skip_counts(
    server: LiveServer, intake: str
) -> None:
    with server.client() as client:
        rows = instances(50, seed=3)
        assert client.post(f"/v1/endpoints/{intake}/predict", json={"instances": rows}).is_success
        text = client.get("/metrics").text
        shown = client.get(f"/v1/endpoints/{intake}").json()
    assert 'modelport_pipeline_latency_seconds_count{endpoint="intake"}' in text
    assert 'modelport_pipeline_step_latency_seconds_count{endpoint="intake",step="scorer"}' in text
    assert (
        'modelport_pipeline_step_rows_total{endpoint="intake",outcome="skipped",step="scorer"}'
        in text
    )
    scorer = shown["pipeline"]["steps"][1]
    assert scorer["endpoint"] == "intake.scorer" and scorer["ready"] is True
    assert "health" in scorer  # the newest monitoring window, once one is stored
    assert scorer["inputs"] == {
        "tenure": "request.tenure", "charges": "request.charges",
        "activity": "detect.prediction", "activity_p": "detect.proba.1",
    }  # fmt: skip
    assert 0 < scorer["skip_rate"] < 1
    inactive = sum(1 for r in rows if r["tenure"] < ACTIVE_FROM)
    assert scorer["rows"]["skipped"] >= inactive * 0.8


def test_a_step_endpoint_refuses_requests_of_its_own(server: LiveServer, intake: str) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/endpoints/intake.scorer/predict", json={"instances": [{"tenure": 1}]}
        )
    assert response.status_code == 409
    assert response.json()["code"] == "pipeline_step"
    assert "intake" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"inputs": {"activity": "detect.prediction", "activity_p": "detect.proba.7"}},
            "pipeline.steps[1].inputs.activity_p",
            "detect.proba.7 does not exist",
        ),
        (
            {"inputs": {"colour": "request.colour"}},
            "pipeline.steps[1].inputs.colour",
            "'colour' is not an input of scorer:1",
        ),
        (
            {"inputs": {"activity": "later.prediction"}},
            "pipeline.steps[1].inputs.activity",
            "step 'later', which is not an earlier step",
        ),
        ({"when": "detect.prediction = 1"}, "pipeline.steps[1].when", "position 18"),
        ({"when": "request.plan == 'basic'"}, "pipeline.steps[1].when", "no step takes"),
        ({"model": "scorer:9"}, "pipeline.steps[1].model", "scorer"),
    ],
)
def test_a_pipeline_that_does_not_fit_is_refused_naming_the_step_and_field(
    server: LiveServer, change: dict[str, Any], field: str, words: str
) -> None:
    bad = {"steps": [PIPELINE["steps"][0], {**PIPELINE["steps"][1], **change}]}
    with server.client() as client:
        before = client.get("/v1/endpoints").json()["endpoints"]
        response = create(client, "broken", bad)
        after = client.get("/v1/endpoints").json()["endpoints"]
    assert response.status_code in (404, 422), response.text
    error = response.json()
    assert error["field"] == field
    assert words in error["message"]
    assert after == before  # nothing half-created


def test_the_cli_creates_and_shows_a_pipeline_from_toml(server: LiveServer) -> None:
    path = server.cwd / "pipeline.toml"
    path.write_text(PIPELINE_TOML)
    created = run_cli("endpoints", "create", "intake-cli", "--pipeline", str(path), cwd=server.cwd)
    assert "detect=detector:1" in created.stdout and "scorer=scorer:1" in created.stdout
    shown = run_cli("endpoints", "show", "intake-cli", cwd=server.cwd).stdout
    assert '"endpoint": "intake-cli.scorer"' in shown and '"detect.proba.1"' in shown
    server.wait_ready("intake-cli")
    again = run_cli(
        "endpoints", "create", "intake-cli", "--pipeline", str(path), cwd=server.cwd, check=False
    )
    assert again.returncode != 0 and "already exists" in again.stdout + again.stderr


@pytest.mark.parametrize(
    ("pipeline", "field", "words"),
    [
        ("detect then scorer", "pipeline", "must be an object"),
        ({"steps": []}, "pipeline.steps", "non-empty list"),
        ({"steps": [PIPELINE["steps"][0]], "colour": 1}, "pipeline", "unknown key"),
        ({"steps": [PIPELINE["steps"][0], PIPELINE["steps"][0]]}, "pipeline.steps[1].name",
         "used by an earlier step"),
        ({"steps": [{"name": "Detect!", "model": "detector:1"}]}, "pipeline.steps[0].name",
         "lowercase"),
        ({"steps": [{"name": "detect", "model": "detector:1", "when": "request.tenure > 1"}]},
         "pipeline.steps[0].default", "no 'default'"),
        ({"steps": [{"name": "detect", "model": "detector:1", "inputs": {"tenure": 3}}]},
         "pipeline.steps[0].inputs.tenure", "request.<field>"),
        ({"steps": [{"name": "detect", "model": "detector:1", "extra": True}]},
         "pipeline.steps[0].extra", "unknown key"),
    ],
)  # fmt: skip
def test_a_malformed_pipeline_is_refused_naming_the_field_and_nothing_is_stored(
    server: LiveServer, pipeline: Any, field: str, words: str
) -> None:
    with server.client() as client:
        before = client.get("/v1/endpoints").json()["endpoints"]
        response = create(client, "malformed", pipeline)
        after = client.get("/v1/endpoints").json()["endpoints"]
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert words in response.json()["message"]
    assert after == before


def test_the_cli_refuses_a_broken_pipeline_file_in_one_line(server: LiveServer) -> None:
    broken = server.cwd / "broken.toml"
    broken.write_text('[[step]]\nname = "detect"\nmodel = ')
    result = run_cli(
        "endpoints", "create", "broken-cli", "--pipeline", str(broken), cwd=server.cwd, check=False
    )
    assert result.returncode == 1
    assert "not valid TOML" in result.stderr and "[pipeline]" in result.stderr
    missing = run_cli(
        "endpoints", "create", "broken-cli", "--pipeline", "nope.toml", cwd=server.cwd, check=False
    )
    assert missing.returncode != 0 and "nope.toml" in missing.stdout + missing.stderr
    both = run_cli(
        "endpoints", "create", "broken-cli", "--model", "scorer:1", "--pipeline", str(broken),
        cwd=server.cwd, check=False,
    )  # fmt: skip
    assert both.returncode == 1 and "either --model or --pipeline" in both.stderr
    listed = run_cli("endpoints", "list", "--json", cwd=server.cwd).stdout
    assert "broken-cli" not in listed
