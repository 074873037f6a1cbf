from __future__ import annotations

from typing import Any

import pytest

from modelport.errors import ValidationFailed
from modelport.rollout.spec import DEFAULT_STEP_EVERY_S, RolloutSpec, build_spec


def test_defaults_are_shadow_then_canary_in_four_steps() -> None:
    spec = build_spec({})
    assert spec.strategy == "shadow-then-canary"
    assert spec.steps == [5, 25, 50, 100] and spec.step_every_s == DEFAULT_STEP_EVERY_S
    assert spec.shadow_for_s == DEFAULT_STEP_EVERY_S and spec.salt


def test_options_round_trip_through_json() -> None:
    spec = build_spec(
        {
            "strategy": "canary",
            "steps": "5,25,50,100",
            "step_after": "2000req",
            "sticky_key": "header:X-User-Id",
            "gates": ["error_rate<=0.01", "p99_ms<=50"],
            "min_samples": 200,
        }
    )
    assert spec.step_after_requests == 2000 and spec.step_every_s is None
    assert spec.sticky_key == "header:x-user-id"
    assert RolloutSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"strategy": "big-bang"}, "strategy"),
        ({"steps": "50,25"}, "steps"),
        ({"steps": "0,50"}, "steps"),
        ({"steps": "5,101"}, "steps"),
        ({"steps": "5,x"}, "steps"),
        ({"steps": ""}, "steps"),
        ({"step_every": "soon"}, "step_every"),
        ({"step_after": "lots"}, "step_after"),
        ({"step_every": "1m", "step_after": "10req"}, "step_after"),
        ({"sample": 0}, "sample"),
        ({"sample": 1.5}, "sample"),
        ({"sticky_key": "cookie:id"}, "sticky_key"),
        ({"gates": "error_rate<=0.1"}, "gates"),
        ({"min_samples": 3}, "min_samples"),
        ({"alpha": 0.9}, "alpha"),
        ({"keep_blue": "-1m"}, "keep_blue"),
        ({"smoke_agreement": 2}, "smoke_agreement"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_options_are_422_naming_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_spec(options)
    assert caught.value.status == 422 and caught.value.field == field
