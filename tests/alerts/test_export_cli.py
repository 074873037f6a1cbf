"""``modelport grafana-dashboard`` and ``modelport alerts export-prometheus-rules``: the
real commands write the files the library builds, from the rules the store holds."""

from __future__ import annotations

import json
from pathlib import Path

from modelport.alerts.export import grafana_dashboard
from support import run_cli


def test_grafana_dashboard_command_writes_the_dashboard(project: Path) -> None:
    written = run_cli("grafana-dashboard", cwd=project).stdout
    assert json.loads(written) == grafana_dashboard()
