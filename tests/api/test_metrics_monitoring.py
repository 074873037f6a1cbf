"""The live monitoring figures on a real server's ``/metrics``: drift per feature and
statistic, quality, prediction drift, window counts, performance and class shares, with
the labels a Prometheus rule selects on; and scrapes that read a snapshot, not the store."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from modelport.alerts.export import grafana_dashboard
from modelport.config import Settings
from modelport.monitoring.live.exporter import FAMILIES, MonitoringExporter
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database
from modelport.store.tables import EndpointRow, RolloutRow
from support import LiveServer

from .conftest import make_churn_project
from .helpers import metric, scrape

PROMTOOL = shutil.which("promtool")
ROWS = 600
# Declared rules the server stores at start: one fires on the shifted feature, one stays
# pending for an hour.
ALERT_RULES = """
[[alerts.rules]]
name = "alerted-drift"
endpoint = "alerted"
metric = "drift.decision"
feature = "tenure"
above = 0.5
severity = "critical"

[[alerts.rules]]
name = "alerted-share"
endpoint = "alerted"
metric = "drift.psi"
above = 0.3
for = "1h"
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(
        tmp_path_factory.mktemp("metrics-monitoring"), churn_files, extra_toml=ALERT_RULES
    )
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    endpoints = EndpointStore(
        db, Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
    )
    for name in ("shifted", "alerted", "graphed"):  # one per test that counts rows
        endpoints.create(name, "churn", 1)
    db.dispose()
    env = {
        "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2",
        "MODELPORT_MONITORING__INTERVAL_S": "0.2",
        "MODELPORT_MONITORING__WINDOW": "1h",
        "MODELPORT_ALERTS__INTERVAL_S": "0.5",
    }
    live = LiveServer(folder, env=env).start()
    try:
        yield live
    finally:
        live.stop()


