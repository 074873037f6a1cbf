"""A server killed mid-canary comes back at the same step with the same split."""

from __future__ import annotations

import signal
from pathlib import Path

from rollout.traffic import FAST_LOG, SAME, Traffic, start
from support import LiveServer


def _variants(traffic: Traffic, users: list[str]) -> dict[str, str]:
    seen = {}
    for user in users:
        answer = traffic.predict(headers={"X-User-Id": user})
        assert answer.status == 200, answer.body
        seen[user] = answer.variant
    return seen


def test_killed_server_resumes_at_the_same_step_and_split(rollout_project: Path) -> None:
    users = [f"customer-{i}" for i in range(120)]
    server = LiveServer(rollout_project, env=dict(FAST_LOG)).start()
    try:
        traffic = Traffic(server)
        response = start(
            traffic.client,
            version=SAME,
            strategy="canary",
            steps="30,100",
            step_every="1h",
            sticky_key="header:X-User-Id",
        )
        assert response.status_code == 201, response.text
        traffic.wait_until(lambda s: (s["serving"]["routing"] or {}).get("weight") == 30)
        before = _variants(traffic, users)
        status_before = traffic.rollout()["rollout"]
        traffic.close()
    finally:
        server.stop(signal.SIGKILL)
    assert 0 < sum(v == "canary" for v in before.values()) < len(users)

    restarted = LiveServer(rollout_project, env=dict(FAST_LOG)).start()
    try:
        traffic = Traffic(restarted)
        status = traffic.rollout()
        rollout = status["rollout"]
        for key in ("id", "status", "phase", "step", "weight", "step_started_at"):
            assert rollout[key] == status_before[key]
        assert status["serving"]["routing"]["weight"] == 30
        assert _variants(traffic, users) == before
        traffic.close()
    finally:
        restarted.stop()
