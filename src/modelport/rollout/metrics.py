"""Prometheus series of rollouts, refreshed from the database on every controller tick
(so they also show rollouts another process started or moved).

Only live label sets exist: an endpoint's series appear when its rollout starts, follow its
strategy and phase, and are removed when it ends (``absent(modelport_rollout_active)`` is
"no rollout"). The mirrors-dropped count is a counter of this process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from modelport.rollout.state import Rollout
from modelport.vocabulary import Phase

VERDICT_VALUES = {"pass": 1.0, "inconclusive": 0.0, "fail": -1.0}


@dataclass
class _Shown:
    """The label sets one endpoint's rollout currently exports."""

    strategy: str
    phase: str
    gates: set[str] = field(default_factory=set)


class RolloutMetrics:
    def __init__(
        self, registry: CollectorRegistry, mirrors_dropped: Callable[[str], int] | None = None
    ) -> None:
        self.active = Gauge(
            "modelport_rollout_active",
            "1 while the endpoint has a rollout in progress, labelled by its strategy and phase",
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
            "modelport_rollout_canary_weight_ratio",
            "Share of requests the candidate answers, 0 to 1 (blue-green: 1 once green is live)",
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
        self.dropped = Counter(
            "modelport_rollout_mirrors_dropped",
            "Background copies (shadow, baseline) this process dropped because the candidate "
            "fell behind",
            ["endpoint"],
            registry=registry,
        )
        self._mirrors_dropped = mirrors_dropped
        self._dropped_seen: dict[str, int] = {}
        self._shown: dict[str, _Shown] = {}

    def update(self, live: list[Rollout]) -> None:
        current = {r.endpoint: r for r in live}
        for endpoint in set(self._shown) - set(current):
            self._remove(endpoint, self._shown.pop(endpoint))
        for rollout in live:
            self._show(rollout)

    def _show(self, rollout: Rollout) -> None:
        endpoint = rollout.endpoint
        shown = self._shown.get(endpoint)
        strategy, phase = str(rollout.strategy), str(rollout.phase)
        if shown is not None and (shown.strategy, shown.phase) != (strategy, phase):
            self.active.remove(endpoint, shown.strategy, shown.phase)
        if shown is None:
            shown = _Shown(strategy, phase)
            self._shown[endpoint] = shown
        shown.strategy, shown.phase = strategy, phase
        self.active.labels(endpoint, strategy, phase).set(1)
        self.paused.labels(endpoint).set(1 if rollout.status == "paused" else 0)
        self.weight.labels(endpoint).set(min(max(rollout.weight / 100.0, 0.0), 1.0))
        self.step.labels(endpoint).set(rollout.step + 1 if rollout.phase == Phase.CANARY else 0)
        for gate in rollout.verdicts.get("gates", []):
            value = VERDICT_VALUES.get(gate.get("verdict", ""), 0.0)
            self.gate.labels(endpoint, gate["gate"]).set(value)
            shown.gates.add(gate["gate"])
        if self._mirrors_dropped is not None:
            self._count_dropped(endpoint, self._mirrors_dropped(endpoint))

    def _count_dropped(self, endpoint: str, total: int) -> None:
        """Add what the serving runtime dropped since the last tick (its own count starts
        again at 0 when the endpoint's runtime is rebuilt)."""
        seen = self._dropped_seen.get(endpoint, 0)
        added = total - seen if total >= seen else total
        child = self.dropped.labels(endpoint)  # the series exists from the rollout's start
        if added > 0:
            child.inc(added)
        self._dropped_seen[endpoint] = total

    def _remove(self, endpoint: str, shown: _Shown) -> None:
        self.active.remove(endpoint, shown.strategy, shown.phase)
        for gauge in (self.paused, self.weight, self.step):
            gauge.remove(endpoint)
        for gate in shown.gates:
            self.gate.remove(endpoint, gate)
