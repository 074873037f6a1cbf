"""Calibration of the default drift decision: the simulations behind the tables of
docs/statistics.md ("Default decision", "Measured false-alarm rate").

    python bench/calibrate_drift.py [--windows 100] [--repetitions 100] [--categorical 2000]

Every figure goes through modelport's own functions (profile, live counts, the decision
with its calibrated critical values and Bonferroni correction). Seeds are fixed; the
printed Markdown tables are the ones in the docs.

1. **No drift, 100k reference vs 1M current, 20 features** (normal, lognormal, uniform,
   a normal with 2 % missing), ``--windows`` windows: false flags. The current window's
   bin counts are drawn from the true distribution's bin probabilities (multinomial,
   exactly the distribution of binning 1M fresh rows) so 100 windows take seconds.
2. **Tail and shift scenarios at 10k rows** (top 5 % ×10, 2 % of rows ×100, bottom 5 %
   set to 0, mean +0.25 sd) on raw values, ``--repetitions`` each: detection rate, with
   20 features' Bonferroni level.
3. **Categorical, no drift, 100k vs 1M**, ``--categorical`` repetitions: rejection rate
   of the chi-square test of homogeneity at 0.05 (and of the old goodness of fit), and
   false flags of the default decision (Cramér's V, calibrated).
4. **Calibrated level**: share of no-drift windows whose bootstrap p-value is ≤ 0.05
   (materiality off) at several window sizes, on one reference sample per cell
   (conditional) and on a new reference sample every window (unconditional).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from modelport.monitoring.stats import BinnedCounts
from modelport.monitoring.stats.chisquare import chi_square
from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.drift import FeatureDrift, summarise
from modelport.monitoring.stats.histogram import Histogram
from modelport.monitoring.stats.settings import DriftSettings
from modelport.registry.profile import profile_numeric

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
FEATURES = 20
SETTINGS = DriftSettings().with_family(FEATURES)

# name: (sampler, cdf, missing share)
Dist = tuple[
    Callable[[np.random.Generator, int], FloatArray], Callable[[FloatArray], FloatArray], float
]
DISTRIBUTIONS: dict[str, Dist] = {
    "normal": (lambda r, n: r.normal(10.0, 2.0, n), stats.norm(10.0, 2.0).cdf, 0.0),
    "lognormal": (lambda r, n: r.lognormal(0.0, 1.0, n), stats.lognorm(1.0).cdf, 0.0),
    "uniform": (lambda r, n: r.uniform(0.0, 5.0, n), stats.uniform(0.0, 5.0).cdf, 0.0),
    "normal, 2 % missing": (lambda r, n: r.normal(0.0, 1.0, n), stats.norm().cdf, 0.02),
}


def with_missing(rng: np.random.Generator, values: FloatArray, share: float) -> FloatArray:
    if share:
        values = values.copy()
        values[rng.random(len(values)) < share] = np.nan
    return values


def decide(histogram: Histogram, settings: DriftSettings, stat: str = "psi") -> FeatureDrift:
    """The default decision of one feature, as the live series and reports take it."""
    results = compute_stats(histogram, [stat], settings.thresholds)
    return summarise("x", histogram, results, stat, settings)


def no_drift_at_a_million(windows: int) -> list[list[str]]:
    rng = np.random.default_rng(20261201)
    names = list(DISTRIBUTIONS)
    features = []
    for index in range(FEATURES):
        sampler, cdf, missing = DISTRIBUTIONS[names[index % len(names)]]
        profile = profile_numeric(with_missing(rng, sampler(rng, 100_000), missing), 20)
        edges = np.asarray(profile.cut_points)
        inside = np.diff(np.concatenate(([0.0], cdf(edges), [1.0])))
        shares = np.append(inside * (1 - missing), missing)
        features.append((profile, shares / shares.sum()))
    flags = 0
    largest: dict[str, float] = {}
    worst_p = 1.0
    for _ in range(windows):
        for index, (profile, shares) in enumerate(features):
            counts = rng.multinomial(1_000_000, shares)
            histogram = Histogram.numeric(
                profile.bin_counts,
                counts[:-1],
                profile.cut_points,
                None,
                None,
                reference_missing=profile.missing,
                current_missing=int(counts[-1]),
            )
            drift = decide(histogram, SETTINGS)
            flags += bool(drift.drifted)
            name = names[index % len(names)]
            largest[name] = max(largest.get(name, 0.0), drift.statistic or 0.0)
            worst_p = min(worst_p, drift.p_value or 1.0)
    checks = windows * FEATURES
    rows = [[name, f"{value:.5f}"] for name, value in largest.items()]
    print(f"\n### No drift, 100k reference vs 1M current, {FEATURES} features, {windows} windows\n")
    print(
        f"feature checks {checks}, false flags {flags}, smallest calibrated p {worst_p:.4f}, "
        f"stated bound: family-wise {SETTINGS.alpha} per window = "
        f"{SETTINGS.level:.4%} per check\n"
    )
    print("| feature | largest no-drift PSI (materiality 0.04) |\n|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} |")
    return rows


def scenario_top(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    x = x.copy()
    x[x >= np.nanquantile(x, 0.95)] *= 10.0
    return x


def scenario_rows(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    x = x.copy()
    x[rng.choice(len(x), len(x) // 50, replace=False)] *= 100.0
    return x


def scenario_bottom(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    x = x.copy()
    x[x <= np.nanquantile(x, 0.05)] = 0.0
    return x


def scenario_shift(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    return x + 0.25 * np.nanstd(x)


SCENARIOS = {
    "none": lambda rng, x: x,
    "top 5 % ×10": scenario_top,
    "2 % of rows ×100": scenario_rows,
    "bottom 5 % set to 0": scenario_bottom,
    "mean +0.25 sd": scenario_shift,
}


def tail_scenarios(repetitions: int) -> None:
    rng = np.random.default_rng(20261202)
    print(
        f"\n### Scenarios at 10k current rows, 100k reference, {repetitions} repetitions, "
        f"level {SETTINGS.level} (20 features, Bonferroni)\n"
    )
    print("| distribution | " + " | ".join(SCENARIOS) + " |")
    print("|---|" + "---|" * len(SCENARIOS))
    for name, (sampler, _, missing) in DISTRIBUTIONS.items():
        profile = profile_numeric(with_missing(rng, sampler(rng, 100_000), missing), 20)
        cells = []
        for scenario in SCENARIOS.values():
            flagged, psis = 0, []
            for _ in range(repetitions):
                state = BinnedCounts().fit(profile)
                state.update(scenario(rng, with_missing(rng, sampler(rng, 10_000), missing)))
                drift = decide(state.histogram(), SETTINGS)
                flagged += bool(drift.drifted)
                psis.append(drift.statistic or 0.0)
            cells.append(f"{flagged / repetitions:.0%} (PSI {np.median(psis):.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def categorical(repetitions: int) -> None:
    rng = np.random.default_rng(20261203)
    shares = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.03, 0.01])
    homogeneity = goodness = flags = 0
    for _ in range(repetitions):
        # Both samples are fresh draws of one distribution in every repetition.
        reference = rng.multinomial(100_000, shares)
        current = rng.multinomial(1_000_000, shares)
        histogram = Histogram(
            "categorical", np.append(reference, [0, 0]), np.append(current, [0, 0])
        )
        homogeneity += chi_square(histogram.reference, histogram.current)[1] < 0.05
        expected = current.sum() * reference / reference.sum()
        goodness += stats.chisquare(current, expected).pvalue < 0.05
        flags += bool(decide(histogram, SETTINGS, "cramers_v").drifted)
    print(f"\n### Categorical, no drift, 100k reference vs 1M current, {repetitions} repetitions\n")
    print("| test | rejection rate at 0.05 |\n|---|---|")
    print(f"| chi-square test of homogeneity (2 × k table) | {homogeneity / repetitions:.2%} |")
    print(f"| old goodness of fit (reference shares as exact) | {goodness / repetitions:.2%} |")
    print(
        f"| default decision (Cramér's V, calibrated, level {SETTINGS.level}) | "
        f"{flags / repetitions:.2%} |"
    )
    se = np.sqrt(0.05 * 0.95 / repetitions)
    print(f"\n(binomial standard error of a 5 % rate over {repetitions}: {se:.2%})")


def calibrated_level(windows: int) -> None:
    rng = np.random.default_rng(20261204)
    settings = DriftSettings(thresholds={"psi": 0.0, "cramers_v": 0.0})
    print(f"\n### Calibrated test alone (materiality off), level 0.05, {windows} windows\n")
    print(
        "| current rows | normal | lognormal | uniform | normal, 2 % missing "
        "| normal, new reference each window |\n|---|---|---|---|---|---|"
    )
    for rows in (1_000, 3_000, 10_000, 100_000):
        cells = []
        for sampler, _, missing in DISTRIBUTIONS.values():
            profile = profile_numeric(with_missing(rng, sampler(rng, 50_000), missing), 20)
            rejected = 0
            for _ in range(windows):
                state = BinnedCounts().fit(profile)
                state.update(with_missing(rng, sampler(rng, rows), missing))
                rejected += bool(decide(state.histogram(), settings).drifted)
            cells.append(f"{rejected / windows:.1%}")
        # Within a column above the reference is one sample, so the rate is conditional
        # on it; redrawing it every window gives the unconditional rate.
        sampler = DISTRIBUTIONS["normal"][0]
        rejected = 0
        for _ in range(windows):
            state = BinnedCounts().fit(profile_numeric(sampler(rng, 50_000), 20))
            state.update(sampler(rng, rows))
            rejected += bool(decide(state.histogram(), settings).drifted)
        cells.append(f"{rejected / windows:.1%}")
        print(f"| {rows:,} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--categorical", type=int, default=2_000)
    parser.add_argument("--level-windows", type=int, default=400)
    args = parser.parse_args()
    started = time.perf_counter()
    no_drift_at_a_million(args.windows)
    tail_scenarios(args.repetitions)
    categorical(args.categorical)
    calibrated_level(args.level_windows)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
