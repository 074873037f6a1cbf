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
    step: str | None = Field(
        default=None,
        min_length=1,
        description="a step of the pipeline 'endpoint' names (or, without 'endpoint', of "
        "the pipeline that answered the request): the label is that step's; without it a "
        "pipeline's request is labelled for its final step",
    )


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
    archived: int = Field(default=0, description="how many versions are archived")
    aliases: dict[str, int] = Field(default_factory=dict, description="alias -> version")


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
    aliases: list[str] = Field(default_factory=list, description="aliases pointing here")
    archived: bool = False
    archived_at: str | None = None
    archived_by: str | None = None
    lineage: dict[str, Any] | None = Field(
        default=None,
        description="parent, trainer, window, rows, labels, fingerprint, holdout (if recorded)",
    )
    fast_path: FastPathState | None = Field(
        default=None, description="the ONNX fast path of a scikit-learn version (else null)"
    )


class ModelDetail(Answer):
    name: str
    versions: list[ModelVersionInfo]
    aliases: dict[str, int] = Field(default_factory=dict, description="alias -> version")


class AliasSet(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": 1}]})
    version: int = Field(ge=1, description="the version the alias points at from now on")
    force: bool = Field(
        default=False,
        description="roll back a rollout in progress on a following endpoint first "
        "(otherwise 409 rollout_in_progress)",
    )


class AliasInfo(Answer):
    model: str
    alias: str
    version: int
    updated_at: str
    updated_by: str
    endpoints: list[str] = Field(description="endpoints following the alias")


class AliasMoved(AliasInfo):
    previous: int | None = Field(description="where the alias pointed before (null: new)")
    moved: list[str] = Field(description="endpoints whose primary moved")
    ended_rollouts: dict[str, int] = Field(description="endpoint -> rollout rolled back (force)")


class AliasList(Answer):
    model: str
    aliases: list[AliasInfo]


class VersionUpdate(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tags": {"team": "risk", "stage": None}}]},
    )
    tags: dict[str, Any] = Field(
        default_factory=dict, description="tags to set; a null value removes the tag"
    )
    remove: list[str] = Field(default_factory=list, description="tag names to remove")


class LineageEntry(Answer):
    model: str
    version: int
    ref: str
    missing: bool = Field(default=False, description="the parent is no longer registered")
    created_at: str | None = None
    archived: bool | None = None
    aliases: list[str] | None = None
    parent: str | None = None
    trainer: str | None = None
    window: dict[str, Any] | None = None
    rows: int | None = None
    labels: int | None = None
    fingerprint: str | None = None
    holdout: dict[str, Any] | None = None


class LineageChain(Answer):
    model: str
    version: int
    chain: list[LineageEntry] = Field(description="the version, then its parents")


class ModelHistory(Answer):
    model: str
    history: list[dict[str, Any]]


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
    model: str = Field(
        description="model[:version] (e.g. churn:2; no version: the newest not archived) or "
        "model@alias (e.g. churn@champion: the endpoint follows the alias)"
    )


class EndpointUpdate(Request):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"model": "churn:1", "revision": 1}]}
    )
    model: str = Field(
        description="another version of the endpoint's model, e.g. churn:2, or an alias "
        "to follow, e.g. churn@champion"
    )
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
    alias: str | None = Field(default=None, description="the alias of the model it follows")
    policy: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str


class EndpointState(EndpointInfo):
    ready: bool
    error: str | None
    serving: dict[str, Any] = Field(default_factory=dict, description="current routing")
    runtime: str | None = Field(
        default=None,
        description="what answers for the primary here: sklearn, onnx or python",
        json_schema_extra=_enum(["sklearn", "onnx", "python"]),
    )
    runtimes: dict[str, str] = Field(
        default_factory=dict, description="version -> runtime, for each version served here"
    )


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
    version: int | str | None = Field(
        default=None,
        description="candidate version, or an alias of the endpoint's model as @challenger "
        "(read at start); default: the newest not archived",
    )
    alias: str | None = Field(
        default=None,
        description="the candidate as an alias of the endpoint's model (instead of version)",
    )
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
    step: str | None = Field(
        default=None,
        description="a step of the pipeline the path names: roll out that step's version "
        "(as ?step=)",
    )


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
    pipeline: dict[str, Any] | None = Field(
        default=None,
        description="a pipeline step's rollout: the pipeline's final outputs by the arm "
        "that served the step (rows, distribution, accuracy or MAE with labels)",
    )


