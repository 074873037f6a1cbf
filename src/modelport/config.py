"""Settings: ``modelport.toml`` in the working directory, overridden by environment.

Environment variables use the ``MODELPORT_`` prefix and ``__`` between levels, e.g.
``MODELPORT_STORE__URL=postgresql+psycopg://127.0.0.1/test``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from modelport.defaults import CONFIG_FILE, MAX_WORKERS
from modelport.errors import ConfigError


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Folder for the SQLite file, artifacts and the prediction log.
    home: Path = Path(".modelport")
    # Any SQLAlchemy URL; empty means SQLite at ``<home>/modelport.db``.
    url: str = ""


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # How often a server re-reads endpoint revisions (one small query) to pick up changes
    # made by another process; an alias move reaches every server within about this.
    policy_refresh_s: float = Field(default=0.25, gt=0)
    # Host header values accepted besides loopback names when bound to loopback
    # (DNS-rebinding guard); a non-loopback bind accepts its own host name too.
    allowed_hosts: list[str] = Field(default_factory=list)
    # Server processes answering on the one port (``modelport serve --workers``): 1 serves
    # in the command's own process; more start a supervisor that restarts a worker that
    # dies (docs/architecture.md, "Several workers").
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS)


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Concurrent requests are merged into one model call of at most this many rows.
    max_batch_size: int = Field(default=64, ge=1)
    # How long the first request of a batch may wait for company (0: only what is queued).
    max_batch_wait_ms: float = Field(default=0.0, ge=0)
    # Longest accepted string value of one input (UTF-8 bytes); longer ones get 422.
    max_string_bytes: int = Field(default=4096, ge=1)


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue_size: int = Field(default=100_000, ge=1)
    # Upper bound on what a SIGKILL can lose: records younger than this may be in memory only.
    flush_interval_s: float = Field(default=1.0, gt=0)
    max_batch_records: int = Field(default=50_000, ge=1)
    # Log days (and their labels) older than this are deleted, e.g. "90d"; empty keeps all.
    retention: str = Field(default="", pattern=r"^(\d+d)?$")
    # Memory compaction may use for the rows it merges at once (row groups are streamed).
    compaction_memory_mb: int = Field(default=256, ge=1)


class MonitoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The server bins every answered request into live windows and stores their drift,
    # quality and performance as time series (docs/monitoring.md).
    enabled: bool = True
    # Tumbling window of the live series: a duration (30s, 15m, 1h, 1d) aligned to the
    # epoch so every server process agrees, or a row count per process ("10000rows").
    window: str = Field(default="1h", pattern=r"^\d+(s|m|h|d|w|rows)$")
    # How often queued traffic is binned and the live window stored.
    interval_s: float = Field(default=5.0, gt=0)
    # What a window is compared with: the version's reference profile, or the window
    # before it (on the same bins).
    baseline: Literal["reference", "previous"] = "reference"
    # Materiality thresholds by statistic name, e.g. {psi = 0.1}: a feature drifts only
    # when its deciding statistic reaches this and its calibrated no-drift quantile.
    thresholds: dict[str, float] = Field(default_factory=dict)
    # The same per feature, over the ones above: {age = {psi = 0.3}}.
    feature_thresholds: dict[str, dict[str, float]] = Field(default_factory=dict)
    # Family-wise error level of the calibrated drift test over one window's columns,
    # and its correction across them (docs/statistics.md, "Default decision").
    drift_alpha: float = Field(default=0.05, gt=0, lt=1)
    drift_correction: Literal["bonferroni", "none"] = "bonferroni"
    # Concept-drift detectors run on the per-prediction error stream as labels arrive.
    detectors: list[str] = Field(default_factory=lambda: ["adwin", "ddm", "page_hinkley"])
    # A version registered without reference data is compared with a profile of its own
    # first logged rows.
    bootstrap_rows: int = Field(default=1000, ge=100)
    # Recent predictions kept in memory per process to match labels as they arrive.
    recent_predictions: int = Field(default=50_000, ge=0)
    # Merge each finished day's log segments into one file (fast reports).
    compact_log: bool = True


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Alert rules are evaluated by one server process per store at a time (docs/alerts.md).
    enabled: bool = True
    # How often every rule is evaluated against the newest figures.
    interval_s: float = Field(default=15.0, gt=0)
    # Service figures (request rate, error rate, latency quantiles) are taken over the
    # last this-many seconds of the prediction log.
    service_window_s: float = Field(default=300.0, gt=0)
    # Where notification links point, e.g. "https://modelport.example.com"; empty: the
    # server's own address.
    link_base: str = ""
    # Delivery: attempts per notification and the first wait between them (doubling).
    attempts: int = Field(default=4, ge=1)
    backoff_s: float = Field(default=1.0, ge=0)
    # Rules and notifiers declared here are stored at server start (the same fields as
    # ``modelport alerts add`` / ``modelport notifiers add``), e.g.
    # [[alerts.rules]] name = "churn-drift" endpoint = "churn" metric = "drift.psi" ...
    # [alerts.notifiers.ops] kind = "webhook" url = "https://..." format = "slack"
    rules: list[dict[str, Any]] = Field(default_factory=list)
    notifiers: dict[str, dict[str, Any]] = Field(default_factory=dict)


class BatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The only folder batch runs started over HTTP may read and write (paths in requests
    # are relative to it); empty: <store.home>/batch. The CLI reads any path it is given.
    root: Path | None = None
    # How long a stopping server lets running batch jobs finish their current chunk.
    stop_timeout_s: float = Field(default=30.0, gt=0)


class RetrainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Trainers (``module:function``, fnmatch patterns such as ``mypkg.train:*``) that a
    # retrain started over HTTP or by a stored policy may import and run. Empty (the
    # default): neither runs any; ``modelport retrain --trainer`` typed by the operator
    # on the command line needs no entry.
    trainers: list[str] = Field(default_factory=list)
    # How often a server checks retraining policies against their triggers.
    interval_s: float = Field(default=30.0, gt=0)
    # How long one training run in its worker process may take before it is stopped.
    timeout_s: float = Field(default=3600.0, gt=0)


Role = Literal["admin", "deployer", "reader", "client"]


class TokenSettings(BaseModel):
    """One named token: exactly one of ``token`` (plain), ``sha256`` (hex digest) or
    ``env`` (name of the environment variable holding it)."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    token: str = ""
    sha256: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    env: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> TokenSettings:
        if sum(1 for source in (self.token, self.sha256, self.env) if source) != 1:
            raise ValueError("set exactly one of token, sha256 or env")
        return self


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Named tokens: [auth.tokens.<name>] role = "deployer", sha256 = "..." (or env / token).
    tokens: dict[str, TokenSettings] = Field(default_factory=dict)
    # A TOML file holding more [tokens.<name>] tables, kept outside modelport.toml.
    tokens_file: Path | None = None
    # Older form: plain tokens, named admin-1.. / client-1.. in the audit trail.
    admin_tokens: list[str] = Field(default_factory=list)
    client_tokens: list[str] = Field(default_factory=list)
    # /metrics without a token even when tokens are configured.
    public_metrics: bool = False


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Accept pickle artifacts / python-flavor code over HTTP (admin token still needed).
    allow_pickle_upload: bool = False
    allow_code_upload: bool = False


class FeedbackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # A second label for a request: keep the earlier one in the label history, or refuse.
    overwrite: Literal["keep-history", "refuse"] = "keep-history"


FieldRule = Literal["keep", "hash", "drop", "redact"]


class PrivacySettings(BaseModel):
    """What reaches the prediction log, per feature; endpoint rules win over model rules.

    [privacy.models.<model>] email = "hash"; [privacy.endpoints.<endpoint>] ssn = "drop".
    ``hash`` is HMAC-SHA256 keyed with the secret in the environment variable ``secret_env``.
    """

    model_config = ConfigDict(extra="forbid")
    models: dict[str, dict[str, FieldRule]] = Field(default_factory=dict)
    endpoints: dict[str, dict[str, FieldRule]] = Field(default_factory=dict)
    secret_env: str = "MODELPORT_HASH_SECRET"


class Settings(BaseSettings):
    """All settings; ``Settings.load()`` is the one way to read them."""

    model_config = SettingsConfigDict(
        env_prefix="MODELPORT_", env_nested_delimiter="__", extra="forbid"
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)

    _toml_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("MODELPORT_CONFIG", CONFIG_FILE)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Read settings, turning any mistake into one ConfigError naming the field."""
        previous = os.environ.get("MODELPORT_CONFIG")
        # A file named explicitly (argument or MODELPORT_CONFIG) must exist; only the
        # default modelport.toml may be absent.
        explicit = config_file if config_file is not None else previous
        if explicit is not None and not Path(explicit).is_file():
            raise ConfigError(f"config file {explicit} does not exist", field="config")
        try:
            if config_file is not None:
                os.environ["MODELPORT_CONFIG"] = str(config_file)
            settings = cls(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"invalid setting {where}: {first['msg']}", field=where) from exc
        except ValueError as exc:  # TOML syntax errors surface as ValueError subclasses
            source = explicit if explicit is not None else CONFIG_FILE
            raise ConfigError(f"cannot read config {source}: {exc}", field="config") from exc
        finally:
            if config_file is not None:
                if previous is None:
                    os.environ.pop("MODELPORT_CONFIG", None)
                else:
                    os.environ["MODELPORT_CONFIG"] = previous
        return settings

    @property
    def home(self) -> Path:
        return self.store.home

    @property
    def database_url(self) -> str:
        if self.store.url:
            return self.store.url
        return f"sqlite:///{self.store.home / 'modelport.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.store.home / "artifacts"

    @property
    def log_dir(self) -> Path:
        return self.store.home / "logs"

    @property
    def batch_root(self) -> Path:
        return self.batch.root if self.batch.root is not None else self.store.home / "batch"


DEFAULT_TOML = """\
# modelport settings; every key can be overridden by MODELPORT_<SECTION>__<KEY>.
[store]
home = ".modelport"
# url = "postgresql+psycopg://127.0.0.1:5432/test"   # default: SQLite in <home>

