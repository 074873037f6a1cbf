"""Alert rules: which figure, for what scope, against which threshold.

A rule arrives as a dict (from the CLI, the HTTP API or ``modelport.toml``) and is parsed
once by :func:`parse_rule`; every mistake is a :class:`ValidationFailed` naming its field,
so nothing half-valid is ever stored.

>>> rule = parse_rule({"name": "churn-drift", "endpoint": "churn", "metric": "drift.psi",
...                    "feature": "tenure", "above": 0.2, "for": "15m"})
>>> rule.for_s, rule.threshold
(900.0, Static(above=0.2, below=None, resolve_at=None))
>>> parse_rule({"name": "x", "endpoint": "churn", "metric": "drift.nope", "above": 1})
Traceback (most recent call last):
...
modelport.errors.ValidationFailed: metric 'drift.nope' is not known; ...
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from modelport.alerts.thresholds import Adaptive, Static, Threshold, threshold_from_dict
from modelport.errors import ValidationFailed
from modelport.monitoring.stats.registry import REGISTRY
from modelport.names import check_name
from modelport.vocabulary import Role, parse_duration

Severity = Literal["info", "warning", "critical"]
Family = Literal["service", "input", "output", "performance", "detector", "rollout"]
ANY_FEATURE = "*"
# Fixed paths under /v1/alerts/ that a rule name would be shadowed by.
RESERVED_NAMES = frozenset({"active", "history"})


@dataclass(frozen=True)
class MetricInfo:
    """One figure a rule can watch; ``per_feature`` metrics are scoped by feature."""

    name: str
    family: Family
    per_feature: bool = False
    description: str = ""


def _catalogue() -> dict[str, MetricInfo]:
    metrics = [
        MetricInfo("requests.rate", "service", description="requests per second"),
        MetricInfo("errors.rate", "service", description="share of requests that failed"),
        MetricInfo("latency.p50_ms", "service", description="median latency"),
        MetricInfo("latency.p95_ms", "service", description="95th percentile latency"),
        MetricInfo("latency.p99_ms", "service", description="99th percentile latency"),
        MetricInfo("log.dropped", "service", description="log writes dropped or failed"),
        MetricInfo("drift.decision", "input", True, "1 when the feature drifted, else 0"),
        MetricInfo("quality.missing_rate", "input", True, "share of missing values"),
        MetricInfo("quality.out_of_range_rate", "input", True, "share outside the range"),
        MetricInfo("quality.unseen_categories", "input", True, "categories never seen"),
        MetricInfo("quality.schema_violations", "input", description="rejected requests"),
        MetricInfo("output.class_share", "output", True, "share of a class; feature names it"),
        MetricInfo("performance.accuracy", "performance"),
        MetricInfo("performance.f1", "performance"),
        MetricInfo("performance.log_loss", "performance"),
        MetricInfo("performance.mae", "performance"),
        MetricInfo("detector.events", "detector", description="concept-drift detections"),
        MetricInfo("rollout.rolled_back", "rollout", description="1 once a rollback happened"),
        MetricInfo("rollout.waiting_s", "rollout", description="seconds a rollout has waited"),
    ]
    for statistic in REGISTRY:
        metrics.append(MetricInfo(f"drift.{statistic}", "input", True, f"{statistic} drift"))
        metrics.append(
            MetricInfo(f"prediction_drift.{statistic}", "output", description=f"{statistic}")
        )
    return {metric.name: metric for metric in metrics}


METRICS: Mapping[str, MetricInfo] = _catalogue()


@dataclass(frozen=True)
class Rule:
    """A validated alert rule; build it with :func:`parse_rule`."""

    name: str
    endpoint: str
    metric: str
    threshold: Threshold
    feature: str | None = None
    version: str | None = None
    role: Role | None = None
    for_s: float = 0.0
    severity: Severity = "warning"
    min_samples: int = 0

    @property
    def info(self) -> MetricInfo:
        return METRICS[self.metric]

    def label_sets(self, features: Collection[str] = ()) -> list[dict[str, str]]:
        """One label set per alert this rule can raise: a rule on any feature
        (``"*"``) fans out over ``features``."""
        base = {"endpoint": self.endpoint}
        if self.version is not None:
            base["version"] = self.version
        if self.role is not None:
            base["role"] = str(self.role)
        if self.feature is None:
            return [base]
        if self.feature != ANY_FEATURE:
            return [{**base, "feature": self.feature}]
        return [{**base, "feature": feature} for feature in sorted(features)]

    def check_scope(self, *, endpoints: Collection[str], features: Collection[str]) -> None:
        """Refuse an endpoint or feature that does not exist (the caller knows them)."""
        if self.endpoint not in endpoints:
            raise ValidationFailed(f"endpoint {self.endpoint!r} does not exist", field="endpoint")
        if self.feature not in (None, ANY_FEATURE) and self.feature not in features:
            known = ", ".join(sorted(features)) or "none"
            raise ValidationFailed(
                f"feature {self.feature!r} is not in the schema of {self.endpoint!r}; "
                f"known: {known}",
                field="feature",
            )

    def to_dict(self) -> dict[str, Any]:
        """The stored form; :func:`rule_from_dict` reads it back."""
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "metric": self.metric,
            "threshold": self.threshold.to_dict(),
            "feature": self.feature,
            "version": self.version,
            "role": None if self.role is None else str(self.role),
            "for_s": self.for_s,
            "severity": self.severity,
            "min_samples": self.min_samples,
        }


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """A rule from :meth:`Rule.to_dict` (already validated when it was stored)."""
    role = data.get("role")
    return Rule(
        name=data["name"],
        endpoint=data["endpoint"],
        metric=data["metric"],
        threshold=threshold_from_dict(dict(data["threshold"])),
        feature=data.get("feature"),
        version=data.get("version"),
        role=None if role is None else Role(role),
        for_s=float(data.get("for_s", 0.0)),
        severity=data.get("severity", "warning"),
        min_samples=int(data.get("min_samples", 0)),
    )


FIELDS = frozenset(
    {
        "name", "endpoint", "metric", "feature", "version", "role", "above", "below",
        "adaptive", "sigma", "adapt_rate", "floor", "ceiling", "seasonal", "direction",
        "warmup", "resolve_at", "resolve_sigma", "for", "severity", "min_samples",
    }
)  # fmt: skip
_ADAPTIVE_ONLY = ("sigma", "adapt_rate", "floor", "ceiling", "seasonal", "direction",
                  "warmup", "resolve_sigma")  # fmt: skip


def parse_rule(data: Mapping[str, Any]) -> Rule:
    """A :class:`Rule` from user input, or :class:`ValidationFailed` naming the field.

    Keys: ``name endpoint metric`` (required), ``feature version role``, either
    ``above``/``below`` (with ``resolve_at``) or ``adaptive: true`` (with ``sigma
    adapt_rate floor ceiling seasonal direction warmup resolve_sigma``), ``for``,
    ``severity``, ``min_samples``. ``None`` values count as absent."""
    given = {key: value for key, value in data.items() if value is not None}
    for key in given:
        if key not in FIELDS:
            raise ValidationFailed(f"{key!r} is not a rule setting", field=str(key))
    name = check_name("alert", _required(given, "name"), field="name")
    if name in RESERVED_NAMES:
        raise ValidationFailed(
            f"{name!r} is reserved: /v1/alerts/{name} is a fixed path; choose another name",
            field="name",
        )
    endpoint = check_name("endpoint", _required(given, "endpoint"), field="endpoint")
    metric = _metric(_required(given, "metric"))
    feature = _feature(given.get("feature"), METRICS[metric])
    version = given.get("version")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise ValidationFailed("version must be a non-empty string", field="version")
    for_s = 0.0 if given.get("for") in (None, 0, "0") else parse_duration(given["for"], field="for")
    return Rule(
        name=name,
        endpoint=endpoint,
        metric=metric,
        threshold=_threshold(given),
        feature=feature,
        version=version,
        role=_role(given.get("role")),
        for_s=for_s,
        severity=_severity(given.get("severity", "warning")),
        min_samples=_min_samples(given.get("min_samples", 0)),
    )


def _required(given: Mapping[str, Any], key: str) -> Any:
    if key not in given:
        raise ValidationFailed(f"{key} is required", field=key)
    return given[key]


def _metric(value: object) -> str:
    if not isinstance(value, str) or value not in METRICS:
        families = sorted({info.name.split(".")[0] + ".*" for info in METRICS.values()})
        raise ValidationFailed(
            f"metric {value!r} is not known; metrics are {', '.join(families)} "
            f"(see modelport.alerts.rules.METRICS)",
            field="metric",
        )
    return value


def _feature(value: object, info: MetricInfo) -> str | None:
    if value is None:
        return ANY_FEATURE if info.per_feature else None
    if not info.per_feature:
        raise ValidationFailed(f"metric {info.name!r} is not per feature", field="feature")
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("feature must be a feature name or '*'", field="feature")
    return value


def _role(value: object) -> Role | None:
    if value is None:
        return None
    try:
        return Role(str(value))
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise ValidationFailed(f"role {value!r} is not one of {known}", field="role") from None


def _severity(value: object) -> Severity:
    known: tuple[Severity, ...] = get_args(Severity)
    for severity in known:
        if value == severity:
            return severity
    raise ValidationFailed(f"severity must be one of {', '.join(known)}", field="severity")


def _min_samples(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed("min_samples must be a whole number >= 0", field="min_samples")
    return value


def _number(given: Mapping[str, Any], key: str) -> float | None:
    value = given.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValidationFailed(f"{key} must be a number, got {value!r}", field=key) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(f"{key} must be a finite number, got {value!r}", field=key)
    return float(value)


def _threshold(given: Mapping[str, Any]) -> Threshold:
    adaptive = given.get("adaptive", False)
    if not isinstance(adaptive, bool):
        raise ValidationFailed("adaptive must be true or false", field="adaptive")
    above, below = _number(given, "above"), _number(given, "below")
    resolve_at = _number(given, "resolve_at")
    if adaptive:
        for key, value in (("above", above), ("below", below), ("resolve_at", resolve_at)):
            if value is not None:
                raise ValidationFailed(
                    f"an adaptive rule learns its threshold: drop {key} "
                    "(use floor, ceiling or resolve_sigma)",
                    field=key,
                )
        return _adaptive(given)
    for key in _ADAPTIVE_ONLY:
        if key in given:
            raise ValidationFailed(f"{key} applies only to adaptive rules", field=key)
    if above is None and below is None:
        raise ValidationFailed("give above, below or adaptive", field="above")
    if above is not None and below is not None and below >= above:
        raise ValidationFailed(
            f"below ({below}) must be less than above ({above}), or the rule always fires",
            field="below",
        )
    if resolve_at is not None:
        _check_resolve_at(above, below, resolve_at)
    return Static(above=above, below=below, resolve_at=resolve_at)


def _check_resolve_at(above: float | None, below: float | None, resolve_at: float) -> None:
    if above is not None and below is not None:
        raise ValidationFailed(
            "resolve_at needs a single limit: give above or below, not both", field="resolve_at"
        )
    if above is not None and resolve_at > above:
        raise ValidationFailed(
            f"resolve_at ({resolve_at}) must be at or under above ({above})", field="resolve_at"
        )
    if below is not None and resolve_at < below:
        raise ValidationFailed(
            f"resolve_at ({resolve_at}) must be at or over below ({below})", field="resolve_at"
        )


def _adaptive(given: Mapping[str, Any]) -> Adaptive:
    defaults = Adaptive()
    sigma = _number(given, "sigma")
    sigma = defaults.sigma if sigma is None else sigma
    if sigma <= 0:
        raise ValidationFailed("sigma must be greater than 0", field="sigma")
    rate = _number(given, "adapt_rate")
    rate = defaults.adapt_rate if rate is None else rate
    if not 0 < rate <= 1:
        raise ValidationFailed("adapt_rate must be in (0, 1]", field="adapt_rate")
    floor, ceiling = _number(given, "floor"), _number(given, "ceiling")
    if floor is not None and ceiling is not None and ceiling < floor:
        raise ValidationFailed(
            f"ceiling ({ceiling}) must not be below floor ({floor})", field="ceiling"
        )
    resolve_sigma = _number(given, "resolve_sigma")
    if resolve_sigma is not None and not 0 < resolve_sigma <= sigma:
        raise ValidationFailed(
            f"resolve_sigma must be in (0, sigma={sigma}]", field="resolve_sigma"
        )
    seasonal = given.get("seasonal", False)
    if not isinstance(seasonal, bool):
        raise ValidationFailed("seasonal must be true or false", field="seasonal")
    direction = given.get("direction", "both")
    if direction not in ("above", "below", "both"):
        raise ValidationFailed("direction must be above, below or both", field="direction")
    warmup = given.get("warmup", defaults.warmup)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 2:
        raise ValidationFailed("warmup must be a whole number >= 2", field="warmup")
    return Adaptive(
        sigma=sigma,
        adapt_rate=rate,
        floor=floor,
        ceiling=ceiling,
        seasonal=seasonal,
        direction=direction,
        warmup=warmup,
        resolve_sigma=resolve_sigma,
    )


__all__ = [
    "ANY_FEATURE",
    "METRICS",
    "MetricInfo",
    "Rule",
    "Severity",
    "parse_rule",
    "rule_from_dict",
]
