"""The dashboard's test world: one real server that has seen what the pages show.

``build(folder, churn_files, churn_files_v2)`` makes a project with tokens for every role,
registers ``churn:1`` and ``churn:2``, and serves:

- ``churn`` (churn:1): normal traffic, then traffic whose ``tenure`` and ``charges`` are
  far from the reference (``plan`` is left alone), labels for part of it, a canary rollout
  of churn:2 that stays in progress (its step lasts a day), and a drift alert that fires;
- ``quiet`` (churn:1): no traffic at all (the empty states);
- ``broken``: a model whose artifact was damaged after registration (fails to load).

It returns once the API shows all of it (live windows with drifted features, joined
labels, the rollout in progress, the alert firing), polling with a deadline.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

from support import LiveServer, make_churn_data, run_cli

T = TypeVar("T")

WAIT_S = 120.0  # an upper bound for "never happened", not a performance threshold
WINDOW_ROWS = 1000  # enough rows for every drift statistic to judge a window
ROLES = ("admin", "deployer", "reader")
TOKENS = {role: f"dash-{role}-token-0123456789" for role in ROLES}
# Features of churn's inputs that the drifted traffic moves, and the one it leaves alone.
DRIFTED = ("tenure", "charges")
STABLE = ("plan",)
ALERT_RULE = "churn-tenure-drift"
CANDIDATE = 2

CONFIG = """\
[store]
home = ".modelport"

[log]
flush_interval_s = 0.2

[monitoring]
window = "{window_rows}rows"
interval_s = 0.2
compact_log = false

[alerts]
interval_s = 0.3
backoff_s = 0.05

[[alerts.rules]]
name = "{rule}"
endpoint = "churn"
metric = "drift.ks"
feature = "tenure"
above = 0.5
severity = "critical"

[auth.tokens.ops-admin]
role = "admin"
token = "{admin}"

[auth.tokens.release-deployer]
role = "deployer"
token = "{deployer}"

[auth.tokens.team-reader]
role = "reader"
token = "{reader}"
"""

# A python-flavor model whose artifact gets damaged on disk: the server cannot load it.
FRAGILE = """
import numpy as np


class Fragile:
    classes = [0, 1]
    input_schema = [
        {"name": "tenure", "kind": "int"},
        {"name": "charges", "kind": "float"},
        {"name": "plan", "kind": "category", "categories": ["basic", "plus", "pro"]},
    ]

    def predict(self, frame):
        return np.zeros(len(frame), dtype=int)
"""


@dataclass
class Scenario:
    """What the tests need to know about the running scenario server."""

    server: LiveServer
    project: Path
    tokens: dict[str, str] = field(default_factory=lambda: dict(TOKENS))
    endpoint: str = "churn"
    quiet_endpoint: str = "quiet"
    broken_endpoint: str = "broken"
    model: str = "churn"
    candidate_version: int = CANDIDATE
    drifted_features: tuple[str, ...] = DRIFTED
    stable_features: tuple[str, ...] = STABLE
    alert_rule: str = ALERT_RULE
    # Request ids of churn's traffic, and those of them that got a label.
    request_ids: list[str] = field(default_factory=list)
    labelled_ids: list[str] = field(default_factory=list)
    _fresh: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def client(self, role: str | None = "admin") -> httpx.Client:
        """An HTTP client for the server; ``role=None`` sends no token."""
        return self.server.client(headers=self.headers(role) if role else {})

    def api(self, path: str, role: str = "admin", **query: Any) -> Any:
        """GET ``path`` as ``role``; the parsed JSON (fails on an error status)."""
        with self.client(role) as client:
            response = client.get(path, params=query)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def wait_ready(self, endpoint: str) -> None:
        """Until the server has loaded ``endpoint``."""
        with self.client("reader") as client:
            wait_for(
                lambda: client.get(f"/v2/models/{endpoint}/ready").status_code,
                lambda status: status == 200,
                f"endpoint {endpoint} ready",
            )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The real ``modelport`` command in the scenario's project folder."""
        return run_cli(*args, cwd=self.project, check=check)

    def fresh_rollout(self, strategy: str = "canary") -> str:
        """A new endpoint on churn:1 with a rollout of churn:2 in progress (for tests that
        promote or roll back); its name."""
        self._fresh += 1
        name = f"churn-r{self._fresh}"
        with self.client("admin") as client:
            created = client.post("/v1/endpoints", json={"name": name, "model": "churn:1"})
            assert created.status_code in (200, 201), created.text
            self.wait_ready(name)
            started = client.post(f"/v1/endpoints/{name}/rollout", json=rollout_options(strategy))
            assert started.status_code in (200, 201), started.text
        wait_for(
            lambda: self.api(f"/v1/endpoints/{name}/rollout")["rollout"],
            lambda rollout: rollout is not None and rollout["status"] == "active",
        )
        return name

    def fresh_alert(self) -> str:
        """A new rule on churn's drifted ``tenure``, firing like the shared one (for tests
        that silence or acknowledge); its name."""
        self._fresh += 1
        name = f"{ALERT_RULE}-{self._fresh}"
        rule = {
            "name": name,
            "endpoint": self.endpoint,
            "metric": "drift.ks",
            "feature": "tenure",
            "above": 0.5,
            "severity": "warning",
        }
        with self.client("admin") as client:
            created = client.post("/v1/alerts", json=rule)
            assert created.status_code == 201, created.text
        wait_for(
            lambda: self.api("/v1/alerts/active")["alerts"],
            lambda alerts: any(a["rule"] == name and a["state"] == "firing" for a in alerts),
            f"alert {name} firing",
        )
        return name

    def remove(self, endpoint: str | None = None, rule: str | None = None) -> None:
        """Undo fresh_rollout / fresh_alert: roll back and delete the endpoint, drop the rule."""
        with self.client("admin") as client:
            if endpoint is not None:
                client.post(f"/v1/endpoints/{endpoint}/rollout/rollback")  # 409: none live
                deleted = client.delete(f"/v1/endpoints/{endpoint}")
                assert deleted.status_code in (200, 204, 404), deleted.text
            if rule is not None:
                dropped = client.delete(f"/v1/alerts/{rule}")
                assert dropped.status_code in (200, 204, 404), dropped.text


