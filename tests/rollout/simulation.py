"""Simulated rollouts judged by modelport's own analysis (``evaluate``, ``stages``).

Each stage of a rollout (shadow, then each canary step) gets fresh traffic, split between
the versions by the step's weight; the gates are judged after every ``look_every``
candidate requests on everything the stage has seen so far, as the controller re-reads a
step's window: a failed gate rolls back at once, a stage moves on once the candidate has
answered ``step_after`` requests and no gate is inconclusive, and a stage still
undecided after ``max_requests`` candidate requests leaves the rollout stuck (neither
promoted nor rolled back). Used by the fast tests in this folder and by
``bench/calibrate_rollout.py``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.rollout.analysis import FAIL, INCONCLUSIVE, evaluate, stages
from modelport.rollout.evidence import Arm, Evidence
from modelport.rollout.gates import parse_gates
from modelport.vocabulary import Phase, RolloutStrategy

Array = np.ndarray[Any, Any]
Latency = Callable[[np.random.Generator, int], Array]
# Lognormal latencies: the median and sigma of log-latency.
MEDIAN_MS, SIGMA = 20.0, 0.5
Z95 = 1.6448536269514722  # standard normal 95th percentile


def lognormal(median_ms: float = MEDIAN_MS, sigma: float = SIGMA) -> Latency:
    def draw(rng: np.random.Generator, n: int) -> Array:
        return median_ms * rng.lognormal(0.0, sigma, n)

    return draw


def lognormal_quantile(q_z: float, median_ms: float = MEDIAN_MS, sigma: float = SIGMA) -> float:
    return median_ms * math.exp(sigma * q_z)


@dataclass(frozen=True)
class Version:
    """How one version behaves: errors, latency, and (candidate) agreement."""

    error_rate: float = 0.01
    latency: Latency = field(default_factory=lognormal)
    agreement: float = 0.95
    # Requests slower than this fail as timeouts (their latency is not logged as ok).
    timeout_above_ms: float = math.inf


@dataclass(frozen=True)
class Plan:
    gates: tuple[str, ...]
    strategy: str = RolloutStrategy.SHADOW_THEN_CANARY
    steps: tuple[int, ...] = (5, 25, 50, 100)
    alpha: float = 0.05
    min_samples: int = 100
    step_after: int = 500  # candidate requests a stage needs before it may move on
    max_requests: int = 10000  # candidate requests per stage; still undecided then: stuck
    look_every: int = 200  # candidate requests between looks


def _outcomes(version: Version, rng: np.random.Generator, n: int) -> tuple[Array, Array]:
    latency = version.latency(rng, n)
    failed = (rng.random(n) < version.error_rate) | (latency > version.timeout_above_ms)
    return failed, latency


def _stage(
    plan: Plan, phase: str, weight: float, primary: Version, candidate: Version, rng: Any
) -> str:
    """ "next", "rollback" or "stuck" for one stage."""
    shadow = phase == Phase.SHADOW
    share = 1.0 if shadow else weight / 100.0
    # Enough endpoint requests for max_requests candidate ones (and a few more).
    n = math.ceil(plan.max_requests / share * 1.02) + 50
    p_failed, p_latency = _outcomes(primary, rng, n)
    c_failed, c_latency = _outcomes(candidate, rng, n)
    agree = (rng.random(n) < candidate.agreement).astype(np.float64)
    to_candidate = np.ones(n, bool) if shadow else rng.random(n) < share
    gates = parse_gates(list(plan.gates))
    count = stages(plan.strategy, list(plan.steps))
    # Live primary requests of the same window; at 100 % its background answers to the
    # candidate's requests (errors only: their latency is not caller-facing).
    primary_live = shadow or weight < 100.0
    mine = np.flatnonzero(to_candidate)
    theirs = (np.arange(n) if shadow else np.flatnonzero(~to_candidate)) if primary_live else mine
    # Paired rows: the candidate's requests both versions answered.
    both = ~c_failed[mine] & ~p_failed[mine]
    paired, paired_upto = agree[mine][both], np.cumsum(both)
    # Each arm's requests in arrival order, failures as +inf (as evidence.arm logs them):
    # a look at the first ``seen`` requests is then a prefix of each.
    c_latency, c_failed = np.where(c_failed, np.inf, c_latency)[mine], c_failed[mine]
    p_latency, p_failed = np.where(p_failed, np.inf, p_latency)[theirs], p_failed[theirs]
    for answered in range(plan.look_every, min(plan.max_requests, mine.size) + 1, plan.look_every):
        seen = int(mine[answered - 1]) + 1
        k = int(np.searchsorted(theirs, seen))
        evidence = Evidence(
            kind="classification",
            candidate=Arm(answered, int(c_failed[:answered].sum()), c_latency[:answered]),
            primary=Arm(k, int(p_failed[:k].sum()), p_latency[:k]),
            requests=seen,
            agree=paired[: paired_upto[answered - 1]],
            primary_caller_facing=primary_live,
        )
        verdicts = evaluate(
            gates, evidence, plan.min_samples, plan.alpha, phase=phase, stages=count
        )
        if any(v.verdict == FAIL for v in verdicts):
            return "rollback"
        if answered >= plan.step_after and not any(v.verdict == INCONCLUSIVE for v in verdicts):
            return "next"
    return "stuck"


def run_rollout(plan: Plan, primary: Version, candidate: Version, seed: int) -> str:
    """ "promote", "rollback" or "stuck" for one simulated rollout."""
    rng = np.random.default_rng(seed)
    phases: list[tuple[str, float]] = []
    if plan.strategy == RolloutStrategy.SHADOW_THEN_CANARY:
        phases.append((Phase.SHADOW, 0.0))
    phases += [(Phase.CANARY, float(w)) for w in plan.steps]
    for phase, weight in phases:
        outcome = _stage(plan, phase, weight, primary, candidate, rng)
        if outcome != "next":
            return outcome
    return "promote"


def outcome_rates(
    plan: Plan, primary: Version, candidate: Version, reps: int, seed: int
) -> dict[str, float]:
    """Share of ``reps`` rollouts (seeds seed, seed + 1, ...) ending each way."""
    counts = Counter(run_rollout(plan, primary, candidate, seed + i) for i in range(reps))
    return {k: counts[k] / reps for k in ("promote", "rollback", "stuck")}
