from __future__ import annotations

import numpy as np
import pytest

from modelport.batch import Batch
from modelport.errors import ValidationFailed
from modelport.schema import FeatureSpec, InputSchema
from modelport.serving.policies.hashing import StickyKey, in_canary

KEYS = [f"customer-{i}" for i in range(5000)]


def test_raising_the_weight_only_moves_callers_to_the_canary() -> None:
    previous: set[str] = set()
    for weight in (1, 5, 25, 50, 99, 100):
        canary = {key for key in KEYS if in_canary("salt", key, weight)}
        assert previous <= canary
        assert abs(len(canary) / len(KEYS) - weight / 100) < 0.03
        previous = canary


def test_a_key_lands_on_the_same_variant_every_time() -> None:
    first = [in_canary("salt", key, 30) for key in KEYS]
    assert first == [in_canary("salt", key, 30) for key in KEYS]


def test_each_rollout_draws_its_own_canary_population() -> None:
    one = {key for key in KEYS if in_canary("rollout-a", key, 20)}
    other = {key for key in KEYS if in_canary("rollout-b", key, 20)}
    assert 0.1 < len(one & other) / len(one) < 0.35  # independent draws overlap by ~20 %


def test_without_a_key_the_split_is_random_at_the_weight() -> None:
    share = np.mean([in_canary("salt", None, 25) for _ in range(4000)])
    assert 0.2 < share < 0.3
    assert not in_canary("salt", None, 0) and in_canary("salt", None, 100)


def test_keys_come_from_headers_or_features() -> None:
    batch = Batch(
        {"customer_id": np.array([42.0, 7.0]), "plan": np.array(["a", "b"], dtype=object)}, 2
    )
    assert StickyKey.parse("field:customer_id").extract({}, batch) == "42"
    assert StickyKey.parse("header:X-User-Id").extract({"x-user-id": "u1"}, batch) == "u1"
    assert StickyKey.parse("header:X-User-Id").extract({}, batch) is None
    schema = InputSchema(features=[FeatureSpec(name="plan", kind="category")])
    with pytest.raises(ValidationFailed, match="not an input feature"):
        StickyKey.parse("field:customer_id").check(schema)
