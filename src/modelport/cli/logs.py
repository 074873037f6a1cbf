"""``modelport logs`` (tail, export, compact, prune, forget) and ``modelport feedback ingest``."""

from __future__ import annotations

import functools
import getpass
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.progress import Progress
from rich.table import Table

from modelport.cli.common import (
    console,
    endpoint_store,
    errors,
    feedback_store,
    handle_errors,
    parse_since,
    prediction_log,
    print_json,
    services,
    settings,
    working,
)
from modelport.errors import ModelportError, NotFound
from modelport.predlog import columns as col
from modelport.predlog.feedback import FeedbackItem, with_steps
from modelport.predlog.reader import LABEL_COLUMNS, WindowSpec, join_labels

logs_app = typer.Typer(help="Read the prediction log.", no_args_is_help=True)
feedback_app = typer.Typer(help="Ground-truth labels for logged predictions.", no_args_is_help=True)

# The column saying which step of a pipeline a row is of.
STEP_COLUMN = "step"
STEP_HELP = "A step of pipeline ENDPOINT (the endpoint ENDPOINT.STEP)."
TAIL_COLUMNS = [
    STEP_COLUMN,
    col.TS,
    col.REQUEST_ID,
    col.ROW,
    col.VERSION,
    col.ROLE,
    col.STATUS,
    col.PREDICTION,
    col.PREDICTION_VALUE,
    col.LATENCY_MS,
    col.ERROR,
]
# The label columns an export with labels carries.
EXPORT_LABELS = [col.LABEL, col.LABEL_RECEIVED_AT]


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


def _print_rows(table: pa.Table, as_json: bool, as_table: bool = False) -> None:
    if not as_table and (as_json or not sys.stdout.isatty()):
        for row in _rows(table):
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        sys.stdout.flush()
        return
    columns = [c for c in TAIL_COLUMNS if c in table.column_names]
    view = Table(*columns)
    for row in _rows(table.select(columns)):
        view.add_row(*[_cell(row[c]) for c in columns])
    console.print(view)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)[:40]


def _served(endpoint: str, step: str | None) -> tuple[str, list[str]]:
    """The endpoint to read and, for a pipeline named without a step, its steps (whose
    endpoints are read instead)."""
    from modelport.api.pipelines import resolve_step
    from modelport.pipelines.spec import parse_pipeline

    store = endpoint_store()
    name = resolve_step(store, endpoint, step)
    try:
        record = store.get(name)
    except NotFound:
        # The log outlives its endpoint: a deleted endpoint's rows are still read.
        return name, []
    return name, [] if record.pipeline is None else parse_pipeline(record.pipeline).names


def _with_step(table: pa.Table, step: str) -> pa.Table:
    return table.add_column(0, STEP_COLUMN, pa.array([step] * table.num_rows, pa.string()))


def _steps_table(tables: list[pa.Table], steps: list[str], limit: int | None) -> pa.Table:
    """Every step's rows, each saying its step: newest request first, one request's steps
    together (at most ``limit`` rows)."""
    from modelport.monitoring.reports.pipeline import steps_together

    merged = pa.concat_tables(
        [_with_step(t, s) for t, s in zip(tables, steps, strict=True)],
        promote_options="permissive",
    )
    rows = steps_together(merged.to_pylist(), steps)
    return pa.Table.from_pylist(rows[:limit], schema=merged.schema)


