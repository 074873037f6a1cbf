"""Error control over a whole rollout, with modelport's own analysis (fast simulations).

The full runs (500 rollouts per scenario) are ``bench/calibrate_rollout.py``; these use
a few dozen rollouts with fixed seeds and shorter stages, and allow for that: with the
method's true rates far below alpha, more than a couple of wrong decisions out of a few
dozen would mean the error control is broken.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from modelport.rollout.analysis import evaluate, stages
from modelport.rollout.evidence import Arm, Evidence
from modelport.rollout.gates import DEFAULT_GATES, parse_gates
from modelport.rollout.sequential import count_range, share_bound, share_rejects
from rollout.simulation import Z95, Plan, Version, lognormal, lognormal_quantile, outcome_rates

FAST = Plan(tuple(DEFAULT_GATES), max_requests=3000, look_every=100, step_after=300)
REPS = 24


def test_alpha_is_shared_by_every_stage_and_gate() -> None:
    evidence = Evidence("classification", Arm(), Arm())
    gates = parse_gates(DEFAULT_GATES)
    count = stages("shadow-then-canary", [5, 25, 50, 100])
    verdicts = evaluate(gates, evidence, 100, 0.05, stages=count)
    assert count == 5
    assert {v.alpha for v in verdicts} == {round(0.05 / 15, 8)}


def test_an_equal_candidate_is_almost_never_rolled_back_over_the_whole_rollout() -> None:
    # Few errors, so that short stages suffice to pass as well.
    same = Version(error_rate=0.002)
    rates = outcome_rates(FAST, same, same, REPS, seed=100)
    assert rates["rollback"] <= 2 / REPS
    assert rates["promote"] > 0  # and the gates can still be passed


def test_a_candidate_at_the_error_rate_margin_is_almost_never_promoted() -> None:
    rates = outcome_rates(FAST, Version(), Version(error_rate=0.02), REPS, seed=200)
    assert rates["promote"] <= 2 / REPS


def test_a_candidate_at_the_agreement_margin_is_almost_never_promoted() -> None:
    rates = outcome_rates(FAST, Version(), Version(agreement=0.8), REPS, seed=300)
    assert rates["promote"] <= 2 / REPS


def test_a_candidate_at_the_latency_margin_is_almost_never_promoted() -> None:
    margin_ms = 1.5 * lognormal_quantile(Z95) + 5.0  # p95_ms<=primary*1.5+5, exactly
    slower = Version(latency=lognormal(margin_ms / lognormal_quantile(Z95, median_ms=1.0)))
    rates = outcome_rates(FAST, Version(), slower, REPS, seed=400)
    assert rates["promote"] <= 2 / REPS


def test_a_clearly_worse_candidate_is_rolled_back() -> None:
    rates = outcome_rates(FAST, Version(), Version(error_rate=0.08), 10, seed=500)
    assert rates["rollback"] == 1.0


def test_a_share_test_keeps_its_level_under_peeking_at_every_hundred() -> None:
    rng = np.random.default_rng(6)
    false_alarms = 0
    for _ in range(200):
        ones = np.cumsum(rng.random(5000) < 0.05)
        false_alarms += any(
            share_rejects(int(ones[n - 1]), n, 0.05, above=True, alpha=0.05)
            or share_rejects(int(ones[n - 1]), n, 0.05, above=False, alpha=0.05)
            for n in range(100, 5001, 100)
        )
    assert false_alarms / 200 <= 0.05


def test_bounds_are_one_sided_and_honest_near_zero() -> None:
    # No error in 2,000 requests: the upper bound is small but never 0.
    upper = share_bound(0, 2000, upper=True, alpha=0.05)
    assert 0.0 < upper < 0.005
    assert share_bound(0, 2000, upper=False, alpha=0.05) == 0.0
    # One side at alpha is tighter than both sides at alpha (the old two-sided use).
    low, high = count_range(1000, 0.5, 0.05)
    wide_low, wide_high = count_range(1000, 0.5, 0.025)
    assert wide_low < low and high < wide_high


def test_bounds_cover_the_truth_at_every_look() -> None:
    rng = np.random.default_rng(8)
    missed = 0
    for _ in range(100):
        ones = np.cumsum(rng.random(3000) < 0.02)
        missed += any(
            share_bound(int(ones[n - 1]), n, upper=True, alpha=0.05) < 0.02
            for n in range(100, 3001, 300)
        )
    assert missed / 100 <= 0.05


def test_too_few_concurrent_primary_requests_make_relative_gates_wait() -> None:
    # A stage with too few concurrent primary requests waits, whatever the candidate.
    candidate = Arm(requests=500, errors=0, latencies_ms=np.full(500, 5.0))
    primary = Arm(requests=40, errors=0, latencies_ms=np.full(40, 5.0))
    evidence = Evidence("classification", candidate, primary)
    gates = parse_gates(["error_rate<=primary+0.01", "p95_ms<=primary*1.5+5"])
    verdicts = evaluate(gates, evidence, 100, 0.05)
    assert [v.verdict for v in verdicts] == ["inconclusive", "inconclusive"]
    assert verdicts[0].reason == "40 of 100 requests on each side needed"


def test_plan_defaults_are_what_the_bench_documents() -> None:
    plan = replace(FAST, max_requests=10000, look_every=200, step_after=500)
    assert plan == Plan(tuple(DEFAULT_GATES))
