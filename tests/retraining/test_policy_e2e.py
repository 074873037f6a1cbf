"""Retraining by policy end to end on a real server: an alert rule fires on drifted
traffic, labels arrive over HTTP, the policy trains once in a real worker process (not
again within its cooldown), and the deliberately bad version it trained is rolled back
by the rollout's automated gates while the primary keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from support import LiveServer, make_churn_data, register_churn

pytestmark = pytest.mark.slow

WAIT_S = 120.0  # an upper bound for "never happened", not a performance threshold
CONFIG = """\
[store]
home = ".modelport"

[log]
flush_interval_s = 0.2

[monitoring]
window = "200rows"
interval_s = 0.2
compact_log = false

[alerts]
interval_s = 0.3

[[alerts.rules]]
name = "churn-drift"
endpoint = "churn"
metric = "drift.ks"
feature = "tenure"
above = 0.5

[retrain]
trainers = ["badtrainers:*"]
interval_s = 0.3
"""
# Predicts the rarest label for everyone: it trains and registers fine, and disagrees
# with the primary on nearly every request.
TRAINERS = '''"""A deliberately bad trainer."""
from sklearn.dummy import DummyClassifier


def constant(features, labels, context):
    rarest = labels.value_counts().idxmin()
    return DummyClassifier(strategy="constant", constant=rarest).fit(features, labels)
'''
RULE = "churn-drift"
POLICY = {
    "trainer": "badtrainers:constant",
    "on_alert": RULE,
    "cooldown": "1h",
    "min_labels": 300,
    "max_attempts": 3,
    "since": "7d",
    "rollout": {"min_samples": 30, "steps": "50,100"},
}
T = TypeVar("T")


def wait_for(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {WAIT_S}s; last value {value!r}")
        time.sleep(0.2)


def drifted(rows: int, seed: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows whose tenure lies far past the reference (0-71 months), with true labels."""
    frame = make_churn_data(rows, seed)
    tenure = np.random.default_rng(seed).integers(150, 250, rows)
    instances = [
        {"tenure": int(t), "charges": float(r.charges), "plan": str(r.plan)}
        for t, r in zip(tenure, frame.itertuples(), strict=True)
    ]
    return instances, [int(label) for label in frame.churned]


def send_labelled(client: httpx.Client, rows: int, seed: int) -> None:
    """Drifted traffic in requests of 50 rows, every row labelled."""
    instances, labels = drifted(rows, seed)
    for start in range(0, rows, 50):
        answer = client.post(
            "/v1/endpoints/churn/predict", json={"instances": instances[start : start + 50]}
        )
        assert answer.status_code == 200, answer.text
        request_id = answer.json()["request_id"]
        items = [
            {"request_id": request_id, "row": row, "label": labels[start + row]}
            for row in range(len(instances[start : start + 50]))
        ]
        stored = client.post("/v1/feedback", json={"items": items})
        assert stored.status_code == 200, stored.text


@pytest.fixture
def server(project: Path, churn_files: tuple[Path, Path]) -> Iterator[LiveServer]:
    (project / "modelport.toml").write_text(CONFIG)
    (project / "badtrainers.py").write_text(TRAINERS)
    register_churn(project, churn_files)
    live = LiveServer(project).start()
    try:
        yield live
    finally:
        live.stop()


def test_a_firing_alert_retrains_once_and_the_bad_version_is_rolled_back(
    server: LiveServer,
) -> None:
    with server.client() as client:
        _run(server, client)


def _run(server: LiveServer, client: httpx.Client) -> None:

    def history() -> list[dict[str, Any]]:
        answer = client.get("/v1/endpoints/churn/retrain/history")
        assert answer.status_code == 200, answer.text
        return list(reversed(answer.json()["history"]))  # oldest first

    def decisions() -> list[str]:
        return [e["decision"] for e in history()]

    assert client.put("/v1/endpoints/churn/retrain/policy", json=POLICY).status_code == 200
    wait_for(decisions, lambda seen: seen == ["skipped"])
    assert history()[0]["cause"] == "not_firing"

    # Drift fires the alert; too few labels yet holds the retrain back.
    send_labelled(client, 200, seed=1)
    wait_for(history, lambda seen: seen[-1]["cause"] == "labels")
    assert "started" not in decisions()

    send_labelled(client, 150, seed=2)
    ended = wait_for(decisions, lambda seen: "trained" in seen or "failed" in seen)
    assert "failed" not in ended, server.output()
    trained = next(e for e in history() if e["decision"] == "trained")
    version, rollout_id = trained["version"], trained["rollout_id"]
    assert version == 2 and rollout_id is not None and trained["attempt"] == 1
    rollout = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
    assert (rollout["id"], rollout["candidate"]) == (rollout_id, version)
    assert rollout["spec"]["min_samples"] == 30 and rollout["spec"]["steps"] == [50, 100]
    lineage = client.get(f"/v1/models/churn/versions/{version}").json()["lineage"]
    assert (lineage["trainer"], lineage["parent"]) == ("badtrainers:constant", "churn:1")
    assert (lineage["policy"], lineage["on_alert"], lineage["attempt"]) == ("churn", RULE, 1)

    # Traffic lets the rollout's gates judge the new version: it disagrees with the
    # primary everywhere, so it is rolled back.
    seed = 3
    while "rolled_back" not in decisions() and "promoted" not in decisions():
        send_labelled(client, 100, seed=seed)
        seed += 1
        assert seed < 200, server.output()
    rolled_back = next(e for e in history() if e["decision"] in ("rolled_back", "promoted"))
    assert rolled_back["decision"] == "rolled_back"
    assert rolled_back["version"] == version and rolled_back["rollout_id"] == rollout_id
    assert "gate failed" in rolled_back["reason"]
    assert client.get("/v1/endpoints/churn").json()["version"] == 1
    answer = client.post(
        "/v1/endpoints/churn/predict", json={"instances": drifted(1, seed=999)[0]}
    ).json()
    assert answer["version"] == 1

    # The alert still fires and new labels keep coming: only the cooldown holds the next
    # attempt back.
    send_labelled(client, 300, seed=500)
    wait_for(history, lambda seen: seen[-1]["cause"] == "cooldown")
    time.sleep(1.5)  # several more policy rounds
    assert decisions().count("started") == 1
    started = next(e for e in history() if e["decision"] == "started")
    assert started["attempt"] == 1 and started["job"] == trained["job"]
    audit = [r["action"] for r in client.get("/v1/endpoints/churn/history").json()["history"]]
    for action in ("retrain-started", "retrain-trained", "retrain-rolled_back"):
        assert action in audit
