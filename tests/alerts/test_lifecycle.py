"""The alert lifecycle on synthetic series: pending, firing, resolved, silences, acks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from modelport.alerts.lifecycle import (
    Alert,
    AlertState,
    Observation,
    Silence,
    Transition,
    acknowledge,
    alert_key,
    evaluate,
)
from modelport.alerts.rules import Rule, parse_rule
from modelport.alerts.thresholds import Adaptive, adaptive_band

START = datetime(2026, 1, 5, tzinfo=UTC)
STEP = timedelta(minutes=1)
LABELS = {"endpoint": "churn", "feature": "tenure"}


@dataclass
class Run:
    """A rule fed a series, one value a minute, keeping everything it produced."""

    rule: Rule
    alerts: dict[str, Alert] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    states: list[AlertState] = field(default_factory=list)
    bands: list[tuple[float | None, float | None]] = field(default_factory=list)
    minute: int = 0

    def feed(
        self, values: Sequence[float], *, silences: Sequence[Silence] = (), samples: int = 1000
    ) -> list[Transition]:
        produced: list[Transition] = []
        for value in values:
            at = START + self.minute * STEP
            outcome = evaluate(
                self.rule,
                self.alerts,
                [Observation(LABELS, float(value), samples)],
                at=at,
                silences=silences,
            )
            self.alerts = outcome.alerts
            produced.extend(outcome.transitions)
            alert = self.alert
            self.states.append(alert.state)
            self.bands.append((alert.band.lower, alert.band.upper))
            self.minute += 1
        self.transitions.extend(produced)
        return produced

    @property
    def alert(self) -> Alert:
        return self.alerts[alert_key(self.rule.name, LABELS)]

    def notified(self) -> list[str]:
        return [t.event for t in self.transitions if t.notify]


def _static(**settings: Any) -> Rule:
    return parse_rule(
        {"name": "drift", "endpoint": "churn", "metric": "drift.psi", "feature": "tenure"}
        | settings
    )


def _adaptive(**settings: Any) -> Rule:
    return parse_rule(
        {"name": "p99", "endpoint": "churn", "metric": "quality.missing_rate", "adaptive": True}
        | settings
    )


def test_a_static_rule_fires_only_after_its_for_duration() -> None:
    run = Run(_static(above=0.2, **{"for": "5m"}))
    run.feed([0.1, 0.1])
    run.feed([0.3] * 5)
    assert run.alert.state is AlertState.PENDING
    assert run.notified() == []
    fired = run.feed([0.3])
    assert [(t.from_state, t.to_state) for t in fired] == [(AlertState.PENDING, AlertState.FIRING)]
    assert fired[0].notify and fired[0].value == 0.3 and fired[0].band.upper == 0.2
    run.feed([0.3] * 10)
    assert run.notified() == ["firing"]  # de-duplicated: one alert, one notification


def test_a_short_breach_goes_back_to_inactive_without_notifying() -> None:
    run = Run(_static(above=0.2, **{"for": "5m"}))
    run.feed([0.1, 0.3, 0.3, 0.1])
    assert run.alert.state is AlertState.INACTIVE
    assert [t.event for t in run.transitions] == ["pending", "inactive"]
    assert run.notified() == []


def test_a_static_rule_resolves_only_below_its_resolve_level() -> None:
    run = Run(_static(above=0.2, resolve_at=0.1))
    run.feed([0.3])
    assert run.alert.state is AlertState.FIRING
    run.feed([0.19, 0.15, 0.11])
    assert run.alert.state is AlertState.FIRING
    resolved = run.feed([0.05])
    assert [t.to_state for t in resolved] == [AlertState.RESOLVED]
    assert resolved[0].notify and resolved[0].value == 0.05
    run.feed([0.05])
    assert run.alert.state is AlertState.INACTIVE
    assert run.notified() == ["firing", "resolved"]


def test_no_flapping_on_a_series_oscillating_around_the_threshold() -> None:
    rng = np.random.default_rng(42)
    hovering = 0.2 + rng.uniform(-0.03, 0.03, size=300)
    run = Run(_static(above=0.2, resolve_at=0.1, **{"for": "2m"}))
    run.feed([0.25, 0.25, 0.25])
    run.feed(list(hovering))
    assert run.notified() == ["firing"]
    assert set(run.states[3:]) == {AlertState.FIRING}
    # Without a resolve level the same series would flap many times.
    bare = Run(_static(above=0.2))
    bare.feed(list(hovering))
    assert len(bare.notified()) > 10


def test_an_adaptive_rule_follows_a_slow_drift_and_fires_on_a_jump() -> None:
    rng = np.random.default_rng(5)
    slow = 0.10 + np.linspace(0.0, 0.05, 400) + rng.normal(0.0, 0.005, size=400)
    run = Run(_adaptive(sigma=4, adapt_rate=0.05))
    run.feed(list(slow))
    assert run.notified() == []
    start_lower, start_upper = run.bands[50]
    end_lower, end_upper = run.bands[-1]
    assert start_upper is not None and end_upper is not None
    assert end_upper > start_upper + 0.03  # the band moved with the series
    assert start_lower is not None and end_lower is not None and end_lower > start_lower
    fired = run.feed([0.40])
    assert [t.to_state for t in fired] == [AlertState.FIRING]
    upper = fired[0].band.upper
    assert upper is not None and end_upper - 0.01 < upper < 0.40


def test_an_adaptive_rule_does_not_learn_while_firing() -> None:
    rng = np.random.default_rng(9)
    run = Run(_adaptive(sigma=3, adapt_rate=0.2))
    run.feed(list(0.1 + rng.normal(0.0, 0.01, size=100)))
    before = run.alert.learned
    assert run.alert.state is AlertState.INACTIVE
    incident = run.feed([0.5] * 200)  # an incident long enough to swallow any baseline that learned
    assert run.alert.state is AlertState.FIRING
    assert run.alert.learned == before
    assert isinstance(run.rule.threshold, Adaptive)
    band = adaptive_band(run.rule.threshold, before, hour_of_week=0)
    assert set(run.bands[-200:]) == {(band.lower, band.upper)}
    assert [t.event for t in incident if t.notify] == ["firing"]
    resolved = run.feed([0.1])
    assert [t.to_state for t in resolved] == [AlertState.RESOLVED]


def test_an_adaptive_rule_never_passes_its_ceiling() -> None:
    rng = np.random.default_rng(2)
    run = Run(_adaptive(ceiling=0.3, adapt_rate=0.1))
    run.feed(list(0.25 + rng.normal(0.0, 0.1, size=200)))
    uppers = [upper for _, upper in run.bands if upper is not None]
    assert max(uppers) <= 0.3
    assert max(uppers) == 0.3  # the learned band wanted more
    run.alerts = {}  # a fresh alert: the ceiling alone fires it
    assert [t.to_state for t in run.feed([0.31])] == [AlertState.FIRING]


def test_a_silence_suppresses_notifications_until_it_expires() -> None:
    silence = Silence(
        rule="drift", until=START + 10 * STEP, reason="maintenance", by="ops", labels=LABELS
    )
    run = Run(_static(above=0.2, resolve_at=0.1))
    quiet = run.feed([0.3] * 5, silences=[silence])
    assert [t.to_state for t in quiet] == [AlertState.FIRING]
    assert quiet[0].silenced and not quiet[0].notify
    assert run.alert.silenced
    late = run.feed([0.3] * 10, silences=[silence])  # minutes 5-14: expires at 10
    assert [(t.event, t.notify) for t in late] == [("unsilenced", True)]
    assert late[0].at == START + 10 * STEP
    assert not run.alert.silenced
    run.feed([0.0])
    assert run.notified() == ["unsilenced", "resolved"]


def test_an_alert_that_fires_and_resolves_under_silence_notifies_nobody() -> None:
    silence = Silence(rule="drift", until=START + 60 * STEP)
    run = Run(_static(above=0.2))
    run.feed([0.3, 0.3, 0.0, 0.0], silences=[silence])
    assert [t.to_state for t in run.transitions] == [
        AlertState.FIRING,
        AlertState.RESOLVED,
        AlertState.INACTIVE,
    ]
    assert all(t.silenced for t in run.transitions)
    assert run.notified() == []


def test_a_silence_on_another_rule_or_label_set_does_not_apply() -> None:
    other_rule = Silence(rule="other", until=START + 60 * STEP)
    other_feature = Silence(rule="drift", until=START + 60 * STEP, labels={"feature": "age"})
    run = Run(_static(above=0.2))
    run.feed([0.3], silences=[other_rule, other_feature])
    assert run.notified() == ["firing"]


def test_an_acknowledgement_is_recorded_and_cleared_on_resolve() -> None:
    run = Run(_static(above=0.2))
    run.feed([0.3])
    acked, record = acknowledge(run.alert, by="alice", at=START + 5 * STEP)
    assert (record.event, record.by, record.to_state) == ("acknowledged", "alice", "firing")
    assert not record.notify
    run.alerts = {acked.key: acked}
    run.feed([0.3])
    assert run.alert.acked_by == "alice"
    run.feed([0.1])
    assert run.alert.state is AlertState.RESOLVED and run.alert.acked_by is None


def test_one_alert_per_label_set() -> None:
    rule = _static(above=0.2, feature="*")
    observations = [
        Observation({"endpoint": "churn", "feature": name}, value)
        for name, value in (("age", 0.3), ("tenure", 0.1), ("plan", 0.5))
    ]
    outcome = evaluate(rule, {}, observations, at=START)
    assert len(outcome.alerts) == 3
    firing = sorted(t.labels["feature"] for t in outcome.transitions if t.notify)
    assert firing == ["age", "plan"]
    again = evaluate(rule, outcome.alerts, observations, at=START + STEP)
    assert again.transitions == [] and len(again.alerts) == 3


def test_too_few_samples_or_no_value_change_nothing() -> None:
    run = Run(_static(above=0.2, min_samples=500))
    assert run.feed([0.9] * 3, samples=499) == []
    assert run.alert.state is AlertState.INACTIVE
    outcome = evaluate(run.rule, run.alerts, [Observation(LABELS, None)], at=START)
    assert outcome.transitions == []
    assert [t.to_state for t in run.feed([0.9], samples=500)] == [AlertState.FIRING]


def test_a_rule_whose_endpoint_is_gone_is_orphaned_not_an_error() -> None:
    run = Run(_static(above=0.2))
    run.feed([0.3])
    outcome = evaluate(
        run.rule, run.alerts, [Observation(LABELS, 0.0)], at=START, endpoint_exists=False
    )
    assert outcome.orphaned
    assert outcome.transitions == [] and outcome.alerts == run.alerts


def test_alerts_and_transitions_survive_json() -> None:
    run = Run(_adaptive(seasonal=True))
    run.feed(list(np.random.default_rng(4).normal(0.1, 0.01, size=30)) + [0.9])
    text = json.dumps(run.alert.to_dict())
    assert Alert.from_dict(json.loads(text)) == run.alert
    stored = json.loads(json.dumps(run.transitions[-1].to_dict()))
    assert stored["to_state"] == "firing"
    assert stored["band"]["upper"] is not None and stored["value"] == 0.9
    assert Transition.from_dict(stored) == run.transitions[-1]
    silence = Silence(rule="p99", until=START, reason="deploy", by="bob", labels=LABELS)
    assert Silence.from_dict(json.loads(json.dumps(silence.to_dict()))) == silence


def test_an_adaptive_rule_resolves_inside_its_narrower_resolve_band() -> None:
    rng = np.random.default_rng(13)
    run = Run(_adaptive(sigma=4, resolve_sigma=1, adapt_rate=0.05))
    run.feed(list(0.1 + rng.normal(0.0, 0.01, size=200)))
    assert run.alert.state is AlertState.INACTIVE
    run.feed([0.3])
    assert run.alert.state is AlertState.FIRING
    run.feed([0.125] * 20)  # back inside sigma=4 but still beyond resolve_sigma=1
    assert run.alert.band.breached_by(0.125) is None
    assert run.alert.state is AlertState.FIRING
    resolved = run.feed([0.1])
    assert [t.to_state for t in resolved] == [AlertState.RESOLVED]
