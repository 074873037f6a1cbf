"""Several workers: ``modelport serve --workers N`` for N = 1, 2, ... in one run.

    python bench/workers.py [--workers 1,2] [--connections 16,64] [--duration 8] [--repeat 2]

The serving benchmark's workload (bench/workload.py: one LogisticRegression, 20
features, one row per request) behind one endpoint, with everything on (log, metrics,
live monitoring, request ids). Nothing is pinned: N workers and wrk share the machine's
cores as the kernel sees fit. Rounds alternate the worker counts (1, 2, 1, 2, ...) so a
drift in the machine's load hits them alike; the median round per point is reported,
with the CPU the server used (supervisor and workers together) and the other work on the
machine. At the end every answered request must be in the prediction log (read back with
``modelport logs export``). Writes ``bench/results/workers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import modelport_cli
import report
import wrk
from machine import busy_cpu_seconds, machine_busy_percent, machine_info, process_cpu_seconds
from servers import Server, ServerFailed, free_port
from workload import Workload, prepare_workload

BENCH = Path(__file__).resolve().parent


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live children (the supervisor and its workers)."""
    total = process_cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            try:
                total += process_cpu_seconds(int(child))
            except OSError:
                pass  # exited meanwhile
    return total


def measure(
    server: Server, url: str, script: Path, connections: int, args: argparse.Namespace
) -> dict[str, Any]:
    assert server.process is not None
    if args.warmup > 0:
        wrk.run(url, script, connections=connections, duration_s=args.warmup, niceness=args.nice)
    machine_before = busy_cpu_seconds()
    server_before = tree_cpu_seconds(server.process.pid)
    result = wrk.run(
        url, script, connections=connections, duration_s=args.duration, niceness=args.nice
    )
    server_s = tree_cpu_seconds(server.process.pid) - server_before
    machine_s = busy_cpu_seconds() - machine_before
    cores = os.cpu_count() or 1
    return result.to_dict() | {
        "server_cpu_pct": round(100 * server_s / result.duration_s, 1),
        "server_cpu_ms_per_request": round(1000 * server_s / result.requests, 3)
        if result.requests
        else None,
        # Everything busy on the machine: the server, wrk and anything else.
        "machine_busy_pct": round(100 * machine_s / (result.duration_s * cores), 1),
    }


def rows_by_writer(workdir: Path) -> dict[str, int]:
    """Logged rows per writing process (a segment's name holds the writer's process id)."""
    counts: dict[str, int] = {}
    for path in (workdir / ".modelport" / "logs").rglob("*.parquet"):
        pid = path.name.split("-")[1]
        counts[pid] = counts.get(pid, 0) + pq.read_metadata(path).num_rows
    return counts


def one_round(
    workers: int, workdir: Path, workload: Workload, script: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    port = free_port()
    command = [*modelport_cli.serve_command(port), "--workers", str(workers)]
    server = Server(
        f"modelport --workers {workers}",
        command,
        port,
        workdir / f"workers-{workers}.log",
        cwd=workdir,
        env=modelport_cli.clean_env(),
        niceness=args.nice,
    )
    runs = []
    with server:
        server.wait_ready(
            modelport_cli.PREDICT_PATH, workload.bodies[0].encode(), args.startup_timeout
        )
        if workers > 1:
            # Every worker loads its models; wait until the last one is serving too.
            _all_started(server, workers, args.startup_timeout)
        url = server.base_url + modelport_cli.PREDICT_PATH
        for connections in args.connections:
            report.console.print(f"--workers {workers}: {connections} connections ...")
            runs.append(measure(server, url, script, connections, args) | {"workers": workers})
    return runs


def balanced_round(
    workers: int, workdir: Path, workload: Workload, script: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``one_round``, each run noting how the round's requests spread over the workers
    (rows each worker logged in the whole round, warm-ups included)."""
    before = rows_by_writer(workdir)
    runs = one_round(workers, workdir, workload, script, args)
    after = rows_by_writer(workdir)
    shares = sorted(
        (count - before.get(pid, 0) for pid, count in after.items() if count > before.get(pid, 0)),
        reverse=True,
    )
    return [run | {"rows_per_worker": shares} for run in runs]


def _all_started(server: Server, workers: int, timeout_s: float) -> None:
    """Until the log says every worker completed its start-up."""
    deadline = time.monotonic() + timeout_s
    while server.log_path.read_text(errors="replace").count("startup complete") < workers:
        if time.monotonic() > deadline:
            raise ServerFailed(f"not every worker of {server.name} started in {timeout_s:.0f}s")
        time.sleep(0.2)


def median(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    points = []
    for index in range(len(rounds[0])):
        in_order = [r[index] for r in rounds]
        middle = sorted(in_order, key=lambda r: r["requests_per_s"])[len(in_order) // 2]
        points.append(middle | {"rounds": [r["requests_per_s"] for r in in_order]})
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    listed = lambda text: [int(part) for part in text.split(",")]  # noqa: E731
    parser.add_argument("--workers", type=listed, default=[1, 2])
    parser.add_argument("--connections", type=listed, default=[16, 64])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "workers.json")
    args = parser.parse_args(argv)
    wrk.find_wrk()
    busy = machine_busy_percent(1.0)
    workdir = Path(tempfile.mkdtemp(prefix="modelport-workers-"))
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": vars(args) | {"output": str(args.output), "machine_busy_pct_at_start": busy},
    }
    try:
        workload = prepare_workload(workdir)
        script = wrk.write_script(workdir / "post.lua", workload.bodies)
        modelport_cli.setup(workdir, workload.model_path, workload.reference_path)
        rounds: dict[int, list[list[dict[str, Any]]]] = {n: [] for n in args.workers}
        for number in range(args.repeat):
            report.console.print(f"round {number + 1}/{args.repeat}")
            for workers in args.workers:
                rounds[workers].append(balanced_round(workers, workdir, workload, script, args))
        points = {n: median(rounds[n]) for n in args.workers}
        answered = sum(
            run["requests"] for per_round in rounds.values() for r in per_round for run in r
        )
        results["points"] = points
        results["logged_rows"] = modelport_cli.logged_rows(workdir)
        results["measured_requests"] = answered
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    base = {p["connections"]: p for p in results["points"][args.workers[0]]}
    print(f"{'workers':>7} {'conns':>5} {'req/s':>9} {'x':>5} {'p99 ms':>7} {'max ms':>7} "
          f"{'cpu %':>6} {'busy %':>6}  rounds  rows per worker")  # fmt: skip
    for workers, runs in results["points"].items():
        for run in runs:
            ratio = run["requests_per_s"] / base[run["connections"]]["requests_per_s"]
            print(
                f"{workers:>7} {run['connections']:>5} {run['requests_per_s']:>9.0f} "
                f"{ratio:>5.2f} {run['p99_ms']:>7.1f} {run['max_ms']:>7.1f} "
                f"{run['server_cpu_pct']:>6.0f} {run['machine_busy_pct']:>6.0f}  {run['rounds']}  "
                f"{run['rows_per_worker']}"
            )
    print(
        f"logged rows {results['logged_rows']} >= measured answers {results['measured_requests']} "
        "(warm-ups and readiness requests are logged too)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
