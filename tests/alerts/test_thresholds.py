"""Thresholds: static bands, and adaptive baselines learned from the series itself."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np

from modelport.alerts.thresholds import (
    Adaptive,
    AdaptiveState,
    Band,
    Static,
    adaptive_band,
    adaptive_resolve_band,
    hour_of_week,
    learn,
    threshold_from_dict,
)


def _learn_all(rule: Adaptive, values: list[float], hour: int = 0) -> AdaptiveState:
    state = AdaptiveState()
    for value in values:
        state = learn(rule, state, value, hour_of_week=hour)
    return state


def test_a_static_band_breaches_above_and_below() -> None:
    band = Static(above=0.9, below=0.1).band()
    assert band.breached_by(0.95) == "above"
    assert band.breached_by(0.05) == "below"
    assert band.breached_by(0.5) is None
    assert band.breached_by(0.9) is None  # at the limit is not past it


def test_a_static_resolve_level_widens_the_way_back() -> None:
    assert Static(above=0.2, resolve_at=0.1).resolve_band() == Band(upper=0.1)
    assert Static(below=0.8, resolve_at=0.85).resolve_band() == Band(lower=0.85)
    assert Static(above=0.2).resolve_band() == Band(upper=0.2)


def test_the_baseline_starts_as_the_plain_mean_and_deviation() -> None:
    values = list(np.random.default_rng(7).normal(50.0, 4.0, size=15))
    state = _learn_all(Adaptive(adapt_rate=0.01), values)
    assert state.overall.count == 15
    assert math.isclose(state.overall.mean, float(np.mean(values)), rel_tol=1e-9)
    assert math.isclose(state.overall.deviation, float(np.std(values)), rel_tol=1e-9)


def test_the_baseline_moves_at_the_adapt_rate() -> None:
    rule = Adaptive(adapt_rate=0.1, warmup=2)
    state = _learn_all(rule, [10.0] * 50)
    moved = learn(rule, state, 20.0, hour_of_week=0)
    assert math.isclose(moved.overall.mean, 11.0)  # 10 + 0.1 * (20 - 10)


def test_no_band_before_warmup_but_floor_and_ceiling() -> None:
    rule = Adaptive(warmup=10, floor=1.0, ceiling=9.0)
    state = _learn_all(rule, [5.0, 5.1, 4.9])
    assert adaptive_band(rule, state, hour_of_week=0) == Band(lower=1.0, upper=9.0)
    assert adaptive_band(Adaptive(warmup=10), state, hour_of_week=0) == Band()


def test_the_band_never_leaves_floor_and_ceiling() -> None:
    values = list(np.random.default_rng(3).normal(100.0, 30.0, size=200))
    free = Adaptive(sigma=3)
    capped = Adaptive(sigma=3, floor=60.0, ceiling=120.0)
    state = _learn_all(free, values)
    wide = adaptive_band(free, state, hour_of_week=0)
    assert wide.upper is not None and wide.upper > 120.0
    assert wide.lower is not None and wide.lower < 60.0
    band = adaptive_band(capped, state, hour_of_week=0)
    assert band == Band(lower=60.0, upper=120.0)
    assert band.breached_by(121.0) == "above"
    # A baseline learned far above the ceiling still fires at the ceiling.
    high = _learn_all(capped, [500.0 + i for i in range(20)])
    assert adaptive_band(capped, high, hour_of_week=0) == Band(lower=120.0, upper=120.0)


def test_a_one_sided_band_only_watches_its_side() -> None:
    rule = Adaptive(direction="above", warmup=3)
    state = _learn_all(rule, [10.0, 11.0, 9.0, 10.0])
    band = adaptive_band(rule, state, hour_of_week=0)
    assert band.lower is None and band.upper is not None
    assert band.breached_by(-1000.0) is None


def test_a_constant_series_keeps_some_spread() -> None:
    rule = Adaptive(warmup=3)
    state = _learn_all(rule, [100.0] * 20)
    band = adaptive_band(rule, state, hour_of_week=0)
    assert band.breached_by(100.01) is None
    assert band.breached_by(101.0) == "above"


def test_the_resolve_band_is_narrower() -> None:
    rule = Adaptive(sigma=4, resolve_sigma=2, warmup=3)
    state = _learn_all(rule, list(np.random.default_rng(1).normal(0.0, 1.0, size=50)))
    band = adaptive_band(rule, state, hour_of_week=0)
    back = adaptive_resolve_band(rule, state, hour_of_week=0)
    assert band.upper is not None and back.upper is not None
    assert back.upper < band.upper


def test_a_seasonal_rule_learns_one_baseline_per_hour_of_week() -> None:
    rule = Adaptive(seasonal=True, warmup=5)
    state = AdaptiveState()
    rng = np.random.default_rng(11)
    for _ in range(20):
        state = learn(rule, state, 100.0 + rng.normal(), hour_of_week=9)  # busy hour
        state = learn(rule, state, 10.0 + rng.normal(), hour_of_week=3)  # quiet hour
    busy = adaptive_band(rule, state, hour_of_week=9)
    quiet = adaptive_band(rule, state, hour_of_week=3)
    assert busy.breached_by(100.0) is None and quiet.breached_by(100.0) == "above"
    assert quiet.breached_by(10.0) is None and busy.breached_by(10.0) == "below"
    # An hour never seen falls back to the overall baseline (mean about 55).
    unseen = adaptive_band(rule, state, hour_of_week=100)
    assert unseen.breached_by(55.0) is None


def test_hour_of_week_counts_from_monday() -> None:
    assert hour_of_week(datetime(2026, 1, 5, 0, 30, tzinfo=UTC)) == 0  # a Monday
    assert hour_of_week(datetime(2026, 1, 11, 23, 59, tzinfo=UTC)) == 167  # a Sunday


def test_state_and_thresholds_survive_json() -> None:
    rule = Adaptive(seasonal=True, ceiling=5.0, direction="below")
    state = _learn_all(rule, [1.0, 2.0, 3.0], hour=42)
    assert AdaptiveState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    seasonal = state.by_hour[42]
    assert (seasonal.mean, seasonal.count) == (2.0, 3)
    assert math.isclose(seasonal.variance, 2.0 / 3.0)
    for threshold in (rule, Static(above=1.0, resolve_at=0.5)):
        assert threshold_from_dict(json.loads(json.dumps(threshold.to_dict()))) == threshold
