"""``modelport alerts`` and ``modelport notifiers``: rules over monitoring figures, their
alerts, silences and history, and where notifications go.

Commands work on the shared store like ``modelport endpoints`` does; the server holding
the evaluation lease picks changes up at its next round."""

from __future__ import annotations

import typer

from modelport.cli import exports

app = typer.Typer(help="Alert rules, alerts, silences and their history.", no_args_is_help=True)
notifiers_app = typer.Typer(help="Where alert notifications go.", no_args_is_help=True)

app.command("export-prometheus-rules")(exports.export_prometheus_rules)
