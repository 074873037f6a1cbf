"""Verdicts: each gate is pass, fail or inconclusive, with the numbers behind it.

Every gate becomes a statement "theta <= 0" (or ">= 0") about one estimate, tested with
the always-valid interval of ``sequential.py`` at ``alpha / number of gates``:

- error_rate / accuracy / agreement: a share, or the difference of two shares
  (``accuracy`` against the primary is paired: both answered the same labelled rows);
- pNN_ms: the share of candidate requests slower than the bound must stay at or under
  1 - q (a quantile bound is a share bound, which the same test handles; the bound
  relative to the primary plugs in the primary's observed quantile);
- loss / mean_abs_diff: a mean, or a paired mean difference.

Below the minimum sample a gate is inconclusive whatever the numbers say, so neither a
promotion nor a rollback can come from a handful of requests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelport.rollout.evidence import Evidence
from modelport.rollout.gates import METRICS, Gate, latency_quantile
from modelport.rollout.sequential import MeanEstimate, decide
from modelport.vocabulary import Phase

PASS, FAIL, INCONCLUSIVE, SKIPPED = "pass", "fail", "inconclusive", "skipped"
# Prior effect scale for latency exceedance shares (see sequential.py).
LATENCY_TAU = 0.05
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
    interval: tuple[float, float] | None = None
    # What the interval is about: the metric itself, or for latency gates the share of
    # candidate requests slower than the threshold.
    interval_of: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interval"] = None if self.interval is None else [_clean(v) for v in self.interval]
        for key in ("candidate", "primary", "threshold"):
            data[key] = _clean(data[key])
        return data


def _clean(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6)


@dataclass(frozen=True)
class Context:
    evidence: Evidence
    min_samples: int
    alpha: float


def evaluate(
    gates: list[Gate], evidence: Evidence, min_samples: int, alpha: float, phase: str = Phase.CANARY
) -> list[Verdict]:
    context = Context(evidence, min_samples, alpha / max(len(gates), 1))
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
    verdict.interval = None
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
        return _mean(gate, context, values, (0.0, 1.0), None, "paired rows")
    if gate.metric == "mean_abs_diff":
        return _mean(gate, context, context.evidence.abs_diff, None, None, "paired rows")
    if gate.metric in ("accuracy", "loss"):
        return _labelled(gate, context)
    raise ValueError(f"no analysis for metric {gate.metric!r}")


def _verdict(
    gate: Gate,
    context: Context,
    theta: MeanEstimate,
    *,
    tau: float | None,
    candidate: float | None,
    primary: float | None,
    threshold: float | None,
    n: int,
    needed: int,
    what: str,
    shift: float,
) -> Verdict:
    """``theta`` is "candidate minus bound"; ``shift`` puts its interval back on the
    metric's own scale for people to read (latency: the share of slower requests)."""
    verdict = Verdict(
        gate=gate.text,
        metric=gate.metric,
        verdict=INCONCLUSIVE,
        candidate=candidate,
        primary=primary,
        threshold=threshold,
        n=n,
        min_samples=needed,
        alpha=round(context.alpha, 6),
        interval_of="share slower than threshold" if gate.metric.endswith("_ms") else gate.metric,
    )
    if n < needed:
        verdict.reason = f"{n} of {needed} {what} needed"
        return verdict
    # tau None: effects on the scale of one observation's spread (a plug-in choice).
    tau2 = tau * tau if tau is not None else max(theta.variance * max(theta.n, 1), 1e-12)
    decision = decide(theta, upper=gate.upper, alpha=context.alpha, tau2=tau2)
    verdict.verdict = decision.verdict
    low, high = decision.interval[0] + shift, decision.interval[1] + shift
    if gate.metric in SHARES or gate.metric.endswith("_ms"):
        low, high = max(low, 0.0), min(high, 1.0)  # a share's interval stays within 0..1
    verdict.interval = (low, high)
    if decision.verdict == INCONCLUSIVE:
        verdict.reason = "not yet sure either way; more traffic will tell"
    return verdict


