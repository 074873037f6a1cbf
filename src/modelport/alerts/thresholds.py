"""Thresholds an alert rule compares a value to: static, or learned from the series.

``Static`` fires above ``above`` or below ``below``. ``Adaptive`` learns the metric's own
baseline (an exponentially weighted mean and deviation, West 1979 / Finch 2009: ``mean +=
rate * diff``; ``var = (1 - rate) * (var + diff * rate * diff)``) and fires outside
``mean ± sigma * deviation``. The band moves at ``adapt_rate`` per observation, never
leaves ``[floor, ceiling]``, and the caller decides whether an observation is learned (the
lifecycle does not learn while an alert is pending, firing or silenced).

Every evaluation returns the value *and* the band in force, so a chart can draw it:

>>> rule = Adaptive(sigma=3, adapt_rate=0.1, warmup=3)
>>> state = AdaptiveState()
>>> for value in (10.0, 11.0, 9.0, 10.0):
...     state = learn(rule, state, value, hour_of_week=0)
>>> band = adaptive_band(rule, state, hour_of_week=0)
>>> round(band.lower or 0, 2), round(band.upper or 0, 2), band.breached_by(20.0)
(7.88, 12.12, 'above')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

Direction = Literal["above", "below", "both"]
HOURS_PER_WEEK = 168
# A constant series has no deviation; the band keeps this share of the mean as spread
# so a change in the last digit does not fire.
MIN_RELATIVE_SPREAD = 1e-3


@dataclass(frozen=True)
class Band:
    """The threshold in force: a value above ``upper`` or below ``lower`` breaches it."""

    lower: float | None = None
    upper: float | None = None

    def breached_by(self, value: float) -> Literal["above", "below"] | None:
        if self.upper is not None and value > self.upper:
            return "above"
        if self.lower is not None and value < self.lower:
            return "below"
        return None

    def to_dict(self) -> dict[str, float | None]:
        return {"lower": self.lower, "upper": self.upper}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Band:
        return cls(lower=data.get("lower"), upper=data.get("upper"))


@dataclass(frozen=True)
class Static:
    """Fixed limits; ``resolve_at`` is the level a firing alert must get back past
    (hysteresis), by default the limit itself."""

    above: float | None = None
    below: float | None = None
    resolve_at: float | None = None

    def band(self) -> Band:
        return Band(lower=self.below, upper=self.above)

    def resolve_band(self) -> Band:
        """Inside this band a firing alert resolves."""
        if self.resolve_at is None:
            return self.band()
        if self.above is not None:
            return Band(lower=self.below, upper=self.resolve_at)
        return Band(lower=self.resolve_at, upper=None)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "static", "above": self.above, "below": self.below,
                "resolve_at": self.resolve_at}  # fmt: skip


@dataclass(frozen=True)
class Adaptive:
    """A band of ``sigma`` deviations around the learned mean; a firing alert resolves
    once back inside ``resolve_sigma`` deviations (by default ``sigma``)."""

    sigma: float = 3.0
    adapt_rate: float = 0.05
    floor: float | None = None
    ceiling: float | None = None
    seasonal: bool = False
    direction: Direction = "both"
    warmup: int = 10
    resolve_sigma: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "adaptive",
            "sigma": self.sigma,
            "adapt_rate": self.adapt_rate,
            "floor": self.floor,
            "ceiling": self.ceiling,
            "seasonal": self.seasonal,
            "direction": self.direction,
            "warmup": self.warmup,
            "resolve_sigma": self.resolve_sigma,
        }


Threshold = Static | Adaptive


def threshold_from_dict(data: dict[str, Any]) -> Threshold:
    """The inverse of ``to_dict`` (for stored rules, already validated)."""
    fields = {key: value for key, value in data.items() if key != "kind"}
    if data.get("kind") == "adaptive":
        return Adaptive(**fields)
    return Static(**fields)


@dataclass(frozen=True)
class Baseline:
    """An exponentially weighted mean and variance over ``count`` learned values."""

    mean: float = 0.0
    variance: float = 0.0
    count: int = 0

    @property
    def deviation(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def update(self, value: float, adapt_rate: float) -> Baseline:
        # Until 1/count falls below adapt_rate this is the plain running mean and
        # variance, so the first value does not dominate the baseline.
        rate = max(adapt_rate, 1.0 / (self.count + 1))
        diff = value - self.mean
        step = rate * diff
        variance = (1.0 - rate) * (self.variance + diff * step)
        return Baseline(mean=self.mean + step, variance=variance, count=self.count + 1)

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "variance": self.variance, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        return cls(float(data["mean"]), float(data["variance"]), int(data["count"]))


@dataclass(frozen=True)
class AdaptiveState:
    """What an adaptive threshold learned: one baseline, plus one per hour of the week
    when the rule is seasonal. JSON-serialisable through ``to_dict``/``from_dict``."""

    overall: Baseline = Baseline()
    by_hour: dict[int, Baseline] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "by_hour": {str(hour): base.to_dict() for hour, base in self.by_hour.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdaptiveState:
        return cls(
            overall=Baseline.from_dict(data["overall"]),
            by_hour={int(h): Baseline.from_dict(b) for h, b in data.get("by_hour", {}).items()},
        )


def hour_of_week(at: datetime) -> int:
    """0 for Monday 00:00-00:59 up to 167 for Sunday 23:00-23:59."""
    return at.weekday() * 24 + at.hour


def learn(
    rule: Adaptive, state: AdaptiveState, value: float, *, hour_of_week: int
) -> AdaptiveState:
    """``state`` after learning ``value`` (observed in ``hour_of_week``)."""
    overall = state.overall.update(value, rule.adapt_rate)
    by_hour = state.by_hour
    if rule.seasonal:
        by_hour = dict(by_hour)
        by_hour[hour_of_week] = by_hour.get(hour_of_week, Baseline()).update(value, rule.adapt_rate)
    return replace(state, overall=overall, by_hour=by_hour)


def _baseline(rule: Adaptive, state: AdaptiveState, hour: int) -> Baseline:
    if rule.seasonal:
        seasonal = state.by_hour.get(hour)
        if seasonal is not None and seasonal.count >= rule.warmup:
            return seasonal
    return state.overall


def adaptive_band(
    rule: Adaptive, state: AdaptiveState, *, hour_of_week: int, sigma: float | None = None
) -> Band:
    """The band in force; before ``warmup`` values are learned only floor and ceiling
    hold (so nothing fires on a baseline learned from a handful of values)."""
    base = _baseline(rule, state, hour_of_week)
    if base.count < rule.warmup:
        lower, upper = rule.floor, rule.ceiling
    else:
        spread = max(base.deviation, abs(base.mean) * MIN_RELATIVE_SPREAD, 1e-12)
        width = (rule.sigma if sigma is None else sigma) * spread
        lower, upper = _clamp(rule, base.mean - width), _clamp(rule, base.mean + width)
    if rule.direction == "above":
        lower = rule.floor
    elif rule.direction == "below":
        upper = rule.ceiling
    return Band(lower=lower, upper=upper)


def adaptive_resolve_band(rule: Adaptive, state: AdaptiveState, *, hour_of_week: int) -> Band:
    sigma = rule.sigma if rule.resolve_sigma is None else rule.resolve_sigma
    return adaptive_band(rule, state, hour_of_week=hour_of_week, sigma=sigma)


def _clamp(rule: Adaptive, edge: float) -> float:
    """The band never leaves ``[floor, ceiling]``."""
    if rule.ceiling is not None:
        edge = min(edge, rule.ceiling)
    if rule.floor is not None:
        edge = max(edge, rule.floor)
    return edge


__all__ = [
    "Adaptive",
    "AdaptiveState",
    "Band",
    "Baseline",
    "Static",
    "Threshold",
    "adaptive_band",
    "adaptive_resolve_band",
    "hour_of_week",
    "learn",
    "threshold_from_dict",
]
