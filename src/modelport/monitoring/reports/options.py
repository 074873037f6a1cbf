"""What a user may ask of a report, validated once for the CLI and the HTTP API alike, so
``modelport monitor report`` and ``GET /v1/endpoints/{name}/monitoring`` given the same
options build the very same :class:`~modelport.monitoring.reports.service.ReportRequest`.

``sections`` is a comma-separated list (or a list) of ``drift``, ``prediction``,
``quality``, ``performance``, ``concept`` (all five by default) and ``multivariate``
(only when asked for).

>>> request = report_request(window="1h", thresholds=["psi=0.25"], sections="drift,quality")
>>> request.window.label, dict(request.drift.thresholds), request.sections
('1h', {'psi': 0.25}, ('drift', 'quality'))

A threshold may name one feature, ``age:psi=0.3``; it overrides the one by statistic for
that feature only (``monitoring.feature_thresholds`` in the settings does the same).

>>> report_request(thresholds=["psi=0.1,age:psi=0.3"]).drift.thresholds_for("age")
{'psi': 0.3}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from modelport.config import MonitoringSettings
from modelport.errors import ValidationFailed
from modelport.monitoring.reports.service import DEFAULT_DETECTORS, SECTIONS, ReportRequest
from modelport.monitoring.stats import DEFAULT_DECISION, REGISTRY
from modelport.monitoring.stats.histogram import Kind
from modelport.monitoring.stats.settings import DriftSettings
from modelport.predlog.reader import WindowSpec
from modelport.vocabulary import SERVED_ROLES, Role

ALL_ROLES = "all"
ROLES: tuple[str, ...] = tuple(Role)


def parse_thresholds(items: Iterable[str] | Mapping[str, float] | None) -> dict[str, float]:
    """``["psi=0.25", "ks=0.01"]`` (or a mapping) as ``{"psi": 0.25, "ks": 0.01}``."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): float(v) for k, v in items.items()}
    found: dict[str, float] = {}
    for item in items:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            try:
                if not sep:
                    raise ValueError
                found[name.strip()] = float(value)
            except ValueError:
                raise ValidationFailed(
                    f"threshold must look like psi=0.25, got {part!r}", field="threshold"
                ) from None
    return found


def split_thresholds(
    limits: Mapping[str, float],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``{"psi": 0.1, "age:psi": 0.3}`` as by statistic and per feature.

    >>> split_thresholds({"psi": 0.1, "age:psi": 0.3})
    ({'psi': 0.1}, {'age': {'psi': 0.3}})
    """
    by_stat: dict[str, float] = {}
    by_feature: dict[str, dict[str, float]] = {}
    for key, value in limits.items():
        feature, sep, stat = key.rpartition(":")
        if sep and not feature:
            raise ValidationFailed(
                f"threshold must look like psi=0.25 or age:psi=0.3, got {key}={value}",
                field="threshold",
            )
        if sep:
            by_feature.setdefault(feature.strip(), {})[stat.strip()] = value
        else:
            by_stat[stat.strip()] = value
    return by_stat, by_feature


def parse_decision(items: Iterable[str] | Mapping[str, str] | None) -> dict[Kind, str]:
    """``["numeric=wasserstein"]`` as the deciding statistic per feature kind."""
    decision: dict[Kind, str] = dict(DEFAULT_DECISION)
    if items is None:
        return decision
    pairs = (
        items.items()
        if isinstance(items, Mapping)
        else (part.partition("=")[::2] for item in items for part in item.split(","))
    )
    for kind, name in pairs:
        kind, name = kind.strip(), name.strip()
        if kind not in ("numeric", "categorical") or not name:
            raise ValidationFailed(
                f"decision must look like numeric=wasserstein or categorical=psi, got "
                f"{kind}={name}",
                field="decision",
            )
        spec = REGISTRY.get(name)
        if spec is None or kind not in spec.kinds:
            usable = ", ".join(n for n, s in REGISTRY.items() if kind in s.kinds)
            raise ValidationFailed(
                f"{name!r} cannot decide {kind} drift; use one of {usable}", field="decision"
            )
        decision[kind] = name
    return decision


def parse_roles(roles: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Default: the rows that answered (primary, canary); ``all`` for every role."""
    if roles is None or roles == [] or roles == "":
        return SERVED_ROLES
    items = [r.strip() for r in (roles.split(",") if isinstance(roles, str) else roles)]
    if ALL_ROLES in items:
        return None
    unknown = [r for r in items if r not in ROLES]
    if unknown:
        raise ValidationFailed(
            f"unknown role {unknown[0]!r}; roles: {', '.join(ROLES)} or all",
            field="role",
        )
    return tuple(items)


def report_request(
    *,
    window: str | None = None,
    since: str | None = None,
    until: str | None = None,
    last: int | None = None,
    version: int | None = None,
    baseline: str | None = None,
    roles: Sequence[str] | str | None = None,
    sections: Sequence[str] | str | None = None,
    slice_by: str | None = None,
    thresholds: Iterable[str] | Mapping[str, float] | None = None,
    decision: Iterable[str] | Mapping[str, str] | None = None,
    settings: MonitoringSettings | None = None,
) -> ReportRequest:
    settings = settings or MonitoringSettings()
    if version is not None and version < 1:
        raise ValidationFailed("version must be a positive integer", field="version")
    chosen = sections or SECTIONS
    if isinstance(chosen, str):
        chosen = [s.strip() for s in chosen.split(",") if s.strip()]
    by_stat, by_feature = split_thresholds(parse_thresholds(thresholds))
    features = {
        name: {**settings.feature_thresholds.get(name, {}), **limits}
        for name, limits in {**settings.feature_thresholds, **by_feature}.items()
    }
    try:
        drift = DriftSettings(
            decision=parse_decision(decision),
            thresholds={**settings.thresholds, **by_stat},
            features=features,
            alpha=settings.drift_alpha,
            correction=settings.drift_correction,
        )
    except ValidationFailed:
        raise
    except Exception as exc:  # an unknown statistic name is a ConfigError
        raise ValidationFailed(str(getattr(exc, "message", exc)), field="threshold") from None
    return ReportRequest(
        window=WindowSpec.of(window=window, since=since, until=until, last=last),
        version=version,
        roles=parse_roles(roles),
        baseline=(baseline or "auto").strip(),
        sections=tuple(chosen),
        slice=slice_by or None,
        detectors=tuple(settings.detectors) or DEFAULT_DETECTORS,
        drift=drift,
    )