def instances(rows: int, seed: int, tenure_shift: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    plans = ["basic", "plus", "pro"]
    return [
        {"tenure": int(t) + tenure_shift, "charges": round(float(c), 2), "plan": plans[int(p)]}
        for t, c, p in zip(
            rng.integers(0, 72, rows), rng.normal(70, 20, rows), rng.choice(3, rows), strict=True
        )
    ]


def send(server: LiveServer, endpoint: str, seed: int, tenure_shift: int = 0) -> list[Any]:
    """ROWS rows in requests of 100; (request id, row, prediction) of each."""
    answered = []
    with server.client() as client:
        for index in range(ROWS // 100):
            request_id = f"{endpoint}-{seed}-{index}"
            answer = client.post(
                f"/v1/endpoints/{endpoint}/predict",
                json={"instances": instances(100, seed * 100 + index, tenure_shift)},
                headers={"X-Request-ID": request_id},
            )
            assert answer.status_code == 200, answer.text
            answered += [(request_id, r, p) for r, p in enumerate(answer.json()["predictions"])]
    return answered


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def test_metrics_export_the_live_window_of_every_served_version(server: LiveServer) -> None:
    answered = send(server, "churn", seed=1)
    send(server, "shifted", seed=2, tenure_shift=60)
    labels = [{"request_id": r, "row": row, "label": p} for r, row, p in answered[::3]]
    with server.client() as client:
        assert client.post("/v1/feedback", json=labels).json()["matched"] == ROWS // 3

    def settled() -> bool:
        text = scrape(server)
        return (
            metric(text, "modelport_monitoring_window_rows", endpoint="shifted") == ROWS
            and metric(text, "modelport_monitoring_window_rows", endpoint="churn") == ROWS
            and metric(text, "modelport_performance_labelled_rows", endpoint="churn") == ROWS // 3
        )

    server.wait_for(settled, timeout=30)
    text = scrape(server)
    scope = {"version": "1", "role": "primary"}

    # Drift per feature and statistic, with the threshold it is judged against.
    shifted = samples(text, "modelport_drift_detected")
    tenure = [
        v
        for labels, v in shifted
        if labels["endpoint"] == "shifted" and labels["feature"] == "tenure"
    ]
    assert tenure and max(tenure) == 1.0
    assert metric(text, "modelport_drift_decision", endpoint="shifted", feature="tenure") == 1
    assert metric(text, "modelport_drift_decision", endpoint="shifted", feature="charges") == 0
    assert {labels["feature"] for labels, _ in shifted} == {"tenure", "charges", "plan"}
    psi = {
        labels["endpoint"]: value
        for labels, value in samples(text, "modelport_drift_statistic")
        if labels["feature"] == "tenure" and labels["statistic"] == "psi"
    }
    assert psi["shifted"] > 10 * psi["churn"]
    assert (
        metric(
            text,
            "modelport_drift_threshold",
            endpoint="shifted",
            feature="tenure",
            statistic="psi",
            **scope,
        )
        is not None
    )
    share = metric(text, "modelport_drift_share_ratio", endpoint="shifted", **scope)
    assert share is not None and 0 < share <= 1

    # Quality per feature; the output's drift and class shares.
    for name in ("missing", "out_of_range", "unseen"):
        value = metric(
            text, f"modelport_quality_{name}_ratio", endpoint="churn", feature="plan", **scope
        )
        assert value is not None and 0 <= value <= 1
    out_of_range = metric(
        text, "modelport_quality_out_of_range_ratio", endpoint="shifted", feature="tenure"
    )
    assert out_of_range is not None and out_of_range > 0.5  # most shifted tenures exceed 72
    outputs = {
        labels["feature"] for labels, _ in samples(text, "modelport_prediction_drift_statistic")
    }
    assert "__prediction__" in outputs and any(o.startswith("__proba__") for o in outputs)
    shares = [
        v
        for labels, v in samples(text, "modelport_output_class_ratio")
        if labels["endpoint"] == "churn"
    ]
    assert shares and sum(shares) == pytest.approx(1.0)

    # Performance of the labelled predictions (labelled with the answers: all right).
    assert (
        metric(
            text, "modelport_performance_metric", endpoint="churn", statistic="accuracy", **scope
        )
        == 1.0
    )
    assert metric(text, "modelport_monitoring_window_failed_rows", endpoint="churn") == 0
    end = metric(text, "modelport_monitoring_window_end_timestamp_seconds", endpoint="churn")
    assert end is not None and end > datetime.now(UTC).timestamp() - 3600

    if PROMTOOL is not None:
        checked = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), (
            checked.stdout + checked.stderr
        )


def test_a_scrape_reads_the_snapshot_not_the_store(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    series = SeriesStore(db)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    point = {
        "status": "ok",
        "p_value": None,
        "threshold": 0.2,
        "drifted": True,
        "rows": 50,
        "baseline": "reference",
    }
    for version, hour, value in ((1, 0, 0.1), (1, 1, 0.4), (2, 1, 0.9)):
        key = WindowKey(
            "churn", version, "1h", start + timedelta(hours=hour), start + timedelta(hours=hour + 1)
        )
        series.upsert_points(
            key, [{**point, "feature": "tenure", "statistic": "psi", "value": value}], final=True
        )
    event = {
        "endpoint": "churn",
        "version": 1,
        "detector": "adwin",
        "request_id": "r",
        "process": "p",
    }
    series.add_events(
        {**event, "position": n, "predicted_at": start, "detected_at": start + timedelta(minutes=n)}
        for n in (1, 2)
    )
    rollout = {"endpoint": "churn", "model_name": "churn", "candidate_version": 2,
               "baseline_version": 1, "strategy": "canary", "phase": "canary"}  # fmt: skip
    with db.session() as session:
        session.add(RolloutRow(**rollout, status="rolled-back", finished_at=start))
        session.add(RolloutRow(**rollout, status="active", step_started_at=start))
    # Version 2 is not served (any more): its window is left out.
    exporter = MonitoringExporter(series, window="1h", roles_of=lambda endpoint: {1: "primary"})
    assert {m.name for m in exporter.describe()} == set(FAMILIES)
    exporter.refresh()
    assert not [m for m in exporter.collect() if m.samples]  # no endpoint named churn yet
    with db.session() as session:
        session.add(EndpointRow(name="churn", model_name="churn", primary_version=1, policy={}))
    exporter.refresh()
    db.dispose()
    (tmp_path / "store.db").unlink()  # from here on a query would fail
    found = {m.name: m.samples for m in exporter.collect() if m.samples}
    [sample] = found["modelport_drift_statistic"]
    assert sample.value == 0.4  # the newest window of the served version only
    assert sample.labels == {
        "endpoint": "churn",
        "version": "1",
        "role": "primary",
        "feature": "tenure",
        "statistic": "psi",
    }
    [events] = found["modelport_detector_events"]
    assert events.value == 2 and events.labels["detector"] == "adwin"
    [newest] = found["modelport_detector_last_event_timestamp_seconds"]
    assert newest.value == (start + timedelta(minutes=2)).timestamp()
    assert [s.value for s in found["modelport_rollbacks"]] == [1]
    assert [s.value for s in found["modelport_rollback_last_timestamp_seconds"]] == [
        start.timestamp()
    ]
    assert [s.value for s in found["modelport_live_rollout_step_started_timestamp_seconds"]] == [
        start.timestamp()
    ]


def test_pending_and_firing_alerts_are_exported_like_prometheus_alerts(
    server: LiveServer,
) -> None:
    send(server, "alerted", seed=4, tenure_shift=60)

    def alerts() -> list[tuple[dict[str, str], float]]:
        return samples(scrape(server), "modelport_alerts")

    server.wait_for(
        lambda: (
            {labels["alertname"] for labels, _ in alerts()} == {"alerted-drift", "alerted-share"}
        ),
        timeout=30,
    )
    found = alerts()
    assert all(value == 1.0 for _, value in found)
    assert {
        "alertname": "alerted-drift",
        "alertstate": "firing",
        "severity": "critical",
        "endpoint": "alerted",
        "metric": "drift.decision",
        "version": "",
        "role": "",
        "feature": "tenure",
    } in [labels for labels, _ in found]
    share = [labels for labels, _ in found if labels["alertname"] == "alerted-share"]
    assert {labels["alertstate"] for labels in share} == {"pending"}  # for = 1h
    assert "tenure" in {labels["feature"] for labels in share}  # "*" fanned out per feature
    assert {labels["severity"] for labels in share} == {"warning"}


def exported_names(text: str) -> set[str]:
    """Every series name a query may use: gauges as they are, counters with ``_total``,
    histograms with ``_bucket``, ``_sum`` and ``_count``."""
    names = set()
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def queried_names(dashboard: dict[str, Any]) -> set[str]:
    """Metric names in every panel query and template variable of a dashboard."""
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    names = set()
    for expr in exprs:
        # Drop label matchers and legend-like strings: what is left names series.
        bare = re.sub(r'"[^"]*"', '""', expr)
        bare = re.sub(r"\{[^}]*\}", "", bare)
        names |= set(re.findall(r"\b(?:modelport|process|python)_[a-z0-9_]+", bare))
    return names


def test_every_metric_the_grafana_dashboard_queries_is_exported(server: LiveServer) -> None:
    send(server, "graphed", seed=3)
    dashboard = grafana_dashboard()
    assert dashboard["schemaVersion"] >= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and "endpoint" in variables
    kinds = {panel["type"] for panel in dashboard["panels"]}
    assert {"heatmap", "timeseries", "table", "row"} <= kinds
    used = queried_names(dashboard)
    assert {
        "modelport_requests_total",
        "modelport_drift_statistic",
        "modelport_rollout_canary_weight_ratio",
        "modelport_alerts",
        "modelport_performance_metric",
    } <= used
    server.wait_for(
        lambda: metric(scrape(server), "modelport_monitoring_window_rows", endpoint="graphed")
    )
    missing = used - exported_names(scrape(server))
    assert not missing, f"the dashboard queries series /metrics does not export: {missing}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    json.dumps(dashboard)  # a JSON model


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="PROMTOOL MISSING: `apt-get install -y prometheus` to parse the dashboard's PromQL",
)
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    exprs = [
        target["expr"]
        for panel in grafana_dashboard()["panels"]
        for target in panel.get("targets", [])
    ]
    # Grafana's variables as Grafana would fill them in; each query as a recording rule.
    filled = [
        e.replace("$__rate_interval", "1m").replace("$endpoint", ".+").replace("$statistic", ".+")
        for e in exprs
    ]
    rules = [{"record": f"dashboard:query{index}", "expr": e} for index, e in enumerate(filled)]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout
