"""``modelport monitor``: drift, quality and performance reports, stored series, backfill.

Reads the project's log and database directly (no server needed); ``report`` gives the
same answer as ``GET /v1/endpoints/{name}/monitoring`` with the same options.
``--step`` names a step of a pipeline (``monitor report intake --step scorer`` reports on
``intake.scorer``); a pipeline itself is monitored step by step.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.cli.common import (
    console,
    endpoint_store,
    errors,
    handle_errors,
    services,
    settings,
    working,
)
from modelport.cli.monitor_views import show_history, show_report

if TYPE_CHECKING:
    from modelport.monitoring.live.series import SeriesStore
    from modelport.monitoring.reports.service import MonitoringService
from modelport.errors import ModelportError, NotFound

app = typer.Typer(help="Monitor drift, data quality and performance.", no_args_is_help=True)

FORMATS = ("table", "json", "html")
STEP_HELP = "A step of pipeline ENDPOINT (the endpoint ENDPOINT.STEP)."


def _endpoint(endpoint: str, step: str | None) -> str:
    """ENDPOINT, or the endpoint serving its step (404 naming a step it lacks)."""
    from modelport.api.pipelines import resolve_step

    return resolve_step(endpoint_store(), endpoint, step)


def _service() -> tuple[MonitoringService, SeriesStore]:
    built = services()
    return built.monitoring, built.series


def _emit(body: dict[str, Any], output_format: str, output: Path | None) -> None:
    if output_format == "html":
        from modelport.monitoring.reports.render.html import render_html

        text = render_html(body)
    elif output_format == "json":
        text = json.dumps(body, indent=2, default=str) + "\n"
    else:
        show_report(body)
        return
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        errors.print(f"wrote {output}")


@app.command()
@handle_errors
def report(
    endpoint: Annotated[str, typer.Argument()],
    step: Annotated[str | None, typer.Option(help=STEP_HELP)] = None,
    window: Annotated[str | None, typer.Option(help="The last 30m, 1h, 7d, ...")] = None,
    last: Annotated[int | None, typer.Option(help="The newest N rows.")] = None,
    since: Annotated[str | None, typer.Option(help="Start: 1h (ago) or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option(help="End: 1h (ago) or an ISO time.")] = None,
    version: Annotated[int | None, typer.Option(help="Only this version's rows.")] = None,
    baseline: Annotated[
        str, typer.Option(help="auto, reference, previous, or a window SINCE..UNTIL (2d..1d).")
    ] = "auto",
    role: Annotated[
        list[str] | None, typer.Option(help="Roles to include (default primary, canary; all).")
    ] = None,
    sections: Annotated[
        str | None,
        typer.Option(
            help="drift,prediction,quality,performance,concept (the default); add multivariate."
        ),
    ] = None,
    slice_by: Annotated[
        str | None, typer.Option("--slice", help="Performance per value of this feature.")
    ] = None,
    threshold: Annotated[
        list[str] | None, typer.Option(help="Override a threshold: psi=0.25 (repeatable).")
    ] = None,
    decision: Annotated[
        list[str] | None,
        typer.Option(help="Deciding statistic per kind: numeric=wasserstein (repeatable)."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="table, json or html.")] = "table",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")] = None,
) -> None:
    """Drift, prediction drift, data quality, performance and detector events of a window."""
    from modelport.monitoring.reports.options import report_request

    if output_format not in FORMATS:
        raise ModelportError(
            f"--format must be one of {', '.join(FORMATS)}, got {output_format!r}", field="format"
        )
    request = report_request(
        window=window,
        since=since,
        until=until,
        last=last,
        version=version,
        baseline=baseline,
        roles=role,
        sections=sections,
        slice_by=slice_by,
        thresholds=threshold,
        decision=decision,
        settings=settings().monitoring,
    )
    service, _ = _service()
    with working(f"computing the report of {endpoint}"):
        body = service.report(_endpoint(endpoint, step), request)
    for skipped in body.get("skipped_segments", []):
        errors.print(f"[yellow]warning[/]: skipped unreadable segment {skipped['path']}")
    _emit(body, output_format, output)


@app.command()
@handle_errors
def history(
    endpoint: Annotated[str, typer.Argument()],
    step: Annotated[str | None, typer.Option(help=STEP_HELP)] = None,
    feature: Annotated[
        str | None, typer.Option(help="Feature, __prediction__, __dataset__, ...")
    ] = None,
    stat: Annotated[str | None, typer.Option(help="psi, ks, missing_rate, accuracy, ...")] = None,
    since: Annotated[str | None, typer.Option(help="7d (ago) or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option()] = None,
    version: Annotated[int | None, typer.Option()] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The stored time series of a statistic, window by window."""
    from modelport.monitoring.live import queries
    from modelport.vocabulary import parse_moment as parse_time

    now = datetime.now(UTC)
    _, series = _service()
    endpoint = _endpoint(endpoint, step)
    endpoint_store().get(endpoint)
    body = queries.history(
        series,
        endpoint,
        feature=feature,
        statistic=stat,
        version=version,
        since=None if since is None else parse_time(since, now=now, field="since"),
        until=None if until is None else parse_time(until, now=now, field="until"),
    )
    if output_format == "json":
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        show_history(body)


