"""What a report says of a pipeline: a pipeline endpoint itself has no report of its own
(each step is monitored as the endpoint serving it), and the report of a step says how
many of the rows the pipeline received in its window that step ran.

The rows a pipeline received are the rows its first step logged: every row runs the
first step (a condition may only route past later steps), and each step logs the
request's own row numbers, so the rows a later step skipped are the first step's rows
it did not log.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelport.errors import ValidationFailed
from modelport.pipelines.spec import PipelineSpec, parse_pipeline, step_endpoint
from modelport.predlog import columns as col
from modelport.predlog.reader import LogWindow, PredictionLog, WindowSpec
from modelport.registry.endpoints import Endpoint, EndpointStore

# A step logs a request's rows a little after the first step did (it runs later, and may
# wait for a micro-batch): the first step's rows of a request the step's window holds are
# looked for this far before the window's start.
_STEP_LAG = timedelta(minutes=5)


class StepRequired(ValidationFailed):
    """A report of a pipeline endpoint itself: each step is monitored on its own."""

    code = "step_required"


def refuse_pipeline(endpoint: Endpoint, what: str) -> None:
    """422 ``step_required`` naming the steps when ``endpoint`` is a pipeline."""
    if endpoint.pipeline is None:
        return
    names = parse_pipeline(endpoint.pipeline).names
    raise StepRequired(
        f"{endpoint.name!r} is a pipeline: its steps are monitored one by one; name one "
        f"with step ({', '.join(names)}) for its {what}",
        field="step",
        steps=names,
    )


def step_of(spec: PipelineSpec, pipeline: str, endpoint: str) -> str | None:
    """The step of ``pipeline`` that ``endpoint`` serves, if any."""
    for name in spec.names:
        if step_endpoint(pipeline, name) == endpoint:
            return name
    return None


def pipeline_section(
    endpoints: EndpointStore,
    log: PredictionLog,
    endpoint: Endpoint,
    window: LogWindow,
    spec: WindowSpec,
    roles: Collection[str] | None,
    workers: int = 2,
) -> dict[str, Any] | None:
    """The ``pipeline`` section of the report of ``endpoint`` (None unless it serves a
    step): the step's condition, the rows the pipeline received in the window, the rows
    this step ran (logged) and how many of them it skipped.

    Only the request id, row and time columns are read. A request counts for the
    pipeline when its first step logged it in the window, or when this step's window
    holds it (a request at the window's start may have entered the pipeline just before),
    so a step never seems to run more rows than the pipeline received."""
    if endpoint.part_of is None:
        return None
    parent = endpoints.get(endpoint.part_of)
    if parent.pipeline is None:
        return None
    pipeline = parse_pipeline(parent.pipeline)
    name = step_of(pipeline, parent.name, endpoint.name)
    if name is None:
        return None
    step = pipeline.step(name)
    ran = _keys(window.table([col.REQUEST_ID, col.ROW, col.TS]))
    rows_run = ran.num_rows
    if name == pipeline.names[0]:
        rows_in = rows_run
    else:
        first = step_endpoint(parent.name, pipeline.names[0])
        rows_in = _received(log, first, ran, spec, roles, workers)
    skipped = max(rows_in - rows_run, 0)
    return {
        "pipeline": parent.name,
        "step": name,
        "when": None if step.when is None else step.when.text,
        "rows_in": rows_in,
        "rows_run": rows_run,
        "skipped": skipped,
        "skip_rate": round(skipped / rows_in, 6) if rows_in else None,
    }


def _keys(table: pa.Table) -> pa.Table:
    """One row per (request id, row): a role of ``all`` may hold a row twice (shadow)."""
    return table.group_by([col.REQUEST_ID, col.ROW]).aggregate([(col.TS, "min")])


def _received(
    log: PredictionLog,
    first: str,
    ran: pa.Table,
    spec: WindowSpec,
    roles: Collection[str] | None,
    workers: int,
) -> int:
    """The rows the first step logged in the window or in a request the step ran."""
    since = spec.since
    if spec.last is not None:
        # The newest N rows of the step: the pipeline's rows since the oldest of them.
        oldest = pc.min(ran.column(f"{col.TS}_min")).as_py() if ran.num_rows else None
        since = oldest if since is None or (oldest is not None and oldest > since) else since
    wider = replace(
        spec,
        since=None if since is None else since - _STEP_LAG,
        last=None,
        skip=0,
    )
    table = log.window(first, wider, roles=roles, workers=workers).table(
        [col.REQUEST_ID, col.ROW, col.TS]
    )
    if table.num_rows == 0:
        return 0
    keys = _keys(table)
    inside = pc.is_in(keys.column(col.REQUEST_ID), value_set=ran.column(col.REQUEST_ID).unique())
    if since is not None:
        inside = pc.or_(inside, pc.greater_equal(keys.column(f"{col.TS}_min"), since))
    return int(pc.sum(inside.cast(pa.int64())).as_py() or 0)


def steps_together(rows: list[dict[str, Any]], steps: list[str]) -> list[dict[str, Any]]:
    """Logged rows of a pipeline's steps (each with ``step``, ``request_id``, ``row`` and
    ``ts``), newest request first, and within a request row by row, each row's steps in
    the pipeline's order: one request's steps read together.

    >>> rows = [{"step": "b", "request_id": "r1", "row": 0, "ts": 3},
    ...         {"step": "a", "request_id": "r2", "row": 0, "ts": 4},
    ...         {"step": "a", "request_id": "r1", "row": 0, "ts": 2}]
    >>> [(r["request_id"], r["step"]) for r in steps_together(rows, ["a", "b"])]
    [('r2', 'a'), ('r1', 'a'), ('r1', 'b')]
    """
    newest: dict[Any, Any] = {}
    for row in rows:
        request = row["request_id"]
        if request not in newest or row["ts"] > newest[request]:
            newest[request] = row["ts"]
    rank = {name: index for index, name in enumerate(steps)}
    ordered = sorted(rows, key=lambda r: (r["row"], rank.get(r["step"], len(rank))))
    # A stable sort keeps each request's rows in that order; reverse=True keeps it too.
    ordered.sort(key=lambda r: (newest[r["request_id"]], r["request_id"]), reverse=True)
    return ordered
