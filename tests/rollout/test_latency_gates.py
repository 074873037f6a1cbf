"""Latency gates: failures count as the slowest answers, and relative bounds are a
two-sample comparison that accounts for the primary's own uncertainty."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from modelport.rollout.analysis import evaluate
from modelport.rollout.evidence import Arm, Evidence, collect, step_columns
from modelport.rollout.gates import parse_gates
from modelport.rollout.sequential import quantile_bounds
from rollout.logdata import LogWriter
from rollout.simulation import Z95, Plan, Version, lognormal, lognormal_quantile, outcome_rates

FAST = dict(max_requests=2000, look_every=100, step_after=300)


def test_failed_requests_are_the_slowest_in_the_evidence(tmp_path: Path) -> None:
    from rollout.test_analysis import SINCE

    writer = LogWriter(tmp_path)
    for i in range(10):
        writer.add(f"c{i}", "canary", 2, None if i < 3 else "0", latency_ms=5.0)
    writer.flush()
    rows = writer.log.follow("churn", SINCE, step_columns(["0", "1"])).rows()
    evidence = collect(rows, None, kind="classification", candidate=2, baseline=1, phase="canary")
    latencies = np.sort(evidence.candidate.latencies_ms)
    assert evidence.candidate.errors == 3 and latencies.size == 10
    assert np.isinf(latencies[-3:]).all() and (latencies[:7] == 5.0).all()


def test_a_candidate_timing_out_on_its_slowest_requests_fails_a_latency_gate() -> None:
    rng = np.random.default_rng(3)
    fast = rng.lognormal(3.0, 0.5, 2000)
    answered = fast.copy()
    answered[fast > np.quantile(fast, 0.95)] = np.inf  # its slowest 5 % time out
    evidence = Evidence(
        "classification",
        Arm(2000, int(np.isinf(answered).sum()), answered),
        Arm(2000, 0, rng.lognormal(3.0, 0.5, 2000)),
    )
    verdict = evaluate(parse_gates(["p99_ms<=primary*1.5+5"]), evidence, 100, 0.05)[0]
    assert verdict.verdict == "fail"
    # Its p99 is a timeout: +inf, shown as no number.
    assert verdict.candidate == math.inf and verdict.to_dict()["candidate"] is None


def test_relative_gates_report_bounds_on_the_threshold() -> None:
    rng = np.random.default_rng(4)
    same = Arm(3000, 0, rng.lognormal(3.0, 0.5, 3000))
    evidence = Evidence("classification", same, Arm(3000, 0, rng.lognormal(3.0, 0.5, 3000)))
    verdict = evaluate(parse_gates(["p50_ms<=primary"]), evidence, 100, 0.05)[0]
    assert verdict.verdict == "inconclusive"  # equal medians: neither can be shown
    assert verdict.threshold_interval is not None and verdict.threshold is not None
    low, high = verdict.threshold_interval
    assert low < verdict.threshold < high
    assert verdict.to_dict()["threshold_interval"] == [round(low, 6), round(high, 6)]


def test_quantile_bounds_cover_the_true_quantile_at_every_look() -> None:
    rng = np.random.default_rng(5)
    true_p95 = math.exp(Z95)
    missed = 0
    for _ in range(60):
        values = rng.lognormal(0.0, 1.0, 4000)
        for n in range(200, 4001, 200):
            low, high = quantile_bounds(values[:n], 0.95, 0.025)
            if not low <= true_p95 <= high:
                missed += 1
                break
    assert missed / 60 <= 0.05


def test_equal_latencies_are_not_rolled_back_at_5_or_50_percent() -> None:
    for weight, seed in ((5, 10), (50, 20)):
        plan = Plan(("p50_ms<=primary", "p95_ms<=primary"), "canary", (weight,), **FAST)
        rates = outcome_rates(plan, Version(), Version(), 20, seed)
        assert rates["rollback"] <= 1 / 20, weight


def test_a_clearly_slower_candidate_is_rolled_back() -> None:
    plan = Plan(("p50_ms<=primary",), "canary", (50,), **FAST)
    slower = Version(latency=lognormal(1.3 * lognormal_quantile(0.0)))
    assert outcome_rates(plan, Version(), slower, 10, 30)["rollback"] == 1.0


def test_timeouts_on_the_slowest_5_percent_roll_back_under_default_gates() -> None:
    plan = Plan(("error_rate<=primary+0.01", "p95_ms<=primary*1.5+5", "agreement>=0.8"), **FAST)
    timing_out = Version(timeout_above_ms=lognormal_quantile(Z95))
    assert outcome_rates(plan, Version(), timing_out, 10, 40)["rollback"] == 1.0


def test_at_100_percent_the_primary_copies_stand_in_for_errors_not_latency() -> None:
    candidate = Arm(400, 0, np.full(400, 5.0))
    baseline = Arm(400, 0, np.full(400, 50.0))  # background copies: slow, not callers'
    evidence = Evidence(
        "classification",
        candidate,
        baseline,
        primary_window="baseline copies",
        primary_caller_facing=False,
    )
    gates = parse_gates(["p95_ms<=primary", "error_rate<=primary+0.05"])
    latency, errors = evaluate(gates, evidence, 100, 0.05)
    assert latency.verdict == "skipped" and "judged at steps" in latency.reason
    assert errors.verdict == "pass"
