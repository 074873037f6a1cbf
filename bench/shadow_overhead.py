"""Shadow overhead: the primary's latency with a shadow candidate on versus off, same run.

    python bench/shadow_overhead.py [--connections 16 | 1,8,16] [--repeat 3] [--duration 10]

One modelport server serves the serving benchmark's model (LogisticRegression, 20
features) as ``bench:1``; the candidate ``bench:2`` is the very same model, so the
shadow costs exactly one more model call and one more log record per request. The
server runs pinned to one core, wrk to the other. Each round measures shadow off and on
(alternating which goes first), switching through the real admin API
(``POST /v1/endpoints/bench/rollout`` with ``strategy=shadow``, then ``.../rollback``),
with a warm-up wrk run after every switch. Reports per connection count (16 by default)
the median over rounds of p50/p99/max/throughput and of the per-round on/off ratios of
p99, max and throughput, the requests slower than 20 ms, the shadow copies logged and
dropped, and the CPU other processes took (noise). Writes
``bench/results/shadow_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

import modelport_cli
import wrk
from machine import busy_cpu_seconds, machine_info, process_cpu_seconds
from servers import Server, free_port
from workload import prepare_workload

BENCH = Path(__file__).resolve().parent
ROLLOUT = f"/v1/endpoints/{modelport_cli.ENDPOINT}/rollout"
# Wide enough for the table when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 160)


def register_candidate(workdir: Path, model_path: Path, reference_path: Path) -> None:
    """``bench:2``: the same model file again, i.e. a candidate exactly as fast."""
    subprocess.run(
        [modelport_cli.command(), "models", "register", modelport_cli.ENDPOINT,
         str(model_path), "--flavor", "sklearn", "--reference", str(reference_path)],
        cwd=workdir, env=modelport_cli.clean_env(), check=True, capture_output=True,
    )  # fmt: skip


def switch(client: httpx.Client, shadow: bool) -> None:
    """Turn the shadow on or off and wait until the server routes accordingly."""
    wanted = "shadow" if shadow else "primary"

    def routing() -> str | None:
        described = client.get(ROLLOUT).json()["serving"]["routing"]
        return described["strategy"] if described else None

    if routing() == wanted:
        return
    if shadow:
        response = client.post(ROLLOUT, json={"version": 2, "strategy": "shadow"})
    else:
        response = client.post(f"{ROLLOUT}/rollback")
    if response.status_code >= 300:
        raise RuntimeError(f"switching shadow {'on' if shadow else 'off'}: {response.text}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if routing() == wanted:
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not switch to {wanted}")


def measure(
    server: Server,
    script: Path,
    connections: int,
    args: argparse.Namespace,
    path: str = modelport_cli.PREDICT_PATH,
) -> dict[str, Any]:
    """One warm-up and one measured wrk run against ``path``, with the CPU others took."""
    assert server.process is not None
    url = server.base_url + path
    wrk.run(url, script, connections=connections, duration_s=args.warmup, cpu=args.wrk_cpu)
    machine_before = busy_cpu_seconds()
    server_before = process_cpu_seconds(server.process.pid)
    result = wrk.run(
        url, script, connections=connections, duration_s=args.duration, cpu=args.wrk_cpu
    )
    server_s = process_cpu_seconds(server.process.pid) - server_before
    # wrk itself is roughly one core-equivalent of the remainder; count the rest as noise.
    foreign_s = busy_cpu_seconds() - machine_before - server_s
    cores = os.cpu_count() or 1
    return result.to_dict() | {
        "server_cpu_pct": round(100 * server_s / result.duration_s, 1),
        "other_cpu_pct": round(max(0.0, 100 * foreign_s / (result.duration_s * cores)), 1),
    }


def shadow_counts(client: httpx.Client) -> dict[str, Any]:
    report = client.get(f"{ROLLOUT}/report").json()
    return {
        "primary_requests": report["requests"]["primary"],
        "shadow_copies_logged": report["requests"]["candidate"],
        "shadow_copies_dropped": report["serving"]["mirrors_dropped"],
        "agreement": report["comparison"].get("agreement"),
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    workload = prepare_workload(workdir)
    modelport_cli.setup(workdir, workload.model_path, workload.reference_path)
    register_candidate(workdir, workload.model_path, workload.reference_path)
    script = wrk.write_script(workdir / "post.lua", workload.bodies)
    port = free_port()
    server = Server(
        "modelport", modelport_cli.serve_command(port), port, workdir / "modelport.log",
        cwd=workdir, env=modelport_cli.clean_env(), cpu=args.server_cpu,
    )  # fmt: skip
    rounds: dict[int, list[dict[str, Any]]] = {c: [] for c in args.connections}
    with server, httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        server.wait_ready(modelport_cli.PREDICT_PATH, workload.bodies[0].encode())
        for index in range(args.repeat):
            for connections in args.connections:
                order = (False, True) if index % 2 == 0 else (True, False)
                pair: dict[str, Any] = {}
                for shadow in order:
                    switch(client, shadow)
                    label = "on" if shadow else "off"
                    console.print(f"round {index + 1}: {connections} connections, shadow {label}")
                    pair[label] = measure(server, script, connections, args)
                    if shadow:
                        pair["shadow"] = shadow_counts(client)
                pair["p99_ratio"] = round(pair["on"]["p99_ms"] / pair["off"]["p99_ms"], 3)
                pair["max_ratio"] = round(pair["on"]["max_ms"] / pair["off"]["max_ms"], 3)
                pair["throughput_ratio"] = round(
                    pair["on"]["requests_per_s"] / pair["off"]["requests_per_s"], 3
                )
                rounds[connections].append(pair)
        switch(client, False)
    return {str(c): summarise(pairs) | {"rounds": pairs} for c, pairs in rounds.items()}


def summarise(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(side: str, key: str) -> float:
        return round(statistics.median(p[side][key] for p in pairs), 3)

    def slow(side: str) -> int:
        """Requests slower than 20 ms over all rounds (-1: wrk could not count them)."""
        counts = [p[side]["slow_requests"] for p in pairs]
        return -1 if min(counts) < 0 else sum(counts)

    figures = ("p50_ms", "p99_ms", "max_ms", "requests_per_s")
    return {
        "off": {k: median("off", k) for k in figures} | {"slow_requests": slow("off")},
        "on": {k: median("on", k) for k in figures} | {"slow_requests": slow("on")},
        "p99_ratio": round(statistics.median(p["p99_ratio"] for p in pairs), 3),
        "max_ratio": round(statistics.median(p["max_ratio"] for p in pairs), 3),
        "throughput_ratio": round(statistics.median(p["throughput_ratio"] for p in pairs), 3),
        "other_cpu_pct": median("on", "other_cpu_pct"),
        "non_2xx": sum(p[s]["non_2xx"] for p in pairs for s in ("on", "off")),
        "shadow_copies_dropped": sum(p["shadow"]["shadow_copies_dropped"] for p in pairs),
        "shadow_copies_logged": sum(p["shadow"]["shadow_copies_logged"] for p in pairs),
        "primary_requests_shadowed": sum(p["shadow"]["primary_requests"] for p in pairs),
    }


def print_table(results: dict[str, Any]) -> None:
    table = Table(title="Primary latency, shadow off vs on (same model as candidate)")
    slow = f"> {wrk.SLOW_MS:g} ms"
    for column in ("conns", "p50 off", "p50 on", "p99 off", "p99 on", "p99 on/off",
                   "max off", "max on", "max on/off", f"{slow} off", f"{slow} on",
                   "req/s off", "req/s on", "copies logged", "dropped", "noise %"):  # fmt: skip
        table.add_column(column, justify="right")
    for connections, row in results["connections"].items():
        table.add_row(
            connections,
            f"{row['off']['p50_ms']:.2f}",
            f"{row['on']['p50_ms']:.2f}",
            f"{row['off']['p99_ms']:.2f}",
            f"{row['on']['p99_ms']:.2f}",
            f"{row['p99_ratio']:.3f}",
            f"{row['off']['max_ms']:.1f}",
            f"{row['on']['max_ms']:.1f}",
            f"{row['max_ratio']:.2f}",
            f"{row['off']['slow_requests']:,}",
            f"{row['on']['slow_requests']:,}",
            f"{row['off']['requests_per_s']:,.0f}",
            f"{row['on']['requests_per_s']:,.0f}",
            f"{row['shadow_copies_logged']:,}",
            f"{row['shadow_copies_dropped']:,}",
            f"{row['other_cpu_pct']:.0f}",
        )
    console.print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per switch")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[16],
        help="connection count, or a comma-separated sweep such as 1,8,16",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "shadow_overhead.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk.find_wrk()
    cpus = sorted(os.sched_getaffinity(0))
    pinned = args.pin and len(cpus) >= 2
    args.server_cpu, args.wrk_cpu = (cpus[0], cpus[1]) if pinned else (None, None)
    workdir = Path(tempfile.mkdtemp(prefix="modelport-shadow-bench-"))
    try:
        results = {
            "machine": machine_info(),
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "repeat": args.repeat,
                "pinned": pinned,
                "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
            },
            "connections": run(args, workdir),
        }
    finally:
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
