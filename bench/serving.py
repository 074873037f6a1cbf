"""Serving benchmark: modelport against a bare Starlette endpoint, same model, same run.

    python bench/serving.py [--duration 10] [--connections 32] [--connections 1,8,64]

Both servers serve one scikit-learn LogisticRegression (20 features f0..f19, trained on
``make_classification(n_samples=5000, n_features=20, random_state=0)``) on 127.0.0.1,
one at a time, pinned to one core while wrk runs on the other. For each connection
count: a warm-up wrk run, then the measured one. Prints a table, writes
``bench/results/serving.json``. Needs ``wrk`` (Debian: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import skops.io
from rich.console import Console
from rich.table import Table
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import wrk
from machine import (
    busy_cpu_seconds,
    machine_busy_percent,
    machine_info,
    process_cpu_seconds,
    wait_until_quiet,
)
from servers import Server, ServerFailed, free_port

BENCH = Path(__file__).resolve().parent
FEATURES = [f"f{i}" for i in range(20)]
BODY_COUNT = 100
BARE_PATH = "/predict"
MODELPORT_PATH = "/v1/endpoints/bench/predict"
# Wide enough for the table when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)


@dataclass(frozen=True)
class Workload:
    model_path: Path
    reference_path: Path
    bodies: list[str]
    # predict_proba of the first body, to check that each server answers the same thing.
    expected: list[float]


def prepare_workload(workdir: Path, fit_on: str = "frame") -> Workload:
    """Train and save the model, write the reference and the request bodies.

    ``fit_on="frame"`` fits on a DataFrame, as most users do, so the model carries
    ``feature_names_in_``; ``"array"`` fits on a plain matrix.
    """
    features, target = make_classification(n_samples=5000, n_features=20, random_state=0)
    frame = pd.DataFrame(features, columns=FEATURES)
    model = LogisticRegression(max_iter=1000).fit(frame if fit_on == "frame" else features, target)
    model_path = workdir / "model.skops"
    skops.io.dump(model, model_path)
    reference_path = workdir / "ref.parquet"
    frame.to_parquet(reference_path, index=False)

    rows = frame.sample(n=BODY_COUNT, random_state=1)
    bodies = [
        json.dumps({"instances": [{name: float(row[name]) for name in FEATURES}]})
        for _, row in rows.iterrows()
    ]
    first = rows.iloc[:1] if fit_on == "frame" else rows.iloc[:1].to_numpy()
    expected = model.predict_proba(first)[0].tolist()
    return Workload(model_path, reference_path, bodies, expected)


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


def answers_expected(payload: Any, expected: list[float]) -> bool:
    """True if every expected probability appears somewhere in the JSON answer."""
    found = list(_numbers(payload))
    return all(any(abs(number - want) < 1e-6 for number in found) for want in expected)


def _modelport_command() -> str:
    beside_python = Path(sys.executable).parent / "modelport"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("modelport")
    if found is None:
        raise ServerFailed("the modelport command is not installed (pip install -e .)")
    return found


def _clean_env() -> dict[str, str]:
    # A developer's MODELPORT_* settings (say, a Postgres URL) must not leak into the run.
    return {key: value for key, value in os.environ.items() if not key.startswith("MODELPORT_")}


def setup_modelport(workdir: Path, workload: Workload) -> None:
    """Create the store and the endpoint through the real CLI, as a user would."""
    exe = _modelport_command()
    steps = [
        [exe, "init"],
        [
            exe,
            "models",
            "register",
            "bench",
            workload.model_path.name,
            "--flavor",
            "sklearn",
            "--reference",
            workload.reference_path.name,
        ],
        [exe, "endpoints", "create", "bench", "--model", "bench:1"],
    ]
    for step in steps:
        shown = "modelport " + " ".join(step[1:])
        try:
            completed = subprocess.run(
                step, cwd=workdir, env=_clean_env(), capture_output=True, text=True, timeout=120
            )
        except subprocess.TimeoutExpired as exc:
            raise ServerFailed(f"`{shown}` did not finish within 120s") from exc
        if completed.returncode != 0:
            output = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
            raise ServerFailed(
                f"`{shown}` failed with exit code {completed.returncode}:\n" + "\n".join(output)
            )


def build_server(
    name: str, workdir: Path, workload: Workload, cpu: int | None
) -> tuple[Server, str]:
    """The server process for ``name`` on a free port, and the path to POST to."""
    port = free_port()
    if name == "bare":
        command = [sys.executable, str(BENCH / "bare_app.py"), "--model", str(workload.model_path)]
        command += ["--port", str(port)]
        server = Server("bare", command, port, workdir / "bare.log", cpu=cpu)
        return server, BARE_PATH
    command = [_modelport_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Server(
        "modelport",
        command,
        port,
        workdir / "modelport.log",
        cwd=workdir,
        env=_clean_env(),
        cpu=cpu,
    )
    return server, MODELPORT_PATH


def logged_rows(workdir: Path) -> int | None:
    """Rows in modelport's prediction log for the endpoint, read back through the CLI."""
    exported = workdir / "logged.parquet"
    completed = subprocess.run(
        [_modelport_command(), "logs", "export", "bench", "--output", str(exported)],
        cwd=workdir,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode != 0 or not exported.exists():
        console.print(f"[yellow]warning:[/] could not export the log: {completed.stderr.strip()}")
        return None
    return int(pq.read_metadata(exported).num_rows)


def directory_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _measured_run(
    server: Server,
    url: str,
    script: Path,
    connections: int,
    args: argparse.Namespace,
    wrk_cpu: int | None,
) -> dict[str, Any]:
    """One wrk run, plus how much CPU the rest of the machine took meanwhile."""
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
        cpu=wrk_cpu,
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_s = process_cpu_seconds(server.process.pid) - server_before
    wrk_s = usage.ru_utime + usage.ru_stime - wrk_before
    foreign_s = busy_cpu_seconds() - machine_before - server_s - wrk_s
    cores = os.cpu_count() or 1
    return result.to_dict() | {
        "server_cpu_pct": round(100 * server_s / result.duration_s, 1),
        # CPU that neither the server nor wrk used: other work on the machine (noise).
        "foreign_cpu_pct": round(max(0.0, 100 * foreign_s / (result.duration_s * cores)), 1),
    }


def measure(
    server: Server,
    path: str,
    workload: Workload,
    script: Path,
    args: argparse.Namespace,
    wrk_cpu: int | None,
) -> dict[str, Any]:
    """Start ``server``, check its answer, run warm-up + measured wrk per connection count."""
    runs: list[dict[str, Any]] = []
    completed = 1  # the readiness request that succeeded
    with server:
        response = server.wait_ready(path, workload.bodies[0].encode(), args.startup_timeout)
        correct = answers_expected(response.json(), workload.expected)
        if not correct:
            console.print(
                f"[yellow]warning:[/] {server.name} answered {response.text[:300]!r}, which "
                f"does not contain the expected probabilities {workload.expected}"
            )
        url = server.base_url + path
        for connections in args.connections:
            if args.wait_quiet > 0:
                busy = wait_until_quiet(args.wait_quiet)
                if busy > 10:
                    console.print(f"[yellow]warning:[/] machine still {busy:.0f}% busy")
            console.print(f"{server.name}: {connections} connections ...")
            if args.warmup > 0:
                warmup = wrk.run(
                    url, script, connections=connections, duration_s=args.warmup, cpu=wrk_cpu
                )
                completed += warmup.requests
            repeats = [
                _measured_run(server, url, script, connections, args, wrk_cpu)
                for _ in range(args.repeat)
            ]
            completed += sum(r["requests"] for r in repeats)
            # The median run by throughput stands for the lot; the spread is kept beside it.
            repeats.sort(key=lambda run: run["requests_per_s"])
            run = repeats[len(repeats) // 2] | {"repeats": repeats if len(repeats) > 1 else []}
            if run["foreign_cpu_pct"] > 10:
                console.print(
                    f"[yellow]warning:[/] other processes used {run['foreign_cpu_pct']}% of the "
                    "machine during this run; its figures are noisy"
                )
            runs.append(run)
        peak_rss = server.peak_rss_mib()
    return {
        "runs": runs,
        "answer_checked": correct,
        "server_peak_rss_mib": peak_rss,
        # Every answer wrk counted, warm-ups included (in-flight ones at a run's end are not).
        "completed_requests": completed,
    }


def ratios(bare: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    paired = []
    for base, run in zip(bare, other, strict=True):
        paired.append(
            {
                "connections": base["connections"],
                "throughput_ratio": round(run["requests_per_s"] / base["requests_per_s"], 3)
                if base["requests_per_s"]
                else None,
                "p99_ratio": round(run["p99_ms"] / base["p99_ms"], 3) if base["p99_ms"] else None,
            }
        )
    return paired


def print_tables(results: dict[str, Any]) -> None:
    table = Table(title="Serving: one-row predict_proba over HTTP on 127.0.0.1")
    columns = ("server", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "errors")
    for column in (*columns, "server CPU %", "noise %"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for name, outcome in results["servers"].items():
        if outcome.get("error"):
            table.add_row(name, "-", "failed", *[""] * 7)
            continue
        for run in outcome["runs"]:
            table.add_row(
                name,
                str(run["connections"]),
                f"{run['requests_per_s']:,.0f}",
                f"{run['p50_ms']:.2f}",
                f"{run['p99_ms']:.2f}",
                f"{run['max_ms']:.1f}",
                str(run["non_2xx"]),
                str(run["socket_errors"] + run["timeouts"]),
                f"{run['server_cpu_pct']:.0f}",
                f"{run['foreign_cpu_pct']:.0f}",
            )
    console.print(table)
    if results.get("ratios"):
        ratio_table = Table(title="modelport / bare")
        for column in ("conns", "throughput", "p99 latency"):
            ratio_table.add_column(column, justify="right")
        for row in results["ratios"]:
            ratio_table.add_row(
                str(row["connections"]), f"{row['throughput_ratio']}", f"{row['p99_ratio']}"
            )
        console.print(ratio_table)


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
        "--repeat", type=int, default=1, help="measured runs per point; the median is reported"
    )
    parser.add_argument(
        "--servers", default="bare,modelport", help="which servers to run, comma-separated"
    )
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not taskset server and wrk"
    )
    parser.add_argument(
        "--fit-on",
        choices=["frame", "array"],
        default="frame",
        help="fit the model on a DataFrame (has feature names, the default) or a plain array",
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each point, wait up to this long for the machine to be under 10%% busy",
    )
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "serving.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = set(servers) - {"bare", "modelport"}
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(sorted(unknown))}")
    try:
        wrk.find_wrk()
    except wrk.WrkMissing as exc:
        raise SystemExit(str(exc)) from exc

    cpus = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cpus) >= 2
    server_cpu, wrk_cpu = (cpus[0], cpus[1]) if pin else (None, None)

    busy = machine_busy_percent(1.0)
    if busy > 10:
        console.print(
            f"[yellow]warning:[/] the machine is {busy:.0f}% busy before starting; other work "
            "on it will make the figures noisy (see --wait-quiet)"
        )
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "repeat": args.repeat,
            "pinned": pin,
            "server_cpu": server_cpu,
            "wrk_cpu": wrk_cpu,
            "bodies": BODY_COUNT,
            "fit_on": args.fit_on,
            "machine_busy_pct_at_start": round(busy, 1),
        },
        "servers": {},
    }
    try:
        workload = prepare_workload(workdir, args.fit_on)
        script = wrk.write_script(workdir / "post.lua", workload.bodies)
        for name in servers:
            server, path = build_server(name, workdir, workload, server_cpu)
            try:
                if name == "modelport":
                    setup_modelport(workdir, workload)
                    store_bytes = directory_bytes(workdir / ".modelport")
                outcome = measure(server, path, workload, script, args, wrk_cpu)
                if name == "modelport":
                    # Evidence that logging was on: what the store grew by during the run.
                    outcome["store_growth_bytes"] = (
                        directory_bytes(workdir / ".modelport") - store_bytes
                    )
                    outcome["logged_rows"] = logged_rows(workdir)
            except ServerFailed as exc:
                console.print(f"[bold red]{name} could not be benchmarked:[/] {exc}")
                outcome = {"error": str(exc)}
            results["servers"][name] = outcome

        outcomes = results["servers"]
        if all(name in outcomes and "runs" in outcomes[name] for name in ("bare", "modelport")):
            results["ratios"] = ratios(outcomes["bare"]["runs"], outcomes["modelport"]["runs"])
    finally:
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_tables(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {args.output}")
    return 1 if any("error" in outcome for outcome in results["servers"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
