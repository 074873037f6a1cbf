"""What each HTTP route takes and answers, as pydantic models.

These models describe the wire format for the OpenAPI document (:mod:`.openapi`); the
handlers keep validating with the codecs, whose errors carry the stable codes. Request
models forbid fields the server refuses; response models allow extra fields, so an
answer that grows a key stays within its description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel
from pydantic.json_schema import SkipJsonSchema

from modelport.alerts.notifiers import WEBHOOK_FORMATS
from modelport.alerts.rules import METRICS
from modelport.codecs.v2 import DATATYPES
from modelport.names import NAME_PATTERN
from modelport.registry.flavors import FLAVORS
from modelport.rollout.spec import STRATEGIES
from modelport.schema import InputSchema, OutputSpec
from modelport.vocabulary import Role

# The one rule for model and endpoint names, as the API states it to callers.

Scalar = float | int | bool | str | None
# Text when present, never null (multipart fields, options that default when left out).
FormText = str | SkipJsonSchema[None]


def _enum(values: list[str]) -> dict[str, JsonValue]:
    return {"enum": list[JsonValue](values)}


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- errors ---------------------------------------------------------------------------


class ErrorBody(Answer):
    """Every refusal: a stable ``code``, a message, and the field it is about."""

    code: str = Field(description="stable, machine-readable, e.g. wrong_type")
    message: str
    field: str | None = Field(
        default=None, description="the field or parameter as the caller wrote it"
    )
    details: dict[str, Any] | None = None
    request_id: str | None = None
    error: str | None = Field(
        default=None, description="Open Inference Protocol routes repeat the message here"
    )


# --- simple JSON: predict and feedback -------------------------------------------------


class PredictInstances(Request):
    """One object per row, keyed by feature name."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"instances": [{"tenure": 3, "charges": 50.5, "plan": "basic"}]}]
        },
    )
    instances: list[dict[str, Scalar]] = Field(min_length=1)
    id: str | None = Field(
        default=None, min_length=1, max_length=200, description="request id (else generated)"
    )
    parameters: dict[str, Any] | None = None


class PredictRows(Request):
    """One list per row, values in the model's feature order."""

    inputs: list[list[Scalar]] = Field(min_length=1)
    id: str | None = Field(default=None, min_length=1, max_length=200)
    parameters: dict[str, Any] | None = None


class PredictRequest(RootModel[PredictInstances | PredictRows]):
    """``{"instances": [{...}]}`` or ``{"inputs": [[...]]}``."""


class PredictResponse(Answer):
    predictions: list[Any] = Field(description="labels (classifiers) or numbers")
    model: str
    version: int
    request_id: str
    probabilities: list[list[float]] = Field(
        default_factory=list, description="per row, one probability per class"
    )
    classes: list[str] = Field(default_factory=list, description="order of probabilities")
    variant: str = Field(default="", description="who answered when not the primary")


class FeedbackLabel(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"request_id": "3f2a9c", "label": 1}]},
    )
    request_id: str = Field(min_length=1, max_length=200)
    label: float | int | bool | str
    # The log stores row numbers as 32-bit integers.
    row: int = Field(default=0, ge=0, le=2**31 - 1, description="row of a multi-row request")
    endpoint: str | None = None


class FeedbackBatch(Request):
    items: list[FeedbackLabel] = Field(min_length=1, max_length=100_000)


class FeedbackRequest(RootModel[FeedbackLabel | list[FeedbackLabel] | FeedbackBatch]):
    """One label, a list of labels, or ``{"items": [...]}``."""


class FeedbackResponse(Answer):
    accepted: int
    matched: int = Field(description="labels whose prediction is in the log")
    unmatched: int
    unmatched_ids: list[str] = Field(description="at most 100 of them")


# --- Open Inference Protocol v2 --------------------------------------------------------


class InputTensor(Request):
    name: str = Field(description="a feature name, or any name for one [N, F] tensor")
    shape: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    datatype: str = Field(json_schema_extra=_enum(sorted(DATATYPES)))
    data: list[Any] = Field(description="flat or nested row-major values")
    parameters: dict[str, Any] | None = None