def _error_rate(gate: Gate, context: Context) -> Verdict:
    candidate, primary = context.evidence.candidate, context.evidence.primary
    rate = MeanEstimate.proportion(candidate.errors, candidate.requests)
    primary_rate = MeanEstimate.proportion(primary.errors, primary.requests)
    primary_value = primary.errors / primary.requests if primary.requests else None
    threshold = gate.threshold(primary_value)
    theta = rate.minus(primary_rate, gate.scale) if gate.relative else rate
    n = candidate.requests
    needed = context.min_samples
    if gate.relative and primary.requests < context.min_samples:
        n, what = min(n, primary.requests), "requests on each side"
    else:
        what = "candidate requests"
    return _verdict(
        gate,
        context,
        theta.shift(-gate.offset),
        tau=METRICS["error_rate"].tau,
        candidate=candidate.errors / candidate.requests if candidate.requests else None,
        primary=primary_value,
        threshold=threshold,
        n=n,
        needed=needed,
        what=what,
        shift=threshold if threshold is not None else gate.offset,
    )


def _latency(gate: Gate, quantile: float, context: Context) -> Verdict:
    candidate = context.evidence.candidate.latencies_ms
    primary = context.evidence.primary.latencies_ms
    # A quantile bound can only be judged with a few expected exceedances behind it.
    needed = max(context.min_samples, math.ceil(5.0 / (1.0 - quantile)))
    primary_value = float(np.quantile(primary, quantile)) if primary.size else None
    candidate_value = float(np.quantile(candidate, quantile)) if candidate.size else None
    n, what = candidate.size, "candidate requests"
    if gate.relative and primary.size < needed:
        n, what = min(n, primary.size), "requests on each side"
    threshold = gate.threshold(primary_value)
    slower = int((candidate > threshold).sum()) if threshold is not None else 0
    share = MeanEstimate.proportion(slower, int(candidate.size))
    return _verdict(
        gate,
        context,
        share.shift(-(1.0 - quantile)),
        tau=LATENCY_TAU,
        candidate=candidate_value,
        primary=primary_value,
        threshold=threshold,
        n=int(n),
        needed=needed,
        what=what,
        shift=1.0 - quantile,
    )


def _mean(
    gate: Gate,
    context: Context,
    values: np.ndarray[Any, Any],
    bounds: tuple[float, float] | None,
    primary: float | None,
    what: str,
) -> Verdict:
    estimate = MeanEstimate.from_values(values, bounds)
    return _verdict(
        gate,
        context,
        estimate.shift(-gate.offset),
        tau=METRICS[gate.metric].tau,
        candidate=float(values.mean()) if values.size else None,
        primary=primary,
        threshold=gate.offset,
        n=int(values.size),
        needed=context.min_samples,
        what=what,
        shift=gate.offset,
    )


def _labelled(gate: Gate, context: Context) -> Verdict:
    evidence = context.evidence
    accuracy = gate.metric == "accuracy"
    if not gate.relative:
        values = evidence.candidate_correct if accuracy else evidence.candidate_loss
        bounds = (0.0, 1.0) if accuracy else None
        return _mean(gate, context, values, bounds, None, "labelled candidate rows")
    mine, theirs = evidence.correct if accuracy else evidence.loss
    # Paired on the same labelled requests: request-to-request noise cancels out.
    differences = mine - gate.scale * theirs
    bounds = (-gate.scale, 1.0) if accuracy else None
    estimate = MeanEstimate.from_values(differences, bounds).shift(-gate.offset)
    primary_value = float(theirs.mean()) if theirs.size else None
    return _verdict(
        gate,
        context,
        estimate,
        tau=METRICS[gate.metric].tau,
        candidate=float(mine.mean()) if mine.size else None,
        primary=primary_value,
        threshold=gate.threshold(primary_value),
        n=int(mine.size),
        needed=context.min_samples,
        what="labelled rows answered by both",
        shift=gate.threshold(primary_value) or 0.0,
    )
