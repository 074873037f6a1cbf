"""The rollout controller: reads the evidence, judges the gates, moves the rollout on.

Each tick, for every active rollout: a failed gate rolls back at once; a step whose time
or request budget is spent moves on only when every gate passes (at the last step that
means promotion); otherwise the rollout waits and says what for. Plain ``shadow`` only
records verdicts: promoting or rolling it back is the user's call. Blue-green releases
blue when ``keep_blue`` has passed.

It runs inside every server (``run``), and ``tick`` is safe to run anywhere at any time:
transitions are revision-checked, so of several servers exactly one moves a rollout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from modelport.errors import Conflict
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.reader import LogCursor, PredictionLog
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.rollout.analysis import FAIL, INCONCLUSIVE, PASS, Verdict, evaluate, stages
from modelport.rollout.evidence import collect, labels_for, step_columns
from modelport.rollout.state import (
    ABORTED,
    ACTIVE,
    PROMOTED,
    ROLLED_BACK,
    Change,
    Rollout,
    RolloutStore,
)
from modelport.serving.policies import CanarySpec, PrimarySpec
from modelport.store.tables import utcnow
from modelport.vocabulary import Phase, RolloutStrategy

logger = logging.getLogger(__name__)

ACTOR = "controller"
# Sleep at least this many times as long as the last tick took: analysis stays under
# 1 / (1 + COST_FACTOR) of one core (10 %) whatever the traffic ...
COST_FACTOR = 9
# ... but decisions never wait longer than this.
MAX_PAUSE_S = 15.0
# Analysis rounds kept for the gates' charts: every change of step or verdict, else one
# per RECORD_EVERY_S, or per 1/RECORD_SPREAD of the rollout's age once that is longer
# (a month-long rollout keeps a few thousand rounds, not one per tick).
RECORD_EVERY_S = 10.0
RECORD_SPREAD = 1000


@dataclass
class Analysis:
    at: datetime
    verdicts: list[Verdict] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == FAIL]

    @property
    def waiting(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == INCONCLUSIVE]

    def outcomes(self) -> dict[str, str]:
        return {v.gate: v.verdict for v in self.verdicts}

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "gates": [v.to_dict() for v in self.verdicts],
            "evidence": self.evidence,
            "progress": self.progress,
        }


def _numbers(verdict: Verdict) -> str:
    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    text = f"{verdict.gate}: candidate {show(verdict.candidate)}"
    if verdict.primary is not None:
        text += f", primary {show(verdict.primary)}"
    return text + f", threshold {show(verdict.threshold)}, n={verdict.n}"


class Controller:
    def __init__(
        self,
        rollouts: RolloutStore,
        registry: Registry,
        log: PredictionLog,
        feedback: FeedbackStore,
        *,
        policy_error: Callable[[str], tuple[int | None, str | None]] | None = None,
        on_tick: Callable[[list[Rollout]], None] | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.rollouts = rollouts
        self.registry = registry
        self.log = log
        self.feedback = feedback
        # endpoint -> (rollout id its policy names, why this server could not build it)
        self.policy_error = policy_error
        self.on_tick = on_tick
        self.tick_s = tick_s
        self._versions: dict[tuple[str, int], ModelVersion] = {}
        self._windows: dict[tuple[int, datetime, str], LogCursor] = {}
        # rollout id -> (when its last round was kept, what it showed)
        self._recorded: dict[int, tuple[datetime, tuple[Any, ...] | None]] = {}

    # -- analysis -------------------------------------------------------------------------
    def version(self, model: str, number: int) -> ModelVersion:
        key = (model, number)
        if key not in self._versions:
            self._versions[key] = self.registry.get(model, number)
        return self._versions[key]

    def analyse(self, rollout: Rollout, now: datetime | None = None) -> Analysis:
        now = now or utcnow()
        analysis = Analysis(at=now)
        if rollout.phase == "blue-green":
            until = rollout.step_started_at + timedelta(seconds=rollout.spec.keep_blue_s)
            analysis.progress = {
                "keep_blue_until": until.isoformat(),
                "remaining_s": max(0.0, round((until - now).total_seconds(), 1)),
                "done": now >= until,
            }
            return analysis
        spec = rollout.spec
        gates = spec.parsed_gates
        candidate = self.version(rollout.model, rollout.candidate)
        rows = self._window(rollout).rows()
        labels = None
        if any(gate.needs_labels for gate in gates):
            labels = labels_for(self.feedback, rollout.endpoint, rollout.step_started_at)
        evidence = collect(
            rows,
            labels,
            kind=candidate.output.kind,
            candidate=rollout.candidate,
            baseline=rollout.baseline,
            phase=rollout.phase,
            primary_live=rollout.weight < 100.0,
        )
        analysis.verdicts = evaluate(
            gates,
            evidence,
            spec.min_samples,
            spec.alpha,
            phase=rollout.phase,
            stages=stages(rollout.strategy, spec.steps),
        )
        analysis.evidence = evidence.summary()
        shadow = rollout.phase == Phase.SHADOW
        every = spec.shadow_for_s if shadow else spec.step_every_s
        after = spec.shadow_for_requests if shadow else spec.step_after_requests
        elapsed = (now - rollout.step_started_at).total_seconds()
        analysis.progress = {
            "elapsed_s": round(elapsed, 1),
            "step_every_s": every,
            "requests": evidence.requests,
            "step_after_requests": after,
            "done": (every is not None and elapsed >= every)
            or (after is not None and evidence.requests >= after),
        }
        return analysis

    def _window(self, rollout: Rollout) -> LogCursor:
        """The step's rows, read incrementally across ticks (a new step, a new window)."""
        key = (rollout.id, rollout.step_started_at, rollout.phase)
        window = self._windows.get(key)
        if window is None:
            versions = [
                self.version(rollout.model, v) for v in (rollout.candidate, rollout.baseline)
            ]
            columns = step_columns(c for v in versions for c in v.output.classes)
            window = self.log.follow(rollout.endpoint, rollout.step_started_at, columns)
            self._windows = {k: w for k, w in self._windows.items() if k[0] != rollout.id}
            self._windows[key] = window
        return window

    def forget(self, live: list[Rollout]) -> None:
        """Drop cached windows of rollouts that ended."""
        ids = {r.id for r in live}
        self._windows = {k: w for k, w in self._windows.items() if k[0] in ids}
        self._recorded = {k: v for k, v in self._recorded.items() if k in ids}

    def keep(self, rollout: Rollout, analysis: Analysis, *, always: bool = False) -> bool:
        """Store this round for the gates' charts when it is due (``always``: it moved
        the rollout on); returns whether it was stored."""
        if not analysis.verdicts:
            return False
        shows = (rollout.phase, rollout.step, rollout.step_started_at, analysis.outcomes())
        if rollout.id not in self._recorded:
            # First sight here (or a restart): kept, as nothing here says what was shown.
            last_at = self.rollouts.last_analysis_at(rollout.id)
            self._recorded[rollout.id] = (last_at or analysis.at, None)
        last_at, last_shows = self._recorded[rollout.id]
        age_s = (analysis.at - rollout.created_at).total_seconds()
        gap_s = max(RECORD_EVERY_S, age_s / RECORD_SPREAD)
        due = shows != last_shows or (analysis.at - last_at).total_seconds() >= gap_s
        if not (always or due):
            return False
        gates = [verdict.point() for verdict in analysis.verdicts]
        requests = int(analysis.progress.get("requests") or 0)
        self.rollouts.add_analysis(rollout, analysis.at, requests, gates)
        self._recorded[rollout.id] = (analysis.at, shows)
        return True

    # -- decisions ------------------------------------------------------------------------
    def decide(self, rollout: Rollout, analysis: Analysis) -> tuple[Change | None, str]:
        """The transition the evidence calls for (or None) and a note on why."""
        spec = rollout.spec
        evidence = analysis.to_dict()
        if rollout.phase == "blue-green":
            if analysis.progress.get("done"):
                return Change(
                    action="release-blue",
                    actor=ACTOR,
                    reason=f"keep-blue of {spec.keep_blue_s:.0f}s passed; blue unloaded",
                    status=PROMOTED,
                    policy=PrimarySpec(),
                ), ""
            return None, f"green live; blue kept loaded for {analysis.progress['remaining_s']}s"
        if analysis.failed:
            reason = "gate failed: " + "; ".join(_numbers(v) for v in analysis.failed)
            if rollout.strategy == RolloutStrategy.SHADOW:
                return None, reason + " (shadow only observes: promote or roll back by hand)"
            return Change(
                action="rollback",
                actor=ACTOR,
                reason=reason,
                evidence=evidence,
                status=ROLLED_BACK,
                policy=PrimarySpec(),
                primary_version=rollout.baseline,
            ), reason
        where = self._where(rollout)
        if rollout.strategy == RolloutStrategy.SHADOW:
            return None, f"{where}; verdicts are advisory, promote or roll back by hand"
        if not analysis.progress.get("done"):
            return None, f"{where}: {self._budget(analysis)}"
        if analysis.waiting:
            pending = "; ".join(f"{v.gate} ({v.reason})" for v in analysis.waiting)
            return None, f"{where}: waiting for enough evidence: {pending}"
        passed = ", ".join(v.gate for v in analysis.verdicts if v.verdict == PASS)
        if rollout.phase == Phase.SHADOW:
            weight = float(spec.steps[0])
            return Change(
                action="step",
                actor=ACTOR,
                reason=f"shadow passed ({passed}); canary at {weight:g}%",
                evidence=evidence,
                phase=Phase.CANARY,
                step=0,
                weight=weight,
                policy=CanarySpec(rollout.candidate, weight, spec.salt, spec.sticky_key),
            ), ""
        if rollout.step + 1 < len(spec.steps):
            weight = float(spec.steps[rollout.step + 1])
            return Change(
                action="step",
                actor=ACTOR,
                reason=f"step {rollout.step + 1} passed ({passed}); canary at {weight:g}%",
                evidence=evidence,
                step=rollout.step + 1,
                weight=weight,
                policy=CanarySpec(rollout.candidate, weight, spec.salt, spec.sticky_key),
            ), ""
        return Change(
            action="promote",
            actor=ACTOR,
            reason=f"all gates passed at the last step ({passed}); "
            f"{rollout.model}:{rollout.candidate} promoted",
            evidence=evidence,
            status=PROMOTED,
            policy=PrimarySpec(),
            primary_version=rollout.candidate,
        ), ""

    @staticmethod
    def _where(rollout: Rollout) -> str:
        if rollout.phase == Phase.SHADOW:
            return Phase.SHADOW
        steps = rollout.spec.steps
        return f"canary step {rollout.step + 1}/{len(steps)} at {rollout.weight:g}%"

    @staticmethod
    def _budget(analysis: Analysis) -> str:
        progress = analysis.progress
        if progress.get("step_after_requests") is not None:
            return f"{progress['requests']} of {progress['step_after_requests']} requests"
        return f"{progress['elapsed_s']:.0f}s of {progress['step_every_s']:.0f}s"

    # -- the loop -------------------------------------------------------------------------
    def tick(self) -> list[str]:
        """One pass over every live rollout; returns endpoints whose routing changed."""
        changed: list[str] = []
        live = self.rollouts.all_live()
        for rollout in live:
            try:
                if self.advance(rollout):
                    changed.append(rollout.endpoint)
            except Conflict:
                logger.info("rollout %s changed meanwhile; skipping this tick", rollout.id)
            except Exception:
                logger.exception("analysing rollout %s on %s failed", rollout.id, rollout.endpoint)
        if changed:
            live = self.rollouts.all_live()
        self.forget(live)
        if self.on_tick is not None:
            self.on_tick(live)
        return changed

    def advance(self, rollout: Rollout) -> bool:
        if rollout.status != ACTIVE:
            return False
        broken = self._unservable(rollout)
        if broken is not None:
            self.rollouts.transition(rollout, broken)
            return True
        analysis = self.analyse(rollout)
        change, note = self.decide(rollout, analysis)
        if change is not None:
            self.rollouts.transition(rollout, change)
            self._keep_safely(rollout, analysis, always=True)
            return True
        event = None
        previous = {g["gate"]: g["verdict"] for g in rollout.verdicts.get("gates", [])}
        if analysis.verdicts and analysis.outcomes() != previous:
            event = Change(action="verdict", actor=ACTOR, reason=note, evidence=analysis.to_dict())
        self.rollouts.record_analysis(rollout, analysis.to_dict(), note, event)
        self._keep_safely(rollout, analysis)
        return False

    def _keep_safely(self, rollout: Rollout, analysis: Analysis, *, always: bool = False) -> None:
        # The charts' history never stands in the way of a decision.
        try:
            self.keep(rollout, analysis, always=always)
        except Exception:
            logger.exception("keeping an analysis round of rollout %s failed", rollout.id)

    def _unservable(self, rollout: Rollout) -> Change | None:
        """This server could not build the rollout's routing: stop before traffic does."""
        if self.policy_error is None:
            return None
        rollout_id, error = self.policy_error(rollout.endpoint)
        if rollout_id != rollout.id or error is None:
            return None
        return Change(
            action="abort",
            actor=ACTOR,
            reason=f"candidate could not be served: {error}",
            evidence={"error": error},
            status=ABORTED,
            policy=PrimarySpec(),
            primary_version=rollout.baseline,
        )

    def _timed_tick(self) -> tuple[list[str], float]:
        """``tick`` and the CPU seconds it used (waiting for a busy machine is free)."""
        started = time.thread_time()
        changed = self.tick()
        return changed, time.thread_time() - started

    async def run(self, refresh: Callable[[str], Any]) -> None:
        """Tick forever; ``refresh(endpoint)`` applies routing changes here at once."""
        while True:
            spent = 0.0
            try:
                changed, spent = await asyncio.to_thread(self._timed_tick)
                for endpoint in changed:
                    await refresh(endpoint)
            except Exception:
                logger.exception("rollout controller tick failed; trying again")
            # Analysis shares the CPU with the primary: keep it to a small share of one
            # core however large a step's window grows (decisions just come less often).
            pause = min(max(self.tick_s, COST_FACTOR * spent), MAX_PAUSE_S)
            if pause > 5 * self.tick_s:
                logger.warning("rollout analysis took %.2f CPU s; next in %.0fs", spent, pause)
            await asyncio.sleep(pause)
