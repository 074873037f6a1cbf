"""Rollout decisions under simulation: do the gates keep the error rates they claim?

    python bench/calibrate_rollout.py [--reps 500] [--seed 20261201] [--look-every 200]
        [--max-requests 10000] [--only NAME]

Every scenario runs ``--reps`` simulated rollouts (seeds ``seed``, ``seed + 1``, ...)
through modelport's own gate analysis (``modelport.rollout.analysis.evaluate`` with the
rollout's ``stages``), looking after every ``--look-every`` candidate requests of a
stage up to ``--max-requests`` candidate requests per stage; a stage may move on after
500 (see ``tests/rollout/simulation.py``). Latencies are lognormal
(median 20 ms, sigma 0.5); error rates 1 % unless stated; agreement 0.95. It prints a
Markdown table (the one in docs/statistics.md, "Rollout decisions").
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from modelport.rollout.gates import DEFAULT_GATES  # noqa: E402
from rollout.simulation import (  # noqa: E402
    Z95,
    Plan,
    Version,
    lognormal,
    lognormal_quantile,
    outcome_rates,
)

DEFAULT = tuple(DEFAULT_GATES)
# The candidate whose p95 is exactly 1.5 x the primary's + 5 ms (the default gate's margin).
MARGIN_P95_MS = 1.5 * lognormal_quantile(Z95) + 5.0
MARGIN_MEDIAN_MS = MARGIN_P95_MS / lognormal_quantile(Z95, median_ms=1.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    plan: Plan
    candidate: Version
    measure: str  # "rollback" or "promote"
    required: str
    primary: Version = Version()


def scenarios() -> list[Scenario]:
    canary = "canary"
    latency = [
        Scenario(
            f"equal latency, canary {weight} %, {gate}",
            Plan((gate,), strategy=canary, steps=(weight,)),
            Version(),
            "rollback",
            "<= 0.05",
        )
        for weight in (5, 50)
        for gate in ("p50_ms<=primary", "p95_ms<=primary")
    ]
    return [
        *latency,
        Scenario(
            "equal candidate, default gates, shadow + 4 canary steps",
            Plan(DEFAULT),
            Version(),
            "rollback",
            "<= 0.05",
        ),
        Scenario(
            "at the margin: error rate 2 % vs primary 1 % (error_rate<=primary+0.01)",
            Plan(DEFAULT),
            Version(error_rate=0.02),
            "promote",
            "<= 0.05",
        ),
        Scenario(
            "at the margin: p95 = 1.5 x primary p95 + 5 ms (p95_ms<=primary*1.5+5)",
            Plan(DEFAULT),
            Version(latency=lognormal(MARGIN_MEDIAN_MS)),
            "promote",
            "<= 0.05",
        ),
        Scenario(
            "at the margin: agreement 0.80 (agreement>=0.8)",
            Plan(DEFAULT),
            Version(agreement=0.8),
            "promote",
            "<= 0.05",
        ),
        Scenario(
            "candidate times out on its slowest 5 %, default gates",
            Plan(DEFAULT),
            Version(timeout_above_ms=lognormal_quantile(Z95)),
            "rollback",
            "rolled back",
        ),
        Scenario(
            "candidate times out on its slowest 5 %, p99_ms<=primary*1.5+5 only, "
            "canary 50 %, error rates 0.1 %",
            Plan(("p99_ms<=primary*1.5+5",), strategy=canary, steps=(50,)),
            Version(error_rate=0.001, timeout_above_ms=lognormal_quantile(Z95)),
            "rollback",
            "rolled back",
            primary=Version(error_rate=0.001),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--look-every", type=int, default=200)
    parser.add_argument("--max-requests", type=int, default=10000)
    parser.add_argument("--only", default="", help="run scenarios whose name contains this")
    args = parser.parse_args()
    print(
        f"reps {args.reps}, seeds {args.seed}..{args.seed + args.reps - 1}, "
        f"looks every {args.look_every} candidate requests, up to {args.max_requests} "
        "per stage\n"
    )
    print("| scenario | measured | P(rollback) | P(promotion) | P(stuck) | required |")
    print("|---|---|---|---|---|---|")
    for scenario in scenarios():
        if args.only and args.only not in scenario.name:
            continue
        plan = replace(scenario.plan, look_every=args.look_every, max_requests=args.max_requests)
        started = time.perf_counter()
        rates = outcome_rates(plan, scenario.primary, scenario.candidate, args.reps, args.seed)
        print(
            f"| {scenario.name} | P({scenario.measure}) | {rates['rollback']:.3f} | "
            f"{rates['promote']:.3f} | {rates['stuck']:.3f} | {scenario.required} |",
            flush=True,
        )
        print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
