"""The OpenAPI 3.1 document of the app's own routes, and an offline page rendering it.

``GET /openapi.json`` is built from the app's route table (paths, methods, path
parameter types) and the pydantic models in :mod:`.schemas` (bodies, answers), joined by
:data:`OPERATIONS`, which says what each route takes, answers and refuses. A route with
no entry there still appears, marked ``x-undescribed``; ``tests/api/test_openapi.py``
fails on it. ``GET /docs`` renders the same document as one HTML page without scripts
or anything fetched from elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.convertors import Convertor, FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from modelport import __version__
from modelport.api import schemas as s
from modelport.api.responses import JSON

REF = "#/components/schemas/{model}"
MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

REFUSALS = {
    400: "Malformed JSON, or an invalid request id.",
    401: "Missing, malformed or unknown bearer token.",
    403: "The token's role may not do this, the upload kind or trainer is not allowed, "
    "or a mutation came from a foreign Origin.",
    404: "No such model, version, alias, endpoint, rollout, alert rule, notifier or policy.",
    409: "Conflicts with the current state (exists already, revision moved, rollout live).",
    413: "The body is larger than the server accepts.",
    415: "Mutations take application/json (uploads: multipart/form-data).",
    421: "The Host header does not name this server.",
    422: "A field or parameter is invalid; the answer's field names it.",
    503: "The endpoint (or server) is not ready.",
}


@dataclass(frozen=True)
class Query:
    """A query parameter (or, with ``location="header"``, a request header)."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    repeated: bool = False
    location: str = "query"


@dataclass(frozen=True)
class Operation:
    """What one route (path + method) takes, answers and refuses."""

    summary: str
    tag: str
    answer: type[BaseModel] | None = None  # None: no JSON body (see ``media``/``status``)
    status: int = 200
    media: str = "application/json"
    also_html: bool = False  # ?format=html answers text/html
    body: type[BaseModel] | None = None
    form: bool = False  # the body is multipart/form-data
    body_optional: bool = False
    query: tuple[Query, ...] = ()
    refusals: tuple[int, ...] = ()  # besides those every route of its kind can give
    public: bool = False  # never needs a token
    no_answer: str = ""  # an answer with this status carries the success schema instead


def _int(name: str, description: str) -> Query:
    return Query(name, {"type": "integer", "minimum": 0}, description)


def _text(name: str, description: str, repeated: bool = False) -> Query:
    return Query(name, {"type": "string"}, description, repeated)


def _flag(name: str, description: str) -> Query:
    return Query(name, {"type": "string", "enum": ["1", "true", "0", "false"]}, description)


MONITORING_QUERY = (
    _text("window", "a duration back from now, e.g. 1h"),
    _text("since", "ISO time or a duration ago"),
    _text("until", "ISO time or a duration ago"),
    _int("last", "the last N logged rows instead of a time window"),
    _int("version", "only rows answered by this version"),
    _text("baseline", "reference, previous, or a version"),
    _text("role", "log roles to include (primary, shadow, canary, ...)", repeated=True),
    _text("sections", "comma-separated report sections"),
    _text("slice", "a feature to slice the report by"),
    _text("threshold", "statistic=value, e.g. psi=0.25", repeated=True),
    _text("decision", "kind=statistic, e.g. numeric=wasserstein", repeated=True),
    Query("format", {"type": "string", "enum": ["json", "html"]}, "answer as JSON or HTML"),
)

# A step of the pipeline the path names: the endpoint ``{name}.{step}`` that serves it.
STEP_QUERY = _text("step", "a step of pipeline {name} (its endpoint {name}.{step})")

BINARY_HEADER = Query(
    "Inference-Header-Content-Length",
    {"type": "integer", "minimum": 0},
    "binary tensor extension: the body's first N bytes are the JSON header, the rest the "
    "raw data of inputs that declare parameters.binary_data_size",
    location="header",
)

ALERT_HISTORY_QUERY = (
    _text("since", "ISO time or a duration ago, e.g. 7d"),
    Query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 10_000},
        "newest entries to answer (default 1000)",
    ),
)

# Every rollout route: the rollout of one step of a pipeline.
ROLLOUT_STEP = _text("step", "a step of pipeline {name}: act on the endpoint serving it")

