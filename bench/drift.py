"""Drift benchmark: 1,000,000 current rows x 20 features against a 100,000-row reference,
PSI, KS, Wasserstein and Jensen-Shannon per feature.

    python bench/drift.py [--evidently-modes preset,value-drift]

Makes the data if it is missing (``bench/make_drift_data.py``), runs Evidently in its own
venv as a fresh subprocess (``bench/drift_evidently.py``), prints a table and writes
``bench/results/drift.json``. modelport's side (``bench/drift_modelport.py``) writes the
current rows into a real prediction log, once as 1,000 segments and once compacted, and
times the drift report read back from it in fresh processes; the driver prints how many
times faster each modelport run is than each Evidently run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

import drift_modelport
import make_drift_data
from machine import busy_cpu_seconds, machine_info

BENCH = Path(__file__).resolve().parent
EVIDENTLY_PYTHON = BENCH / ".venv-evidently" / "bin" / "python"
SETUP_HINT = (
    "python3.11 -m venv bench/.venv-evidently && "
    "bench/.venv-evidently/bin/pip install -r bench/requirements-evidently.txt"
)
# Wide enough for the table when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)


def ensure_data(directory: Path) -> tuple[Path, Path]:
    reference, current = directory / "reference.parquet", directory / "current.parquet"
    if not (reference.exists() and current.exists()):
        make_drift_data.main(["--out", str(directory)])
    return reference, current


def run_evidently(reference: Path, current: Path, mode: str, timeout_s: float) -> dict[str, Any]:
    if not EVIDENTLY_PYTHON.exists():
        return {"error": f"Evidently's venv is missing; create it with: {SETUP_HINT}"}
    command = [str(EVIDENTLY_PYTHON), str(BENCH / "drift_evidently.py"), str(reference)]
    command += [str(current), "--mode", mode]
    started = time.perf_counter()
    machine_before = busy_cpu_seconds()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_before = usage.ru_utime + usage.ru_stime
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "DO_NOT_TRACK": "1"},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"Evidently did not finish within {timeout_s:.0f}s"}
    process_s = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = usage.ru_utime + usage.ru_stime - child_before
    foreign_s = busy_cpu_seconds() - machine_before - cpu_s
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {completed.returncode}"}
    result: dict[str, Any] = json.loads(completed.stdout)
    # Interpreter start, imports, loading, the report and exit: what a user waits for.
    result["process_s"] = round(process_s, 3)
    # CPU time moves less than wall time when other work shares the machine.
    result["process_cpu_s"] = round(cpu_s, 3)
    cores = os.cpu_count() or 1
    result["foreign_cpu_pct"] = round(max(0.0, 100 * foreign_s / (process_s * cores)), 1)
    return result


def print_table(results: dict[str, Any]) -> None:
    data = results["data"]
    table = Table(
        title=f"Drift: {data['current_rows']:,} x {data['features']} vs "
        f"{data['reference_rows']:,} rows, {', '.join(results['methods'])}"
    )
    columns = (
        "tool",
        "report s",
        "load s",
        "process s",
        "process CPU s",
        "peak RSS MiB",
        "noise %",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "tool" else "right")
    for name, outcome in results["runs"].items():
        if "error" in outcome:
            table.add_row(name, "failed", *[""] * 5)
            continue
        if outcome.get("status") == "pending":
            table.add_row(name, "pending", *[""] * 5)
            continue
        table.add_row(
            name,
            f"{outcome['report_s']:.1f}",
            f"{outcome['load_s']:.1f}",
            f"{outcome['process_s']:.1f}",
            f"{outcome['process_cpu_s']:.1f}",
            f"{outcome['peak_rss_mib']:,.0f}",
            f"{outcome['foreign_cpu_pct']:.0f}",
        )
    console.print(table)


def print_ratios(results: dict[str, Any]) -> None:
    """How many times faster than each Evidently run every modelport drift report is."""
    runs = results["runs"]
    baselines = {n: r for n, r in runs.items() if n.startswith("evidently") and "error" not in r}
    ours = {n: r for n, r in runs.items() if n.startswith("modelport") and "error" not in r}
    for name, run in ours.items():
        for other, theirs in baselines.items():
            ratio = theirs["report_s"] / run["report_s"]
            results.setdefault("ratios", {})[f"{other} / {name}"] = round(ratio, 1)
            console.print(
                f"{name}: {run['report_s']:.2f} s vs {other} {theirs['report_s']:.1f} s "
                f"= {ratio:,.0f}x faster; peak RSS {run['peak_rss_mib']:,.0f} vs "
                f"{theirs['peak_rss_mib']:,.0f} MiB"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=make_drift_data.DEFAULT_OUT)
    parser.add_argument(
        "--evidently-modes",
        default="preset",
        help="comma-separated: preset (DataDriftPreset), value-drift (bare ValueDrift metrics)",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per tool run")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "drift.json")
    parser.add_argument("--repeats", type=int, default=3, help="modelport runs per variant")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="seconds to wait for an idle machine"
    )
    parser.add_argument("--skip-modelport", action="store_true")
    args = parser.parse_args(argv)

    reference, current = ensure_data(args.data)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "data": {
            "reference": str(reference),
            "current": str(current),
            "reference_rows": pq.read_metadata(reference).num_rows,
            "current_rows": pq.read_metadata(current).num_rows,
            "features": len(make_drift_data.FEATURES),
        },
        "methods": ["psi", "ks", "wasserstein", "jensenshannon"],
        "runs": {},
    }
    for mode in [m.strip() for m in args.evidently_modes.split(",") if m.strip()]:
        console.print(f"evidently ({mode}) ...")
        outcome = run_evidently(reference, current, mode, args.timeout)
        if "error" in outcome:
            console.print(f"[bold red]evidently ({mode}) failed:[/] {outcome['error']}")
        results["runs"][f"evidently ({mode})"] = outcome
    if not args.skip_modelport:
        console.print("modelport (report read from its prediction log) ...")
        outcome = drift_modelport.run(args.data, args.repeats, args.wait_quiet)
        if "error" in outcome:
            console.print(f"[bold red]modelport failed:[/] {outcome['error']}")
            results["runs"]["modelport"] = {"error": outcome["error"]}
        else:
            results["modelport_log"] = outcome["prepared"]
            for name, run in outcome["runs"].items():
                results["runs"][f"modelport ({name})"] = run

    print_table(results)
    print_ratios(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {args.output}")
    return 1 if any("error" in outcome for outcome in results["runs"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
