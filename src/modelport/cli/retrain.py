"""``modelport retrain``: train a new version from logged, labelled traffic, and the
policies that do so by themselves (``modelport retrain policy ...``)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta
from typing import Annotated, Any, Literal

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from modelport.cli import retrain_policy
from modelport.cli.common import console, handle_errors, print_json, services
from modelport.cli.rollout_flags import (
    Gates,
    MinSamples,
    ShadowFor,
    StepAfter,
    StepEvery,
    Steps,
    rollout_options,
)
from modelport.errors import ModelportError, ValidationFailed
from modelport.retraining.request import (
    DEFAULT_HOLDOUT,
    DEFAULT_MIN_LABELS,
    RetrainOutcome,
    RetrainRequest,
    Stage,
)
from modelport.vocabulary import parse_duration

STAGES: tuple[Stage, ...] = ("gathering", "training", "evaluating", "registering", "rolling out")


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
    help=(
        "Train a new version of an endpoint's model from its logged, labelled traffic: "
        "modelport retrain ENDPOINT --trainer module:function [--since 30d] "
        "[--with-reference] [--min-labels 500] [--holdout 0.2] [--split time|random] "
        "[--no-rollout] (options: modelport retrain ENDPOINT --help)."
    ),
    no_args_is_help=True,
)
app.add_typer(retrain_policy.app, name="policy")


@app.command("run", hidden=True)
@handle_errors
def run(
    endpoint: Annotated[str, typer.Argument(help="Endpoint whose model to retrain.")],
    trainer: Annotated[
        str, typer.Option("--trainer", help="module:function(features, labels, context) -> model.")
    ],
    since: Annotated[
        str, typer.Option(help="Train on traffic of this long ago until now (30d, 12h).")
    ] = "30d",
    with_reference: Annotated[
        bool,
        typer.Option("--with-reference", help="Add the parent's stored (labelled) reference."),
    ] = False,
    min_labels: Annotated[
        int, typer.Option(help="Refuse with fewer labelled logged rows than this.")
    ] = DEFAULT_MIN_LABELS,
    holdout: Annotated[
        float, typer.Option(help="Share of the logged rows held out to compare (0-1).")
    ] = DEFAULT_HOLDOUT,
    split: Annotated[
        str, typer.Option(help="time: the newest rows are the holdout; random: a seeded share.")
    ] = "time",
    rollout: Annotated[
        bool,
        typer.Option(
            "--rollout/--no-rollout",
            help="Start shadow-then-canary with the endpoint's usual gates (default).",
        ),
    ] = True,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail and lineage.")] = "",
    steps: Steps = None,
    step_every: StepEvery = None,
    step_after: StepAfter = None,
    shadow_for: ShadowFor = None,
    sample: Annotated[
        float | None, typer.Option(help="Rollout: share of requests shadowed (0-1].")
    ] = None,
    sticky_key: Annotated[
        str | None, typer.Option(help="Rollout: header:X-User-Id or field:customer_id.")
    ] = None,
    gate: Gates = None,
    min_samples: MinSamples = None,
    alpha: Annotated[
        float | None, typer.Option(help="Rollout: error budget of one step's verdicts.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    actor: Annotated[str | None, typer.Option(hidden=True)] = None,
    lineage_json: Annotated[str | None, typer.Option(hidden=True)] = None,
    progress_json: Annotated[bool, typer.Option(hidden=True)] = False,
) -> None:
    """Train a new version of ENDPOINT's model from its logged, labelled traffic.

    The version is registered with its lineage (parent, trainer, window, rows, labels,
    data fingerprint, holdout metrics of it and of the parent) and, unless --no-rollout,
    enters shadow then canary; never straight to primary."""
    try:
        request = RetrainRequest(
            endpoint=endpoint,
            trainer=trainer,
            since=timedelta(seconds=parse_duration(since, field="since")),
            with_reference=with_reference,
            min_labels=min_labels,
            holdout=holdout,
            split=_split(split),
            rollout=rollout,
            actor=actor or _actor(),
            reason=reason,
            extra_lineage=_lineage(lineage_json),
            rollout_options=rollout_options(
                steps=steps,
                step_every=step_every,
                step_after=step_after,
                shadow_for=shadow_for,
                sample=sample,
                sticky_key=sticky_key,
                gate=gate,
                min_samples=min_samples,
                alpha=alpha,
            ),
        )
        if progress_json:
            outcome = services().retrainer.run(request, _report_json)
            sys.stdout.write(json.dumps(outcome.to_dict(), default=str) + "\n")
            return
    except ModelportError as exc:
        if progress_json:
            # For the worker's parent: the error, machine-readable, as the last line.
            _emit({"error": {"code": exc.code, "field": exc.field, "message": exc.message}})
        raise
    outcome = services().retrainer.run(request) if as_json else _run_with_bar(request)
    if as_json:
        print_json(outcome.to_dict())
        return
    _show(outcome)


def _run_with_bar(request: RetrainRequest) -> RetrainOutcome:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: Stage, fraction: float | None) -> None:
            for name, task in tasks.items():
                if name != stage:
                    bar.update(task, completed=1)
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1)
            if fraction is not None:
                bar.update(tasks[stage], completed=fraction)

        outcome = services().retrainer.run(request, report)
        for task in tasks.values():
            bar.update(task, completed=1)
    return outcome


def _report_json(stage: Stage, fraction: float | None) -> None:
    """For a worker process: one JSON line per stage on stderr."""
    _emit({"stage": stage, "fraction": fraction})


def _emit(line: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


def _show(outcome: RetrainOutcome) -> None:
    holdout = outcome.lineage.get("holdout") or {}
    ref = f"{outcome.model}:{outcome.version}"
    console.print(
        f"[bold]{ref}[/] trained from {outcome.model}:{outcome.parent} on "
        f"{outcome.lineage.get('rows')} rows ({outcome.lineage.get('labels')} labels) "
        f"in {outcome.seconds:.1f}s",
        highlight=False,
    )
    for name, value in (holdout.get("metrics") or {}).items():
        parent = (holdout.get("parent_metrics") or {}).get(name)
        was = "" if parent is None else f" (parent {parent:.4f})"
        console.print(f"  holdout {name}: {value:.4f}{was}", highlight=False)
    if outcome.rollout_id is None:
        console.print(
            f"no rollout started; start one with: modelport rollout start "
            f"{outcome.endpoint} --version {outcome.version}"
        )
    else:
        console.print(
            f"rollout {outcome.rollout_id} started on {outcome.endpoint}: shadow, then canary"
        )


def _split(value: str) -> Literal["time", "random"]:
    if value == "time":
        return "time"
    if value == "random":
        return "random"
    raise ValidationFailed(f"--split must be time or random, got {value!r}", field="split")


def _lineage(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"--lineage-json is not JSON: {exc}", field="lineage") from None
    if not isinstance(data, dict):
        raise ValidationFailed("--lineage-json must be a JSON object", field="lineage")
    return data


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"
