"""A real Prometheus (Debian package ``prometheus``) scrapes a real server every second:
after traffic shifted on one feature, its query API returns the drift gauge of that
feature as drifted, and the exported alerting rule over it fires in Prometheus."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from modelport.alerts.export import prometheus_rules
from modelport.alerts.rules import parse_rule
from modelport.config import Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from support import LiveServer, free_port

from .conftest import make_churn_project
from .test_metrics_monitoring import instances, send

PROMETHEUS = shutil.which("prometheus") or (
    "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
)

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="PROMETHEUS MISSING: `apt-get install -y prometheus` to scrape a server for real",
)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(tmp_path_factory.mktemp("prometheus-scrape"), churn_files)
    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    EndpointStore(db, Registry(db, ArtifactStore(home / "artifacts"))).create("shifted", "churn", 1)
    db.dispose()
    env = {
        "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2",
        "MODELPORT_MONITORING__INTERVAL_S": "0.2",
        "MODELPORT_MONITORING__WINDOW": "1h",
    }
    live = LiveServer(folder, env=env).start()
    try:
        yield live
    finally:
        live.stop()


class Prometheus:
    """``prometheus`` on a free 127.0.0.1 port, scraping ``target`` every second."""

    def __init__(self, folder: Path, target: str, rules: str) -> None:
        assert PROMETHEUS is not None
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rules.yml").write_text(rules)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(folder / "rules.yml")],
            "scrape_configs": [
                {"job_name": "modelport", "static_configs": [{"targets": [target]}]}
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (folder / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.output = folder / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        answer.raise_for_status()
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]

    def poll(self, found: Any, what: str, timeout: float = 60.0, shown: Any = None) -> Any:
        """``found()``'s first truthy answer, or a failure naming ``what``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output.read_text()
            try:
                answer = found()
            except httpx.HTTPError:
                answer = None  # still starting
            if answer:
                return answer
            time.sleep(0.25)
        seen = "" if shown is None else f" (last seen: {shown()})"
        raise AssertionError(
            f"Prometheus never showed {what}{seen}:\n{self.output.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def test_prometheus_scrapes_the_drift_gauge_of_the_shifted_feature(
    server: LiveServer, tmp_path: Path
) -> None:
    drift = {
        "name": "shifted-tenure-drift",
        "endpoint": "shifted",
        "metric": "drift.decision",
        "feature": "*",
        "above": 0.5,
        "severity": "critical",
    }
    # Service rules every healthy endpoint breaches: their PromQL evaluates to a value.
    service = [
        {"name": "churn-traffic", "endpoint": "churn", "metric": "requests.rate", "above": 0},
        {"name": "churn-no-errors", "endpoint": "churn", "metric": "errors.rate", "below": 0.5},
        {"name": "churn-p99", "endpoint": "churn", "metric": "latency.p99_ms", "above": 0},
    ]
    rules = prometheus_rules([parse_rule(data) for data in (drift, *service)])
    prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{server.port}", rules)
    try:
        prometheus.poll(
            lambda: [
                t for t in prometheus.get("/api/v1/targets")["activeTargets"] if t["health"] == "up"
            ],
            "the modelport target up",
        )
        send(server, "churn", seed=11)
        send(server, "shifted", seed=12, tenure_shift=60)

        def drifted() -> list[Any]:
            query = 'modelport_drift_detected{endpoint="shifted", feature="tenure"} == 1'
            return list(prometheus.get("/api/v1/query", query=query)["result"])

        [first, *_] = prometheus.poll(drifted, "the shifted feature's drift gauge at 1")
        assert first["metric"]["role"] == "primary" and first["metric"]["version"] == "1"
        assert first["metric"]["job"] == "modelport"

        def psi_of_both() -> dict[str, float]:
            # The two endpoints' gauges may first appear in different scrapes.
            psi = prometheus.get(
                "/api/v1/query",
                query='modelport_drift_statistic{feature="tenure", statistic="psi"}',
            )["result"]
            found = {item["metric"]["endpoint"]: float(item["value"][1]) for item in psi}
            return found if {"shifted", "churn"} <= found.keys() else {}

        by_endpoint = prometheus.poll(psi_of_both, "the tenure PSI of both endpoints")
        assert by_endpoint["shifted"] > 10 * by_endpoint["churn"]

        def firing() -> list[Any]:
            alerts = prometheus.get("/api/v1/alerts")["alerts"]
            return [a for a in alerts if a["state"] == "firing"]

        expected = {"shifted-tenure-drift", *(rule["name"] for rule in service)}

        def all_firing() -> list[Any]:
            # rate() needs the counters to grow while Prometheus watches.
            with server.client() as client:
                client.post("/v1/endpoints/churn/predict", json={"instances": instances(5, 0)})
            alerts = firing()
            return alerts if {a["labels"]["alertname"] for a in alerts} == expected else []

        alerts = prometheus.poll(
            all_firing,
            "every exported rule firing",
            shown=lambda: prometheus.get("/api/v1/rules")["groups"],
        )
        drifted_features = {
            a["labels"]["feature"] for a in alerts if a["labels"]["alertname"] == drift["name"]
        }
        assert "tenure" in drifted_features and "charges" not in drifted_features
        assert {
            a["labels"]["endpoint"] for a in alerts if a["labels"]["alertname"] == drift["name"]
        } == {"shifted"}
        assert {a["labels"]["severity"] for a in alerts} == {"critical", "warning"}
    finally:
        prometheus.stop()
