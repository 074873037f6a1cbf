"""Alerts admin API: rules, their alerts, silences and history, and notifiers.

GET    /v1/alerts                   every rule with its state (source, orphaned, firing)
POST   /v1/alerts                   add a rule (``?replace=1`` or ``"replace": true``)
GET    /v1/alerts/active            pending and firing alerts
GET    /v1/alerts/history           ?since=7d&limit=N, newest first
GET    /v1/alerts/{name}            one rule, its alerts, silences and recent history
DELETE /v1/alerts/{name}
GET    /v1/alerts/{name}/history    ?since=&limit=
POST   /v1/alerts/{name}/silence    {"for": "2h", "reason": "...", "labels": {...}}
POST   /v1/alerts/{name}/ack        {"labels": {...}}
POST   /v1/alerts/{name}/test       what would fire now (stores nothing)
GET    /v1/notifiers · POST /v1/notifiers · GET|DELETE /v1/notifiers/{name}

Bodies carry the fields ``parse_rule`` and ``notifier_from_dict`` take; the service
validates them (422 naming the field, nothing stored). Who may call what:
``api/auth.ROUTE_PERMISSIONS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.body import read_json
from modelport.api.context import services
from modelport.api.params import flag_param, int_param
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.vocabulary import parse_duration, parse_moment

MAX_HISTORY = 10_000
DEFAULT_HISTORY = 1000


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object sent, or ``{}`` for an empty body."""
    if not (await request.body()):
        return {}
    payload = await read_json(request, services(request).settings.server.max_body_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    return payload


def _only(payload: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"unknown field {unknown[0]!r}; use {', '.join(allowed)}", field=unknown[0]
        )


def _replace(request: Request, payload: dict[str, Any]) -> bool:
    """``?replace=1`` or ``"replace": true`` (taken out of the body)."""
    value = payload.pop("replace", None)
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed("'replace' must be true or false", field="replace")
    return flag_param(request, "replace") or bool(value)


def _labels(payload: Mapping[str, Any]) -> dict[str, str] | None:
    labels = payload.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
    ):
        raise ValidationFailed(
            'labels must be an object of strings, e.g. {"feature": "tenure"}', field="labels"
        )
    return labels


def _since(request: Request) -> datetime | None:
    value = request.query_params.get("since")
    if not value:
        return None
    return parse_moment(value, now=datetime.now(UTC), field="since")


def _limit(request: Request) -> int:
    return int_param(request, "limit", maximum=MAX_HISTORY) or DEFAULT_HISTORY


