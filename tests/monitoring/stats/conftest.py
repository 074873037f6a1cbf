from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from modelport.schema import FeatureSpec, InputSchema

Generator = Callable[[int, int], pd.DataFrame]


@pytest.fixture(scope="session")
def mixed_schema() -> InputSchema:
    numeric = ["normal", "lognormal", "counts", "uniform"]
    features = [FeatureSpec(name=name, kind="float", nullable=True) for name in numeric]
    features += [FeatureSpec(name=name, kind="category") for name in ["plan", "region"]]
    return InputSchema(features=features)


@pytest.fixture(scope="session")
def mixed_frame() -> Generator:
    """Samples of one fixed distribution: numeric of several shapes, two categoricals."""

    def generate(rows: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        normal = rng.normal(10.0, 2.0, rows)
        normal[rng.random(rows) < 0.02] = np.nan  # a stable 2 % missing rate
        plans = np.array(["free", "basic", "pro", "team", "enterprise"], dtype=object)
        regions = np.array(["eu", "us", "apac"], dtype=object)
        return pd.DataFrame(
            {
                "normal": normal,
                "lognormal": rng.lognormal(0.0, 1.0, rows),
                "counts": rng.poisson(3.0, rows).astype(float),
                "uniform": rng.uniform(-1.0, 1.0, rows),
                "plan": plans[rng.choice(5, rows, p=[0.5, 0.25, 0.15, 0.07, 0.03])],
                "region": regions[rng.choice(3, rows, p=[0.4, 0.4, 0.2])],
            }
        )

    return generate
