"""Monitoring API: reports re-read from the log, live windows, stored series and events.

GET /v1/endpoints/{name}/monitoring            full report of a window, re-read from the log
    ?window=1h | since=..&until=.. | last=50000, version, baseline, role, sections, slice,
    threshold=psi=0.25 and decision=numeric=wasserstein (repeatable), format=json|html
GET /v1/endpoints/{name}/monitoring/live       the current window from bin counts (no log read)
    ?version=, empty=1 (no window yet: 200 with no windows instead of 404)
GET /v1/endpoints/{name}/monitoring/history    stored series: ?feature=&stat=&since=&until=&version=
    format=columns: one version's windows (default: the primary's) as arrays aligned with
    one ``times`` array (feature and stat repeatable, window= a window size);
    decision=1: columns of the statistic deciding each feature's drift (the heat map);
    columns=N: at most N columns, consecutive windows grouped and shown by their worst
GET /v1/endpoints/{name}/monitoring/events     concept-drift detector events: ?since=

Each takes ``?step=``: the step of pipeline ``name`` (its endpoint ``name.step``). A
pipeline endpoint itself is monitored step by step: its report (and its live window,
which it has none of) answers 422 ``step_required`` listing the steps.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.context import services
from modelport.api.params import MAX_ROWS, flag_param, int_param
from modelport.api.pipelines import endpoint_for
from modelport.api.responses import JSON, guarded
from modelport.errors import NotFound, ValidationFailed
from modelport.monitoring.live import queries
from modelport.monitoring.live.windows import parse_window
from modelport.monitoring.reports.options import report_request
from modelport.monitoring.reports.pipeline import refuse_pipeline
from modelport.monitoring.reports.render.html import render_html
from modelport.monitoring.stats.settings import DriftSettings
from modelport.vocabulary import parse_moment as parse_time

logger = logging.getLogger(__name__)


def _time(request: Request, key: str) -> datetime | None:
    value = request.query_params.get(key)
    if not value:
        return None
    return parse_time(value, now=datetime.now(UTC), field=key)


@guarded()
async def report(request: Request) -> Response:
    app = services(request)
    require(request)
    params = request.query_params
    name = await endpoint_for(request, request.path_params["name"], params.get("step") or None)
    output = params.get("format", "json")
    if output not in ("json", "html"):
        raise ValidationFailed(f"format must be json or html, got {output!r}", field="format")
    options = report_request(
        window=params.get("window"),
        since=params.get("since"),
        until=params.get("until"),
        last=int_param(request, "last", maximum=MAX_ROWS),
        version=int_param(request, "version"),
        baseline=params.get("baseline"),
        roles=params.getlist("role") or None,
        sections=params.get("sections"),
        slice_by=params.get("slice"),
        thresholds=params.getlist("threshold") or None,
        decision=params.getlist("decision") or None,
        settings=app.settings.monitoring,
    )
    # Predictions still queued for the log belong in the window.
    await asyncio.to_thread(app.recorder.flush)
    body = await asyncio.to_thread(app.monitoring.report, name, options)
    if output == "html":
        return HTMLResponse(render_html(body))
    return JSON(body)


@guarded()
async def live(request: Request) -> Response:
    app = services(request)
    require(request)
    name = await endpoint_for(
        request, request.path_params["name"], request.query_params.get("step") or None
    )
    empty = flag_param(request, "empty")
    endpoint = await asyncio.to_thread(app.endpoints.get, name)  # 404 for an unknown one
    if not empty:
        # A pipeline logs nothing of its own: only its steps have live windows.
        refuse_pipeline(endpoint, "live window")
    if app.collector is not None:
        await asyncio.to_thread(app.collector.tick)
    settings = app.settings.monitoring
    try:
        body = await asyncio.to_thread(
            queries.live,
            app.series,
            name,
            parse_window(settings.window),
            DriftSettings.from_config(settings),
            settings.baseline == "previous",
            int_param(request, "version"),
        )
    except NotFound:
        if not empty:
            raise
        # The dashboard asks this way: no window yet is its normal "no data" state.
        body = {"endpoint": name, "windows": []}
    return JSON(body)


@guarded()
async def history(request: Request) -> Response:
    app = services(request)
    require(request)
    params = request.query_params
    name = await endpoint_for(request, request.path_params["name"], params.get("step") or None)
    endpoint = app.endpoints.get(name)
    output = params.get("format", "points")
    if output not in ("points", "columns"):
        raise ValidationFailed(f"format must be points or columns, got {output!r}", field="format")
    decision = flag_param(request, "decision")
    if output == "columns" or decision:
        window = params.get("window") or app.settings.monitoring.window
        version = int_param(request, "version")
        columns = await asyncio.to_thread(
            queries.history_columns,
            app.series,
            name,
            # One version's windows: the primary's unless the caller names another.
            version=endpoint.primary_version if version is None else version,
            window=parse_window(window).label,
            since=_time(request, "since"),
            until=_time(request, "until"),
            features=params.getlist("feature") or None,
            statistics=params.getlist("stat") or None,
            decision=decision,
            columns=int_param(request, "columns", minimum=1),
        )
        return JSON(columns)
    body = await asyncio.to_thread(
        queries.history,
        app.series,
        name,
        feature=params.get("feature") or None,
        statistic=params.get("stat") or None,
        version=int_param(request, "version"),
        since=_time(request, "since"),
        until=_time(request, "until"),
    )
    return JSON(body)


@guarded()
async def events(request: Request) -> Response:
    app = services(request)
    require(request)
    name = await endpoint_for(
        request, request.path_params["name"], request.query_params.get("step") or None
    )
    app.endpoints.get(name)
    found = await asyncio.to_thread(app.series.events, name, _time(request, "since"))
    return JSON({"endpoint": name, "events": found})


routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/monitoring", report, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/live", live, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/history", history, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/events", events, methods=["GET"]),
]
