"""Each step of a pipeline rolls out on its own, through the real server: a canary of one
step is rolled back on its labels while the other step never changes, a rollout on the
pipeline itself is refused naming ``step``, and a step's report compares the pipeline's
final outputs by the arm that served the step."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import LiveServer, make_churn_data, run_cli

from .chain import PIPELINE, instances, register

PRIMARY_ONLY = {"strategy": "primary", "primary": 1}
# The second detector calls customers active from this tenure on (the first from 24),
# so more of its rows reach the scorer.
EAGER_FROM = 6


def create(client: httpx.Client, name: str) -> None:
    response = client.post("/v1/endpoints", json={"name": name, "pipeline": PIPELINE})
    assert response.status_code == 201, response.text


def rollout(client: httpx.Client, pipeline: str, step: str) -> dict[str, Any]:
    response = client.get(f"/v1/endpoints/{pipeline}/rollout", params={"step": step})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for(
    client: httpx.Client,
    pipeline: str,
    step: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = rollout(client, pipeline, step)
        if done(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"rollout of {pipeline}/{step} never got there: {status}")


def predict(client: httpx.Client, pipeline: str, seed: int, n: int = 4) -> dict[str, Any]:
    response = client.post(
        f"/v1/endpoints/{pipeline}/predict?steps=1", json={"instances": instances(n, seed)}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def scored_rows(body: dict[str, Any]) -> list[int]:
    """The request's rows the scorer step ran (the others skipped it)."""
    skipped = set(body["steps"]["scorer"]["skipped"])
    return [row for row in range(len(body["predictions"])) if row not in skipped]


def cli(server: LiveServer, *args: str) -> str:
    """A real ``modelport`` command's output, with the terminal's line wrapping undone."""
    return " ".join(run_cli(*args, cwd=server.cwd).stdout.split())


def endpoint_state(client: httpx.Client, name: str) -> dict[str, Any]:
    body = client.get(f"/v1/endpoints/{name}").json()
    return {key: body[key] for key in ("revision", "version", "policy", "model")}


def rollout_actions(client: httpx.Client, name: str) -> list[str]:
    history = client.get(f"/v1/endpoints/{name}/history").json()["history"]
    return [entry["action"] for entry in history if "rollout" in entry["action"]]


