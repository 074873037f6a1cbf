"""Shadow mode on a live server: the candidate sees copies, the caller never does."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rollout.traffic import FAILS, SLOW, Traffic, routing, start
from support import run_cli


def _answers(traffic: Traffic, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers = []
    for instance in instances:
        answer = traffic.predict(instance)
        assert answer.status == 200, answer.body
        body = dict(answer.body)
        body.pop("request_id")
        answers.append(body)
    return answers


def _same(body: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Same answer; probabilities may differ in the last bit when requests share a batch."""
    return (
        body["predictions"] == expected["predictions"]
        and body["version"] == expected["version"]
        and "variant" not in body
        and np.allclose(body["probabilities"], expected["probabilities"], rtol=0, atol=1e-12)
    )


def test_failing_shadow_changes_no_primary_answer(traffic: Traffic) -> None:
    project = traffic.server.cwd
    instances = [traffic.instance() for _ in range(40)]
    before = _answers(traffic, instances)

    run_cli("rollout", "start", "churn", "--version", str(FAILS), "--strategy", "shadow",
            cwd=project)  # fmt: skip
    traffic.wait_until(lambda status: routing(status) == "shadow")
    during = [_answers(traffic, instances) for _ in range(3)]

    assert all(answers == before for answers in during)
    assert all("variant" not in body for body in before)
    report = traffic.wait_until(
        lambda _: (
            traffic.client.get("/v1/endpoints/churn/rollout/report").json()["errors"]["candidate"][
                "count"
            ]
            >= 120
        )
    )
    body = traffic.client.get("/v1/endpoints/churn/rollout/report").json()
    assert body["errors"]["primary"]["count"] == 0
    assert body["errors"]["candidate"]["rate"] == 1.0
    assert "candidate exploded" in body["errors"]["candidate"]["top"][0]["error"]
    assert report["rollout"]["status"] == "active"

    # The same report from the CLI.
    table = run_cli("rollout", "report", "churn", "--slice", "plan", cwd=project).stdout
    assert "candidate exploded" in table and "basic" in table


def test_slow_shadow_drops_copies_but_never_requests(traffic: Traffic) -> None:
    instances = [traffic.instance() for _ in range(20)]
    expected = {
        json.dumps(i, sort_keys=True): b
        for i, b in zip(instances, _answers(traffic, instances), strict=True)
    }

    assert start(traffic.client, version=SLOW, strategy="shadow").status_code == 201
    traffic.wait_until(lambda status: routing(status) == "shadow")

    answered = 0
    for _burst in range(20):
        answers = traffic.burst([instances[i % 20] for i in range(400)], workers=32)
        for instance, answer in zip([instances[i % 20] for i in range(400)], answers, strict=True):
            assert answer.status == 200, answer.body
            assert _same(answer.body, expected[json.dumps(instance, sort_keys=True)])
        answered += len(answers)
        if traffic.rollout()["serving"]["mirrors_dropped"] > 0:
            break
    status = traffic.rollout()
    assert status["serving"]["mirrors_dropped"] > 0, f"no drop after {answered} requests"

    metrics = traffic.client.get("/metrics").text
    dropped = [
        line
        for line in metrics.splitlines()
        if line.startswith("modelport_errors_total") and 'code="mirror_dropped"' in line
    ]
    assert dropped and float(dropped[0].rsplit(" ", 1)[1]) > 0

    report = traffic.client.get("/v1/endpoints/churn/rollout/report").json()
    assert report["requests"]["shadow_missing"] > 0
    assert report["errors"]["primary"]["count"] == 0
    # Stop the shadow so the server need not finish the backlog at shutdown.
    assert traffic.client.post("/v1/endpoints/churn/rollout/rollback").status_code == 200
