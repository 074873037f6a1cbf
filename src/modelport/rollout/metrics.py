"""Prometheus gauges of rollouts, refreshed from the database on every controller tick
(so they also show rollouts another process started or moved)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from modelport.rollout.state import Rollout
from modelport.vocabulary import Phase, RolloutStrategy

STRATEGIES = tuple(RolloutStrategy)
VERDICT_VALUES = {"pass": 1.0, "inconclusive": 0.0, "fail": -1.0}


class RolloutMetrics:
    def __init__(
        self, registry: CollectorRegistry, mirrors_dropped: Callable[[str], int] | None = None
    ) -> None:
        self.active = Gauge(
            "modelport_rollout_active",
            "1 while the endpoint has a rollout in progress, by strategy and phase",
            ["endpoint", "strategy", "phase"],
            registry=registry,
        )
        self.paused = Gauge(
            "modelport_rollout_paused",
            "1 while the rollout is paused",
            ["endpoint"],
            registry=registry,
        )
        self.weight = Gauge(
            "modelport_rollout_canary_weight_percent",
            "Share of requests the candidate answers (blue-green: 100 once green is live)",
            ["endpoint"],
            registry=registry,
        )
        self.step = Gauge(
            "modelport_rollout_step",
            "Current canary step, counting from 1 (0: shadow)",
            ["endpoint"],
            registry=registry,
        )
        self.gate = Gauge(
            "modelport_rollout_gate_verdict",
            "Latest verdict per gate: 1 pass, 0 inconclusive, -1 fail",
            ["endpoint", "gate"],
            registry=registry,
        )
        self.dropped = Gauge(
            "modelport_rollout_mirrors_dropped",
            "Background copies (shadow, baseline) dropped because the candidate fell behind",
            ["endpoint"],
            registry=registry,
        )
        self._mirrors_dropped = mirrors_dropped
        self._shown: set[str] = set()

    def update(self, live: list[Rollout]) -> None:
        current = {r.endpoint for r in live}
        for endpoint in self._shown - current:
            # Ended: zero the series rather than drop them, so dashboards see the end.
            for strategy in STRATEGIES:
                for phase in Phase:
                    self.active.labels(endpoint, strategy, phase).set(0)
            self.paused.labels(endpoint).set(0)
            self.weight.labels(endpoint).set(0)
            self.step.labels(endpoint).set(0)
        for rollout in live:
            for strategy in STRATEGIES:
                for phase in Phase:
                    on = strategy == rollout.strategy and phase == rollout.phase
                    self.active.labels(rollout.endpoint, strategy, phase).set(1 if on else 0)
            self.paused.labels(rollout.endpoint).set(1 if rollout.status == "paused" else 0)
            self.weight.labels(rollout.endpoint).set(rollout.weight)
            self.step.labels(rollout.endpoint).set(
                rollout.step + 1 if rollout.phase == Phase.CANARY else 0
            )
            for gate in rollout.verdicts.get("gates", []):
                value = VERDICT_VALUES.get(gate.get("verdict", ""), 0.0)
                self.gate.labels(rollout.endpoint, gate["gate"]).set(value)
            if self._mirrors_dropped is not None:
                self.dropped.labels(rollout.endpoint).set(self._mirrors_dropped(rollout.endpoint))
        self._shown = current
