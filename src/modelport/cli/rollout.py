"""``modelport rollout``: shadow, canary, blue-green."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Roll out a new version safely: shadow, canary, blue-green.", no_args_is_help=True
)