ROLLOUT_VERBS = {
    "promote": "Move the candidate to the next step (or make it the primary)",
    "rollback": "End the rollout and keep the primary",
    "pause": "Stop the automatic steps",
    "resume": "Resume the automatic steps",
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    # simple JSON
    ("POST", "/v1/endpoints/{name}/predict"): Operation(
        "Predict with an endpoint",
        "predict",
        s.PredictResponse,
        body=s.PredictRequest,
        refusals=(503,),
    ),
    ("POST", "/v1/feedback"): Operation(
        "Send ground-truth labels for earlier predictions",
        "predict",
        s.FeedbackResponse,
        body=s.FeedbackRequest,
        refusals=(404, 409),
    ),
    # Open Inference Protocol v2
    ("GET", "/v2"): Operation("Server metadata", "v2", s.ServerMetadata),
    ("GET", "/v2/health/live"): Operation("Liveness", "v2", s.Liveness, public=True),
    ("GET", "/v2/health/ready"): Operation(
        "Readiness: every endpoint loaded", "v2", s.Readiness, public=True, no_answer="503"
    ),
    ("GET", "/v2/models/{name}"): Operation("Model metadata", "v2", s.ModelMetadata),
    ("GET", "/v2/models/{name}/versions/{version}"): Operation(
        "Model metadata of a served version", "v2", s.ModelMetadata
    ),
    ("GET", "/v2/models/{name}/ready"): Operation(
        "Model readiness", "v2", s.ModelReadiness, no_answer="503"
    ),
    ("GET", "/v2/models/{name}/versions/{version}/ready"): Operation(
        "Readiness of a served version", "v2", s.ModelReadiness, no_answer="503"
    ),
    ("POST", "/v2/models/{name}/infer"): Operation(
        "Inference (Open Inference Protocol v2)",
        "v2",
        s.InferResponse,
        body=s.InferRequest,
        query=(BINARY_HEADER,),
        refusals=(503,),
    ),
    ("POST", "/v2/models/{name}/versions/{version}/infer"): Operation(
        "Inference on a served version",
        "v2",
        s.InferResponse,
        body=s.InferRequest,
        query=(BINARY_HEADER,),
        refusals=(503,),
    ),
    # registry
    ("GET", "/v1/models"): Operation("List models", "registry", s.ModelList),
    ("GET", "/v1/models/{name}"): Operation("A model and its versions", "registry", s.ModelDetail),
    ("POST", "/v1/models/{name}/versions"): Operation(
        "Register a new version (upload)",
        "registry",
        s.ModelVersionInfo,
        status=201,
        body=s.RegistrationForm,
        form=True,
        refusals=(409,),
    ),
    ("GET", "/v1/models/{name}/versions/{version:int}"): Operation(
        "One version",
        "registry",
        s.ModelVersionInfo,
        query=(_flag("profile", "include the reference profile"),),
    ),
    ("PATCH", "/v1/models/{name}/versions/{version:int}"): Operation(
        "Set or remove a version's tags", "registry", s.ModelVersionInfo, body=s.VersionUpdate
    ),
    ("POST", "/v1/models/{name}/versions/{version:int}/archive"): Operation(
        "Archive a version (it can no longer be served)",
        "registry",
        s.ModelVersionInfo,
        refusals=(409,),
    ),
    ("POST", "/v1/models/{name}/versions/{version:int}/unarchive"): Operation(
        "Make an archived version servable again", "registry", s.ModelVersionInfo
    ),
    ("GET", "/v1/models/{name}/versions/{version:int}/lineage"): Operation(
        "A version and its chain of parents", "registry", s.LineageChain
    ),
    ("GET", "/v1/models/{name}/aliases"): Operation(
        "A model's aliases and the endpoints following them", "registry", s.AliasList
    ),
    ("PUT", "/v1/models/{name}/aliases/{alias}"): Operation(
        "Point an alias at a version (moves the endpoints following it)",
        "registry",
        s.AliasMoved,
        body=s.AliasSet,
        query=(_flag("force", "roll back a rollout in progress on a follower first"),),
        refusals=(409,),
    ),
    ("DELETE", "/v1/models/{name}/aliases/{alias}"): Operation(
        "Remove an alias (409 while an endpoint follows it)",
        "registry",
        status=204,
        media="",
        refusals=(409,),
    ),
    ("GET", "/v1/models/{name}/history"): Operation(
        "The model's audit trail: registrations, alias moves, archiving, tags",
        "registry",
        s.ModelHistory,
        query=(
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                "newest entries to answer (default 100)",
            ),
        ),
    ),
    # endpoints
    ("GET", "/v1/endpoints"): Operation("List endpoints", "endpoints", s.EndpointList),
    ("POST", "/v1/endpoints"): Operation(
        "Create an endpoint",
        "endpoints",
        s.EndpointInfo,
        status=201,
        body=s.EndpointCreate,
        refusals=(404, 409),
    ),
    ("GET", "/v1/endpoints/{name}"): Operation("One endpoint", "endpoints", s.EndpointState),
    ("PATCH", "/v1/endpoints/{name}"): Operation(
        "Point an endpoint at another version",
        "endpoints",
        s.EndpointInfo,
        body=s.EndpointUpdate,
        refusals=(409,),
    ),
    ("PUT", "/v1/endpoints/{name}"): Operation(
        "Point an endpoint at another version (same as PATCH)",
        "endpoints",
        s.EndpointInfo,
        body=s.EndpointUpdate,
        refusals=(409,),
    ),
    ("DELETE", "/v1/endpoints/{name}"): Operation(
        "Delete an endpoint",
        "endpoints",
        status=204,
        media="",
        query=(_flag("force", "roll back a rollout in progress first (otherwise 409)"),),
        refusals=(409,),
    ),
    ("GET", "/v1/endpoints/{name}/history"): Operation(
        "The endpoint's audit trail",
        "endpoints",
        s.AuditTrail,
        query=(
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                "newest entries to answer (default 100)",
            ),
        ),
    ),
    # the prediction log
    ("POST", "/v1/logs/forget"): Operation(
        "Erase requests' logged rows, labels and records",
        "logs",
        s.ForgetResult,
        body=s.ForgetRequest,
    ),
    # batch scoring
    ("POST", "/v1/endpoints/{name}/batch"): Operation(
        "Score a file through the endpoint in the background (paths inside batch.root)",
        "batch",
        s.BatchJob,
        status=202,
        body=s.BatchStart,
        refusals=(404, 409),
    ),
    ("GET", "/v1/batch/{job}"): Operation(
        "A batch run: rows done, rate, state, rejects", "batch", s.BatchJob, refusals=(404,)
    ),
    # retraining
    ("POST", "/v1/endpoints/{name}/retrain"): Operation(
        "Retrain the endpoint's model from its logged, labelled traffic, in a worker process",
        "retraining",
        s.RetrainJob,
        status=202,
        body=s.RetrainStart,
        refusals=(403, 404, 409),
    ),
    ("GET", "/v1/retrain/{job}"): Operation(
        "A retrain job: state, stage, outcome or error", "retraining", s.RetrainJob, refusals=(404,)
    ),
    # retraining policies
    ("GET", "/v1/endpoints/{name}/retrain/policy"): Operation(
        "The endpoint's retraining policy", "retraining", s.RetrainPolicy
    ),
    ("PUT", "/v1/endpoints/{name}/retrain/policy"): Operation(
        "Set or replace the endpoint's retraining policy (its trainer must be allowed by "
        "retrain.trainers, its alert rule must exist)",
        "retraining",
        s.RetrainPolicy,
        body=s.RetrainPolicySet,
    ),
    ("POST", "/v1/endpoints/{name}/retrain/policy/disable"): Operation(
        "Stop the endpoint's retraining policy from training", "retraining", s.RetrainPolicy
    ),
    ("GET", "/v1/endpoints/{name}/retrain/history"): Operation(
        "The retraining policy's decisions: started, trained, failed, skipped (and why), "
        "promoted, rolled back",
        "retraining",
        s.RetrainHistory,
        query=(
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 10000},
                "newest decisions to answer (default 100)",
            ),
        ),
    ),
    # rollouts
    ("POST", "/v1/endpoints/{name}/rollout"): Operation(
        "Start a rollout (shadow, canary, blue-green)",
        "rollouts",
        s.RolloutAnswer,
        status=201,
        body=s.RolloutStart,
        body_optional=True,
        query=(ROLLOUT_STEP,),
        refusals=(409,),
    ),
    ("GET", "/v1/endpoints/{name}/rollout"): Operation(
        "The current (or last) rollout",
        "rollouts",
        s.RolloutStatus,
        query=(_flag("fresh", "analyse the log now"), ROLLOUT_STEP),
    ),
    ("GET", "/v1/endpoints/{name}/rollout/report"): Operation(
        "Shadow comparison of candidate and primary",
        "rollouts",
        s.RolloutReport,
        query=(
            _int("rollout", "a rollout id (default: latest)"),
            _text("slice", "a feature"),
            ROLLOUT_STEP,
        ),
    ),
    ("GET", "/v1/endpoints/{name}/rollout/history"): Operation(
        "Rollout audit trail with evidence",
        "rollouts",
        s.RolloutHistory,
        query=(_int("rollout", "a rollout id (default: all)"), ROLLOUT_STEP),
    ),
    ("GET", "/v1/endpoints/{name}/rollout/analyses"): Operation(
        "Every gate's estimate and always-valid interval against its bound, over time",
        "rollouts",
        s.RolloutAnalyses,
        query=(
            _int("rollout", "a rollout id (default: latest)"),
            _text("since", "only rounds after this ISO time or duration ago, e.g. 1h"),
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 10_000},
                "newest rounds to answer, oldest first (default 1000)",
            ),
            ROLLOUT_STEP,
        ),
    ),
    **{
        ("POST", f"/v1/endpoints/{{name}}/rollout/{verb}"): Operation(
            summary,
            "rollouts",
            s.RolloutAnswer,
            body=s.RolloutAction,
            body_optional=True,
            query=(ROLLOUT_STEP,),
            refusals=(409,),
        )
        for verb, summary in ROLLOUT_VERBS.items()
    },
    # monitoring
    ("GET", "/v1/endpoints/{name}/monitoring"): Operation(
        "Monitoring report of a window, re-read from the log",
        "monitoring",
        s.MonitoringReport,
        also_html=True,
        query=(*MONITORING_QUERY, STEP_QUERY),
    ),
    ("GET", "/v1/endpoints/{name}/monitoring/live"): Operation(
        "The current live window",
        "monitoring",
        s.LiveWindows,
        query=(
            _int("version", "only this version"),
            _flag("empty", "no window stored yet: answer no windows instead of 404"),
            STEP_QUERY,
        ),
    ),
    ("GET", "/v1/endpoints/{name}/monitoring/history"): Operation(
        "Stored time series",
        "monitoring",
        s.SeriesHistory,
        query=(
            _text("feature", "one feature (format=columns: repeatable)", repeated=True),
            _text("stat", "one statistic (format=columns: repeatable)", repeated=True),
            _int("version", "only this version (format=columns: default the primary)"),
            _text("since", "ISO time or a duration ago"),
            _text("until", "ISO time or a duration ago"),
            Query(
                "format",
                {"type": "string", "enum": ["points", "columns"]},
                "points, or one version's windows as arrays aligned with one times array",
            ),
            _flag("decision", "columns of the statistic deciding each feature's drift"),
            _int("columns", "format=columns: at most N columns (windows grouped, worst shown)"),
            _text("window", "format=columns: the window size (default: monitoring.window)"),
            STEP_QUERY,
        ),
    ),
    ("GET", "/v1/endpoints/{name}/monitoring/events"): Operation(
        "Concept-drift detector events",
        "monitoring",
        s.DetectorEvents,
        query=(_text("since", "ISO time or a duration ago"), STEP_QUERY),
    ),
    # alerts and notifiers
    ("GET", "/v1/alerts"): Operation("Alert rules with their state", "alerts", s.AlertRuleList),
    ("POST", "/v1/alerts"): Operation(
        "Add an alert rule",
        "alerts",
        s.AlertRule,
        status=201,
        body=s.AlertRuleCreate,
        query=(_flag("replace", "replace a rule of that name (otherwise 409)"),),
        refusals=(409,),
    ),
    ("GET", "/v1/alerts/active"): Operation("Pending and firing alerts", "alerts", s.ActiveAlerts),
    ("GET", "/v1/alerts/history"): Operation(
        "Every rule's transitions and deliveries, newest first",
        "alerts",
        s.AlertHistory,
        query=ALERT_HISTORY_QUERY,
    ),
    ("GET", "/v1/alerts/{name}"): Operation(
        "A rule, its alerts (value and band), silences and recent history",
        "alerts",
        s.AlertDetail,
    ),
    ("DELETE", "/v1/alerts/{name}"): Operation(
        "Delete a rule (its history stays)", "alerts", status=204, media=""
    ),
    ("GET", "/v1/alerts/{name}/history"): Operation(
        "A rule's transitions and deliveries, newest first",
        "alerts",
        s.AlertHistory,
        query=ALERT_HISTORY_QUERY,
    ),
    ("POST", "/v1/alerts/{name}/silence"): Operation(
        "Silence a rule (or its alerts with some labels) for a while",
        "alerts",
        s.SilenceInfo,
        status=201,
        body=s.AlertSilence,
    ),
    ("POST", "/v1/alerts/{name}/ack"): Operation(
        "Acknowledge a rule's pending and firing alerts",
        "alerts",
        s.AlertAcknowledged,
        body=s.AlertAck,
        body_optional=True,
    ),
    ("POST", "/v1/alerts/{name}/test"): Operation(
        "Evaluate a rule now against the stored figures (stores nothing)",
        "alerts",
        s.AlertTest,
    ),
    ("GET", "/v1/notifiers"): Operation("Notifiers", "alerts", s.NotifierList),
    ("POST", "/v1/notifiers"): Operation(
        "Add a notifier (admin: the server will send requests to its URL)",
        "alerts",
        s.NotifierInfo,
        status=201,
        body=s.NotifierCreate,
        query=(_flag("replace", "replace a notifier of that name (otherwise 409)"),),
        refusals=(409,),
    ),
    ("GET", "/v1/notifiers/{name}"): Operation("One notifier", "alerts", s.NotifierInfo),
    ("DELETE", "/v1/notifiers/{name}"): Operation(
        "Delete a notifier", "alerts", status=204, media=""
    ),
    # service figures over time
    ("GET", "/v1/endpoints/{name}/service"): Operation(
        "Request rate, error rate and latency over time, from the prediction log",
        "monitoring",
        s.ServiceSeries,
        query=(
            _text("since", "ISO time or a duration ago (default: an hour before until)"),
            _text("until", "ISO time or a duration ago (default: now)"),
            _text("step", "bucket size, a duration like 60s or 15m (default: ~60 buckets)"),
            _int("version", "only requests this version answered"),
            _text("role", "log roles to count (default: primary and canary)", repeated=True),
            Query("by", {"type": "string", "enum": ["version", "role"]}, "also per group"),
            _flag("predictions", "also the predictions' distribution per bucket"),
        ),
    ),
    # the newest logged predictions
    ("GET", "/v1/endpoints/{name}/predictions"): Operation(
        "The newest logged predictions with their labels",
        "logs",
        s.LoggedPredictions,
        query=(
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 1000},
                "newest rows to answer (default 50)",
            ),
            _int("version", "only rows answered by this version"),
            _text("role", "only rows of this log role (primary, shadow, canary, ...)"),
            Query("status", {"type": "string", "enum": ["ok", "error"]}, "only ok or failed rows"),
            _flag("labelled", "only rows with (true) or without (false) a label"),
            _text("since", "ISO time or a duration ago"),
            _text("step", "a step of pipeline {name}; without it, every step's rows together"),
        ),
    ),
    # the caller
    ("GET", "/v1/whoami"): Operation(
        "The caller's token name, role and permissions", "server", s.WhoAmI
    ),
    # the dashboard's pages (shells whose scripts read this API)
    **{
        ("GET", path): Operation(f"Dashboard page: {title}", "dashboard", media="text/html")
        for path, title in (
            ("/dashboard", "overview of every endpoint"),
            ("/dashboard/endpoints/{name}", "one endpoint's service, drift, quality, performance"),
            ("/dashboard/endpoints/{name}/rollout", "an endpoint's rollout"),
            ("/dashboard/endpoints/{name}/predictions", "an endpoint's newest predictions"),
            ("/dashboard/rollouts", "rollouts"),
            ("/dashboard/alerts", "alerts and rules"),
            ("/dashboard/models", "the model registry"),
            ("/dashboard/models/{name}", "one model's versions"),
            ("/dashboard/predictions", "newest predictions"),
        )
    },
    # the server itself
    ("GET", "/metrics"): Operation(
        "Prometheus metrics", "server", media="text/plain; version=0.0.4; charset=utf-8"
    ),
    ("GET", "/openapi.json"): Operation("This document", "server", s.OpenAPIDocument),
    ("GET", "/docs"): Operation("This document as an HTML page", "server", media="text/html"),
    # the ONNX fast path of a scikit-learn version
    ("GET", "/v1/models/{name}/versions/{version:int}/fast-path"): Operation(
        "A version's ONNX fast path: its switch and agreement check", "registry", s.FastPathState
    ),
    ("PUT", "/v1/models/{name}/versions/{version:int}/fast-path"): Operation(
        "Turn a version's ONNX fast path on or off (endpoints reload it at once)",
        "registry",
        s.FastPathChanged,
        body=s.FastPathSwitch,
    ),
    ("POST", "/v1/models/{name}/versions/{version:int}/fast-path/check"): Operation(
        "Convert and check a version again against its reference sample (takes seconds)",
        "registry",
        s.FastPathChanged,
    ),
}


