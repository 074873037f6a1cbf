"""Verdicts: each gate is pass, fail or inconclusive, with the numbers behind it.

Every gate is two one-sided, always-valid tests: "fail" once the candidate is shown to
be on the wrong side of the bound, "pass" once it is shown to be on the right side;
each may be repeated after every request (Ville's inequality), and each errs with
probability at most the gate's share of alpha over all looks together.

How alpha is spent over a rollout. A rollout has ``stages`` analysed windows (the shadow
phase of shadow-then-canary, then one per canary step), each with fresh traffic, and
``G`` gates per stage. Every (stage, gate) pair gets ``alpha / (stages * G)``
(Bonferroni). Hence for a candidate equal to the primary the probability of any
rollback over the whole rollout is at most alpha (a rollback needs at least one false
"fail"), and for a candidate exactly at a gate's margin the probability of promotion is
at most alpha (a promotion needs that gate to "pass" at every stage). Gates comparing
two arms split their share evenly between the arms (alpha / 2 each).

- error_rate / agreement / accuracy (absolute): Bernoulli confidence sequences from the
  beta-binomial mixture martingale (Howard, Ramdas, McAuliffe & Sekhon 2021;
  Waudby-Smith & Ramdas 2023), exact at every n, also for shares near 0 or 1;
- error_rate against the primary: one sequence per arm (alpha / 2 each): fail when the
  candidate's lower bound exceeds ``scale * primary's upper bound + offset``, pass when
  its upper bound is under ``scale * primary's lower bound + offset``;
- pNN_ms: a failed or timed-out request counts as +inf latency in both arms. Absolute
  bound: the share of candidate requests slower than the bound against 1 - q.
  Relative bound: a two-sample test; the primary's quantile gets a time-uniform
  confidence sequence (Howard & Ramdas 2022, order statistics at Bernoulli ranks), and
  the candidate's share of requests slower than ``scale * upper bound + offset`` must be
  shown above 1 - q to fail, its share slower than ``scale * lower bound + offset``
  shown under 1 - q to pass (alpha / 2 for each arm);
- loss / mean_abs_diff / accuracy against the primary (paired means): the mixture SPRT
  interval of ``sequential.py`` (Johari et al. 2017; a normal approximation).

Below the minimum sample a gate is inconclusive whatever the numbers say. The primary
arm is the primary's own live requests of the same step (concurrent with the
candidate); with too few of them a relative gate waits. At a 100 % step no request is
answered by the primary live: its background answers to the same requests (role
``baseline``) stand in for error rates, and relative latency gates are skipped (they
were judged at the earlier steps, where both arms answered callers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelport.rollout.evidence import Evidence
from modelport.rollout.gates import METRICS, Gate, latency_quantile
from modelport.rollout.sequential import (
    MeanEstimate,
    decide,
    quantile_with_bounds,
    share_bound,
    share_rejects,
)
from modelport.vocabulary import Phase, RolloutStrategy

PASS, FAIL, INCONCLUSIVE, SKIPPED = "pass", "fail", "inconclusive", "skipped"
SHARES = ("error_rate", "agreement", "accuracy")


@dataclass
class Verdict:
    gate: str
    metric: str
    verdict: str
    candidate: float | None
    primary: float | None
    threshold: float | None
    n: int
    min_samples: int
    alpha: float
    # Always-valid bounds on the candidate's value (latency gates: on the share of its
    # requests slower than the threshold).
    interval: tuple[float, float] | None = None
    interval_of: str = ""
    # Relative gates: always-valid bounds on the threshold itself (it depends on the
    # primary, which is measured too).
    threshold_interval: tuple[float, float] | None = None
    reason: str = ""
    # ``interval``'s own scale: its point estimate and the bound it is judged against
    # (latency gates: the share slower than the threshold, against 1 - q).
    estimate: float | None = None
    bound: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("interval", "threshold_interval"):
            value = getattr(self, key)
            data[key] = None if value is None else [_clean(v) for v in value]
        for key in ("candidate", "primary", "threshold", "estimate", "bound"):
            data[key] = _clean(data[key])
        return data

    def point(self) -> dict[str, Any]:
        """The numbers a chart of this gate over time needs: estimate and interval
        against the bound, all on one scale (``interval_of``)."""
        data = self.to_dict()
        latency = latency_quantile(self.metric) is not None
        return {
            "gate": self.gate,
            "metric": self.metric,
            "verdict": self.verdict,
            "estimate": data["estimate"],
            "interval": data["interval"],
            "interval_of": self.interval_of,
            "bound": data["bound"],
            # A latency gate's threshold interval is in ms, not on the interval's scale.
            "bound_interval": None if latency else data["threshold_interval"],
            "candidate": data["candidate"],
            "primary": data["primary"],
            "threshold": data["threshold"],
            "n": self.n,
            "min_samples": self.min_samples,
        }


def _clean(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6)


@dataclass(frozen=True)
class Context:
    evidence: Evidence
    min_samples: int
    alpha: float  # this gate's share at this stage


def stages(strategy: str, steps: list[int]) -> int:
    """How many analysed windows a rollout has: alpha is shared among them.

    >>> stages("shadow-then-canary", [5, 25, 50, 100]), stages("canary", [50, 100])
    (5, 2)
    >>> stages("shadow", [5, 25, 50, 100])
    1
    """
    if strategy == RolloutStrategy.SHADOW:
        return 1
    if strategy == RolloutStrategy.SHADOW_THEN_CANARY:
        return 1 + len(steps)
    return max(len(steps), 1)


def evaluate(
    gates: list[Gate],
    evidence: Evidence,
    min_samples: int,
    alpha: float,
    phase: str = Phase.CANARY,
    *,
    stages: int = 1,
) -> list[Verdict]:
    """Judge every gate at ``alpha / (stages * len(gates))``."""
    context = Context(evidence, min_samples, alpha / (max(stages, 1) * max(len(gates), 1)))
    return [
        _not_judged_in_shadow(gate, context)
        if phase == Phase.SHADOW and latency_quantile(gate.metric) is not None
        else evaluate_one(gate, context)
        for gate in gates
    ]


def _not_judged_in_shadow(gate: Gate, context: Context) -> Verdict:
    """Shadow copies run in the background, batched with other copies: their latency
    says little about what callers would see, so latency is judged under canary."""
    verdict = _latency(gate, latency_quantile(gate.metric) or 0.5, context)
    verdict.verdict = SKIPPED
    verdict.interval = verdict.threshold_interval = None
    verdict.reason = "latency is judged when the candidate answers callers (canary)"
    return verdict


def evaluate_one(gate: Gate, context: Context) -> Verdict:
    quantile = latency_quantile(gate.metric)
    if quantile is not None:
        return _latency(gate, quantile, context)
    if gate.metric == "error_rate":
        return _error_rate(gate, context)
    if gate.metric == "agreement":
        values = context.evidence.agree
        return _share(gate, context, int(values.sum()), int(values.size), "paired rows")
    if gate.metric == "mean_abs_diff":
        return _mean(gate, context, context.evidence.abs_diff, None, None, "paired rows")
    if gate.metric in ("accuracy", "loss"):
        return _labelled(gate, context)
    raise ValueError(f"no analysis for metric {gate.metric!r}")


def _base(
    gate: Gate,
    context: Context,
    *,
    candidate: float | None,
    primary: float | None,
    threshold: float | None,
    n: int,
    needed: int,
) -> Verdict:
    latency = latency_quantile(gate.metric)
    return Verdict(
        gate=gate.text,
        metric=gate.metric,
        verdict=INCONCLUSIVE,
        candidate=candidate,
        primary=primary,
        threshold=threshold,
        n=n,
        min_samples=needed,
        alpha=round(context.alpha, 8),
        interval_of="share slower than threshold" if latency is not None else gate.metric,
        estimate=candidate if latency is None else None,
        bound=threshold if latency is None else 1.0 - latency,
    )


def _conclude(verdict: Verdict, *, fail: bool, passed: bool) -> Verdict:
    verdict.verdict = FAIL if fail else PASS if passed else INCONCLUSIVE
    if verdict.verdict == INCONCLUSIVE:
        verdict.reason = "not yet sure either way; more traffic will tell"
    return verdict


def _share(gate: Gate, context: Context, successes: int, n: int, what: str) -> Verdict:
    """A share against a fixed number: one Bernoulli confidence sequence."""
    verdict = _base(
        gate,
        context,
        candidate=successes / n if n else None,
        primary=None,
        threshold=gate.offset,
        n=n,
        needed=context.min_samples,
    )
    if n < context.min_samples:
        verdict.reason = f"{n} of {context.min_samples} {what} needed"
        return verdict
    alpha = context.alpha
    verdict.interval = (
        share_bound(successes, n, upper=False, alpha=alpha),
        share_bound(successes, n, upper=True, alpha=alpha),
    )
    above = share_rejects(successes, n, gate.offset, above=True, alpha=alpha)
    below = share_rejects(successes, n, gate.offset, above=False, alpha=alpha)
    return _conclude(
        verdict, fail=above if gate.upper else below, passed=below if gate.upper else above
    )


def _error_rate(gate: Gate, context: Context) -> Verdict:
    candidate, primary = context.evidence.candidate, context.evidence.primary
    if not gate.relative:
        return _share(gate, context, candidate.errors, candidate.requests, "candidate requests")
    primary_value = primary.errors / primary.requests if primary.requests else None
    verdict = _base(
        gate,
        context,
        candidate=candidate.errors / candidate.requests if candidate.requests else None,
        primary=primary_value,
        threshold=gate.threshold(primary_value),
        n=min(candidate.requests, primary.requests),
        needed=context.min_samples,
    )
    if verdict.n < context.min_samples:
        verdict.reason = f"{verdict.n} of {context.min_samples} requests on each side needed"
        return verdict
    half = context.alpha / 2.0  # one sequence per arm
    low_c = share_bound(candidate.errors, candidate.requests, upper=False, alpha=half)
    high_c = share_bound(candidate.errors, candidate.requests, upper=True, alpha=half)
    low_p = share_bound(primary.errors, primary.requests, upper=False, alpha=half)
    high_p = share_bound(primary.errors, primary.requests, upper=True, alpha=half)
    bound_low, bound_high = gate.scale * low_p + gate.offset, gate.scale * high_p + gate.offset
    verdict.interval, verdict.threshold_interval = (low_c, high_c), (bound_low, bound_high)
    return _conclude(verdict, fail=low_c > bound_high, passed=high_c <= bound_low)


def _quantile(values: np.ndarray[Any, Any], q: float) -> float | None:
    """The order statistic at rank ceil(q n) (numpy's "inverted_cdf"): +inf (failed
    requests) stays meaningful, no interpolation between an answer and a timeout."""
    if not values.size:
        return None
    rank = min(max(math.ceil(q * values.size) - 1, 0), values.size - 1)
    return float(np.partition(values, rank)[rank])


def _latency(gate: Gate, quantile: float, context: Context) -> Verdict:
    evidence = context.evidence
    candidate, primary = evidence.candidate.latencies_ms, evidence.primary.latencies_ms
    # A quantile bound can only be judged with a few expected exceedances behind it.
    needed = max(context.min_samples, math.ceil(5.0 / (1.0 - quantile)))
    half = context.alpha / 2.0  # relative gates: one sequence per arm
    primary_value: float | None = None
    low_q, high_q = -math.inf, math.inf
    if gate.relative and primary.size:
        primary_value, low_q, high_q = quantile_with_bounds(primary, quantile, half)
    verdict = _base(
        gate,
        context,
        candidate=_quantile(candidate, quantile),
        primary=primary_value,
        threshold=gate.threshold(primary_value),
        n=int(candidate.size),
        needed=needed,
    )
    exceed = 1.0 - quantile  # the share of requests a quantile leaves above it
    n = int(candidate.size)
    if n and verdict.threshold is not None and math.isfinite(verdict.threshold):
        verdict.estimate = float((candidate > verdict.threshold).mean())
    if not gate.relative:
        if n < needed:
            verdict.reason = f"{n} of {needed} candidate requests needed"
            return verdict
        slower = int((candidate > gate.offset).sum())
        alpha = context.alpha
        verdict.interval = (
            share_bound(slower, n, upper=False, alpha=alpha),
            share_bound(slower, n, upper=True, alpha=alpha),
        )
        return _conclude(
            verdict,
            fail=share_rejects(slower, n, exceed, above=True, alpha=alpha),
            passed=share_rejects(slower, n, exceed, above=False, alpha=alpha),
        )
    if not evidence.primary_caller_facing:
        verdict.verdict = SKIPPED
        verdict.reason = (
            "no primary request answered a caller in this step; "
            "relative latency is judged at steps where both versions do"
        )
        return verdict
    verdict.n = min(n, int(primary.size))
    if verdict.n < needed:
        verdict.reason = f"{verdict.n} of {needed} requests on each side needed"
        return verdict
    bound_low = gate.scale * low_q + gate.offset
    bound_high = gate.scale * high_q + gate.offset
    slower_than_high = int((candidate > bound_high).sum())
    slower_than_low = int((candidate > bound_low).sum())
    verdict.threshold_interval = (bound_low, bound_high)
    verdict.interval = (
        share_bound(slower_than_high, n, upper=False, alpha=half),
        share_bound(slower_than_low, n, upper=True, alpha=half),
    )
    return _conclude(
        verdict,
        fail=share_rejects(slower_than_high, n, exceed, above=True, alpha=half),
        passed=share_rejects(slower_than_low, n, exceed, above=False, alpha=half),
    )


def _mean_verdict(
    gate: Gate,
    context: Context,
    theta: MeanEstimate,
    verdict: Verdict,
    what: str,
    shift: float,
) -> Verdict:
    """``theta`` is "value minus bound", judged with the mixture SPRT (a normal
    approximation; Johari et al. 2017); ``shift`` puts its interval back on the metric's
    scale."""
    if verdict.n < verdict.min_samples:
        verdict.reason = f"{verdict.n} of {verdict.min_samples} {what} needed"
        return verdict
    tau = METRICS[gate.metric].tau
    # tau None: effects on the scale of one observation's spread (a plug-in choice).
    tau2 = tau * tau if tau is not None else max(theta.variance * max(theta.n, 1), 1e-12)
    decision = decide(theta, upper=gate.upper, alpha=context.alpha, tau2=tau2)
    verdict.interval = (decision.interval[0] + shift, decision.interval[1] + shift)
    return _conclude(verdict, fail=decision.verdict == FAIL, passed=decision.verdict == PASS)


def _mean(
    gate: Gate,
    context: Context,
    values: np.ndarray[Any, Any],
    bounds: tuple[float, float] | None,
    primary: float | None,
    what: str,
) -> Verdict:
    estimate = MeanEstimate.from_values(values, bounds)
    verdict = _base(
        gate,
        context,
        candidate=float(values.mean()) if values.size else None,
        primary=primary,
        threshold=gate.offset,
        n=int(values.size),
        needed=context.min_samples,
    )
    return _mean_verdict(gate, context, estimate.shift(-gate.offset), verdict, what, gate.offset)


def _labelled(gate: Gate, context: Context) -> Verdict:
    evidence = context.evidence
    accuracy = gate.metric == "accuracy"
    if not gate.relative:
        if accuracy:
            values = evidence.candidate_correct
            what = "labelled candidate rows"
            return _share(gate, context, int(values.sum()), int(values.size), what)
        return _mean(gate, context, evidence.candidate_loss, None, None, "labelled candidate rows")
    mine, theirs = evidence.correct if accuracy else evidence.loss
    # Paired on the same labelled requests: request-to-request noise cancels out.
    differences = mine - gate.scale * theirs
    bounds = (-gate.scale, 1.0) if accuracy else None
    estimate = MeanEstimate.from_values(differences, bounds).shift(-gate.offset)
    primary_value = float(theirs.mean()) if theirs.size else None
    threshold = gate.threshold(primary_value)
    verdict = _base(
        gate,
        context,
        candidate=float(mine.mean()) if mine.size else None,
        primary=primary_value,
        threshold=threshold,
        n=int(mine.size),
        needed=context.min_samples,
    )
    return _mean_verdict(
        gate, context, estimate, verdict, "labelled rows answered by both", threshold or 0.0
    )
