"""``modelport rollout``: shadow, canary, blue-green.

Commands work on the shared store like ``modelport endpoints`` does; running servers
pick routing changes up within a second, and their controllers take it from there.
``--step NAME`` acts on one step of a pipeline (the endpoint ``<pipeline>.<step>``),
leaving the other steps as they are.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from modelport.cli.common import (
    console,
    endpoint_store,
    handle_errors,
    print_json,
    services,
)
from modelport.cli.rollout_flags import PipelineStep
from modelport.cli.rollout_views import show_history, show_report, show_status
from modelport.rollout.service import RolloutService

app = typer.Typer(
    help="Roll out a new version safely: shadow, canary, blue-green.", no_args_is_help=True
)


def _service() -> RolloutService:
    return services().rollouts


def _endpoint(endpoint: str, step: str | None) -> str:
    """ENDPOINT, or with ``--step`` the endpoint serving that step of pipeline ENDPOINT."""
    # Imported here: the API package pulls in the web stack every other command skips.
    from modelport.api.pipelines import resolve_step

    return resolve_step(endpoint_store(), endpoint, step)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


@app.command()
@handle_errors
def start(
    endpoint: Annotated[str, typer.Argument(help="Endpoint to roll the new version out on.")],
    step: PipelineStep = None,
    version: Annotated[
        str | None,
        typer.Option(
            help="Candidate version, or an alias of the endpoint's model as @challenger "
            "(read now; default: the newest not archived)."
        ),
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="shadow, canary, blue-green or shadow-then-canary.")
    ] = "shadow-then-canary",
    sample: Annotated[
        float | None, typer.Option(help="Shadow: share of requests copied (0-1].")
    ] = None,
    steps: Annotated[
        str | None, typer.Option(help="Canary weights in percent, e.g. 5,25,50,100.")
    ] = None,
    step_every: Annotated[str | None, typer.Option(help="Step length in time, e.g. 10m.")] = None,
    step_after: Annotated[
        str | None, typer.Option(help="Step length in requests, e.g. 2000req.")
    ] = None,
    shadow_for: Annotated[
        str | None,
        typer.Option(help="shadow-then-canary: shadow this long (10m or 2000req)."),
    ] = None,
    sticky_key: Annotated[
        str | None, typer.Option(help="header:X-User-Id or field:customer_id.")
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(help='Repeatable, e.g. "error_rate<=0.01", "accuracy>=primary-0.02".'),
    ] = None,
    min_samples: Annotated[
        int | None, typer.Option(help="Observations each gate needs before it can decide.")
    ] = None,
    alpha: Annotated[
        float | None, typer.Option(help="Error budget of one step's verdicts (0.05).")
    ] = None,
    smoke: Annotated[
        int | None, typer.Option(help="Blue-green: logged requests to replay first.")
    ] = None,
    smoke_agreement: Annotated[
        float | None, typer.Option(help="Blue-green: least agreement with blue in the replay.")
    ] = None,
    keep_blue: Annotated[
        str | None, typer.Option(help="Blue-green: keep blue loaded this long (30m).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Start a rollout of VERSION on ENDPOINT (or on one step of pipeline ENDPOINT)."""
    endpoint = _endpoint(endpoint, step)
    options: dict[str, Any] = {
        "version": int(version) if version is not None and version.isdigit() else version,
        "strategy": strategy,
        "sample": sample,
        "steps": steps,
        "step_every": step_every,
        "step_after": step_after,
        "shadow_for": shadow_for,
        "sticky_key": sticky_key,
        "gates": gate or None,
        "min_samples": min_samples,
        "alpha": alpha,
        "smoke": smoke,
        "smoke_agreement": smoke_agreement,
        "keep_blue": keep_blue,
    }
    rollout = _service().start(endpoint, options, _actor())
    if as_json:
        print_json(rollout.to_dict())
        return
    named = f" ({rollout.model}{version})" if version and version.startswith("@") else ""
    console.print(
        f"rollout [bold]{rollout.id}[/] started on {endpoint}: {rollout.strategy}, "
        f"candidate {rollout.model}:{rollout.candidate}{named} against primary "
        f"{rollout.model}:{rollout.baseline} ({rollout.note})"
    )


@app.command()
@handle_errors
def status(
    endpoint: Annotated[str, typer.Argument()],
    step: PipelineStep = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    stored: Annotated[
        bool, typer.Option("--stored", help="Show the server's last analysis, not a fresh one.")
    ] = False,
) -> None:
    """Strategy, step, weights and the gates' latest verdicts with their numbers."""
    body = _service().status(_endpoint(endpoint, step), fresh=not stored)
    if as_json:
        print_json(body)
    else:
        show_status(body)


@app.command()
@handle_errors
def report(
    endpoint: Annotated[str, typer.Argument()],
    step: PipelineStep = None,
    slice_by: Annotated[
        str | None, typer.Option("--slice", help="Break down by this input feature.")
    ] = None,
    rollout: Annotated[int | None, typer.Option(help="Rollout id (default: the latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Candidate against primary on the same requests, so far."""
    body = _service().report(_endpoint(endpoint, step), rollout, slice_by)
    if as_json:
        print_json(body)
    else:
        show_report(body)


@app.command()
@handle_errors
def history(
    endpoint: Annotated[str, typer.Argument()],
    step: PipelineStep = None,
    rollout: Annotated[int | None, typer.Option(help="Only this rollout.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Audit trail: every transition, who or what made it, why, and the evidence."""
    events = _service().history(_endpoint(endpoint, step), rollout)
    if as_json:
        print_json(events)
    else:
        show_history(events)


def _act(verb: str, done: str) -> None:
    @app.command(name=verb, help=f"{verb.capitalize()} the rollout in progress on ENDPOINT.")
    @handle_errors
    def command(
        endpoint: Annotated[str, typer.Argument()],
        step: PipelineStep = None,
        reason: Annotated[str, typer.Option(help="Why; kept in the audit trail.")] = "",
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        endpoint = _endpoint(endpoint, step)
        rollout = getattr(_service(), verb)(endpoint, _actor(), reason)
        if as_json:
            print_json(rollout.to_dict())
            return
        console.print(f"rollout {rollout.id} on {endpoint} {done} ({rollout.status})")


for _verb, _done in (
    ("promote", "promoted"),
    ("rollback", "rolled back"),
    ("pause", "paused"),
    ("resume", "resumed"),
):
    _act(_verb, _done)