def _origin(url: str) -> str:
    """Scheme, host and port only: a webhook's path often holds its secret token."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return origin if origin == url.rstrip("/") else f"{origin}/..."


def _notifier_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """A notifier as the HTTP API shows it: readers may list notifiers, so the URL is cut
    to its origin (the CLI, which reads the store itself, shows it whole)."""
    shown = dict(view)
    if isinstance(shown.get("url"), str):
        shown["url"] = _origin(shown["url"])
    return shown


# --- rules --------------------------------------------------------------------------------


@guarded()
async def list_rules(request: Request) -> Response:
    app = services(request)
    require(request)
    return JSON({"rules": await asyncio.to_thread(app.alerts.rules)})


@guarded()
async def add_rule(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    payload = await _body(request)
    replace = _replace(request, payload)
    rule = await asyncio.to_thread(lambda: app.alerts.add_rule(payload, by=actor, replace=replace))
    return JSON(rule.to_dict(), status_code=201)


@guarded()
async def active(request: Request) -> Response:
    app = services(request)
    require(request)
    alerts = await asyncio.to_thread(lambda: app.alerts.alerts(active_only=True))
    return JSON({"alerts": [alert.to_dict() for alert in alerts]})


@guarded()
async def history(request: Request) -> Response:
    app = services(request)
    require(request)
    since, limit = _since(request), _limit(request)
    entries = await asyncio.to_thread(lambda: app.alerts.history(since=since, limit=limit))
    return JSON({"rule": None, "history": entries})


@guarded()
async def show_rule(request: Request) -> Response:
    app = services(request)
    require(request)
    return JSON(await asyncio.to_thread(app.alerts.show, request.path_params["name"]))


@guarded()
async def delete_rule(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    await asyncio.to_thread(lambda: app.alerts.delete_rule(name, by=actor))
    return Response(status_code=204)


@guarded()
async def rule_history(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    since, limit = _since(request), _limit(request)
    await asyncio.to_thread(app.alerts.rule, name)  # 404 for an unknown rule
    entries = await asyncio.to_thread(lambda: app.alerts.history(name, since=since, limit=limit))
    return JSON({"rule": name, "history": entries})


@guarded()
async def silence(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    payload = await _body(request)
    _only(payload, ("for", "reason", "labels"))
    if payload.get("for") is None:
        raise ValidationFailed("for is required: how long, e.g. 2h", field="for")
    for_s = parse_duration(payload["for"], field="for")
    reason = payload.get("reason") or ""
    if not isinstance(reason, str):
        raise ValidationFailed("reason must be a string", field="reason")
    labels = _labels(payload)
    made = await asyncio.to_thread(
        lambda: app.alerts.silence(name, for_s=for_s, reason=reason, by=actor, labels=labels)
    )
    return JSON(made.to_dict(), status_code=201)


@guarded()
async def ack(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    payload = await _body(request)
    _only(payload, ("labels",))
    labels = _labels(payload)
    done = await asyncio.to_thread(lambda: app.alerts.ack(name, by=actor, labels=labels))
    return JSON({"rule": name, "acknowledged": [t.to_dict() for t in done]})


@guarded()
async def test_rule(request: Request) -> Response:
    """Evaluate the rule now without storing anything (a reader may ask)."""
    app = services(request)
    require(request)
    name = request.path_params["name"]
    _only(await _body(request), ())
    results = await asyncio.to_thread(app.alerts.test, name)
    return JSON({"rule": name, "results": results})


# --- notifiers ----------------------------------------------------------------------------


@guarded()
async def list_notifiers(request: Request) -> Response:
    app = services(request)
    require(request)
    found = await asyncio.to_thread(app.alerts.notifiers)
    return JSON({"notifiers": [_notifier_view(view) for view in found]})


@guarded()
async def add_notifier(request: Request) -> Response:
    # Admin only (ROUTE_PERMISSIONS): the server will POST to the URL given here, so a
    # notifier is a way to make it reach hosts of the caller's choosing (SSRF).
    app = services(request)
    actor = require(request)
    payload = await _body(request)
    replace = _replace(request, payload)
    # As in rules, a null field counts as absent.
    payload = {key: value for key, value in payload.items() if value is not None}
    view = await asyncio.to_thread(
        lambda: app.alerts.add_notifier(payload, by=actor, replace=replace)
    )
    return JSON(_notifier_view(view), status_code=201)


@guarded()
async def show_notifier(request: Request) -> Response:
    app = services(request)
    require(request)
    view = await asyncio.to_thread(app.alerts.notifier, request.path_params["name"])
    return JSON(_notifier_view(view))


@guarded()
async def delete_notifier(request: Request) -> Response:
    app = services(request)
    actor = require(request)
    name = request.path_params["name"]
    await asyncio.to_thread(lambda: app.alerts.delete_notifier(name, by=actor))
    return Response(status_code=204)


# The fixed paths come before /v1/alerts/{name}, which would otherwise take them.
routes: list[BaseRoute] = [
    Route("/v1/alerts", list_rules, methods=["GET"]),
    Route("/v1/alerts", add_rule, methods=["POST"]),
    Route("/v1/alerts/active", active, methods=["GET"]),
    Route("/v1/alerts/history", history, methods=["GET"]),
    Route("/v1/alerts/{name}", show_rule, methods=["GET"]),
    Route("/v1/alerts/{name}", delete_rule, methods=["DELETE"]),
    Route("/v1/alerts/{name}/history", rule_history, methods=["GET"]),
    Route("/v1/alerts/{name}/silence", silence, methods=["POST"]),
    Route("/v1/alerts/{name}/ack", ack, methods=["POST"]),
    Route("/v1/alerts/{name}/test", test_rule, methods=["POST"]),
    Route("/v1/notifiers", list_notifiers, methods=["GET"]),
    Route("/v1/notifiers", add_notifier, methods=["POST"]),
    Route("/v1/notifiers/{name}", show_notifier, methods=["GET"]),
    Route("/v1/notifiers/{name}", delete_notifier, methods=["DELETE"]),
]