@logs_app.command()
@handle_errors
def tail(
    endpoint: Annotated[str, typer.Argument()],
    step: Annotated[str | None, typer.Option(help=STEP_HELP)] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1)] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON lines (default when piped).")
    ] = False,
    as_table: Annotated[bool, typer.Option("--table", help="A table even when piped.")] = False,
) -> None:
    """The newest logged predictions of ENDPOINT (JSON lines when piped).

    Of a pipeline without --step: every step's rows, newest request first, one request's
    steps together, each row saying its step."""
    from modelport.pipelines.spec import step_endpoint

    log = prediction_log()
    endpoint, steps = _served(endpoint, step)
    names = [step_endpoint(endpoint, s) for s in steps] or [endpoint]
    if not follow:
        tables = []
        for name in names:
            window = log.window(name, WindowSpec(last=lines))
            tables.append(window.table())
            _warn_skipped(window.skipped)
        table = _steps_table(tables, steps, lines) if steps else tables[0]
        if table.num_rows:
            _print_rows(table, as_json, as_table)
        else:
            errors.print(f"no logged predictions for {endpoint!r}")
        return
    # Every row written after the newest N, once, however late it is written.
    cursors = [log.follow(name, last=lines) for name in names]
    warned = [0] * len(cursors)
    while True:
        newer = []
        for index, cursor in enumerate(cursors):
            newer.append(cursor.read())
            _warn_skipped(cursor.skipped[warned[index] :])
            warned[index] = len(cursor.skipped)
        table = _steps_table(newer, steps, None) if steps else newer[0]
        if table.num_rows:
            _print_rows(table, as_json, as_table)
        time.sleep(1.0)


