"""Monitoring API: reports re-read from the log, live windows, stored series and events.

GET /v1/endpoints/{name}/monitoring            full report of a window, re-read from the log
    ?window=1h | since=..&until=.. | last=50000, version, baseline, role, sections, slice,
    threshold=psi=0.25 and decision=numeric=wasserstein (repeatable), format=json|html
GET /v1/endpoints/{name}/monitoring/live       the current window from bin counts (no log read)
GET /v1/endpoints/{name}/monitoring/history    stored series: ?feature=&stat=&since=&until=&version=
GET /v1/endpoints/{name}/monitoring/events     concept-drift detector events: ?since=
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
from modelport.api.params import MAX_ROWS, int_param
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.monitoring.live import queries
from modelport.monitoring.live.windows import parse_window
from modelport.monitoring.reports.options import report_request
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
    name = request.path_params["name"]
    params = request.query_params
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
    name = request.path_params["name"]
    app.endpoints.get(name)  # 404 for an unknown endpoint
    if app.collector is not None:
        await asyncio.to_thread(app.collector.tick)
    settings = app.settings.monitoring
    body = await asyncio.to_thread(
        queries.live,
        app.series,
        name,
        parse_window(settings.window),
        DriftSettings.from_config(settings),
        settings.baseline == "previous",
        int_param(request, "version"),
    )
    return JSON(body)


@guarded()
async def history(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    app.endpoints.get(name)
    params = request.query_params
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
    name = request.path_params["name"]
    app.endpoints.get(name)
    found = await asyncio.to_thread(app.series.events, name, _time(request, "since"))
    return JSON({"endpoint": name, "events": found})


routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/monitoring", report, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/live", live, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/history", history, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/events", events, methods=["GET"]),
]