class RequestedOutput(Request):
    name: Literal["predict", "predict_proba"]
    parameters: dict[str, Any] | None = None


class InferRequest(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "inputs": [
                        {"name": "tenure", "shape": [1], "datatype": "FP64", "data": [3]},
                        {"name": "charges", "shape": [1], "datatype": "FP64", "data": [50.5]},
                        {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["basic"]},
                    ]
                }
            ]
        },
    )
    id: str | None = Field(default=None, min_length=1, max_length=200)
    parameters: dict[str, Any] | None = None
    inputs: list[InputTensor] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None


class OutputTensor(Answer):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] = Field(default_factory=dict)


class InferResponse(Answer):
    model_name: str
    model_version: str
    id: str
    parameters: dict[str, Any]
    outputs: list[OutputTensor]


class TensorMetadata(Answer):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(Answer):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any]


class ServerMetadata(Answer):
    name: str
    version: str
    extensions: list[str]


class Liveness(Answer):
    live: bool


class Readiness(Answer):
    ready: bool


class ModelReadiness(Answer):
    name: str
    ready: bool


# --- registry ------------------------------------------------------------------------


class ModelSummary(Answer):
    name: str
    versions: int
    latest: int | None
    created_at: str


class ModelList(Answer):
    models: list[ModelSummary]


class ModelVersionInfo(Answer):
    name: str
    version: int
    flavor: str
    sha256: str
    created_at: str
    description: str
    tags: dict[str, Any]
    target: str | None
    input_schema: InputSchema
    output: OutputSpec
    reference_rows: int | None
    has_profile: bool
    profile: dict[str, Any] | None = Field(default=None, description="with ?profile=true")


class ModelDetail(Answer):
    name: str
    versions: list[ModelVersionInfo]


def _flag(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra=_enum(["1", "true"]))


class RegistrationForm(Request):
    """``multipart/form-data``: the artifact file and text fields."""

    artifact: bytes = Field(
        description="the model file (.skops, .onnx, ...)",
        json_schema_extra={"format": "binary", "contentMediaType": "application/octet-stream"},
    )
    reference: bytes | SkipJsonSchema[None] = Field(
        default=None,
        description="reference data (Parquet or CSV) for drift monitoring",
        json_schema_extra={"format": "binary"},
    )
    flavor: str = Field(
        default="sklearn", json_schema_extra=_enum(sorted(FLAVORS)), description="model kind"
    )
    target: FormText = Field(default=None, description="label column of the reference data")
    description: FormText = None
    tags: FormText = Field(default=None, description="a JSON object")
    schema_: FormText = Field(default=None, alias="schema", description="input schema as JSON")
    trust_types: FormText = Field(
        default=None, description="skops types to trust: a JSON list or comma-separated"
    )
    trust_pickle: FormText = _flag("pickle artifacts (refused unless the server allows them)")
    strict_categories: FormText = _flag("refuse categories not seen in the reference data")


# --- endpoints -----------------------------------------------------------------------


class EndpointCreate(Request):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "churn-b", "model": "churn:1"}]}
    )
    name: str = Field(pattern=NAME_PATTERN)
    model: str = Field(description="model[:version], e.g. churn:2; no version means latest")


class EndpointUpdate(Request):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"model": "churn:1", "revision": 1}]}
    )
    model: str = Field(description="another version of the endpoint's model, e.g. churn:2")
    revision: int | None = Field(
        default=None, description="refuse (409) unless the endpoint is still at this revision"
    )
    force: bool = Field(
        default=False,
        description="roll back a rollout in progress first (otherwise 409 rollout_in_progress)",
    )


class EndpointInfo(Answer):
    name: str
    model: str
    version: int = Field(description="the primary version")
    policy: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str


class EndpointState(EndpointInfo):
    ready: bool
    error: str | None
    serving: dict[str, Any] = Field(default_factory=dict, description="current routing")


class EndpointList(Answer):
    endpoints: list[EndpointState]


class AuditTrail(Answer):
    endpoint: str
    history: list[dict[str, Any]]