def operations(routes: Iterable[BaseRoute]) -> list[tuple[str, Route]]:
    """Every (method, route) the app answers; HEAD is implied by GET."""
    found: list[tuple[str, Route]] = []
    for route in routes:
        if isinstance(route, Route):
            found.extend(
                (method, route) for method in sorted(route.methods or ()) if method != "HEAD"
            )
    return found


def undescribed(routes: Iterable[BaseRoute]) -> list[str]:
    """Routes without an entry in :data:`OPERATIONS` ("METHOD /path")."""
    return [f"{m} {r.path}" for m, r in operations(routes) if (m, r.path) not in OPERATIONS]


def openapi_path(path: str) -> str:
    """``/v1/models/{name}/versions/{version:int}`` -> ``/v1/models/{name}/versions/{version}``

    >>> openapi_path("/v1/models/{name}/versions/{version:int}")
    '/v1/models/{name}/versions/{version}'
    """
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def _convertor_schema(convertor: Convertor[Any]) -> dict[str, Any]:
    if isinstance(convertor, IntegerConvertor):
        return {"type": "integer", "minimum": 0}
    if isinstance(convertor, FloatConvertor):
        return {"type": "number", "minimum": 0}
    if isinstance(convertor, UUIDConvertor):
        return {"type": "string", "format": "uuid"}
    # A path segment: anything but "/" (and never empty).
    return {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


def _parameters(route: Route, operation: Operation | None) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _convertor_schema(convertor)}
        for name, convertor in route.param_convertors.items()
    ]
    for query in operation.query if operation else ():
        schema = {"type": "array", "items": query.schema} if query.repeated else query.schema
        parameters.append(
            {
                "name": query.name,
                "in": query.location,
                "required": False,
                "description": query.description,
                "schema": schema,
            }
        )
    return parameters


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _error(status: int) -> dict[str, Any]:
    return {
        "description": REFUSALS[status],
        "content": {"application/json": {"schema": _ref(s.ErrorBody)}},
    }


