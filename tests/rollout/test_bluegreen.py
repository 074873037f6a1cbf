"""Blue-green on a live server: switch and instant rollback without one failed request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from modelport.predlog.parquet import ParquetPredictionLog
from rollout.traffic import OTHER, PRIMARY, Answer, Traffic, rollout_status, start


@contextmanager
def steady_traffic(traffic: Traffic, workers: int = 4) -> Iterator[list[Answer]]:
    """Requests from a few threads for as long as the block runs."""
    answers: list[Answer] = []
    stop = threading.Event()

    def send(seed: int) -> None:
        mine = Traffic(traffic.server, seed=seed)
        try:
            while not stop.is_set():
                answers.append(mine.predict())
        finally:
            mine.close()

    threads = [threading.Thread(target=send, args=(seed,)) for seed in range(workers)]
    for thread in threads:
        thread.start()
    try:
        yield answers
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def test_switch_and_instant_rollback_fail_no_request(traffic: Traffic) -> None:
    log = ParquetPredictionLog(traffic.server.cwd / ".modelport" / "logs")
    logged = log.read("churn", columns=["row"]).num_rows
    for _ in range(60):  # recent requests for the smoke test to replay
        assert traffic.predict().status == 200
    traffic.wait_until(lambda _: log.read("churn", columns=["row"]).num_rows >= logged + 60)

    with steady_traffic(traffic) as answers:
        response = start(
            traffic.client, version=OTHER, strategy="blue-green", smoke=50, keep_blue="1h"
        )
        assert response.status_code == 201, response.text
        rollout_id = response.json()["id"]
        status = traffic.wait_until(lambda s: s["serving"]["routing"].get("live") == OTHER)
        assert status["serving"]["routing"]["standby"] == PRIMARY  # blue stays loaded
        traffic.wait_until(lambda _: any(a.version == OTHER for a in answers[-20:]))

        assert traffic.client.post("/v1/endpoints/churn/rollout/rollback").status_code == 200
        traffic.wait_until(lambda s: s["serving"]["routing"]["strategy"] == "primary")
        switched_back = len(answers)
        traffic.wait_until(lambda _: len(answers) > switched_back + 20)

    assert answers and all(a.status == 200 for a in answers)
    versions = [a.version for a in answers]
    assert OTHER in versions and versions[-1] == PRIMARY
    started = traffic.history(rollout_id)[0]
    smoke = started["evidence"]["smoke"]
    assert smoke["passed"] and smoke["rows"] == 50 and smoke["source"] == "logged requests"
    assert rollout_status(traffic.rollout()) == "rolled-back"


def test_blue_is_released_when_keep_blue_passes(traffic: Traffic) -> None:
    response = start(traffic.client, version=OTHER, strategy="blue-green", keep_blue="2s")
    assert response.status_code == 201, response.text
    green_alone = {"strategy": "primary", "primary": OTHER}
    traffic.wait_until(lambda s: rollout_status(s) == "promoted")
    traffic.wait_until(lambda s: s["serving"]["routing"] == green_alone)
    assert traffic.history()[-1]["action"] == "release-blue"
    assert traffic.predict().version == OTHER
