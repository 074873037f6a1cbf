"""``modelport retrain policy set|show|disable|history``: policies that retrain an
endpoint by themselves when an alert fires.

Commands work on the shared store like ``modelport alerts`` does; the server holding
the ``retrain-policies`` lease picks a change up at its next round. A policy is refused
when its trainer is not in ``retrain.trainers`` or its alert rule does not exist, and the
error names the flag it is about."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

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
from modelport.errors import ModelportError
from modelport.retraining.policy import Event, Policy
from modelport.retraining.service import PolicyService

app = typer.Typer(
    help="Retraining policies: retrain by themselves when an alert fires.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# A policy field as the flag that sets it: errors name what the user typed.
FLAGS = {
    "trainer": "--trainer",
    "on_alert": "--on-alert",
    "cooldown": "--cooldown",
    "min_labels": "--min-labels",
    "max_attempts": "--max-attempts",
    "since": "--since",
    "holdout": "--holdout",
    "rollout.steps": "--steps",
    "rollout.step_every": "--step-every",
    "rollout.step_after": "--step-after",
    "rollout.shadow_for": "--shadow-for",
    "rollout.gates": "--gate",
    "rollout.min_samples": "--min-samples",
}


def _service() -> PolicyService:
    return services().retrain_policies


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


@app.command("set")
@handle_errors
def set_policy(
    endpoint: Annotated[str, typer.Argument(help="Endpoint to retrain.")],
    trainer: Annotated[str, typer.Option(help="module:function; must match retrain.trainers.")],
    on_alert: Annotated[str, typer.Option(help="Alert rule whose firing triggers a retrain.")],
    cooldown: Annotated[
        str, typer.Option(help="No new attempt this long after the last one, e.g. 24h.")
    ],
    min_labels: Annotated[int, typer.Option(help="New labels needed since the last training.")],
    max_attempts: Annotated[
        int | None, typer.Option(help="Attempts per firing of the alert (3).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Train on this much logged traffic (30d).")
    ] = None,
    holdout: Annotated[
        float | None, typer.Option(help="Share of rows held out to evaluate (0.2).")
    ] = None,
    steps: Steps = None,
    step_every: StepEvery = None,
    step_after: StepAfter = None,
    shadow_for: ShadowFor = None,
    gate: Gates = None,
    min_samples: MinSamples = None,
    as_json: Json = False,
) -> None:
    """Set (or replace) ENDPOINT's retraining policy; it is enabled at once. Its retrains
    roll out shadow then canary, with these rollout options."""
    data: dict[str, Any] = {
        "trainer": trainer,
        "on_alert": on_alert,
        "cooldown": cooldown,
        "min_labels": min_labels,
    }
    optional = {"max_attempts": max_attempts, "since": since, "holdout": holdout}
    data.update({key: value for key, value in optional.items() if value is not None})
    rollout = rollout_options(
        steps=steps,
        step_every=step_every,
        step_after=step_after,
        shadow_for=shadow_for,
        gate=gate,
        min_samples=min_samples,
    )
    if rollout:
        data["rollout"] = rollout
    try:
        policy = _service().set(endpoint, data, by=_actor())
    except ModelportError as exc:
        exc.field = FLAGS.get(exc.field or "", exc.field)
        raise
    if as_json:
        print_json(policy.to_dict())
        return
    console.print(f"policy of [bold]{escape(endpoint)}[/] set")
    _show(policy)


@app.command()
@handle_errors
def show(endpoint: str, as_json: Json = False) -> None:
    """ENDPOINT's retraining policy."""
    policy = _service().get(endpoint)
    if as_json:
        print_json(policy.to_dict())
        return
    _show(policy)


@app.command()
@handle_errors
def disable(endpoint: str) -> None:
    """Stop ENDPOINT's policy from training (its history stays)."""
    _service().disable(endpoint, by=_actor())
    console.print(f"policy of [bold]{escape(endpoint)}[/] disabled")


@app.command()
@handle_errors
def history(
    endpoint: str,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest decisions.")] = 50,
    as_json: Json = False,
) -> None:
    """ENDPOINT's policy decisions, newest first (started, trained, skipped, ...)."""
    events = _service().history(endpoint, limit)
    if as_json:
        print_json({"endpoint": endpoint, "history": [event.to_dict() for event in events]})
        return
    if not events:
        console.print(f"no decisions yet for {escape(endpoint)}")
        return
    table = Table("at", "decision", "attempt", "version", "job", "reason")
    for event in events:
        table.add_row(*_row(event))
    console.print(table)


def _row(event: Event) -> list[str]:
    decision = event.decision + (f" ({event.cause})" if event.cause else "")
    return [
        event.at.strftime("%Y-%m-%d %H:%M:%S"),
        decision,
        "" if event.attempt is None else str(event.attempt),
        "" if event.version is None else str(event.version),
        (event.job or "")[:8],
        escape(event.reason),
    ]


def _show(policy: Policy) -> None:
    table = Table(show_header=False, box=None)
    rows = [
        ("endpoint", policy.endpoint),
        ("state", "enabled" if policy.enabled else "disabled"),
        ("trainer", policy.trainer),
        ("on alert", policy.on_alert),
        ("cooldown", _seconds(policy.cooldown_s)),
        ("min labels", str(policy.min_labels)),
        ("max attempts", f"{policy.max_attempts} per firing"),
        ("since", _seconds(policy.since_s)),
        ("holdout", f"{policy.holdout:g}"),
        ("rollout", _rollout(policy.rollout)),
        ("updated", f"{policy.updated_at:%Y-%m-%d %H:%M:%S} by {policy.updated_by}"),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(table)


def _rollout(options: dict[str, Any]) -> str:
    shown = ", ".join(f"{key}={value}" for key, value in options.items())
    return f"shadow then canary ({shown})" if shown else "shadow then canary (defaults)"


def _seconds(value: float) -> str:
    """``86400`` -> ``24h``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            count = int(value // size)
            return f"{count}{unit}" if unit != "d" or count % 7 else f"{count // 7}w"
    return f"{value:g}s"