def _refusals(method: str, route: Route, operation: Operation) -> list[int]:
    statuses = {421, *operation.refusals}
    if not operation.public:
        statuses |= {401, 403}
    if method in MUTATIONS:
        statuses |= {400, 403, 413, 415, 422}
    if route.param_convertors:
        statuses |= {404, 422}
    if operation.query:
        statuses.add(422)
    return sorted(statuses)


def _responses(method: str, route: Route, operation: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": operation.summary}
    content: dict[str, Any] = {}
    if operation.answer is not None:
        content["application/json"] = {"schema": _ref(operation.answer)}
    elif operation.media:
        content[operation.media] = {"schema": {"type": "string"}}
    if operation.also_html:
        content["text/html"] = {"schema": {"type": "string"}}
    if content:
        success["content"] = content
    responses: dict[str, Any] = {str(operation.status): success}
    for status in _refusals(method, route, operation):
        responses[str(status)] = _error(status)
    if operation.no_answer:
        # Readiness answers its usual body with 503 while not ready.
        responses[operation.no_answer] = {**success, "description": "Not ready (yet)."}
    return responses


def _request_body(operation: Operation) -> dict[str, Any] | None:
    if operation.body is None:
        return None
    media = "multipart/form-data" if operation.form else "application/json"
    body: dict[str, Any] = {
        "required": not operation.body_optional,
        "content": {media: {"schema": _ref(operation.body)}},
    }
    if operation.form:
        body["content"][media]["encoding"] = {
            "artifact": {"contentType": "application/octet-stream"},
            "reference": {"contentType": "application/octet-stream"},
        }
    return body


def _operation(method: str, route: Route) -> dict[str, Any]:
    operation = OPERATIONS.get((method, route.path))
    slug = re.sub(r"[^a-z0-9]+", "_", openapi_path(route.path).lower()).strip("_")
    entry: dict[str, Any] = {"operationId": f"{method.lower()}_{slug}"}
    parameters = _parameters(route, operation)
    if parameters:
        entry["parameters"] = parameters
    if operation is None:
        entry.update(
            summary=f"{method} {route.path}",
            responses={"default": {"description": "Not described."}},
        )
        entry["x-undescribed"] = True
        return entry
    entry.update(summary=operation.summary, tags=[operation.tag])
    if operation.public:
        entry["security"] = []
    body = _request_body(operation)
    if body is not None:
        entry["requestBody"] = body
    entry["responses"] = _responses(method, route, operation)
    return entry


def _components() -> dict[str, Any]:
    models = [(m, "validation") for m in s.REQUEST_MODELS]
    models += [(m, "serialization") for m in s.RESPONSE_MODELS]
    _, top = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    return dict(sorted(top.get("$defs", {}).items()))


def build_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for method, route in operations(routes):
        paths.setdefault(openapi_path(route.path), {})[method.lower()] = _operation(method, route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelport",
            "version": __version__,
            "description": "Serve, roll out and monitor machine-learning models.",
        },
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A configured token whose role allows the route. A "
                    "server with no tokens configured (loopback only) needs none.",
                }
            },
        },
        "security": [{"bearer": []}],
    }


