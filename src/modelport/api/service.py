"""Service figures over time, from the prediction log (the dashboard's service charts).

GET /v1/endpoints/{name}/service   ?since=&until=&step=&version=&role=&by=&predictions=

``since`` defaults to an hour before ``until`` (default: now); ``step`` (a duration,
default: about 60 buckets) is rounded to whole seconds; ``role`` (repeatable) defaults to
the roles answering callers; ``by=version`` or ``by=role`` adds ``groups``;
``predictions=1`` adds what the answered rows predicted per bucket (class counts, or a
regressor's mean and percentiles).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelport.api.auth import require
from modelport.api.context import services
from modelport.api.params import flag_param, int_param
from modelport.api.responses import JSON, guarded
from modelport.errors import ValidationFailed
from modelport.monitoring.traffic import GROUPINGS, make_span, service_series
from modelport.vocabulary import SERVED_ROLES, Role, parse_duration, parse_moment

DEFAULT_SPAN = timedelta(hours=1)


@guarded()
async def service(request: Request) -> Response:
    app = services(request)
    require(request)
    name = request.path_params["name"]
    app.endpoints.get(name)  # 404 for an unknown endpoint
    params = request.query_params
    now = datetime.now(UTC)
    until = parse_moment(params["until"], now=now, field="until") if params.get("until") else now
    if params.get("since"):
        since = parse_moment(params["since"], now=now, field="since")
    else:
        since = until - DEFAULT_SPAN
    step = params.get("step")
    span = make_span(since, until, parse_duration(step, field="step") if step else None)
    version = int_param(request, "version")
    roles = params.getlist("role") or [str(role) for role in SERVED_ROLES]
    known = [str(role) for role in Role]
    for role in roles:
        if role not in known:
            raise ValidationFailed(
                f"role must be one of {', '.join(known)}, got {role[:40]!r}", field="role"
            )
    by = params.get("by") or None
    if by is not None and by not in GROUPINGS:
        raise ValidationFailed(
            f"by must be one of {', '.join(GROUPINGS)}, got {by[:40]!r}", field="by"
        )
    # Predictions still queued for the log belong in the span.
    await asyncio.to_thread(app.recorder.flush)
    figures = await asyncio.to_thread(
        service_series,
        app.log,
        name,
        span,
        versions=None if version is None else (version,),
        roles=roles,
        by=by,
        predictions=flag_param(request, "predictions"),
    )
    return JSON(
        {
            "endpoint": name,
            "since": span.start.isoformat(),
            "until": span.until.isoformat(),
            "step_s": span.step_s,
            "version": version,
            "roles": roles,
            "by": by,
            **figures,
        }
    )


routes: list[BaseRoute] = [Route("/v1/endpoints/{name}/service", service, methods=["GET"])]
