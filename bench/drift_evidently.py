"""Evidently's side of the drift benchmark: DataDriftPreset over two parquet files.

Runs in its own virtualenv (Evidently pins versions the main one must not follow):

    python3.11 -m venv bench/.venv-evidently
    bench/.venv-evidently/bin/pip install -r bench/requirements-evidently.txt
    bench/.venv-evidently/bin/python bench/drift_evidently.py REFERENCE CURRENT

One ``Report`` holds one ``DataDriftPreset`` per method (psi, ks, wasserstein,
jensenshannon), so every numeric column gets all four scores in a single run; a preset
takes only one method per column. Within ``Report.run`` a preset scores each column up
to three times (its ValueDrift metric, then the legacy DatasetDriftMetric and
DataDriftTable it renders) and builds Plotly widgets; ``--mode value-drift`` times the
leanest equivalent, one ``ValueDrift`` metric per column and method.

Prints one JSON object on stdout: import, load and report wall-clock times, peak RSS of
this process, and the per-feature scores.

The process measures itself with ``resource.getrusage``; run it as a fresh subprocess
(as ``bench/drift.py`` does) so the peak belongs to this benchmark alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

DEFAULT_METHODS = ("psi", "ks", "wasserstein", "jensenshannon")


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scores_by_feature(snapshot: Any) -> dict[str, dict[str, float]]:
    """Pull ``{feature: {method: score}}`` out of the snapshot's ValueDrift results."""
    scores: dict[str, dict[str, float]] = {}
    for result in snapshot.dict()["metrics"]:
        config = result.get("config", {})
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        scores.setdefault(config["column"], {})[config["method"]] = float(result["value"])
    return scores


def run(
    reference_path: Path, current_path: Path, methods: list[str], mode: str = "preset"
) -> dict[str, Any]:
    started = time.perf_counter()
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    reference_frame = pd.read_parquet(reference_path)
    current_frame = pd.read_parquet(current_path)
    columns = list(reference_frame.columns)
    definition = DataDefinition(numerical_columns=columns)
    reference = Dataset.from_pandas(reference_frame, data_definition=definition)
    current = Dataset.from_pandas(current_frame, data_definition=definition)
    load_s = time.perf_counter() - started
    rss_after_load = peak_rss_mib()

    if mode == "preset":
        report = Report([DataDriftPreset(columns=columns, method=method) for method in methods])
    else:
        report = Report([ValueDrift(column=c, method=m) for c in columns for m in methods])
    started = time.perf_counter()
    snapshot = report.run(current, reference)
    report_s = time.perf_counter() - started

    started = time.perf_counter()
    scores = scores_by_feature(snapshot)
    extract_s = time.perf_counter() - started

    missing = [(f, m) for f in columns for m in methods if m not in scores.get(f, {})]
    if missing:
        raise RuntimeError(f"Evidently returned no score for {missing[:5]}...")
    return {
        "tool": "evidently",
        "version": evidently.__version__,
        "python": sys.version.split()[0],
        "reference_rows": len(reference_frame),
        "current_rows": len(current_frame),
        "features": len(columns),
        "methods": methods,
        "mode": mode,
        "import_s": round(import_s, 3),
        "load_s": round(load_s, 3),
        "report_s": round(report_s, 3),
        "extract_s": round(extract_s, 3),
        "rss_after_load_mib": round(rss_after_load, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "scores": scores,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time Evidently's DataDriftPreset.")
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path)
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument(
        "--mode",
        choices=["preset", "value-drift"],
        default="preset",
        help="preset: DataDriftPreset per method (the issue's baseline); value-drift: only "
        "one ValueDrift metric per column and method, Evidently's leanest equivalent",
    )
    args = parser.parse_args(argv)
    # Evidently and pandas chatter on stderr would not change the figures.
    warnings.simplefilter("ignore")
    # Only Evidently's UI service sends telemetry, but a benchmark should not even try.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    result = run(args.reference, args.current, args.methods.split(","), args.mode)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
