"""``modelport retrain``: train a new version from logged, labelled traffic, and the
policies that do so by themselves (``modelport retrain policy ...``)."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from modelport.cli import retrain_policy


class _RunByDefault(TyperGroup):
    """``retrain ENDPOINT ...`` runs a retrain; ``retrain policy ...`` manages policies.

    Click reads a group's first word as a subcommand, so anything that is not one (an
    endpoint's name) is handed to the hidden ``run`` command."""

    # Typer (0.29+) carries its own copy of Click, whose Context is typer.Context's base.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Train a new version of an endpoint's model from its logged, labelled traffic.",
    no_args_is_help=True,
)
app.add_typer(retrain_policy.app, name="policy")


@app.command("run", hidden=True)
def run(endpoint: str, trainer: str = typer.Option(..., "--trainer")) -> Any:
    """Retrain ENDPOINT's model (filled in by the retraining work)."""
    raise NotImplementedError