class RolloutHistory(Answer):
    endpoint: str
    history: list[dict[str, Any]]


class GatePoint(Answer):
    """One gate at one analysis round; ``estimate``, ``interval`` and ``bound`` share the
    scale ``interval_of`` names (latency gates: the share of candidate requests slower
    than the threshold, against 1 - q)."""

    gate: str
    metric: str
    verdict: str = Field(json_schema_extra=_enum(["pass", "fail", "inconclusive", "skipped"]))
    estimate: float | None
    interval: list[float | None] | None = Field(description="always-valid [lower, upper]")
    interval_of: str
    bound: float | None
    bound_interval: list[float | None] | None = Field(
        description="relative gates: always-valid bounds on the bound (it rests on the primary)"
    )
    candidate: float | None
    primary: float | None
    threshold: float | None
    n: int
    min_samples: int


class AnalysisRound(Answer):
    at: str
    phase: str
    step: int
    weight: float
    requests: int = Field(description="requests in the step's window")
    gates: list[GatePoint]


class RolloutAnalyses(Answer):
    endpoint: str
    rollout: int | None = Field(description="the rollout's id; null: the endpoint had none")
    analyses: list[AnalysisRound] = Field(description="oldest first")


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


class ColumnSeries(Answer):
    """One column's figures, each array aligned with ``times`` (null: no figure then)."""

    feature: str
    statistic: str | None = Field(
        description="the statistic (decision=1: the one deciding most windows)"
    )
    values: list[float | None]
    thresholds: list[float | None]
    drifted: list[bool | None]
    rows: list[int | None] = Field(description="rows each figure rests on")
    threshold: float | None = Field(description="the newest threshold (the one in force)")
    statistics: list[str | None] | None = Field(
        default=None,
        description="decision=1 only, when another statistic decided some windows: per window",
    )
    drifted_now: bool | None = Field(
        default=None, description="columns=N only: whether the newest window drifted"
    )


class SeriesColumns(Answer):
    """Stored figures of one version's windows as columns (``format=columns``)."""

    endpoint: str
    version: int
    window: str = Field(description="the window size the series was stored under")
    since: str | None
    until: str | None
    decision: bool = Field(description="only the statistic deciding each feature's drift")
    times: list[str] = Field(description="window starts, oldest first")
    per: int = Field(
        default=1, description="windows per column (columns=N groups them, worst shown)"
    )
    series: list[ColumnSeries]
    outputs: list[ColumnSeries] | None = Field(
        default=None, description="decision=1: the model's outputs (prediction drift)"
    )


class SeriesHistory(RootModel[SeriesPoints | SeriesColumns]):
    """Points (default), or columns with ``format=columns`` or ``decision=1``."""


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


# --- retraining ----------------------------------------------------------------------------
class RetrainStart(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"trainer": "mypkg.train:fit", "since": "30d", "min_labels": 500}]
        },
    )
    trainer: str = Field(description="module:function; must match a retrain.trainers pattern")
    since: str | float | None = Field(default=None, description="window length, default 30d")
    with_reference: bool = Field(default=False, description="add the parent's labelled reference")
    min_labels: int = Field(default=500, ge=1, description="least labelled logged rows")
    holdout: float = Field(default=0.2, gt=0, lt=1, description="share of rows held out")
    split: Literal["time", "random"] = Field(
        default="time", description="how the holdout is chosen"
    )
    rollout: bool = Field(default=True, description="start shadow-then-canary afterwards")
    reason: str = Field(default="", max_length=500, description="for the audit trail")
    rollout_options: dict[str, Any] | None = Field(
        default=None,
        description="how the new version is rolled out: steps, step_every, step_after, "
        "shadow_for, sample, sticky_key, gates, min_samples, alpha (as rollout start)",
    )


class RetrainOutcomeInfo(Answer):
    endpoint: str
    model: str
    version: int = Field(description="the new version")
    parent: int
    lineage: dict[str, Any] = Field(
        description="parent, trainer, window, rows, labels, fingerprint, holdout metrics"
    )
    rollout_id: int | None = Field(description="the rollout started (null with rollout false)")
    seconds: float