# --- rollouts ------------------------------------------------------------------------


class RolloutStart(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"strategy": "shadow", "version": 2}]},
    )
    strategy: FormText = Field(default=None, json_schema_extra=_enum([*STRATEGIES]))
    version: int | None = Field(default=None, description="candidate; default: latest")
    sample: float | None = Field(default=None, gt=0, le=1)
    steps: str | list[int] | None = Field(default=None, description='e.g. "5,25,50,100"')
    step_every: str | float | None = Field(default=None, description="duration, e.g. 10m")
    step_after: str | int | None = Field(default=None, description="requests, e.g. 500req")
    shadow_for: str | float | None = None
    sticky_key: str | None = None
    gates: list[str] | None = None
    min_samples: int | None = Field(default=None, ge=10)
    alpha: float | None = Field(default=None, gt=0, lt=0.5)
    smoke: int | None = Field(default=None, ge=0)
    smoke_agreement: float | None = Field(default=None, ge=0, le=1)
    keep_blue: str | float | None = None
    reason: str | None = None


class RolloutAction(Request):
    reason: str | None = None


class RolloutInfo(Answer):
    id: int
    endpoint: str
    model: str
    candidate: int
    primary: int
    strategy: str
    phase: str
    status: str
    step: int
    steps: list[int]
    weight: float
    step_started_at: str
    spec: dict[str, Any]
    verdicts: dict[str, Any]
    note: str | None
    revision: int
    created_by: str | None
    created_at: str
    updated_at: str
    finished_at: str | None


class RolloutAnswer(RolloutInfo):
    serving: dict[str, Any]


class RolloutStatus(Answer):
    endpoint: str
    rollout: RolloutInfo | None
    serving: dict[str, Any]


class RolloutReport(Answer):
    """The shadow comparison; its sections depend on the model kind."""

    serving: dict[str, Any]


class RolloutHistory(Answer):
    endpoint: str
    history: list[dict[str, Any]]


# --- monitoring ----------------------------------------------------------------------


class MonitoringReport(Answer):
    """A full report of one window; its sections are described in docs/monitoring.md."""


class LiveWindows(Answer):
    endpoint: str
    windows: list[dict[str, Any]]


class SeriesPoints(Answer):
    endpoint: str
    feature: str | None
    statistic: str | None
    points: list[dict[str, Any]]


class DetectorEvents(Answer):
    endpoint: str
    events: list[dict[str, Any]]


class OpenAPIDocument(Answer):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


# --- the prediction log ----------------------------------------------------------------
class ForgetRequest(Request):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"request_ids": ["3f2a9c..."]}]}
    )
    request_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=10_000, description="requests whose rows and labels to erase"
    )


class ForgetResult(Answer):
    request_ids: int = Field(description="distinct ids asked for")
    rows_removed: int = Field(description="log rows erased (every physical copy)")
    files_rewritten: int
    records_removed: dict[str, int] = Field(description="control-plane rows erased, by table")
    unreadable: list[str] = Field(description="log files that could not be read")


# --- batch scoring ----------------------------------------------------------------------
class BatchStart(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"input": "customers.parquet", "output": "scored.parquet", "chunk": 50000}]
        },
    )
    input: str = Field(description="a .parquet or .csv file, or a folder of them (by name)")
    output: str = Field(description="scored rows; .parquet or .csv decides the format")
    chunk: int | None = Field(default=None, ge=1, le=1_000_000, description="rows per chunk")
    version: int | None = Field(default=None, ge=1, description="default: the primary")
    resume: bool | None = Field(default=None, description="finish an interrupted run")
    rejects: str | None = Field(default=None, description="default <output>.rejects.parquet")
    id_column: str | None = Field(default=None, description="default: id or request_id")