[server]
host = "127.0.0.1"
port = 8000

[serving]
max_batch_size = 64
max_batch_wait_ms = 0.0

[log]
queue_size = 100000
flush_interval_s = 1.0

# No token: the server is open and binds loopback only. Give tokens names and roles
# (admin, deployer, reader, client), never only in plain text here (docs/security.md).
[auth]
admin_tokens = []
client_tokens = []
# [auth.tokens.ops]
# role = "admin"
# env = "MODELPORT_OPS_TOKEN"      # or sha256 = "<hex digest>"; or auth.tokens_file

[monitoring]
window = "1h"          # live drift/quality/performance series: 15m, 1h, 1d or "10000rows"
baseline = "reference" # or "previous": each window against the one before

[alerts]
interval_s = 15.0      # evaluate every rule this often (one server per store does)
# [[alerts.rules]]
# name = "churn-drift"
# endpoint = "churn"
# metric = "drift.psi"
# feature = "tenure"
# above = 0.2
# for = "15m"
# [alerts.notifiers.ops]
# kind = "webhook"      # or "alertmanager", "log"
# url = "https://hooks.example.com/modelport"
# format = "json"       # or "slack"

# Retraining started over HTTP or by a stored policy runs only these trainers
# (module:function, patterns allowed); none by default.
[retrain]
trainers = []          # e.g. ["mypkg.train:*"]
"""