class RetrainJob(Answer):
    job: str = Field(description="32 hex digits")
    endpoint: str
    trainer: str
    state: str = Field(json_schema_extra=_enum(["running", "done", "failed"]))
    stage: str | None = Field(
        description="gathering, training, evaluating, registering or rolling out"
    )
    started_at: str
    finished_at: str | None
    outcome: RetrainOutcomeInfo | None = Field(description="when done")
    error: str | None = Field(description="when failed: why, in one line")


# --- retraining policies -----------------------------------------------------------------
class RetrainPolicySet(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "trainer": "mypkg.train:fit",
                    "on_alert": "churn-drift",
                    "cooldown": "24h",
                    "min_labels": 1000,
                    "max_attempts": 3,
                }
            ]
        },
    )
    trainer: str = Field(description="module:function, allowed by retrain.trainers")
    on_alert: str = Field(description="the alert rule whose firing triggers a retrain")
    cooldown: str | float = Field(description="no new attempt this long after the last one")
    min_labels: int = Field(ge=0, description="new labels needed since the last training")
    max_attempts: int | None = Field(default=None, ge=1, description="per firing; default 3")
    since: str | float | None = Field(default=None, description="training window; default 30d")
    holdout: float | None = Field(default=None, gt=0, lt=1, description="default 0.2")
    rollout: dict[str, Any] | None = Field(
        default=None,
        description="the new version's rollout options (steps, step_every, shadow_for, gates, "
        "min_samples, ...), as a retrain takes them; always shadow then canary",
    )


class RetrainPolicy(Answer):
    endpoint: str
    trainer: str
    on_alert: str
    cooldown_s: float
    min_labels: int
    max_attempts: int
    since_s: float
    holdout: float
    rollout: dict[str, Any]
    enabled: bool
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str


class RetrainEvent(Answer):
    at: str
    decision: str = Field(
        json_schema_extra=_enum(
            ["started", "trained", "failed", "skipped", "promoted", "rolled_back"]
        )
    )
    cause: str | None = Field(
        description="why a retrain was skipped: not_firing, cooldown, labels, attempts, "
        "running, rollout_live"
    )
    reason: str
    job: str | None
    version: int | None
    rollout_id: int | None
    attempt: int | None = Field(description="attempt number within the alert's firing")
    firing_since: str | None = Field(description="when the alert's firing began")


class RetrainHistory(Answer):
    endpoint: str
    history: list[RetrainEvent] = Field(description="newest first")


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


# --- the newest logged predictions -------------------------------------------------------


class PredictionOutput(Answer):
    prediction: str | float | None = Field(
        description="the class as the log spells it, or a regressor's number"
    )
    probabilities: dict[str, float] | None = Field(
        default=None, description="class -> probability, when the version logs them"
    )


class LoggedPrediction(Answer):
    """One logged row: its request, who answered, what it was given and answered."""

    request_id: str
    row: int = Field(description="the row within its request")
    ts: str = Field(description="when the request arrived (ISO, UTC)")
    model: str | None
    version: int
    role: str = Field(json_schema_extra=_enum([r.value for r in Role]))
    status: str = Field(json_schema_extra=_enum(["ok", "error"]))
    latency_ms: float | None
    inputs: dict[str, Scalar] = Field(
        description="feature -> value as logged (hashed, redacted or left out by the privacy rules)"
    )
    output: PredictionOutput | None = Field(description="null when the row failed")
    error: str | None
    label: str | float | None = Field(description="the ground truth, once it arrived")
    label_received_at: str | None
    step: str | None = Field(
        default=None, description="a pipeline asked without step: the step this row is of"
    )


class LoggedPredictions(Answer):
    endpoint: str
    limit: int
    features: list[str] = Field(description="every input the rows show")
    predictions: list[LoggedPrediction] = Field(description="newest first")
    scanned: int = Field(description="log rows read to find them")
    exhausted: bool = Field(
        description="every row of the log was looked at (false: the newest rows read held "
        "enough matches, or the search stopped after reading its maximum)"
    )
    skipped_segments: int = Field(description="log files that could not be read")
    steps: list[str] | None = Field(
        default=None, description="a pipeline asked without step: its steps, whose rows these are"
    )


# --- service figures over time -----------------------------------------------------------


class ServiceFigures(Answer):
    requests: int = Field(description="requests (a request counts once, however many rows)")
    errors: int = Field(description="requests that failed")
    rate: float | None = Field(description="requests per second")
    error_rate: float | None = Field(description="errors / requests; null without requests")
    p50_ms: float | None = Field(description="median latency of the answered requests")
    p99_ms: float | None = Field(description="99th percentile latency of the answered requests")


