"""ORM tables of the control plane. Every change to them ships an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite keeps no zone: it would store an aware value's wall-clock time and hand back
    naive datetimes, while PostgreSQL answers aware ones. Values are converted to UTC on
    the way in (naive ones are taken as UTC) and come back aware, whatever the backend.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    versions: Mapped[list[VersionRow]] = relationship(
        back_populates="model", order_by="VersionRow.version"
    )
    aliases: Mapped[list[AliasRow]] = relationship(
        back_populates="model", order_by="AliasRow.alias"
    )


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    flavor: Mapped[str] = mapped_column(String(32))
    # Path of the artifact inside the content-addressed store, relative to artifacts dir.
    artifact_path: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    # Flavor-specific loading details (entry point of a python predictor, trust_pickle, ...).
    loader: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Compact reference profile (kilobytes) and the path of the capped reference sample.
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reference_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    reference_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Where the version came from (``registry/lineage.Lineage``): parent, trainer, data
    # window, counts, fingerprint and holdout metrics; NULL when nobody recorded any.
    lineage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Set while the version is archived: no endpoint, rollout or alias may point at it.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    archived_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The ONNX fast path of a scikit-learn version (``registry/fast_path.py``): the
    # agreement check's outcome, the converted artifact and the user's on/off switch;
    # NULL when no check was ever run.
    fast_path: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    model: Mapped[ModelRow] = relationship(back_populates="versions")


class AliasRow(Base):
    """A named pointer (``churn@champion``) at one version of a model; moved atomically."""

    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("model_id", "alias", name="uq_model_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    alias: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="cli")
    model: Mapped[ModelRow] = relationship(back_populates="aliases")


class EndpointRow(Base):
    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    model_name: Mapped[str] = mapped_column(String(200))
    primary_version: Mapped[int] = mapped_column(Integer)
    # Traffic policy beyond the primary (shadow, canary, blue-green); {} means primary only.
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The alias of ``model_name`` the endpoint follows (moving it moves the primary), or NULL.
    alias: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # A pipeline endpoint's steps (``pipelines/spec.py``; each served by its own endpoint);
    # NULL for an endpoint that serves one model.
    pipeline: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The pipeline a step endpoint serves a step of, or NULL.
    part_of: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    # Bumped by every change; servers compare it to pick changes up, writers use it to
    # detect a concurrent change (409).
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditRow(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200), default="cli")
    subject: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    request_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Position of the instance inside a multi-instance request.
    row: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    # The label as JSON text (any JSON scalar) and, when numeric, as a number too.
    label: Mapped[str] = mapped_column(Text)
    label_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The endpoint whose answer the label is, part of the key: the steps of a pipeline
    # share a request id and each may hold its own label for the same row. "" while it
    # is not known (the request was not indexed yet); reads give "" back as None.
    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True, default="", index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Who gave the label (the token's name; "anonymous" on an open server, "cli").
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)


class FeedbackHistoryRow(Base):
    """A label that a later one replaced: its value, when and by whom it was given, and
    who replaced it when (``feedback.overwrite = "keep-history"``)."""

    __tablename__ = "feedback_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), index=True)
    row: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(Text)
    label_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    endpoint: Mapped[str | None] = mapped_column(String(200), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    replaced_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class RequestIndexRow(Base):
    """Which endpoint and version answered a logged request, so a label finds its
    prediction by one key lookup instead of a scan of the log (``predlog/index.py``)."""

    __tablename__ = "request_index"
    __table_args__ = (Index("ix_request_index_endpoint_logged_at", "endpoint", "logged_at"),)

    request_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    # Rows (instances) the request had.
    rows: Mapped[int] = mapped_column(Integer, default=1)
    # When the request arrived (the ``ts`` of its logged rows).
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RolloutRow(Base):
    """One rollout of a candidate version on an endpoint: a persisted state machine."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    # The endpoint's name while the rollout is active or paused, NULL once it ended: the
    # unique constraint makes a second live rollout on one endpoint impossible (409).
    active_endpoint: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    model_name: Mapped[str] = mapped_column(String(200))
    candidate_version: Mapped[int] = mapped_column(Integer)
    # The primary when the rollout started: what the candidate is compared with.
    baseline_version: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The validated RolloutSpec (steps, gates, thresholds) it was started with.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Latest analysis (verdict per gate with its numbers) and why the rollout waits.
    verdicts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    # Bumped by every transition; a writer holding an older one loses with 409.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RolloutEventRow(Base):
    """Audit trail of a rollout: every transition with who, why and the evidence."""

    __tablename__ = "rollout_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RolloutAnalysisRow(Base):
    """One analysis round of a rollout: every gate's estimate and always-valid interval
    against its bound, so a chart can draw the evidence as it built up. Rounds are kept
    sparser as a rollout ages (``rollout.controller.RECORD_EVERY_S``)."""

    __tablename__ = "rollout_analyses"
    __table_args__ = (Index("ix_rollout_analyses_rollout_at", "rollout_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    phase: Mapped[str] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    # Requests of the step's window the round read.
    requests: Mapped[int] = mapped_column(Integer)
    # ``Verdict.point()`` of every gate.
    gates: Mapped[list[Any]] = mapped_column(JSON, default=list)


class MonitoringPointRow(Base):
    """One statistic of one window: the monitoring time series (drift, quality, performance).

    ``version`` 0 means every version of the endpoint; ``feature`` is a feature name,
    ``__prediction__``, ``__proba__<class>``, ``__dataset__`` or ``__performance__``.
    """

    __tablename__ = "monitoring_points"
    __table_args__ = (
        UniqueConstraint(
            "endpoint",
            "version",
            "window",
            "window_start",
            "feature",
            "statistic",
            name="uq_monitoring_point",
        ),
        # Covers the dashboard's reads (one statistic of every feature over a month of a
        # version's windows): answered from the index alone, never row by row.
        Index(
            "ix_monitoring_points_series",
            "endpoint",
            "version",
            "window",
            "statistic",
            "window_start",
            "feature",
            "status",
            "value",
            "threshold",
            "drifted",
            "rows",
            "window_end",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The window's size as configured ("1h", "10000rows").
    window: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    feature: Mapped[str] = mapped_column(String(300))
    statistic: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="ok")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    drifted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    # What the window was compared with ("reference", "previous", "bootstrap").
    baseline: Mapped[str] = mapped_column(String(64), default="reference")
    # False while the window is still open (its figures may change).
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitoringStateRow(Base):
    """One server process's mergeable counts for one live window (JSON)."""

    __tablename__ = "monitoring_states"
    __table_args__ = (
        UniqueConstraint(
            "endpoint", "version", "window", "window_start", "process", name="uq_monitoring_state"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    window: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    process: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitoringEventRow(Base):
    """A concept-drift detector fired: on which prediction, and when its label arrived."""

    __tablename__ = "monitoring_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    detector: Mapped[str] = mapped_column(String(64))
    # Position in the process's stream of labelled predictions (0-based).
    position: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(200))
    row: Mapped[int] = mapped_column(Integer, default=0)
    predicted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    label_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    process: Mapped[str] = mapped_column(String(200))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class MonitoringBaselineRow(Base):
    """The profile of a version's own first logged rows, for versions without reference data."""

    __tablename__ = "monitoring_baselines"
    __table_args__ = (UniqueConstraint("endpoint", "version", name="uq_monitoring_baseline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoreLockRow(Base):
    """A named lease: background work that must run in one process per store at a time
    (log compaction) holds it until ``expires_at``; an expired lease may be taken over."""

    __tablename__ = "store_locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertRuleRow(Base):
    """An alert rule (``Rule.to_dict()``), declared over the API/CLI or in the config."""

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    # "api" (CLI or HTTP) or "config" (modelport.toml, stored at server start).
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertStateRow(Base):
    """One alert (a rule and one label set): ``Alert.to_dict()``."""

    __tablename__ = "alert_states"

    # ``alert_key(rule, labels)``: the rule's name and its labels in a stable order.
    key: Mapped[str] = mapped_column(String(700), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200), index=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    alert: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertHistoryRow(Base):
    """What happened to alerts: transitions, deliveries, silences, acknowledgements and
    rule changes. Kept when a rule is deleted."""

    __tablename__ = "alert_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(200), index=True)
    key: Mapped[str | None] = mapped_column(String(700), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # transition, delivery, silence, ack, rule-added, rule-deleted
    kind: Mapped[str] = mapped_column(String(32))
    # Set on deliveries: which notifier, so delivery counts need no JSON query.
    notifier: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    delivered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertSilenceRow(Base):
    """No notifications for a rule (or the alerts whose labels include ``labels``) until
    ``until``."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(200), index=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(200), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertPointRow(Base):
    """The value and the band in force at one evaluation of one alert (bounded per alert),
    so a chart can draw an adaptive band as it moves."""

    __tablename__ = "alert_points"
    __table_args__ = (Index("ix_alert_points_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(700))
    rule: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[float] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper: Mapped[float | None] = mapped_column(Float, nullable=True)


class NotifierRow(Base):
    """A receiver of alert notifications: webhook, alertmanager or log."""

    __tablename__ = "notifiers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RetrainPolicyRow(Base):
    """An endpoint's retraining policy: which trainer runs when which alert fires, and
    the limits (cooldown, new labels, attempts per firing) that hold it back."""

    __tablename__ = "retrain_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200), unique=True)
    trainer: Mapped[str] = mapped_column(String(400))
    on_alert: Mapped[str] = mapped_column(String(200))
    cooldown_s: Mapped[float] = mapped_column(Float)
    min_labels: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    # What each retrain is asked beyond the trainer: since (seconds), holdout, split.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="cli")


class RetrainEventRow(Base):
    """One decision of a retraining policy: started, trained, failed, skipped (and why),
    promoted or rolled back. Kept when the policy is replaced or disabled."""

    __tablename__ = "retrain_events"
    __table_args__ = (Index("ix_retrain_events_endpoint_id", "endpoint", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    policy_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decision: Mapped[str] = mapped_column(String(32))
    # A skip's stable cause (cooldown, labels, attempts, ...), so one is recorded once.
    cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    job: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rollout_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the alert's current firing began: attempts are counted per firing.
    firing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
