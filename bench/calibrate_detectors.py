"""False alarms and detection delays of the concept-drift detectors, by simulation.

    python bench/calibrate_detectors.py [--streams 200] [--other-streams 100] [--seed 7]

Runs modelport's own detectors (``make_detector(name)``, the defaults a server uses) on
simulated per-prediction error streams of 50,000 values:

* **stationary**: Bernoulli(0.1) 0/1 errors; the share of streams with any alarm, and
  the mean number of alarms per stream (required: ≤ 5 % of streams, each detector);
* **step**: Bernoulli 0.1 → 0.2 at position 25,000 (a doubling of the error rate); the
  share of streams that alarmed before the change, that never alarmed after it, and the
  median and 90th percentile of the delay of the first alarm at or after the change
  (required: the default detector, ADWIN, p90 ≤ 1,000);
* **scale**: absolute errors of a regression, |N(0, σ)| with σ × 1.5 from 25,000, at
  σ = 0.01 and σ = 1,000: the streams on which every alarm position is the same at both
  scales (required for Page–Hinkley: all), and the streams that alarmed;
* **other streams** (stated, not required): the stationary share of alarmed streams on
  0/1 errors at 1 % and 50 %, and on half-normal, exponential and lognormal absolute
  errors (DDM only runs on 0/1 errors).

Stream ``i`` of a scenario draws from ``numpy.random.default_rng([seed, scenario, i])``,
so every figure is reproducible. Prints Markdown tables (pasted into docs/statistics.md)
and writes ``bench/results/calibrate_detectors.json``. Takes about 10 minutes on one core
with the defaults.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from modelport.monitoring.concept.detectors import DETECTORS, make_detector

LENGTH = 50_000
CHANGE_AT = 25_000
RESULTS = Path(__file__).resolve().parent / "results"
Stream = Callable[[np.random.Generator], np.ndarray]


def bernoulli(before: float, after: float) -> Stream:
    rates = np.where(np.arange(LENGTH) < CHANGE_AT, before, after)
    return lambda rng: (rng.random(LENGTH) < rates).astype(np.float64)


def regression(scale: float, step: float = 1.5) -> Stream:
    factor = np.where(np.arange(LENGTH) < CHANGE_AT, 1.0, step)
    return lambda rng: np.abs(rng.normal(size=LENGTH)) * factor * scale


OTHER: dict[str, tuple[Stream, bool]] = {
    "0/1 errors, p = 0.01": (bernoulli(0.01, 0.01), True),
    "0/1 errors, p = 0.5": (bernoulli(0.5, 0.5), True),
    "half-normal": (lambda rng: np.abs(rng.normal(size=LENGTH)), False),
    "exponential": (lambda rng: rng.exponential(size=LENGTH), False),
    "lognormal (σ = 1)": (lambda rng: rng.lognormal(size=LENGTH), False),
}


def alarms(name: str, stream: np.ndarray) -> list[int]:
    return make_detector(name).update_many(stream.tolist())


def stationary(names: list[str], streams: int, seed: int, make: Stream, tag: int) -> dict[str, Any]:
    found: dict[str, list[int]] = {name: [] for name in names}
    for i in range(streams):
        stream = make(np.random.default_rng([seed, tag, i]))
        for name in names:
            found[name].append(len(alarms(name, stream)))
    return {
        name: {
            "streams": streams,
            "alarmed": sum(1 for count in counts if count),
            "share": sum(1 for count in counts if count) / streams,
            "alarms_per_stream": float(np.mean(counts)),
        }
        for name, counts in found.items()
    }


def step(names: list[str], streams: int, seed: int) -> dict[str, Any]:
    make = bernoulli(0.1, 0.2)
    delays: dict[str, list[int]] = {name: [] for name in names}
    early = dict.fromkeys(names, 0)
    missed = dict.fromkeys(names, 0)
    for i in range(streams):
        stream = make(np.random.default_rng([seed, 2, i]))
        for name in names:
            fired = alarms(name, stream)
            early[name] += any(position < CHANGE_AT for position in fired)
            after = [position - CHANGE_AT for position in fired if position >= CHANGE_AT]
            if after:
                delays[name].append(after[0])
            else:
                missed[name] += 1
    return {
        name: {
            "streams": streams,
            "alarmed_before_change": early[name],
            "missed": missed[name],
            "median_delay": float(np.median(delays[name])) if delays[name] else None,
            "p90_delay": float(np.quantile(delays[name], 0.9)) if delays[name] else None,
            "max_delay": max(delays[name], default=None),
        }
        for name in names
    }


def scale(names: list[str], streams: int, seed: int) -> dict[str, Any]:
    small, large = regression(0.01), regression(1_000.0)
    same = dict.fromkeys(names, 0)
    alarmed = dict.fromkeys(names, 0)
    for i in range(streams):
        for name in names:
            at_small = alarms(name, small(np.random.default_rng([seed, 3, i])))
            at_large = alarms(name, large(np.random.default_rng([seed, 3, i])))
            same[name] += at_small == at_large
            alarmed[name] += bool(at_small)
    return {
        name: {"streams": streams, "same_alarms": same[name], "alarmed": alarmed[name]}
        for name in names
    }


def tables(results: dict[str, Any], command: str) -> str:
    names = list(results["stationary"])
    lines = [
        f"`{command}`",
        "",
        "| detector | stationary p = 0.1: streams alarmed | alarms per stream "
        "| step 0.1 → 0.2 at 25k: median delay | p90 delay | max delay "
        "| alarmed before the change | missed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        quiet, moved = results["stationary"][name], results["step"][name]
        lines.append(
            f"| {name} | {quiet['alarmed']}/{quiet['streams']} ({quiet['share']:.1%}) "
            f"| {quiet['alarms_per_stream']:.3f} | {_n(moved['median_delay'])} "
            f"| {_n(moved['p90_delay'])} | {_n(moved['max_delay'])} "
            f"| {moved['alarmed_before_change']}/{moved['streams']} "
            f"| {moved['missed']}/{moved['streams']} |"
        )
    scaled = results["scale"]
    lines += [
        "",
        "| detector | \\|N(0, σ)\\| errors, σ × 1.5 at 25k: same alarms at σ = 0.01 and 1,000 "
        "| streams alarmed |",
        "|---|---|---|",
    ]
    for name, found in scaled.items():
        lines.append(
            f"| {name} | {found['same_alarms']}/{found['streams']} "
            f"| {found['alarmed']}/{found['streams']} |"
        )
    other = results["other"]
    lines += [
        "",
        "| stationary stream (50k) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, found in other.items():
        cells = [
            f"{found[name]['alarmed']}/{found[name]['streams']}" if name in found else "n/a"
            for name in names
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--other-streams", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    names = sorted(DETECTORS)
    command = (
        f"python bench/calibrate_detectors.py --streams {args.streams} "
        f"--other-streams {args.other_streams} --seed {args.seed}"
    )
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": command,
        "stationary": stationary(names, args.streams, args.seed, bernoulli(0.1, 0.1), 1),
        "step": step(names, args.streams, args.seed),
        "scale": scale(["adwin", "page_hinkley"], args.other_streams, args.seed),
        "other": {},
    }
    for tag, (label, (make, binary)) in enumerate(OTHER.items(), start=10):
        only = names if binary else [name for name in names if name != "ddm"]
        results["other"][label] = stationary(only, args.other_streams, args.seed, make, tag)
    results["seconds"] = time.perf_counter() - started
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calibrate_detectors.json").write_text(json.dumps(results, indent=2))
    print(tables(results, command))


if __name__ == "__main__":
    main()
