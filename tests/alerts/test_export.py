"""The Prometheus rules export: a rule of every metric, with every kind of scope and
threshold, passes ``promtool check rules``; adaptive rules are listed, not exported."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelport.alerts.export import prometheus_rules
from modelport.alerts.rules import METRICS, parse_rule

PROMTOOL = shutil.which("promtool")


def every_metric() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for index, (name, info) in enumerate(sorted(METRICS.items())):
        rule: dict[str, Any] = {"name": f"r{index}-{name}", "endpoint": "churn", "metric": name}
        if info.per_feature:
            rule["feature"] = "tenure" if index % 2 else "*"
        if index % 3 == 0:
            rule.update(below=0.5, resolve_at=0.6)
        elif index % 3 == 1:
            rule.update(above=0.2, resolve_at=0.1, version="2", role="canary")
        else:
            rule.update(above=10, below=1, min_samples=100)
        rule["for"] = "15m" if index % 2 else "90s"
        rules.append(rule)
    return rules


def test_a_rule_of_every_metric_becomes_one_alerting_rule() -> None:
    rules = [parse_rule(data) for data in every_metric()]
    adaptive = parse_rule(
        {"name": "p99-band", "endpoint": "churn", "metric": "latency.p99_ms", "adaptive": True}
    )
    text = prometheus_rules([*rules, adaptive])
    [group] = yaml.safe_load(text)["groups"]
    exported = {entry["alert"]: entry for entry in group["rules"]}
    assert set(exported) == {rule.name for rule in rules}
    assert "Not exportable (adaptive thresholds are learned by modelport itself): p99-band" in text
    drift = exported[next(r.name for r in rules if r.metric == "drift.psi")]
    assert 'modelport_drift_statistic{endpoint="churn"' in drift["expr"]
    assert 'statistic="psi"' in drift["expr"]
    assert drift["labels"] == {"severity": "warning", "metric": "drift.psi"}
    assert {"15m", "90s"} == {entry["for"] for entry in exported.values()}
    canary = [e["expr"] for e in exported.values() if 'version="2", role="canary"' in e["expr"]]
    assert canary and all('ALERTS{alertname="' in expr for expr in canary)  # resolve level
    guarded = [r for r in rules if r.min_samples and r.info.family == "performance"]
    assert guarded and all(
        "modelport_performance_labelled_rows" in exported[r.name]["expr"]
        and ">= 100" in exported[r.name]["expr"]
        for r in guarded
    )
    service = exported[next(r.name for r in rules if r.metric == "latency.p99_ms")]["expr"]
    assert (
        "histogram_quantile(0.99" in service
        and "modelport_request_latency_seconds_bucket" in service
    )


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="PROMTOOL MISSING: `apt-get install -y prometheus` to check the exported rules",
)
def test_promtool_accepts_the_exported_rules(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    text = prometheus_rules([parse_rule(data) for data in every_metric()])
    path = tmp_path / "modelport.rules.yml"
    path.write_text(text)
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    printed = checked.stdout + checked.stderr
    assert checked.returncode == 0, printed
    assert f"SUCCESS: {len(METRICS)} rules found" in printed


def test_no_static_rule_gives_an_empty_valid_file(tmp_path: Path) -> None:
    text = prometheus_rules([])
    assert yaml.safe_load(text) == {"groups": [{"name": "modelport", "rules": []}]}