@app.command()
@handle_errors
def live(
    endpoint: Annotated[str, typer.Argument()],
    step: Annotated[str | None, typer.Option(help=STEP_HELP)] = None,
    version: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The current live window as the servers last stored it (JSON), without reading the log."""
    from modelport.monitoring.live import queries
    from modelport.monitoring.live.windows import parse_window
    from modelport.monitoring.reports.pipeline import refuse_pipeline
    from modelport.monitoring.stats.settings import DriftSettings

    current = settings().monitoring
    _, series = _service()
    endpoint = _endpoint(endpoint, step)
    try:
        record = endpoint_store().get(endpoint)
    except NotFound:
        record = None  # a deleted endpoint's stored windows are still read
    if record is not None:
        # A pipeline logs nothing of its own: only its steps have live windows.
        refuse_pipeline(record, "live window")
    body = queries.live(
        series,
        endpoint,
        parse_window(current.window),
        DriftSettings.from_config(current),
        current.baseline == "previous",
        version,
    )
    sys.stdout.write(json.dumps(body, indent=2) + "\n")


@app.command()
@handle_errors
def backfill(
    endpoint: Annotated[str, typer.Argument()],
    every: Annotated[str, typer.Option(help="Window size: 1h, 1d or 10000rows.")] = "1h",
    since: Annotated[str | None, typer.Option(help="7d (ago) or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option()] = None,
    version: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Compute tumbling windows from the log and store them as series (replacing any)."""
    from modelport.monitoring.live.backfill import backfill as run_backfill

    service, series = _service()
    with working(f"computing {every} windows of {endpoint} from the log"):
        stored = run_backfill(
            service,
            series,
            endpoint,
            every,
            since=since,
            until=until,
            version=version,
            settings=settings().monitoring,
        )
    console.print(f"stored {len(stored)} windows of {every} for {endpoint}")
    for line in stored:
        console.print(f"  {line}", highlight=False)


@app.command()
@handle_errors
def events(
    endpoint: Annotated[str, typer.Argument()],
    step: Annotated[str | None, typer.Option(help=STEP_HELP)] = None,
    since: Annotated[str | None, typer.Option(help="1d (ago) or an ISO time.")] = None,
) -> None:
    """Concept-drift detector events the servers recorded as labels arrived (JSON lines)."""
    from modelport.vocabulary import parse_moment as parse_time

    _, series = _service()
    moment = None if since is None else parse_time(since, now=datetime.now(UTC), field="since")
    for event in series.events(_endpoint(endpoint, step), moment):
        sys.stdout.write(json.dumps(event) + "\n")