def rollout_options(strategy: str = "canary") -> dict[str, Any]:
    """A rollout of churn:2 that stays in progress for the whole session."""
    return {
        "version": CANDIDATE,
        "strategy": strategy,
        "steps": [25, 50, 100],
        "step_every": "1d",
        "reason": "dashboard scenario",
    }


def wait_for(read: Callable[[], T], done: Callable[[T], bool], what: str = "") -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not reached in {WAIT_S}s; last {value!r}")
        time.sleep(0.2)


def normal_rows(rows: int, seed: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Inputs like the reference, and their true labels."""
    frame = make_churn_data(rows, seed)
    inputs = [
        {"tenure": int(r.tenure), "charges": float(r.charges), "plan": str(r.plan)}
        for r in frame.itertuples()
    ]
    return inputs, [int(label) for label in frame["churned"]]


def drifted_rows(rows: int, seed: int) -> list[dict[str, Any]]:
    """Tenure far past the reference's 0-71 months, charges tripled; plan unchanged."""
    rng = np.random.default_rng(seed)
    inputs, _ = normal_rows(rows, seed)
    return [
        {**row, "tenure": int(rng.integers(150, 250)), "charges": round(row["charges"] * 3, 2)}
        for row in inputs
    ]


def write_project(
    folder: Path, churn_files: tuple[Path, Path], churn_v2: tuple[Path, Path]
) -> None:
    """The project folder: settings, churn:1 and churn:2, endpoints churn, quiet, broken."""
    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    (folder / "modelport.toml").write_text(
        CONFIG.format(window_rows=WINDOW_ROWS, rule=ALERT_RULE, **TOKENS)
    )
    for (model, reference), stem in ((churn_files, "churn-1"), (churn_v2, "churn-2")):
        shutil.copy(model, folder / f"{stem}.skops")
        shutil.copy(reference, folder / f"{stem}.parquet")
    (folder / "fragile.py").write_text(FRAGILE)
    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        for stem in ("churn-1", "churn-2"):
            registry.register(
                Registration(
                    name="churn",
                    source=str(folder / f"{stem}.skops"),
                    flavor="sklearn",
                    reference=folder / f"{stem}.parquet",
                    target="churned",
                )
            )
        fragile = registry.register(
            Registration(
                name="fragile",
                source=f"{folder / 'fragile.py'}:Fragile",
                flavor="python",
                trust_code=True,
            )
        )
        endpoints = EndpointStore(db, registry)
        endpoints.create("churn", "churn", 1)
        endpoints.create("quiet", "churn", 1)
        endpoints.create("broken", "fragile", fragile.version)
    finally:
        db.dispose()
    # The store checks an artifact's sha256 before loading it: this one no longer matches.
    blob = home / "artifacts" / fragile.artifact_path
    blob.chmod(0o644)
    blob.write_text(blob.read_text() + "\n# damaged after registration\n")


def send(
    client: httpx.Client, endpoint: str, rows: list[dict[str, Any]], prefix: str, batch: int
) -> list[tuple[str, int]]:
    """``rows`` in requests of ``batch`` rows, each request with a known id; the
    (request id, row) of every row. Requests of one row let a canary split them."""

    def one(start: int) -> list[tuple[str, int]]:
        request_id = f"{prefix}-{start}"
        answer = client.post(
            f"/v1/endpoints/{endpoint}/predict",
            json={"instances": rows[start : start + batch]},
            headers={"X-Request-ID": request_id},
        )
        assert answer.status_code == 200, answer.text
        return [(request_id, row) for row in range(len(rows[start : start + batch]))]

    with ThreadPoolExecutor(4) as pool:
        return [key for keys in pool.map(one, range(0, len(rows), batch)) for key in keys]


def history(scenario: Scenario, **query: Any) -> list[dict[str, Any]]:
    """Stored series points of churn (finished windows and the running one)."""
    points: list[dict[str, Any]] = scenario.api(
        f"/v1/endpoints/{scenario.endpoint}/monitoring/history", "reader", **query
    )["points"]
    return points


def drifted_features(points: list[dict[str, Any]]) -> set[str]:
    """Features some finished window judged drifted."""
    return {p["feature"] for p in points if p["drifted"] and p["final"]}


def populate(scenario: Scenario) -> None:
    """Traffic, labels, a rollout and an alert; returns once the API shows all of them."""
    normal, labels = normal_rows(2 * WINDOW_ROWS, seed=11)
    drifted = drifted_rows(2 * WINDOW_ROWS + WINDOW_ROWS // 2, seed=12)
    with scenario.client("admin") as client:
        # Two windows like the reference, two drifted ones: churn:1 alone answers them.
        keys = send(client, scenario.endpoint, normal, "normal", batch=100)
        keys += send(client, scenario.endpoint, drifted[: 2 * WINDOW_ROWS], "drifted", batch=100)
        started = client.post(f"/v1/endpoints/{scenario.endpoint}/rollout", json=rollout_options())
        assert started.status_code in (200, 201), started.text
        # Then single-row requests that the canary splits between churn:1 and churn:2.
        keys += send(client, scenario.endpoint, drifted[2 * WINDOW_ROWS :], "split", batch=1)
        # Labels for the first normal window (the rest waits for its labels).
        items = [
            {"request_id": request_id, "row": row, "label": label}
            for (request_id, row), label in zip(keys[:WINDOW_ROWS], labels, strict=False)
        ]
        for start in range(0, len(items), 500):
            answer = client.post("/v1/feedback", json=items[start : start + 500])
            assert answer.status_code == 200, answer.text
            assert answer.json()["matched"] == len(items[start : start + 500]), answer.text
    scenario.request_ids = sorted({request_id for request_id, _ in keys})
    scenario.labelled_ids = sorted({item["request_id"] for item in items})

    wait_for(
        lambda: drifted_features(history(scenario)),
        lambda drifted: set(DRIFTED) <= drifted and not drifted & set(STABLE),
        "finished windows with drifted features",
    )
    wait_for(
        lambda: history(scenario, feature="__performance__", stat="accuracy"),
        lambda points: len(points) > 0,
        "labels joined (an accuracy point)",
    )
    wait_for(
        lambda: scenario.api(f"/v1/endpoints/{scenario.endpoint}/rollout")["rollout"],
        lambda rollout: rollout is not None and rollout["status"] == "active",
        "rollout in progress",
    )
    wait_for(
        lambda: scenario.api("/v1/alerts/active")["alerts"],
        lambda alerts: any(a["rule"] == ALERT_RULE and a["state"] == "firing" for a in alerts),
        "alert firing",
    )


@contextmanager
def running(
    folder: Path, churn_files: tuple[Path, Path], churn_v2: tuple[Path, Path]
) -> Iterator[Scenario]:
    """The scenario server, populated; stopped on exit."""
    write_project(folder, churn_files, churn_v2)
    server = LiveServer(folder).start()
    try:
        scenario = Scenario(server=server, project=folder)
        scenario.wait_ready("churn")
        populate(scenario)
        yield scenario
    finally:
        server.stop()


if __name__ == "__main__":  # a scenario server to look at by hand: python scenario.py DIR
    import sys

    from support import train_churn

    target = Path(sys.argv[1])
    target.mkdir(parents=True)
    with running(
        target, train_churn(target / "v1"), train_churn(target / "v2", seed=1)
    ) as scenario:
        print(scenario.url, scenario.tokens, flush=True)
        input("press enter to stop\n")