class BatchJob(Answer):
    job: str = Field(description="32 hex digits; logged request ids are <job>-<chunk>")
    endpoint: str
    model: str
    version: int
    input: str
    output: str
    rejects: str
    id_column: str | None = Field(description="the input column kept beside the features")
    chunk: int
    state: str = Field(json_schema_extra=_enum(["running", "done", "failed", "interrupted"]))
    rows_total: int = Field(description="rows of the input (CSV: estimated until done)")
    rows_read: int
    rows_scored: int
    rows_rejected: int
    chunks_done: int
    rows_per_s: float = Field(description="rows read per second by this process")
    seconds_left: float | None
    error: str | None
    started_at: str
    updated_at: str
    finished_at: str | None


class WhoAmI(Answer):
    name: str = Field(description="the token's name (anonymous on a server with no tokens)")
    role: str | None = Field(description="admin, deployer, reader or client; null when open")
    open: bool = Field(description="the server has no tokens (it answers loopback only)")
    permissions: list[str] = Field(
        description="what the caller may do: read, client, deploy, admin"
    )


# --- alerts and notifiers ----------------------------------------------------------------

Number = float | int
Duration = str | float


class AlertRuleCreate(Request):
    """The fields of ``modelport alerts add``; a static rule takes ``above``/``below``
    (with ``resolve_at``), an adaptive one ``adaptive: true`` with its settings."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "churn-drift",
                    "endpoint": "churn",
                    "metric": "drift.psi",
                    "feature": "tenure",
                    "above": 0.2,
                    "for": "15m",
                    "severity": "warning",
                },
                {
                    "name": "churn-p99",
                    "endpoint": "churn",
                    "metric": "latency.p99_ms",
                    "adaptive": True,
                    "sigma": 3,
                    "adapt_rate": 0.05,
                    "ceiling": 200,
                },
            ]
        },
    )
    name: str = Field(pattern=NAME_PATTERN)
    endpoint: str = Field(pattern=NAME_PATTERN)
    metric: str = Field(json_schema_extra=_enum(sorted(METRICS)))
    feature: str | None = Field(default=None, description="a feature, or * for each feature")
    version: str | None = None
    role: str | None = Field(default=None, json_schema_extra=_enum([r.value for r in Role]))
    above: Number | None = Field(default=None, description="fire above this value")
    below: Number | None = Field(default=None, description="fire below this value")
    resolve_at: Number | None = Field(
        default=None, description="a firing alert resolves once back past this level"
    )
    adaptive: bool | None = Field(default=None, description="learn the band from the series")
    sigma: Number | None = Field(default=None, description="band width in deviations (3)")
    adapt_rate: Number | None = Field(default=None, description="(0, 1], default 0.05")
    floor: Number | None = Field(default=None, description="the band never goes below it")
    ceiling: Number | None = Field(default=None, description="the band never goes above it")
    seasonal: bool | None = Field(default=None, description="one baseline per hour of week")
    direction: str | None = Field(default=None, json_schema_extra=_enum(["above", "below", "both"]))
    warmup: int | None = Field(default=None, description="values learned before it fires")
    resolve_sigma: Number | None = Field(default=None, description="narrower resolve band")
    for_: Duration | None = Field(
        default=None, alias="for", description="how long a breach lasts before it fires"
    )
    severity: str | None = Field(
        default=None, json_schema_extra=_enum(["info", "warning", "critical"])
    )
    min_samples: int | None = Field(default=None, description="fewer samples change nothing")
    replace: bool | None = Field(default=None, description="replace a rule of that name")


class AlertRule(Answer):
    """A stored rule (``Rule.to_dict()``)."""

    name: str
    endpoint: str
    metric: str
    threshold: dict[str, Any] = Field(
        description="kind static (above, below, resolve_at) "
        "or adaptive (sigma, adapt_rate, floor, ceiling, ...)"
    )
    feature: str | None
    version: str | None
    role: str | None
    for_s: float
    severity: str
    min_samples: int


class AlertRuleState(AlertRule):
    source: str = Field(description="api (CLI or HTTP) or config (modelport.toml)")
    orphaned: bool = Field(description="its endpoint no longer exists; it is not evaluated")
    state: str = Field(description="worst state of its alerts")
    firing: int
    silenced_until: str | None


class AlertRuleList(Answer):
    rules: list[AlertRuleState]


class AlertInfo(Answer):
    """One alert: a rule and one label set."""

    rule: str
    labels: dict[str, str]
    state: str = Field(json_schema_extra=_enum(["inactive", "pending", "firing", "resolved"]))
    since: str | None
    value: float | None
    band: dict[str, float | None] = Field(description="lower and upper edge in force")
    silenced: bool
    acked_by: str | None
    acked_at: str | None


class SilenceInfo(Answer):
    rule: str
    until: str
    reason: str
    by: str
    labels: dict[str, str]


class AlertDetail(AlertRuleState):
    alerts: list[AlertInfo]
    silences: list[SilenceInfo]
    history: list[dict[str, Any]] = Field(description="the latest entries, newest first")
    points: list[dict[str, Any]] = Field(
        default_factory=list,
        description="value and band in force at recent evaluations: key, at, value, lower, upper",
    )


class ActiveAlerts(Answer):
    alerts: list[AlertInfo]


class AlertHistory(Answer):
    rule: str | None
    history: list[dict[str, Any]] = Field(
        description="newest first: kind transition (from_state, to_state, value, band, by) "
        "or delivery (notifier, delivered, attempts, error)"
    )


class AlertSilence(Request):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"for": "2h", "reason": "known incident"}]},
    )
    for_: Duration = Field(alias="for", description="a duration, e.g. 2h")
    reason: str | None = None
    labels: dict[str, str] | None = Field(
        default=None, description="only the alerts with these labels"
    )


class AlertAck(Request):
    labels: dict[str, str] | None = Field(
        default=None, description="only the alerts with these labels"
    )


class AlertAcknowledged(Answer):
    rule: str
    acknowledged: list[dict[str, Any]] = Field(description="one transition per alert")


class AlertTest(Answer):
    rule: str
    results: list[dict[str, Any]] = Field(
        description="per label set: the value, the band in force, whether it is breached "
        "and the state the alert would move to"
    )


class NotifierCreate(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "ops",
                    "kind": "webhook",
                    "url": "https://hooks.example.com/T0/B0",
                    "format": "slack",
                },
                {"name": "am", "kind": "alertmanager", "url": "http://127.0.0.1:9093"},
            ]
        },
    )
    name: str = Field(pattern=NAME_PATTERN)
    kind: str = Field(json_schema_extra=_enum(["webhook", "alertmanager", "log"]))
    url: str | None = Field(default=None, description="http(s); not for log")
    format: str | None = Field(default=None, json_schema_extra=_enum(list(WEBHOOK_FORMATS)))
    replace: bool | None = Field(default=None, description="replace a notifier of that name")


class NotifierInfo(Answer):
    name: str
    kind: str
    url: str | None = Field(description="scheme, host and port only (a path may be a secret)")
    format: str | None
    source: str


class NotifierList(Answer):
    notifiers: list[NotifierInfo]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    PredictRequest,
    FeedbackRequest,
    InferRequest,
    RegistrationForm,
    EndpointCreate,
    EndpointUpdate,
    RolloutStart,
    RolloutAction,
    ForgetRequest,
    BatchStart,
    AlertRuleCreate,
    AlertSilence,
    AlertAck,
    NotifierCreate,
)

RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody,
    PredictResponse,
    FeedbackResponse,
    InferResponse,
    ModelMetadata,
    ServerMetadata,
    Liveness,
    Readiness,
    ModelReadiness,
    ModelList,
    ModelDetail,
    ModelVersionInfo,
    EndpointInfo,
    EndpointState,
    EndpointList,
    AuditTrail,
    RolloutAnswer,
    RolloutStatus,
    RolloutReport,
    RolloutHistory,
    MonitoringReport,
    LiveWindows,
    SeriesPoints,
    DetectorEvents,
    OpenAPIDocument,
    ForgetResult,
    BatchJob,
    AlertRule,
    AlertRuleList,
    AlertDetail,
    ActiveAlerts,
    AlertHistory,
    SilenceInfo,
    AlertAcknowledged,
    AlertTest,
    NotifierInfo,
    NotifierList,
    WhoAmI,
)
