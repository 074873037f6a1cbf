"""Talking to a live server during rollout tests: requests, bursts, waiting for states."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from support import LiveServer, churn_instance

# Versions of model "churn" in the template project (see conftest.py).
PRIMARY, SAME, FAILS, SLOW, FLAKY, ALWAYS_ONE, OTHER, DIFFERENT_INPUTS = range(1, 9)
FAST_LOG = {"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}


@dataclass
class Answer:
    status: int
    version: int | None
    variant: str
    body: dict[str, Any] = field(default_factory=dict)


class Traffic:
    """Real requests against a live server, with helpers to wait for rollout states."""

    def __init__(
        self, server: LiveServer, seed: int = 0, headers: dict[str, str] | None = None
    ) -> None:
        self.server = server
        self.client = server.client(headers=headers or {})
        self.random = random.Random(seed)

    def instance(self) -> dict[str, Any]:
        return churn_instance(
            tenure=self.random.randint(0, 71),
            charges=round(self.random.uniform(20, 120), 2),
            plan=self.random.choice(["basic", "plus", "pro"]),
        )

    def predict(
        self, instance: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        response = self.client.post(
            "/v1/endpoints/churn/predict",
            json={"instances": [instance or self.instance()]},
            headers=headers,
        )
        body = response.json()
        return Answer(
            response.status_code, body.get("version"), body.get("variant", "primary"), body
        )

    def burst(self, instances: list[dict[str, Any]], workers: int = 16) -> list[Answer]:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(self.predict, instances))

    def rollout(self) -> dict[str, Any]:
        response = self.client.get("/v1/endpoints/churn/rollout")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def drive_until(
        self,
        done: Callable[[dict[str, Any]], bool],
        *,
        max_requests: int = 5000,
        on_answer: Callable[[Answer], None] | None = None,
        headers: Callable[[int], dict[str, str]] | None = None,
        pause_s: float = 0.0,
    ) -> dict[str, Any]:
        """Send requests until ``done(rollout status)``; fails after ``max_requests``."""
        for index in range(max_requests):
            answer = self.predict(headers=headers(index) if headers else None)
            if on_answer is not None:
                on_answer(answer)
            if pause_s:
                time.sleep(pause_s)
            if index % 20 == 0:
                status = self.rollout()
                if done(status):
                    return status
        status = self.rollout()
        if done(status):
            return status
        raise AssertionError(f"rollout did not get there in {max_requests} requests: {status}")

    def wait_until(
        self, done: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.rollout()
            if done(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"rollout state not reached in {timeout}s: {self.rollout()}")

    def reset(self) -> None:
        """Back to churn:1 answering alone, whatever an earlier test left behind."""
        self.client.post("/v1/endpoints/churn/rollout/rollback")  # 409 when none is live
        if self.client.get("/v1/endpoints/churn").json()["version"] != PRIMARY:
            response = self.client.patch("/v1/endpoints/churn", json={"model": f"churn:{PRIMARY}"})
            assert response.status_code == 200, response.text
        primary_only = {"strategy": "primary", "primary": PRIMARY}
        self.wait_until(lambda s: (s.get("serving") or {}).get("routing") == primary_only)

    def history(self, rollout: int | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client.get(
            "/v1/endpoints/churn/rollout/history"
        ).json()["history"]
        return [e for e in events if rollout is None or e["rollout"] == rollout]

    def close(self) -> None:
        self.client.close()


def routing(status: dict[str, Any]) -> str | None:
    serving = status.get("serving") or {}
    described = serving.get("routing") or {}
    return described.get("strategy")


def rollout_status(status: dict[str, Any]) -> str | None:
    rollout = status.get("rollout")
    return rollout["status"] if rollout else None


def start(client: httpx.Client, **options: Any) -> httpx.Response:
    return client.post("/v1/endpoints/churn/rollout", json=options)
