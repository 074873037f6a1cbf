"""``modelport grafana-dashboard`` and ``modelport alerts export-prometheus-rules``: the
real commands write the files the library builds, from the rules the store holds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from modelport.alerts.export import grafana_dashboard
from modelport.config import Settings
from modelport.server import Services
from support import run_cli

PROMTOOL = shutil.which("promtool")


def test_grafana_dashboard_command_writes_the_dashboard(project: Path) -> None:
    written = run_cli("grafana-dashboard", cwd=project).stdout
    assert json.loads(written) == grafana_dashboard()


def test_export_prometheus_rules_command_exports_the_stored_static_rules(
    churn_project: Path,
) -> None:
    services = Services.build(Settings.load(churn_project / "modelport.toml"))
    try:
        services.alerts.add_rule(
            {
                "name": "churn-drift",
                "endpoint": "churn",
                "metric": "drift.psi",
                "feature": "tenure",
                "above": 0.2,
                "for": "15m",
            },
            by="test",
        )
        services.alerts.add_rule(
            {
                "name": "churn-p99",
                "endpoint": "churn",
                "metric": "latency.p99_ms",
                "adaptive": True,
                "ceiling": 200,
            },
            by="test",
        )
    finally:
        services.close()
    written = run_cli("alerts", "export-prometheus-rules", cwd=churn_project).stdout
    [group] = yaml.safe_load(written)["groups"]
    [rule] = group["rules"]
    assert rule["alert"] == "churn-drift" and rule["for"] == "15m"
    assert 'feature="tenure"' in rule["expr"] and 'statistic="psi"' in rule["expr"]
    assert "not exportable" in written.lower() and "churn-p99" in written
    if PROMTOOL is not None:
        path = churn_project / "modelport.rules.yml"
        path.write_text(written)
        checked = subprocess.run(
            [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
