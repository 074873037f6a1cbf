"""``modelport alerts export-prometheus-rules`` and ``modelport grafana-dashboard``:
files for teams that run Prometheus and Grafana (written to stdout)."""

from __future__ import annotations

import json

import typer

from modelport.cli.common import handle_errors, services


@handle_errors
def export_prometheus_rules() -> None:
    """Write the static alert rules as a Prometheus alerting-rules file (YAML)."""
    from modelport.alerts.export import prometheus_rules
    from modelport.alerts.rules import rule_from_dict

    rules = [rule_from_dict(view) for view in services().alerts.rules()]
    typer.echo(prometheus_rules(rules), nl=False)


@handle_errors
def grafana_dashboard() -> None:
    """Write a Grafana dashboard (JSON) over the metrics modelport exports."""
    from modelport.alerts.export import grafana_dashboard as dashboard

    typer.echo(json.dumps(dashboard(), indent=2))
