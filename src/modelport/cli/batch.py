"""``modelport batch``: score a file through an endpoint, with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from modelport.cli.common import console, errors, handle_errors, print_json, services
from modelport.scoring import BatchRequest, Manifest
from modelport.scoring.run import DEFAULT_CHUNK


class RateColumn(ProgressColumn):
    """Rows per second over the last few chunks."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- rows/s" if speed is None else f"{speed:,.0f} rows/s")


@handle_errors
def batch(
    endpoint: Annotated[str, typer.Argument(help="Endpoint whose version scores the rows.")],
    input: Annotated[
        Path, typer.Argument(help="A .parquet or .csv file, or a folder of them (by name).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Scored rows: .parquet or .csv by suffix.")
    ],
    chunk: Annotated[
        int | None,
        typer.Option(help=f"Rows per chunk (default {DEFAULT_CHUNK}; a resumed run keeps its)."),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Version of the endpoint's model (default: its primary).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted run of this output.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Refused rows with the reason (default <output>.rejects.parquet)."),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(help="Input column copied to the output (default: id or request_id)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score a file through ENDPOINT in chunks; every scored row is logged with role batch.

    Refused rows go to the rejects file with the reason; an interrupted run continues with
    --resume, scoring (and logging) every row exactly once."""
    scorer = services().batch
    prepared = scorer.prepare(
        BatchRequest(
            endpoint=endpoint,
            input=input,
            output=output,
            chunk=chunk,
            version=version,
            resume=resume,
            rejects=rejects,
            id_column=id_column,
        )
    )
    manifest = prepared.manifest
    started, cpu_started = time.perf_counter(), time.process_time()
    first = manifest.rows_read
    if prepared.finished:
        errors.print(f"run {manifest.job} finished already; nothing to do", highlight=False)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=errors,
            transient=not errors.is_terminal,
        ) as progress:
            task = progress.add_task(
                f"{manifest.endpoint} v{manifest.version}",
                total=manifest.rows_total,
                completed=manifest.rows_read,
            )

            def advance(current: Manifest) -> None:
                progress.update(task, completed=current.rows_read, total=current.rows_total)

            scorer.run(prepared, on_progress=advance)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    rate = (manifest.rows_read - first) / seconds if seconds > 0 else 0.0
    if as_json:
        print_json(
            {
                **manifest.to_dict(),
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "rows_per_s": round(rate),
            }
        )
        return
    console.print(
        f"scored {manifest.rows_scored:,} rows with {manifest.model}:{manifest.version}"
        f" ({rate:,.0f} rows/s this run) -> {manifest.output}",
        highlight=False,
    )
    if manifest.id_column:
        console.print(f"kept column {manifest.id_column!r} beside the features", highlight=False)
    if manifest.rows_rejected:
        console.print(
            f"refused {manifest.rows_rejected:,} rows -> {manifest.rejects} (with the reason)",
            highlight=False,
        )
    console.print(
        f"logged with role batch as job {manifest.job}"
        + (f" (resumed {manifest.resumed}x)" if manifest.resumed else ""),
        highlight=False,
    )
