"""Monitoring API, and the live collector's place in the server.

GET /v1/endpoints/{name}/monitoring            full report of a window, re-read from the log
    ?window=1h | since=..&until=.. | last=50000, version, baseline, role, sections, slice,
    threshold=psi=0.25 and decision=numeric=wasserstein (repeatable), format=json|html
GET /v1/endpoints/{name}/monitoring/live       the current window from bin counts (no log read)
GET /v1/endpoints/{name}/monitoring/history    stored series: ?feature=&stat=&since=&until=&version=
GET /v1/endpoints/{name}/monitoring/events     concept-drift detector events: ?since=
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.responses import JSON, guarded
from modelport.api.state import LIFESPAN_HOOKS, Services, services
from modelport.errors import ValidationFailed
from modelport.monitoring import queries
from modelport.monitoring.collector import Collector
from modelport.monitoring.datadrift import DriftSettings
from modelport.monitoring.options import report_request
from modelport.monitoring.render.html import render_html
from modelport.monitoring.series import SeriesStore
from modelport.monitoring.service import MonitoringService
from modelport.monitoring.windows import parse_time, parse_window
from modelport.predlog.compaction import compact_endpoint

logger = logging.getLogger(__name__)


@dataclass
class Monitoring:
    service: MonitoringService
    series: SeriesStore
    collector: Collector | None


# One per running app, keyed by its Services (set up and torn down by the lifespan hook).
_RUNNING: dict[int, Monitoring] = {}


def _monitoring(app: Services) -> Monitoring:
    found = _RUNNING.get(id(app))
    if found is None:
        found = _RUNNING[id(app)] = _build(app, collector=None)
    return found


def _build(app: Services, collector: Collector | None) -> Monitoring:
    series = SeriesStore(app.db)
    service = MonitoringService(
        app.registry,
        app.endpoints,
        app.log,
        app.feedback,
        invalid_requests=lambda endpoint, since, until: queries.refusals(
            series, endpoint, since, until
        ),
    )
    return Monitoring(service, series, collector)


def _int(request: Request, key: str) -> int | None:
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise ValidationFailed(f"{key} must be a positive integer, got {value!r}", field=key)
    return int(value)


def _time(request: Request, key: str) -> datetime | None:
    value = request.query_params.get(key)
    if not value:
        return None
    return parse_time(value, now=datetime.now(UTC), field=key)


@guarded()
async def report(request: Request) -> Response:
    app = services(request)
    require(request, app.settings.auth, "read")
    name = request.path_params["name"]
    params = request.query_params
    output = params.get("format", "json")
    if output not in ("json", "html"):
        raise ValidationFailed(f"format must be json or html, got {output!r}", field="format")
    options = report_request(
        window=params.get("window"),
        since=params.get("since"),
        until=params.get("until"),
        last=_int(request, "last"),
        version=_int(request, "version"),
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
    body = await asyncio.to_thread(_monitoring(app).service.report, name, options)
    if output == "html":
        return HTMLResponse(render_html(body))
    return JSON(body)


@guarded()
async def live(request: Request) -> Response:
    app = services(request)
    require(request, app.settings.auth, "read")
    name = request.path_params["name"]
    app.endpoints.get(name)  # 404 for an unknown endpoint
    monitoring = _monitoring(app)
    if monitoring.collector is not None:
        await asyncio.to_thread(monitoring.collector.tick)
    settings = app.settings.monitoring
    body = await asyncio.to_thread(
        queries.live,
        monitoring.series,
        name,
        parse_window(settings.window),
        DriftSettings(thresholds=settings.thresholds),
        settings.baseline == "previous",
        _int(request, "version"),
    )
    return JSON(body)


@guarded()
async def history(request: Request) -> Response:
    app = services(request)
    require(request, app.settings.auth, "read")
    name = request.path_params["name"]
    app.endpoints.get(name)
    params = request.query_params
    body = await asyncio.to_thread(
        queries.history,
        _monitoring(app).series,
        name,
        feature=params.get("feature") or None,
        statistic=params.get("stat") or None,
        version=_int(request, "version"),
        since=_time(request, "since"),
        until=_time(request, "until"),
    )
    return JSON(body)


@guarded()
async def events(request: Request) -> Response:
    app = services(request)
    require(request, app.settings.auth, "read")
    name = request.path_params["name"]
    app.endpoints.get(name)
    found = await asyncio.to_thread(_monitoring(app).series.events, name, _time(request, "since"))
    return JSON({"endpoint": name, "events": found})


def _invalid_counts(app: Services) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for metric in app.telemetry.invalid.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counts[(sample.labels["endpoint"], sample.labels["code"])] = sample.value
    return counts


def _primary_of(app: Services, endpoint: str) -> int | None:
    runtime = app.plane.runtimes.get(endpoint)
    return None if runtime is None else runtime.primary.version


@contextlib.asynccontextmanager
async def run_collector(app: Services) -> AsyncIterator[None]:
    """Bin every answered request in the background; store the live windows."""
    settings = app.settings.monitoring
    if not settings.enabled:
        yield
        return
    collector = Collector(
        app.registry,
        app.feedback,
        SeriesStore(app.db),
        settings,
        invalid_counts=lambda: _invalid_counts(app),
        primary_of=lambda endpoint: _primary_of(app, endpoint),
    )
    _RUNNING[id(app)] = _build(app, collector)
    app.plane.listeners.append(collector.listen)
    task = asyncio.create_task(_loop(app, collector, settings.interval_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app.plane.listeners.remove(collector.listen)
        await asyncio.to_thread(collector.tick)  # what arrived since the last tick
        _RUNNING.pop(id(app), None)


async def _loop(app: Services, collector: Collector, interval_s: float) -> None:
    last_compaction = time.monotonic()
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(collector.tick)
        except Exception:
            logger.exception("monitoring tick failed; trying again")
        if app.settings.monitoring.compact_log and time.monotonic() - last_compaction > 3600:
            last_compaction = time.monotonic()
            await asyncio.to_thread(_compact, app)


def _compact(app: Services) -> None:
    """Merge finished days' segments, so reports over them read one file per day."""
    for endpoint in app.log.endpoints():
        try:
            compact_endpoint(app.log.root, endpoint)
        except Exception:
            logger.exception("compacting the log of %s failed; segments stay as they are", endpoint)


LIFESPAN_HOOKS.append(run_collector)

routes: list[BaseRoute] = [
    Route("/v1/endpoints/{name}/monitoring", report, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/live", live, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/history", history, methods=["GET"]),
    Route("/v1/endpoints/{name}/monitoring/events", events, methods=["GET"]),
]
