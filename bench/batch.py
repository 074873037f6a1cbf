"""Batch scoring throughput: ``modelport batch`` over a large Parquet file.

    python bench/batch.py [--rows 2000000] [--chunk 50000] [--repeat 3] [--csv]

The model is the serving benchmark's (bench/workload.py): a scikit-learn
LogisticRegression on 20 features f0..f19 from ``make_classification``, registered as
``bench``:1 behind endpoint ``bench`` through the real CLI in a temporary project. The
input holds ``--rows`` rows drawn from the same distribution plus an ``id`` column. Each
round runs the real command ``modelport batch bench input.parquet -o scored.parquet``
(every row validated, scored, written to the output and logged with role ``batch``) and
reads the rate it reports (rows per second from the first chunk to the output file
renamed into place), the CPU seconds the run took (all its threads; rows per CPU second
is what an idle core pair would roughly give when the machine is shared), the
wall-clock time of the whole process (interpreter start, model load and the final join
included) and how busy the rest of the machine was meanwhile. Rounds score a fresh
output (new run, new log segments). Reports the median round and checks that the log
holds every row of every round exactly once. Target: >= 200,000 rows/s. Writes
``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

import modelport_cli
from machine import busy_cpu_seconds, machine_info
from workload import FEATURES, prepare_workload

BENCH = Path(__file__).resolve().parent
TARGET_ROWS_PER_S = 200_000
console = Console()


def write_input(path: Path, rows: int, csv: bool) -> None:
    """``rows`` rows of the workload's distribution (independent normal features, as
    ``make_classification`` draws its informative ones) and an ``id`` column."""
    rng = np.random.default_rng(7)
    columns: dict[str, Any] = {"id": pa.array(np.arange(rows, dtype=np.int64))}
    for name in FEATURES:
        columns[name] = pa.array(rng.normal(0.0, 1.5, rows))
    table = pa.table(columns)
    if csv:
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=250_000)


def run_round(workdir: Path, source: Path, output: Path, chunk: int) -> dict[str, Any]:
    command = [
        modelport_cli.command(),
        "batch",
        modelport_cli.ENDPOINT,
        str(source),
        "-o",
        str(output),
        "--chunk",
        str(chunk),
        "--json",
    ]
    machine_before = busy_cpu_seconds()
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_before = usage.ru_utime + usage.ru_stime
    completed = subprocess.run(
        command, cwd=workdir, env=modelport_cli.clean_env(), capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = usage.ru_utime + usage.ru_stime - child_before
    others = busy_cpu_seconds() - machine_before - child_cpu
    others_pct = 100 * max(others, 0.0) / (wall * (os.cpu_count() or 1))
    if completed.returncode != 0:
        raise SystemExit(f"modelport batch failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout)
    return {
        "rows": result["rows_scored"],
        "rows_per_s": result["rows_per_s"],
        "scoring_s": result["seconds"],
        "cpu_s": result["cpu_seconds"],
        "rows_per_cpu_s": round(result["rows_scored"] / result["cpu_seconds"]),
        "wall_s": round(wall, 3),
        "wall_rows_per_s": round(result["rows_scored"] / wall),
        "others_busy_pct": round(others_pct, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--csv", action="store_true", help="score a CSV file instead")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="modelport-bench-batch-") as folder:
        workdir = Path(folder)
        workload = prepare_workload(workdir)
        modelport_cli.setup(workdir, workload.model_path, workload.reference_path)
        source = workdir / ("input.csv" if args.csv else "input.parquet")
        write_input(source, args.rows, args.csv)
        rounds = []
        for index in range(args.repeat):
            output = workdir / f"scored-{index}.parquet"
            rounds.append(run_round(workdir, source, output, args.chunk))
            console.print(f"round {index + 1}: {rounds[-1]}", highlight=False)
        logged = modelport_cli.logged_rows(workdir)

    median = sorted(rounds, key=lambda r: r["rows_per_s"])[len(rounds) // 2]
    expected_logged = args.rows * args.repeat
    table = Table(title=f"modelport batch: {args.rows:,} rows, chunk {args.chunk:,}")
    for column in (
        "round",
        "rows/s (scoring)",
        "scoring s",
        "rows/CPU-s",
        "wall s",
        "rows/s (wall)",
        "others busy %",
    ):
        table.add_column(column, justify="right")
    for index, item in enumerate(rounds, start=1):
        table.add_row(
            str(index),
            f"{item['rows_per_s']:,}",
            f"{item['scoring_s']:.2f}",
            f"{item['rows_per_cpu_s']:,}",
            f"{item['wall_s']:.2f}",
            f"{item['wall_rows_per_s']:,}",
            f"{item['others_busy_pct']:.0f}",
        )
    console.print(table)
    verdict = "meets" if median["rows_per_s"] >= TARGET_ROWS_PER_S else "MISSES"
    console.print(
        f"median {median['rows_per_s']:,} rows/s: {verdict} the target of "
        f"{TARGET_ROWS_PER_S:,}; log holds {logged:,} rows (expected {expected_logged:,})",
        highlight=False,
    )
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    report = {
        "machine": machine_info(),
        "rows": args.rows,
        "chunk": args.chunk,
        "format": "csv" if args.csv else "parquet",
        "rounds": rounds,
        "median_rows_per_s": median["rows_per_s"],
        "median_wall_rows_per_s": statistics.median(r["wall_rows_per_s"] for r in rounds),
        "median_rows_per_cpu_s": statistics.median(r["rows_per_cpu_s"] for r in rounds),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "logged_rows": logged,
        "expected_logged_rows": expected_logged,
    }
    (results / "batch.json").write_text(json.dumps(report, indent=2))
    if logged != expected_logged:
        sys.exit("the log does not hold every scored row exactly once")


if __name__ == "__main__":
    main()
