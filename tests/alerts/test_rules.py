"""Alert rules parsed from user input: valid rules, fan-out, and one named field per mistake."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.alerts.rules import METRICS, parse_rule, rule_from_dict
from modelport.alerts.thresholds import Adaptive, Static
from modelport.errors import InvalidName, ValidationFailed
from modelport.vocabulary import Role

BASE: dict[str, Any] = {"name": "churn-drift", "endpoint": "churn", "metric": "drift.psi"}


def _rule(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_a_static_rule_keeps_every_setting() -> None:
    rule = parse_rule(
        _rule(
            feature="tenure",
            above=0.2,
            resolve_at="0.15",
            severity="critical",
            role="canary",
            version="3",
            min_samples=500,
            **{"for": "15m"},
        )
    )
    assert rule.threshold == Static(above=0.2, resolve_at=0.15)
    assert (rule.feature, rule.role, rule.version) == ("tenure", Role.CANARY, "3")
    assert (rule.for_s, rule.severity, rule.min_samples) == (900.0, "critical", 500)


def test_an_adaptive_rule_takes_its_band_settings() -> None:
    rule = parse_rule(
        {
            "name": "churn-p99",
            "endpoint": "churn",
            "metric": "latency.p99_ms",
            "adaptive": True,
            "sigma": 3,
            "adapt_rate": 0.05,
            "ceiling": 200,
            "seasonal": True,
        }
    )
    assert rule.threshold == Adaptive(sigma=3.0, adapt_rate=0.05, ceiling=200.0, seasonal=True)
    assert rule.feature is None


def test_the_catalogue_names_every_family_of_figures() -> None:
    for metric in (
        "requests.rate",
        "errors.rate",
        "latency.p50_ms",
        "log.dropped",
        "drift.psi",
        "drift.ks",
        "drift.decision",
        "quality.missing_rate",
        "quality.schema_violations",
        "prediction_drift.psi",
        "output.class_share",
        "performance.accuracy",
        "performance.log_loss",
        "detector.events",
        "rollout.rolled_back",
        "rollout.waiting_s",
    ):
        assert metric in METRICS


def test_a_rule_on_any_feature_fans_out_per_feature() -> None:
    rule = parse_rule(_rule(above=0.2, role="primary"))
    assert rule.feature == "*"
    assert rule.label_sets(["tenure", "age"]) == [
        {"endpoint": "churn", "role": "primary", "feature": "age"},
        {"endpoint": "churn", "role": "primary", "feature": "tenure"},
    ]
    single = parse_rule(_rule(above=0.2, feature="age"))
    assert single.label_sets(["tenure", "age"]) == [{"endpoint": "churn", "feature": "age"}]


def test_a_stored_rule_reads_back_equal() -> None:
    for data in (
        _rule(above=0.2, resolve_at=0.1, role="shadow", **{"for": "1h"}),
        _rule(adaptive=True, floor=0.0, ceiling=1.0, direction="above", resolve_sigma=2),
    ):
        rule = parse_rule(data)
        assert rule_from_dict(rule.to_dict()) == rule


def test_scope_is_checked_against_what_exists() -> None:
    rule = parse_rule(_rule(above=0.2, feature="tenure"))
    rule.check_scope(endpoints={"churn"}, features={"tenure"})
    with pytest.raises(ValidationFailed) as gone:
        rule.check_scope(endpoints={"other"}, features={"tenure"})
    assert gone.value.field == "endpoint"
    with pytest.raises(ValidationFailed) as unknown:
        rule.check_scope(endpoints={"churn"}, features={"age"})
    assert unknown.value.field == "feature"
    assert "age" in unknown.value.message


BAD: list[tuple[dict[str, Any], str]] = [
    ({"endpoint": "churn", "metric": "drift.psi", "above": 1}, "name"),
    (_rule(name="Bad Name", above=1), "name"),
    (_rule(endpoint="../etc", above=1), "endpoint"),
    ({"name": "a", "endpoint": "churn", "above": 1}, "metric"),
    (_rule(metric="drift.nope", above=1), "metric"),
    (_rule(metric="cpu", above=1), "metric"),
    (_rule(metric="latency.p99_ms", feature="tenure", above=1), "feature"),
    (_rule(feature="", above=1), "feature"),
    (_rule(role="boss", above=1), "role"),
    (_rule(version="", above=1), "version"),
    (_rule(above=1, **{"for": "ten minutes"}), "for"),
    (_rule(above=1, **{"for": "-5m"}), "for"),
    (_rule(above="high"), "above"),
    (_rule(above=float("nan")), "above"),
    (_rule(below=True), "below"),
    (_rule(), "above"),
    (_rule(above=0.1, below=0.2), "below"),
    (_rule(above=0.2, resolve_at=0.3), "resolve_at"),
    (_rule(below=0.8, resolve_at=0.7), "resolve_at"),
    (_rule(above=0.9, below=0.1, resolve_at=0.5), "resolve_at"),
    (_rule(adaptive=True, above=0.2), "above"),
    (_rule(adaptive=True, below=0.2), "below"),
    (_rule(adaptive=True, resolve_at=0.2), "resolve_at"),
    (_rule(adaptive="yes"), "adaptive"),
    (_rule(adaptive=True, floor=5, ceiling=1), "ceiling"),
    (_rule(adaptive=True, sigma=0), "sigma"),
    (_rule(adaptive=True, adapt_rate=1.5), "adapt_rate"),
    (_rule(adaptive=True, adapt_rate=0), "adapt_rate"),
    (_rule(adaptive=True, sigma=2, resolve_sigma=3), "resolve_sigma"),
    (_rule(adaptive=True, direction="sideways"), "direction"),
    (_rule(adaptive=True, seasonal="weekly"), "seasonal"),
    (_rule(adaptive=True, warmup=1), "warmup"),
    (_rule(above=0.2, sigma=3), "sigma"),
    (_rule(above=0.2, ceiling=3), "ceiling"),
    (_rule(above=0.2, severity="page-me"), "severity"),
    (_rule(above=0.2, min_samples=-1), "min_samples"),
    (_rule(above=0.2, min_samples="many"), "min_samples"),
    (_rule(above=0.2, colour="red"), "colour"),
]


@pytest.mark.parametrize(("data", "field"), BAD, ids=[field for _, field in BAD])
def test_every_bad_input_names_its_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule(data)
    assert caught.value.field == field
    assert caught.value.status == 422
    assert caught.value.message


def test_a_bad_name_is_the_shared_name_error() -> None:
    with pytest.raises(InvalidName):
        parse_rule(_rule(name="UPPER", above=1))


@pytest.mark.parametrize("name", ["active", "history"])
def test_names_of_fixed_paths_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_rule({"name": name, "endpoint": "churn", "metric": "requests.rate", "above": 1})
    assert refused.value.field == "name"
    assert "reserved" in str(refused.value)
