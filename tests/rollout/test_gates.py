from __future__ import annotations

import pytest

from modelport.errors import ValidationFailed
from modelport.rollout.gates import DEFAULT_GATES, parse_gate, parse_gates


@pytest.mark.parametrize(
    ("text", "metric", "op", "scale", "offset"),
    [
        ("error_rate<=0.01", "error_rate", "<=", 0.0, 0.01),
        ("p99_ms<=50", "p99_ms", "<=", 0.0, 50.0),
        ("agreement>=0.9", "agreement", ">=", 0.0, 0.9),
        ("accuracy>=primary-0.02", "accuracy", ">=", 1.0, -0.02),
        ("error_rate <= primary + 0.01", "error_rate", "<=", 1.0, 0.01),
        ("p95_ms<=primary*1.5+5", "p95_ms", "<=", 1.5, 5.0),
        ("loss<=primary*1.1", "loss", "<=", 1.1, 0.0),
        ("mean_abs_diff<=0.5", "mean_abs_diff", "<=", 0.0, 0.5),
    ],
)
def test_gates_parse(text: str, metric: str, op: str, scale: float, offset: float) -> None:
    gate = parse_gate(text)
    assert (gate.metric, gate.op, gate.scale, gate.offset) == (metric, op, scale, offset)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("error_rate", "must look like"),
        ("error_rate=0.1", "must look like"),
        ("speed<=3", "unknown metric 'speed'"),
        ("error_rate>=0.1", "only makes sense with <="),
        ("p99_ms>=5", "only makes sense with <="),
        ("agreement>=primary-0.1", "already compares with the primary"),
        ("error_rate<=1.5", "share between 0 and 1"),
        ("p99_ms<=0", "must be > 0 ms"),
        ("accuracy>=primary*-1", "scale must be > 0"),
        ("accuracy>=champion", "threshold"),
    ],
)
def test_bad_gates_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_gate(text)
    assert problem in caught.value.message and caught.value.field == "gates"


def test_relative_threshold_follows_the_primary() -> None:
    gate = parse_gate("p99_ms<=primary*1.5+5")
    assert gate.threshold(10.0) == 20.0 and gate.threshold(None) is None
    assert parse_gate("error_rate<=0.01").threshold(None) == 0.01


def test_duplicates_are_refused_and_defaults_parse() -> None:
    with pytest.raises(ValidationFailed, match="given twice"):
        parse_gates(["error_rate<=0.1", "error_rate<=0.1"])
    assert len(parse_gates(DEFAULT_GATES)) == len(DEFAULT_GATES)
