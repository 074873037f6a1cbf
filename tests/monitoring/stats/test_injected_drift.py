"""Drift injected into some features is found in exactly those features."""

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from modelport.registry.profile import ReferenceProfile
from modelport.schema import InputSchema

from .conftest import exact_detect, live_detect

Generator = Callable[[int, int], pd.DataFrame]


def inject(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drifted = frame.copy()
    drifted["normal"] = drifted["normal"] + 1.0  # mean shift of half a std
    uniform = drifted["uniform"].to_numpy()
    drifted["uniform"] = uniform.mean() + 2.0 * (uniform - uniform.mean())  # variance x4
    counts = drifted["counts"].to_numpy().copy()
    counts[rng.random(len(counts)) < 0.2] = np.nan  # 20 % newly missing
    drifted["counts"] = counts
    plans = drifted["plan"].to_numpy().copy()
    plans[rng.random(len(plans)) < 0.15] = "student"  # a category never seen before
    drifted["plan"] = plans
    return drifted


EXPECTED = {"normal", "uniform", "counts", "plan"}


@pytest.mark.parametrize("size", [2_000, 20_000, 100_000])
@pytest.mark.parametrize("seed", [1, 2])
def test_live_windows_find_exactly_the_injected_features(
    mixed_frame: Generator, mixed_schema: InputSchema, size: int, seed: int
) -> None:
    profile = ReferenceProfile().fit(mixed_frame(50_000, 0), mixed_schema)
    verdicts = live_detect(profile, mixed_schema, inject(mixed_frame(size, seed), seed))
    assert {name for name, v in verdicts.items() if v.drifted} == EXPECTED
    assert verdicts["plan"].unseen_share == pytest.approx(0.15, abs=0.03)
    assert verdicts["counts"].missing_rate_current == pytest.approx(0.2, abs=0.03)


def test_the_report_agrees(mixed_frame: Generator, mixed_schema: InputSchema) -> None:
    verdicts = exact_detect(mixed_frame(50_000, 0), mixed_schema, inject(mixed_frame(20_000, 3), 3))
    assert {name for name, v in verdicts.items() if v.drifted} == EXPECTED
    # The p-value tests are reported beside the decision.
    assert verdicts["normal"].results["ks"].p_value is not None
    assert verdicts["normal"].results["ks"].p_value < 1e-10
    assert verdicts["plan"].results["chisquare"].drifted
