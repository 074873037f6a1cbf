"""``modelport retrain policy set|show|disable|history``."""

from __future__ import annotations

import typer

app = typer.Typer(help="Retraining policies: retrain by themselves when an alert fires.")


@app.command("show")
def show(endpoint: str) -> None:
    """ENDPOINT's retraining policy (filled in by the policy work)."""
    raise NotImplementedError
