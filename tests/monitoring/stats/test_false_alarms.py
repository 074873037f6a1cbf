"""The default decision does not cry wolf on fresh samples of the reference distribution.

docs/statistics.md documents a false-alarm rate of at most 0.5 % of feature checks for
samples of 1,000 rows and more; this simulation measures it.
"""

from collections.abc import Callable

import pandas as pd
import pytest

from modelport.monitoring.live.state import WindowState
from modelport.registry.profile import ReferenceProfile
from modelport.schema import InputSchema

from .conftest import counted, live_state, live_verdicts

Generator = Callable[[int, int], pd.DataFrame]

DOCUMENTED_FALSE_ALARM_RATE = 0.005


@pytest.fixture(scope="module")
def empty(mixed_frame: Generator, mixed_schema: InputSchema) -> WindowState:
    profile = ReferenceProfile().fit(mixed_frame(50_000, 0), mixed_schema)
    return live_state(profile, mixed_schema)


def test_false_alarm_rate_is_within_the_documented_rate(
    empty: WindowState, mixed_frame: Generator
) -> None:
    checks = alarms = 0
    for size in (1_000, 3_000, 10_000, 50_000, 200_000):
        for seed in range(1, 16 if size < 100_000 else 6):
            sample: pd.DataFrame = mixed_frame(size, 1_000 * size + seed)
            for verdict in live_verdicts(counted(empty.fresh(), sample)).values():
                assert verdict.status == "ok"
                checks += 1
                alarms += bool(verdict.drifted)
    assert checks >= 300
    assert alarms / checks <= DOCUMENTED_FALSE_ALARM_RATE
