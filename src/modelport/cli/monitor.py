"""``modelport monitor``: drift, quality and performance reports."""

from __future__ import annotations

import typer

app = typer.Typer(help="Monitor drift, data quality and performance.", no_args_is_help=True)