class ServiceBucket(ServiceFigures):
    start: str = Field(description="the bucket's start (ISO); it lasts step_s seconds")


class ServiceGroup(Answer):
    version: int | None = None
    role: str | None = None
    buckets: list[ServiceBucket]
    totals: ServiceFigures


class PredictionSeries(Answer):
    """What the answered rows predicted per bucket (arrays aligned with ``buckets``)."""

    kind: Literal["classification", "regression"] | None = Field(
        description="null: no prediction logged in the span"
    )
    rows: list[int] = Field(description="answered rows per bucket")
    classes: list[str] | None = Field(default=None, description="classification: the labels")
    counts: list[list[int]] | None = Field(
        default=None, description="classification: per bucket, rows per class (as classes)"
    )
    mean: list[float | None] | None = Field(default=None, description="regression")
    p10: list[float | None] | None = None
    p50: list[float | None] | None = None
    p90: list[float | None] | None = None


class ServiceSeries(Answer):
    """Service figures of an endpoint per time bucket, from the prediction log."""

    endpoint: str
    since: str = Field(description="start of the first bucket (since rounded down to the step)")
    until: str
    step_s: int = Field(description="bucket size in seconds")
    version: int | None = Field(description="only this version's requests; null: every version")
    roles: list[str] = Field(description="log roles counted (default: primary, canary)")
    by: str | None = Field(description="version or role: groups holds the same figures per group")
    buckets: list[ServiceBucket]
    totals: ServiceFigures = Field(description="the same figures over the whole span")
    groups: list[ServiceGroup] | None = Field(default=None, description="only with by=")
    predictions: PredictionSeries | None = Field(default=None, description="predictions=1")


# --- the ONNX fast path ------------------------------------------------------------------


class FastPathState(Answer):
    """Whether onnxruntime serves a scikit-learn version, and the check that allows it."""

    enabled: bool = Field(description="the user's switch (on unless turned off)")
    status: str = Field(
        description="the agreement check's outcome",
        json_schema_extra=_enum(["passed", "failed", "unavailable", "unchecked"]),
    )
    reason: str | None = Field(default=None, description="why it failed or is unavailable")
    runtime: str = Field(
        description="what the version loads on now", json_schema_extra=_enum(["onnx", "sklearn"])
    )
    max_abs_diff: float | None = Field(
        default=None, description="largest difference of probabilities (regression: values)"
    )
    rows: int | None = Field(default=None, description="reference rows compared")
    checked_at: str | None = None
    versions: dict[str, str | None] | None = Field(
        default=None, description="skl2onnx, onnx and onnxruntime versions used"
    )
    opsets: dict[str, int] | None = Field(default=None, description="ONNX opset per domain")
    input_type: str | None = Field(
        default=None, description="the converted model's input tensor: double or float"
    )
    artifact_sha256: str | None = Field(default=None, description="the converted model's")


class FastPathSwitch(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})
    enabled: bool = Field(description="serve with onnxruntime when the check passed (true)")


class FastPathChanged(Answer):
    model: str
    version: int
    fast_path: FastPathState
    reloaded: list[str] = Field(
        description="endpoints of the model that reload the version on its new runtime"
    )


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    FastPathSwitch,
    PredictRequest,
    FeedbackRequest,
    InferRequest,
    RegistrationForm,
    EndpointCreate,
    EndpointUpdate,
    AliasSet,
    VersionUpdate,
    RolloutStart,
    RolloutAction,
    ForgetRequest,
    BatchStart,
    RetrainStart,
    RetrainPolicySet,
    AlertRuleCreate,
    AlertSilence,
    AlertAck,
    NotifierCreate,
)

RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    FastPathState,
    FastPathChanged,
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
    AliasInfo,
    AliasMoved,
    AliasList,
    LineageChain,
    ModelHistory,
    EndpointInfo,
    EndpointState,
    EndpointList,
    AuditTrail,
    RolloutAnswer,
    RolloutStatus,
    RolloutReport,
    RolloutHistory,
    RolloutAnalyses,
    MonitoringReport,
    LiveWindows,
    SeriesHistory,
    DetectorEvents,
    OpenAPIDocument,
    ForgetResult,
    BatchJob,
    RetrainJob,
    RetrainPolicy,
    RetrainHistory,
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
    LoggedPredictions,
    ServiceSeries,
)
