"""Per-feature verdicts on both paths: a live window's counts combine and persist, and
the report's exact statistics agree with the binned ones where they share bins."""

import json
from collections.abc import Callable

import pandas as pd
import pytest

from modelport.errors import ConfigError
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.stats.settings import DriftSettings
from modelport.registry.profile import ReferenceProfile
from modelport.schema import InputSchema

from .conftest import counted, exact_detect, live_detect, live_state, live_verdicts

Generator = Callable[[int, int], pd.DataFrame]


@pytest.fixture
def empty(mixed_frame: Generator, mixed_schema: InputSchema) -> WindowState:
    return live_state(ReferenceProfile().fit(mixed_frame(20_000, 0), mixed_schema), mixed_schema)


def plain(verdicts: dict) -> dict:
    return {name: verdict.to_dict() for name, verdict in verdicts.items()}


def test_windows_counted_apart_then_merged_equal_one_window_of_all(
    empty: WindowState, mixed_frame: Generator
) -> None:
    live = mixed_frame(6_000, 5)
    first = counted(empty.fresh(), live.iloc[:2_500])
    second = counted(empty.fresh(), live.iloc[2_500:])

    merged = live_verdicts(first.merge(second))

    assert plain(merged) == plain(live_verdicts(counted(empty.fresh(), live)))


def test_a_fresh_window_leaves_the_counted_one_alone(
    empty: WindowState, mixed_frame: Generator
) -> None:
    state = counted(empty.fresh(), mixed_frame(1_000, 6))
    counted(state.fresh(), mixed_frame(5_000, 7))
    assert all(counts.n_ == 1_000 for counts in state.columns.values())
    assert all(counts.n_ == 0 for counts in state.fresh().columns.values())


def test_state_survives_json(empty: WindowState, mixed_frame: Generator) -> None:
    state = counted(empty.fresh(), mixed_frame(3_000, 8))
    restored = WindowState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert plain(live_verdicts(restored)) == plain(live_verdicts(state))


def test_configuration_overrides(mixed_frame: Generator, mixed_schema: InputSchema) -> None:
    profile = ReferenceProfile().fit(mixed_frame(20_000, 0), mixed_schema)
    settings = DriftSettings(
        decision={"numeric": "wasserstein", "categorical": "total_variation"},
        thresholds={"wasserstein": 0.5},
    )
    verdict = live_detect(profile, mixed_schema, mixed_frame(5_000, 9), settings)["normal"]
    assert verdict.stat == "wasserstein" and verdict.threshold == 0.5
    assert set(verdict.results) == {"wasserstein", "psi", "ks", "jensenshannon"}
    with pytest.raises(ConfigError):
        DriftSettings(thresholds={"kolmogorov": 0.1})


def test_exact_and_live_share_the_decision(
    mixed_frame: Generator, mixed_schema: InputSchema
) -> None:
    reference, current = mixed_frame(20_000, 0), mixed_frame(5_000, 10)
    profile = ReferenceProfile().fit(reference, mixed_schema)
    binned = live_detect(profile, mixed_schema, current)
    raw = exact_detect(reference, mixed_schema, current)
    for name in ("normal", "lognormal", "counts", "uniform"):
        assert binned[name].statistic == pytest.approx(raw[name].statistic, abs=1e-12)
        ks_binned = binned[name].results["ks"].statistic
        ks_exact = raw[name].results["ks"].statistic
        assert ks_binned is not None and ks_exact is not None
        assert ks_binned <= ks_exact + 1e-12  # the binned KS is a lower bound
    for name in ("plan", "region"):
        assert binned[name].statistic == pytest.approx(raw[name].statistic, abs=1e-12)
