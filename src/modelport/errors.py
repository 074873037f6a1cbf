"""Every error modelport raises on purpose, and how the API shows it.

Each error carries a stable machine-readable ``code`` and the HTTP status it maps to,
so the HTTP adapter, the CLI and the tests all speak the same language::

    ModelportError                      500 internal_error
    ├── ConfigError                     500 config_error
    ├── InvalidRequest                  400 invalid_request
    │   ├── MalformedBody               400 malformed_json
    │   └── ValidationFailed            422 validation_error  (+ field)
    │       ├── MissingFeature          422 missing_feature
    │       ├── UnexpectedFeature       422 unexpected_feature
    │       ├── WrongType               422 wrong_type
    │       ├── NotAllowedNaN           422 nan_not_allowed
    │       ├── UnknownCategory         422 unknown_category
    │       ├── WrongShape              422 wrong_shape
    │       ├── WrongDatatype           422 wrong_datatype
    │       ├── InvalidName             422 invalid_name     (modelport.names rule)
    │       ├── UnsafePath              422 unsafe_path      (a path would leave its folder)
    │       └── ValueTooLong            422 value_too_long   (serving.max_string_bytes)
    ├── BodyTooLarge                    413 body_too_large
    ├── Unauthorized                    401 unauthorized
    ├── Forbidden                       403 forbidden
    │   ├── UploadNotAllowed            403 upload_not_allowed (pickle/code over HTTP)
    │   └── CrossOrigin                 403 cross_origin  (a mutation from another origin)
    ├── UnsupportedMediaType            415 unsupported_media_type
    ├── MisdirectedRequest              421 misdirected_request (Host not served here)
    ├── NotFound                        404 not_found
    │   ├── ModelNotFound               404 model_not_found
    │   ├── VersionNotFound             404 version_not_found
    │   ├── EndpointNotFound            404 endpoint_not_found
    │   ├── AliasNotFound               404 alias_not_found
    │   ├── AlertNotFound               404 alert_not_found
    │   ├── RetrainPolicyNotFound       404 retrain_policy_not_found
    │   └── NotifierNotFound            404 notifier_not_found
    ├── Conflict                        409 conflict
    │   ├── RolloutInProgress           409 rollout_in_progress
    │   ├── VersionArchived             409 version_archived  (would serve an archived version)
    │   ├── VersionInUse                409 version_in_use    (archiving a referenced version)
    │   ├── AlertExists                 409 alert_exists
    │   └── NotifierExists              409 notifier_exists
    ├── NotReady                        503 not_ready
    ├── ArtifactError                   422 artifact_error   (missing, corrupt, wrong flavor)
    │   ├── ArtifactIntegrityError      500 artifact_integrity (sha256 mismatch on load)
    │   ├── UntrustedTypes              422 untrusted_types  (skops types nobody trusted)
    │   └── UntrustedCode               422 untrusted_code   (python flavor without trust)
    ├── ReferenceDataError              422 reference_error  (reference file vs schema)
    │   └── ProfileError                422 reference_error  (reference cannot be profiled)
    └── PredictionFailed                500 prediction_failed (the model raised)
"""

from __future__ import annotations

from typing import Any


class ModelportError(Exception):
    """Base class; ``status`` and ``code`` are what the HTTP API answers with."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(ModelportError):
    code = "config_error"


class InvalidRequest(ModelportError):
    status = 400
    code = "invalid_request"


class MalformedBody(InvalidRequest):
    code = "malformed_json"


class ValidationFailed(InvalidRequest):
    status = 422
    code = "validation_error"


class MissingFeature(ValidationFailed):
    code = "missing_feature"


class UnexpectedFeature(ValidationFailed):
    code = "unexpected_feature"


class WrongType(ValidationFailed):
    code = "wrong_type"


class NotAllowedNaN(ValidationFailed):
    code = "nan_not_allowed"


class UnknownCategory(ValidationFailed):
    code = "unknown_category"


class WrongShape(ValidationFailed):
    code = "wrong_shape"


class WrongDatatype(ValidationFailed):
    code = "wrong_datatype"


class InvalidName(ValidationFailed):
    code = "invalid_name"


class UnsafePath(ValidationFailed):
    code = "unsafe_path"


class ValueTooLong(ValidationFailed):
    code = "value_too_long"


class BodyTooLarge(ModelportError):
    status = 413
    code = "body_too_large"


class Unauthorized(ModelportError):
    status = 401
    code = "unauthorized"


class Forbidden(ModelportError):
    status = 403
    code = "forbidden"


class CrossOrigin(Forbidden):
    code = "cross_origin"


class UnsupportedMediaType(ModelportError):
    status = 415
    code = "unsupported_media_type"


class MisdirectedRequest(ModelportError):
    status = 421
    code = "misdirected_request"


class NotFound(ModelportError):
    status = 404
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class EndpointNotFound(NotFound):
    code = "endpoint_not_found"


class StepNotFound(NotFound):
    code = "step_not_found"


class AliasNotFound(NotFound):
    code = "alias_not_found"


class RolloutNotFound(NotFound):
    code = "rollout_not_found"


class AlertNotFound(NotFound):
    code = "alert_not_found"


class RetrainPolicyNotFound(NotFound):
    code = "retrain_policy_not_found"


class NotifierNotFound(NotFound):
    code = "notifier_not_found"


class Conflict(ModelportError):
    status = 409
    code = "conflict"


class RolloutInProgress(Conflict):
    """The endpoint has a live rollout; end it first (or force, which ends it)."""

    code = "rollout_in_progress"


class VersionArchived(Conflict):
    """An endpoint, rollout or alias would point at an archived version; unarchive it."""

    code = "version_archived"


class VersionInUse(Conflict):
    """The version is referenced by an endpoint, rollout or alias (``details.referrers``)."""

    code = "version_in_use"


class AlertExists(Conflict):
    """An alert rule of that name exists; replace it explicitly."""

    code = "alert_exists"


class NotifierExists(Conflict):
    """A notifier of that name exists; replace it explicitly."""

    code = "notifier_exists"


class NotReady(ModelportError):
    status = 503
    code = "not_ready"


class ArtifactError(ModelportError):
    status = 422
    code = "artifact_error"


class ArtifactIntegrityError(ArtifactError):
    status = 500
    code = "artifact_integrity"


class UntrustedTypes(ArtifactError):
    """A skops file holds types neither skops nor the operator trusts; ``details``
    lists them under ``types``."""

    code = "untrusted_types"


class UntrustedCode(ArtifactError):
    """A python predictor would run its code without the operator saying so."""

    code = "untrusted_code"


class UploadNotAllowed(Forbidden):
    """An HTTP upload that would run code: off by setting, and admin-token only."""

    code = "upload_not_allowed"


class ReferenceDataError(ModelportError):
    status = 422
    code = "reference_error"


class ProfileError(ReferenceDataError, ValueError):
    """The reference data cannot be profiled (empty, or does not match the schema)."""


class SmokeTestFailed(ModelportError):
    """A blue-green candidate failed on replayed requests before it went live."""

    status = 422
    code = "smoke_test_failed"


class PredictionFailed(ModelportError):
    status = 500
    code = "prediction_failed"


class StepFailed(ModelportError):
    """A step of a pipeline failed; ``details`` name the step and the request."""

    status = 500
    code = "step_failed"


class PipelineStepEndpoint(ModelportError):
    """A request sent straight to the endpoint that serves one step of a pipeline."""

    status = 409
    code = "pipeline_step"
