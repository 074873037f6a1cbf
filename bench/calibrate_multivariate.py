"""Calibration of the multivariate drift decision (classifier two-sample test).

    python bench/calibrate_multivariate.py [--reps 200] [--null-reps 1000] [--seed 0]

Each repetition draws a fresh reference and a fresh current sample from its own seed
(``seed + repetition``), fits ``DomainClassifierDrift`` (default settings: alpha 0.05,
5,000 rows per side at most, random_state = the repetition's seed) on the reference and
scores the current rows. Ten standard-normal features unless stated. Scenarios:

* ``shift 0.05 sd, n=5,000``: every feature's mean moved by 0.05 sd (acceptance: detected
  in at least 80 % of repetitions);
* ``no drift, n=200``: the same distribution on both sides (acceptance: at most 5 %
  detections);
* ``no drift, n=5,000`` and ``shift 0.05 sd, n=200``: the other two corners;
* ``correlation flip, n=1,000``: two features with correlation +0.8 on the reference and
  -0.8 on the current rows, unchanged marginals (only the trees can see it).

Prints a Markdown table (rate with its 95 % Wilson interval, which classifier decided how
often, median seconds per score) and exits 1 when an acceptance figure is not met.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelport.monitoring.stats.multivariate import DomainClassifierDrift
from modelport.schema import FeatureSpec, InputSchema

FEATURES = 10
SCHEMA = InputSchema(features=[FeatureSpec(name=f"x{i}", kind="float") for i in range(FEATURES)])
Draw = Callable[[np.random.Generator, int], pd.DataFrame]


def normal(shift: float) -> Draw:
    def draw(rng: np.random.Generator, rows: int) -> pd.DataFrame:
        values = rng.normal(shift, 1.0, size=(rows, FEATURES))
        return pd.DataFrame(values, columns=SCHEMA.names)

    return draw


def correlated(correlation: float) -> Draw:
    def draw(rng: np.random.Generator, rows: int) -> pd.DataFrame:
        frame = normal(0.0)(rng, rows)
        noise = rng.normal(size=rows)
        frame["x1"] = correlation * frame["x0"] + math.sqrt(1 - correlation**2) * noise
        return frame

    return draw


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    reference: Draw
    current: Draw
    # ("min", 0.8): detection rate must be >= 0.8; ("max", 0.05): at most 0.05.
    acceptance: tuple[str, float] | None


SHIFT = "shift 0.05 sd in all 10 features"
FLIP = "correlation flip +0.8 -> -0.8 (x0, x1)"
SCENARIOS = (
    Scenario(SHIFT, 5_000, normal(0.0), normal(0.05), ("min", 0.8)),
    Scenario("no drift", 200, normal(0.0), normal(0.0), ("max", 0.05)),
    Scenario("no drift", 5_000, normal(0.0), normal(0.0), ("max", 0.05)),
    Scenario(SHIFT, 200, normal(0.0), normal(0.05), None),
    Scenario(FLIP, 1_000, correlated(0.8), correlated(-0.8), None),
)


def wilson(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    scale = 1 + z * z / total
    return max(0.0, centre - half / scale), min(1.0, centre + half / scale)


def run(scenario: Scenario, reps: int, seed: int) -> dict[str, object]:
    hits = 0
    deciders: Counter[str] = Counter()
    seconds = []
    aucs = []
    for repetition in range(reps):
        rng = np.random.default_rng(seed + repetition)
        reference = scenario.reference(rng, scenario.rows)
        current = scenario.current(rng, scenario.rows)
        started = time.perf_counter()
        detector = DomainClassifierDrift(random_state=seed + repetition).fit(reference, SCHEMA)
        result = detector.score(current)
        seconds.append(time.perf_counter() - started)
        hits += bool(result.drifted)
        deciders[str(result.classifier)] += 1
        aucs.append(float(result.auc or 0.5))
    rate = hits / reps
    low, high = wilson(hits, reps)
    passed = True
    if scenario.acceptance is not None:
        side, bound = scenario.acceptance
        passed = rate >= bound if side == "min" else rate <= bound
    return {
        "rate": rate, "low": low, "high": high, "hits": hits, "passed": passed,
        "deciders": deciders, "seconds": statistics.median(seconds),
        "auc": statistics.median(aucs),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="repetitions per drift scenario")
    parser.add_argument(
        "--null-reps", type=int, default=1000, help="repetitions of no drift at n=200"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        "| scenario | rows per side | repetitions | detected | 95 % interval | required "
        "| median AUC | decided by (logistic / trees) | s per score |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for scenario in SCENARIOS:
        small_null = scenario.rows == 200 and scenario.acceptance == ("max", 0.05)
        reps = args.null_reps if small_null else args.reps
        found = run(scenario, reps, args.seed)
        required = "–"
        if scenario.acceptance is not None:
            side, bound = scenario.acceptance
            required = f"{'≥' if side == 'min' else '≤'} {bound:.0%}"
            required += "" if found["passed"] else " **FAILED**"
            failed |= not found["passed"]
        deciders = found["deciders"]
        assert isinstance(deciders, Counter)
        print(
            f"| {scenario.name} | {scenario.rows:,} | {reps} | {found['hits']} "
            f"({found['rate']:.1%}) | {found['low']:.1%}–{found['high']:.1%} | {required} "
            f"| {found['auc']:.3f} | {deciders['logistic']} / {deciders['trees']} "
            f"| {found['seconds']:.2f} |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
