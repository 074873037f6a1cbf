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

from modelport.codecs.v2 import DATATYPES
from modelport.names import NAME_PATTERN
from modelport.registry.flavors import FLAVORS
from modelport.rollout.spec import STRATEGIES
from modelport.schema import InputSchema, OutputSpec

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
)