@logs_app.command()
@handle_errors
def export(
    endpoint: Annotated[str, typer.Argument()],
    output: Annotated[Path, typer.Option("-o", "--output", help=".parquet or .csv")],
    step: Annotated[str | None, typer.Option(help=STEP_HELP)] = None,
    since: Annotated[str | None, typer.Option(help="1h, 30m, 7d or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option()] = None,
    version: Annotated[int | None, typer.Option()] = None,
    role: Annotated[str | None, typer.Option(help="primary, shadow, canary, ...")] = None,
    with_labels: Annotated[
        bool, typer.Option("--with-labels", help="Join feedback labels by request id and row.")
    ] = False,
) -> None:
    """Write logged predictions to Parquet or CSV.

    Of a pipeline without --step: every step's rows, each saying its step."""
    from modelport.pipelines.spec import step_endpoint

    suffix = output.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ModelportError("--output must end in .parquet or .csv", field="output")
    log = prediction_log()
    endpoint, steps = _served(endpoint, step)
    tables = []
    parts: list[str | None] = [*steps] or [None]
    with working(f"exporting the log of {endpoint}"):
        for each in parts:
            name = endpoint if each is None else step_endpoint(endpoint, each)
            window = log.window(
                name,
                WindowSpec(since=parse_since(since), until=parse_since(until, field="until")),
                versions=None if version is None else [version],
                roles=None if role is None else [role],
            )
            table = window.table()
            _warn_skipped(window.skipped)
            if with_labels:
                labels = feedback_store().labels(endpoint=name)
                table = join_labels(table, labels, keep_unlabelled=True)
                table = table.drop_columns([c for c in LABEL_COLUMNS if c not in EXPORT_LABELS])
            tables.append(table if each is None else _with_step(table, each))
        table = pa.concat_tables(tables, promote_options="permissive")
        if suffix == ".parquet":
            pq.write_table(table, output)
        else:
            pacsv.write_csv(table, output)
    errors.print(f"wrote {table.num_rows} rows to {output}")


@logs_app.command()
@handle_errors
def compact(
    endpoint: Annotated[str | None, typer.Argument(help="Default: every endpoint.")] = None,
    before: Annotated[
        str | None, typer.Option(help="Compact days before this date (YYYY-MM-DD); default today.")
    ] = None,
) -> None:
    """Merge each finished day's log segments into one file, so reports read fast."""
    from datetime import date

    try:
        until = date.fromisoformat(before) if before else None
    except ValueError:
        raise ModelportError(
            f"--before must be a date like 2026-03-01, got {before!r}", field="before"
        ) from None
    # The store's compaction lease keeps this from racing a server's hourly compaction.
    with working("compacting the prediction log"):
        results = services().compact_log([endpoint] if endpoint else None, before=until)
    if results is None:
        raise ModelportError("another process is compacting the prediction log; try again later")
    merged = 0
    for result in results:
        merged += 1
        console.print(
            f"{result.folder.parent.name} {result.folder.name}: "
            f"{result.replaced} files -> 1 ({result.rows} rows)"
        )
        for skipped in result.skipped:
            errors.print(f"[yellow]warning[/]: left unreadable segment {skipped} alone")
    if not merged:
        console.print("nothing to compact")


@logs_app.command()
@handle_errors
def prune(
    retention: Annotated[
        str | None, typer.Option(help="Keep this many days, e.g. 90d (default: log.retention).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete log days and labels older than the retention (servers do it hourly)."""
    with working("pruning the prediction log"):
        result = services().retention.prune(retention or settings().log.retention, actor=_actor())
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"removed {len(result.days_removed)} log days and {result.labels_removed} labels "
        f"older than {result.cutoff:%Y-%m-%d %H:%M} UTC"
    )


@logs_app.command()
@handle_errors
def forget(
    request_id: Annotated[
        list[str], typer.Option("--request-id", help="A request to erase, repeatable.")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Erase these requests' logged rows, labels and records everywhere (audited).

    A running server may still hold requests younger than log.flush_interval_s in memory:
    forget those through the server (POST /v1/logs/forget), which writes its queue first."""
    from modelport.predlog.retention import parse_request_ids

    ids = parse_request_ids(request_id, field="request-id")
    result = services().retention.forget(ids, actor=_actor())
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"erased {result.rows_removed} logged rows in {result.files_rewritten} files and "
        f"{sum(result.records_removed.values())} stored records of {result.request_ids} requests"
    )
    for path in result.unreadable:
        errors.print(f"[yellow]warning[/]: could not read {path}; it may still hold rows")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


def _warn_skipped(skipped: list[tuple[str, str]]) -> None:
    for path, reason in skipped:
        errors.print(f"[yellow]warning[/]: skipped unreadable segment {path}: {reason}")


@feedback_app.command()
@handle_errors
def ingest(
    path: Annotated[
        Path, typer.Argument(help="CSV or Parquet with request_id, label[, row][, step].")
    ],
    endpoint: Annotated[str | None, typer.Option(help="Endpoint the labels belong to.")] = None,
    step: Annotated[
        str | None,
        typer.Option(
            help="Step of the pipeline the labels belong to (a 'step' column wins); "
            "without it a pipeline's labels are its final step's."
        ),
    ] = None,
    chunk: Annotated[int, typer.Option(min=1)] = 10_000,
) -> None:
    """Store labels that arrived later; report how many match logged predictions."""
    if not path.is_file():
        raise ModelportError(f"{path} does not exist", field="path")
    try:
        table = (
            pq.read_table(path)
            if path.suffix.lower() == ".parquet"
            else pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={col.REQUEST_ID: pa.string(), "step": pa.string()}
                ),
            )
        )
    except (pa.ArrowException, OSError) as exc:
        raise ModelportError(f"cannot read {path}: {exc}", field="path") from exc
    missing = [c for c in (col.REQUEST_ID, col.LABEL) if c not in table.column_names]
    if missing:
        raise ModelportError(f"{path} lacks column(s): {', '.join(missing)}", field="path")
    rows = _rows(table)
    items = []
    for number, row in enumerate(rows, start=2):
        if row[col.REQUEST_ID] in (None, "") or row[col.LABEL] is None:
            raise ModelportError(
                f"{path}: line {number} has an empty request_id or label", field="path"
            )
        items.append(
            FeedbackItem(
                str(row[col.REQUEST_ID]),
                row[col.LABEL],
                int(row.get(col.ROW) or 0),
                endpoint,
                str(row.get("step") or "") or step,
            )
        )
    if endpoint is not None and any(item.step is not None for item in items):
        from modelport.api.pipelines import resolve_step

        items = with_steps(items, functools.partial(resolve_step, endpoint_store()))
    store = feedback_store()
    accepted = matched = 0
    unmatched: list[str] = []
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task("ingesting labels", total=len(items))
        for start in range(0, len(items), chunk):
            result = store.ingest(items[start : start + chunk])
            accepted += result.accepted
            matched += result.matched
            unmatched.extend(result.unmatched)
            progress.advance(task, len(items[start : start + chunk]))
    console.print(
        f"accepted {accepted} labels: {matched} matched logged predictions, "
        f"{len(unmatched)} unmatched (kept; they join when the predictions appear)"
    )