def test_a_step_canary_is_rolled_back_on_its_labels_and_the_other_step_never_moves(
    server: LiveServer, worse_files: dict[str, tuple[Path, Path]]
) -> None:
    assert register(server.cwd, "scorer", worse_files["scorer"], "churned") == 2
    with server.client() as client:
        create(client, "intake")
        server.wait_ready("intake")
        detect_before = endpoint_state(client, "intake.detect")

        # The pipeline itself has no version to roll out: 422 naming step and the steps.
        refused = client.post(
            "/v1/endpoints/intake/rollout", json={"version": 2, "strategy": "canary"}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "step"
        assert "detect, scorer" in refused.json()["message"]
        unknown = client.post("/v1/endpoints/intake/rollout?step=nope", json={"version": 2})
        assert unknown.status_code == 404 and unknown.json()["field"] == "step"
        # The candidate is looked up among the step's own model's versions (another test
        # of this module may have registered detector:2, none has 99).
        other = client.post("/v1/endpoints/intake/rollout?step=detect", json={"version": 99})
        assert other.status_code == 404, other.text
        assert "detector" in other.json()["message"]
        assert client.get("/v1/endpoints/intake/rollout?step=detect").json()["rollout"] is None

        started = cli(
            server, "rollout", "start", "intake", "--step", "scorer", "--version", "2",
            "--strategy", "canary", "--steps", "50,100", "--step-every", "1h",
            "--min-samples", "30", "--gate", "accuracy>=primary-0.02",
        )  # fmt: skip
        assert "started on intake.scorer" in started
        assert "candidate scorer:2 against primary scorer:1" in started
        shown = cli(server, "rollout", "status", "intake", "--step", "scorer")
        assert "on intake.scorer: canary of scorer:2 against primary scorer:1" in shown
        wait_for(client, "intake", "scorer", lambda s: s["serving"]["routing"] != PRIMARY_ONLY)

        # The truth is what scorer:1 says; scorer:2 learnt the inverted labels, so it
        # answers the opposite (as confidently).
        served: set[int] = set()
        status: dict[str, Any] = {}
        for seed in range(1500):
            body = predict(client, "intake", seed)
            scorer = body["steps"]["scorer"]
            rows = scored_rows(body)
            if not rows:
                continue
            served.add(scorer["version"])
            flip = scorer["version"] == 2
            items = [
                {
                    "request_id": body["request_id"],
                    "row": row,
                    "label": 1 - scorer["predictions"][row] if flip else scorer["predictions"][row],
                    "endpoint": "intake.scorer",
                }
                for row in rows
            ]
            labelled = client.post("/v1/feedback", json={"items": items})
            assert labelled.status_code == 200, labelled.text
            if seed % 10 == 0:
                status = rollout(client, "intake", "scorer")
                if status["rollout"]["status"] != "active":
                    break
        assert status["rollout"]["status"] == "rolled-back", status
        assert served == {1, 2}

        wait_for(client, "intake", "scorer", lambda s: s["serving"]["routing"] == PRIMARY_ONLY)
        history = client.get("/v1/endpoints/intake/rollout/history?step=scorer").json()
        decisions = [e for e in history["history"] if e["action"] != "verdict"]
        assert [e["action"] for e in decisions] == ["start", "rollback"]
        assert decisions[-1]["actor"] == "controller"
        failed = [g["gate"] for g in decisions[-1]["evidence"]["gates"] if g["verdict"] == "fail"]
        assert failed == ["accuracy>=primary-0.02"]

        # The pipeline still answers, its scorer step with scorer:1 alone again.
        after = predict(client, "intake", seed=9999, n=8)
        assert after["steps"]["scorer"]["version"] == 1
        scorer_state = endpoint_state(client, "intake.scorer")
        assert scorer_state["version"] == 1 and scorer_state["policy"] == {}
        # The other step never moved: same revision, version and (empty) policy, and no
        # rollout in its audit trail.
        assert endpoint_state(client, "intake.detect") == detect_before
        assert detect_before["policy"] == {}
        assert rollout_actions(client, "intake.detect") == []
        scorer_actions = set(rollout_actions(client, "intake.scorer"))
        assert {"rollout-start", "rollout-rollback"} <= scorer_actions

        report = client.get("/v1/endpoints/intake/rollout/report?step=scorer").json()
    assert report["endpoint"] == "intake.scorer"
    assert (report["candidate"], report["primary"]) == (2, 1)
    # On the very same rows the two scorers disagree almost everywhere.
    assert report["comparison"]["rows"] >= 30
    assert report["comparison"]["agreement"] < 0.2
    section = report["pipeline"]
    assert (section["step"], section["final_step"]) == ("scorer", "scorer")
    assert "pipeline's last" in section["final_outputs"] and "candidate" not in section
    printed = cli(server, "rollout", "report", "intake", "--step", "scorer")
    assert "pipeline intake, step scorer (final step scorer)" in printed


def eager_detector(folder: Path) -> tuple[Path, Path]:
    """A detector (tenure, charges -> active) that calls customers active from
    :data:`EAGER_FROM` months on."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    data = make_churn_data(2000, 0)[["tenure", "charges"]].astype(float)
    data["active"] = (data.tenure >= EAGER_FROM).astype(int)
    model = LogisticRegression(max_iter=1000).fit(data[["tenure", "charges"]], data.active)
    path = folder / "detector-eager.skops"
    sio.dump(model, path)
    data.to_parquet(path.with_suffix(".parquet"))
    return path, path.with_suffix(".parquet")


def test_an_earlier_steps_report_compares_the_pipelines_final_outputs_by_arm(
    server: LiveServer, tmp_path: Path
) -> None:
    version = register(server.cwd, "detector", eager_detector(tmp_path), "active")
    with server.client() as client:
        create(client, "funnel")
        server.wait_ready("funnel")
        scorer_before = endpoint_state(client, "funnel.scorer")
        started = client.post(
            "/v1/endpoints/funnel/rollout",
            json={"step": "detect", "version": version, "strategy": "canary", "steps": "50,100"},
        )
        assert started.status_code == 201, started.text
        assert started.json()["endpoint"] == "funnel.detect"
        # Paused: the controller leaves the weights alone while the arms fill up.
        cli(server, "rollout", "pause", "funnel", "--step", "detect")
        wait_for(client, "funnel", "detect", lambda s: s["serving"]["routing"] != PRIMARY_ONLY)

        # What each arm of the detect step led to, counted here from the answers: its
        # rows, and the scorer's rows among them with whether each matched its label.
        step_rows: dict[int, int] = {1: 0, version: 0}
        scored: dict[int, list[bool]] = {1: [], version: []}
        for seed in range(120):
            body = predict(client, "funnel", seed, n=6)
            arm = body["steps"]["detect"]["version"]
            step_rows[arm] += len(body["predictions"])
            rows = scored_rows(body)
            if not rows:
                continue
            # Labels alternate by row, so neither arm can be all right or all wrong.
            items = [
                {"request_id": body["request_id"], "row": row, "label": row % 2,
                 "endpoint": "funnel.scorer"}
                for row in rows
            ]  # fmt: skip
            assert client.post("/v1/feedback", json=items).status_code == 200
            answers = body["steps"]["scorer"]["predictions"]
            scored[arm] += [answers[row] == row % 2 for row in rows]
        assert all(scored.values())

        section = _pipeline_section(client, "funnel", "detect", lambda s: s["candidate"]["rows"])
        assert section["final_step"] == "scorer" and section["final_endpoint"] == "funnel.scorer"
        primary, candidate = section["primary"], section["candidate"]
        for arm, summary in ((1, primary), (version, candidate)):
            assert summary["step_rows"] == step_rows[arm]
            assert summary["rows"] == summary["labelled_rows"] == len(scored[arm])
            assert summary["accuracy"] == pytest.approx(
                sum(scored[arm]) / len(scored[arm]), abs=1e-4
            )
            assert sum(summary["share"].values()) == pytest.approx(1.0, abs=1e-3)
        # The eager detector sends more of its rows on to the scorer.
        assert candidate["rows"] / candidate["step_rows"] > primary["rows"] / primary["step_rows"]
        assert section["difference"]["accuracy"] == pytest.approx(
            candidate["accuracy"] - primary["accuracy"], abs=1e-3
        )
        printed = cli(server, "rollout", "report", "funnel", "--step", "detect")
        assert "(final step scorer): joined on (request_id, row)" in printed
        assert "final rows" in printed and "accuracy" in printed

        rolled = cli(server, "rollout", "rollback", "funnel", "--step", "detect")
        assert "on funnel.detect rolled back" in rolled
        # Under shadow the candidate's answers reach no later step: the section says so.
        shadow = client.post(
            "/v1/endpoints/funnel/rollout?step=detect",
            json={"version": version, "strategy": "shadow"},
        )
        assert shadow.status_code == 201, shadow.text
        for seed in range(5):
            predict(client, "funnel", seed)
        report = client.get("/v1/endpoints/funnel/rollout/report?step=detect").json()
        assert report["pipeline"]["final_outputs"].startswith("primary only in shadow")
        assert "candidate" not in report["pipeline"]
        ended = client.post("/v1/endpoints/funnel/rollout/rollback?step=detect")
        assert ended.status_code == 200, ended.text
        assert endpoint_state(client, "funnel.scorer") == scorer_before


def _pipeline_section(
    client: httpx.Client, pipeline: str, step: str, ready: Callable[[dict[str, Any]], Any]
) -> dict[str, Any]:
    """The report's pipeline section once ``ready`` says the log has caught up."""
    deadline = time.monotonic() + 15.0
    while True:
        response = client.get(f"/v1/endpoints/{pipeline}/rollout/report", params={"step": step})
        assert response.status_code == 200, response.text
        section: dict[str, Any] = response.json()["pipeline"]
        if ready(section) or time.monotonic() > deadline:
            return section
        time.sleep(0.2)