def _document(request: Request) -> dict[str, Any]:
    """The document of the app serving ``request``, built once per app."""
    state = request.app.state
    document: dict[str, Any] | None = getattr(state, "openapi", None)
    if document is None:
        document = state.openapi = build_document(request.app.routes)
    return document


async def openapi_json(request: Request) -> Response:
    return JSON(_document(request))


# --- the /docs page ----------------------------------------------------------------------


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("modelport.api", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["schema_name"] = schema_name
    return environment


def schema_name(schema: dict[str, Any]) -> str:
    """A short name for a schema: the model it refers to, or its type.

    >>> schema_name({"$ref": "#/components/schemas/ErrorBody"})
    'ErrorBody'
    >>> schema_name({"type": "array", "items": {"type": "string"}})
    'array of string'
    """
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(schema_name(option) for option in schema["anyOf"])
    kind = str(schema.get("type", "any"))
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {schema_name(schema['items'])}"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    return kind


def render_docs(document: dict[str, Any]) -> str:
    """``document`` as one HTML page: every operation, then every schema."""
    rows = [
        {"method": method.upper(), "path": path, **entry}
        for path, methods in document["paths"].items()
        for method, entry in methods.items()
    ]
    return (
        _environment()
        .get_template("docs.html.j2")
        .render(document=document, operations=rows, schemas=document["components"]["schemas"])
    )


async def docs(request: Request) -> Response:
    return HTMLResponse(render_docs(_document(request)))


routes: list[BaseRoute] = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
