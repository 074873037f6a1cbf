"""Serving benchmark: modelport beside a bare Starlette endpoint and MLServer, same model.

    python bench/serving.py [--duration 10] [--connections 32 | --connections 1,8,64]
    python bench/serving.py --stall-run 60      # 60 s at 16 connections per server

The servers serve one scikit-learn LogisticRegression (20 features f0..f19, trained on
``make_classification(n_samples=5000, n_features=20, random_state=0)``) on 127.0.0.1,
one at a time, the server pinned to one core and wrk to the other. For each connection
count: a warm-up wrk run, then the measured one. ``--repeat N`` runs N rounds that
alternate the servers (bare, modelport, mlserver, bare, ...), so slow drifts in the
machine's load hit all alike; the median round is reported, with p50/p99/max latency,
the requests slower than ``--slow-ms`` (20) and the ratios modelport/bare and
modelport/mlserver. ``--stall-run SECONDS`` measures one long run at 16 connections per
server instead, for stalls: p99, max and the count of slow requests. Prints tables,
writes ``bench/results/serving.json`` (``serving-stall.json`` for a stall run). Needs
``wrk`` (Debian: ``apt-get install -y wrk``); MLServer needs its own venv
(``make bench/.venv-mlserver/.installed``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import mlserver_setup
import modelport_cli
import report
import wrk
from machine import (
    busy_cpu_seconds,
    machine_busy_percent,
    machine_info,
    process_cpu_seconds,
    wait_until_quiet,
)
from servers import Server, ServerFailed, free_port
from workload import BODY_COUNT, Workload, answers_expected, prepare_workload

BENCH = Path(__file__).resolve().parent
BARE_PATH = "/predict"
SERVERS = ("bare", "modelport", "mlserver")
PATHS = {
    "bare": BARE_PATH,
    "modelport": modelport_cli.PREDICT_PATH,
    "mlserver": mlserver_setup.INFER_PATH,
}
STALL_CONNECTIONS = 16


def build_server(name: str, workdir: Path, workload: Workload, args: argparse.Namespace) -> Server:
    """The server process for ``name`` on a free port (not started)."""
    port = free_port()
    if name == "bare":
        command = [sys.executable, str(BENCH / "bare_app.py"), "--model", str(workload.model_path)]
        command += ["--port", str(port)]
        cwd, env = None, None
    elif name == "mlserver":
        repository = mlserver_setup.write_repository(workdir, workload.joblib_path, port)
        command = mlserver_setup.serve_command(repository)
        # The model was fitted on a DataFrame and MLServer passes it a numpy array: the
        # same harmless warning bare_app.py filters, ignored the same way here.
        ignore = "ignore:X does not have valid feature names:UserWarning"
        cwd, env = repository, mlserver_setup.clean_env() | {"PYTHONWARNINGS": ignore}
    else:
        command = modelport_cli.serve_command(port)
        cwd, env = workdir, modelport_cli.clean_env()
    return Server(
        name,
        command,
        port,
        workdir / f"{name}.log",
        cwd=cwd,
        env=env,
        cpu=args.server_cpu,
        niceness=args.nice,
    )


def measured_run(
    server: Server, url: str, script: Path, connections: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One wrk run, with the CPU the server used and what the rest of the machine took."""
    assert server.process is not None
    machine_before = busy_cpu_seconds()
    server_before = process_cpu_seconds(server.process.pid)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_before = usage.ru_utime + usage.ru_stime
    result = wrk.run(
        url,
        script,
        connections=connections,
        duration_s=args.duration,
        threads=args.threads,
        cpu=args.wrk_cpu,
        niceness=args.nice,
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_s = process_cpu_seconds(server.process.pid) - server_before
    wrk_s = usage.ru_utime + usage.ru_stime - wrk_before
    foreign_s = busy_cpu_seconds() - machine_before - server_s - wrk_s
    cores = os.cpu_count() or 1
    return result.to_dict() | {
        "server_cpu_pct": round(100 * server_s / result.duration_s, 1),
        # What one request costs the server: steadier than req/s when the machine is shared.
        "server_cpu_ms_per_request": round(1000 * server_s / result.requests, 3)
        if result.requests
        else None,
        # CPU neither the server nor wrk used: other work on the machine, i.e. noise.
        "foreign_cpu_pct": round(max(0.0, 100 * foreign_s / (result.duration_s * cores)), 1),
    }


def run_round(
    server: Server, path: str, body: str, workload: Workload, script: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Start ``server``, check its answer, then warm-up + measured run per connection count."""
    runs: list[dict[str, Any]] = []
    completed = 1  # the readiness request
    with server:
        response = server.wait_ready(path, body.encode(), args.startup_timeout)
        correct = answers_expected(response.json(), workload.expected)
        if not correct:
            report.console.print(
                f"[yellow]warning:[/] {server.name} answered {response.text[:300]!r}, which "
                f"lacks the expected probabilities {workload.expected}"
            )
        url = server.base_url + path
        for connections in args.connections:
            if args.wait_quiet > 0:
                busy = wait_until_quiet(args.wait_quiet)
                if busy > 10:
                    report.console.print(f"[yellow]warning:[/] machine still {busy:.0f}% busy")
            report.console.print(f"{server.name}: {connections} connections ...")
            if args.warmup > 0:
                warmup = wrk.run(
                    url,
                    script,
                    connections=connections,
                    duration_s=args.warmup,
                    cpu=args.wrk_cpu,
                    niceness=args.nice,
                )
                completed += warmup.requests
            run = measured_run(server, url, script, connections, args)
            completed += run["requests"]
            runs.append(run)
        peak_rss = server.peak_rss_mib()
    return {
        "runs": runs,
        "answer_checked": correct,
        "peak_rss_mib": peak_rss,
        "completed_requests": completed,
    }


def median_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per connection count, the round with the median throughput; the others beside it."""
    runs = []
    for index in range(len(rounds[0]["runs"])):
        in_order = [r["runs"][index] for r in rounds]
        median = sorted(in_order, key=lambda r: r["requests_per_s"])[len(in_order) // 2]
        runs.append(median | {"rounds": in_order if len(in_order) > 1 else []})
        if median["foreign_cpu_pct"] > 10:
            report.console.print(
                f"[yellow]warning:[/] other processes used {median['foreign_cpu_pct']}% of the "
                f"machine during the {median['connections']}-connection run; it is noisy"
            )
    return {
        "runs": runs,
        "answer_checked": all(r["answer_checked"] for r in rounds),
        "server_peak_rss_mib": max((r["peak_rss_mib"] or 0.0) for r in rounds),
        # Every answer wrk counted, warm-ups included (in-flight ones at a run's end are not).
        "completed_requests": sum(r["completed_requests"] for r in rounds),
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, dict[str, Any]]:
    workload = prepare_workload(workdir, args.fit_on)
    # Each server gets the same 100 rows in its own request format.
    instances = wrk.write_script(workdir / "post.lua", workload.bodies, args.slow_ms)
    v2 = wrk.write_script(workdir / "post-v2.lua", workload.v2_bodies, args.slow_ms)
    scripts = {"bare": instances, "modelport": instances, "mlserver": v2}
    first_bodies = {"bare": workload.bodies[0], "modelport": workload.bodies[0]}
    first_bodies["mlserver"] = workload.v2_bodies[0]
    outcomes: dict[str, dict[str, Any]] = {}
    active = list(args.servers)
    if "mlserver" in active:
        try:
            mlserver_setup.command()
        except ServerFailed as exc:
            report.console.print(f"[bold red]MLServer could not be set up:[/] {exc}")
            outcomes["mlserver"] = {"error": str(exc)}
            active.remove("mlserver")
    if "modelport" in active:
        try:
            modelport_cli.setup(workdir, workload.model_path, workload.reference_path)
            store_before = modelport_cli.store_bytes(workdir)
        except ServerFailed as exc:
            report.console.print(f"[bold red]modelport could not be set up:[/] {exc}")
            outcomes["modelport"] = {"error": str(exc)}
            active.remove("modelport")

    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in active}
    for number in range(args.repeat):
        if args.repeat > 1:
            report.console.print(f"round {number + 1}/{args.repeat}")
        for name in list(active):
            try:
                server = build_server(name, workdir, workload, args)
                body, script = first_bodies[name], scripts[name]
                rounds[name].append(run_round(server, PATHS[name], body, workload, script, args))
            except ServerFailed as exc:
                report.console.print(f"[bold red]{name} could not be benchmarked:[/] {exc}")
                outcomes[name] = {"error": str(exc)}
                active.remove(name)

    for name in active:
        outcomes[name] = median_rounds(rounds[name])
    if "modelport" in active:
        # Evidence that logging was on: the store's growth and the rows read back.
        outcome = outcomes["modelport"]
        outcome["store_growth_bytes"] = modelport_cli.store_bytes(workdir) - store_before
        try:
            outcome["logged_rows"] = modelport_cli.logged_rows(workdir)
        except ServerFailed as exc:
            report.console.print(f"[yellow]warning:[/] could not read the log back: {exc}")
            outcome["logged_rows"] = None
    return {name: outcomes[name] for name in args.servers if name in outcomes}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up (0: none)")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[32],
        help="connection count, or a comma-separated sweep such as 1,8,64",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over all servers; the median is reported"
    )
    parser.add_argument(
        "--servers",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=list(SERVERS),
        help="which servers to run, comma-separated (default: bare,modelport,mlserver)",
    )
    parser.add_argument(
        "--stall-run",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=f"instead of the sweep, one run of SECONDS at {STALL_CONNECTIONS} connections per "
        "server, reporting p99, max and the requests slower than --slow-ms",
    )
    parser.add_argument(
        "--slow-ms",
        type=float,
        default=wrk.SLOW_MS,
        help="count the requests slower than this (default %(default)s)",
    )
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not taskset server and wrk"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness for server and wrk; negative (root only, e.g. -10) shields the "
        "measurement from other work on a shared machine",
    )
    parser.add_argument(
        "--fit-on",
        choices=["frame", "array"],
        default="frame",
        help="fit the model on a DataFrame (has feature names, the default) or a plain array",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each point, wait up to this long for the machine to be under 10%% busy",
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument(
        "--output", type=Path, help="results file (default bench/results/serving.json, or "
        "serving-stall.json for --stall-run)"
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.stall_run < 0 or args.slow_ms < 0:
        parser.error("--stall-run and --slow-ms cannot be negative")
    if args.stall_run:
        if args.stall_run < 1:
            parser.error("--stall-run needs at least 1 second")
        args.connections, args.duration = [STALL_CONNECTIONS], args.stall_run
    if args.output is None:
        name = "serving-stall.json" if args.stall_run else "serving.json"
        args.output = BENCH / "results" / name
    cpus = sorted(os.sched_getaffinity(0))
    args.pin = args.pin and len(cpus) >= 2
    args.server_cpu, args.wrk_cpu = (cpus[0], cpus[1]) if args.pin else (None, None)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk.find_wrk()
    except wrk.WrkMissing as exc:
        raise SystemExit(str(exc)) from exc

    busy = machine_busy_percent(1.0)
    if busy > 10:
        report.console.print(
            f"[yellow]warning:[/] the machine is {busy:.0f}% busy before starting; other work "
            "on it will make the figures noisy (see --wait-quiet, --nice)"
        )
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "rounds": args.repeat,
            "stall_run": bool(args.stall_run),
            "slow_ms": args.slow_ms,
            "pinned": args.pin,
            "server_cpu": args.server_cpu,
            "wrk_cpu": args.wrk_cpu,
            "niceness": args.nice,
            "fit_on": args.fit_on,
            "bodies": BODY_COUNT,
            "machine_busy_pct_at_start": round(busy, 1),
        },
    }
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    try:
        results["servers"] = benchmark(args, workdir)
    finally:
        if args.keep:
            report.console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    outcomes = results["servers"]
    results["ratios"] = {
        f"modelport/{base}": report.ratios(outcomes[base]["runs"], outcomes["modelport"]["runs"])
        for base in ("bare", "mlserver")
        if "runs" in outcomes.get(base, {}) and "runs" in outcomes.get("modelport", {})
    }
    report.print_tables(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    report.console.print(f"wrote {args.output}")
    return 1 if any("error" in outcome for outcome in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
