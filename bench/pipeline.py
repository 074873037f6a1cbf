"""Pipeline overhead: one endpoint of a model against a two-step pipeline of it, same run.

    python bench/pipeline.py [--connections 1,8,32] [--repeat 3] [--duration 8]

One modelport server (prediction log on) serves the serving benchmark's model
(LogisticRegression, 20 features, ``bench:1``) three ways: the endpoint ``bench``; the
pipeline ``chain``, whose second step runs the same model again on the request's
features (so it does exactly twice the model work and logs two records); and the
pipeline ``gated``, whose second step runs only on rows the first step answers 1 (about
half). The server runs pinned to one core, wrk to the other; each round measures the
three in turn (order rotating). Reports per connection count the median over rounds of
p50/p99/throughput and the ratio to the single endpoint. Writes
``bench/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

import modelport_cli
import wrk
from machine import machine_info
from servers import Server, free_port
from shadow_overhead import measure
from workload import prepare_workload

BENCH = Path(__file__).resolve().parent
console = Console()
TARGETS = ("bench", "chain", "gated")
PIPELINES: dict[str, dict[str, Any]] = {
    "chain": {"steps": [{"name": "first", "model": "bench:1"},
                        {"name": "second", "model": "bench:1"}]},
    "gated": {"steps": [{"name": "first", "model": "bench:1"},
                        {"name": "second", "model": "bench:1",
                         "when": "first.prediction == 1", "default": 0}]},
}  # fmt: skip


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    workload = prepare_workload(workdir)
    modelport_cli.setup(workdir, workload.model_path, workload.reference_path)
    script = wrk.write_script(workdir / "post.lua", workload.bodies)
    port = free_port()
    server = Server(
        "modelport", modelport_cli.serve_command(port), port, workdir / "modelport.log",
        cwd=workdir, env=modelport_cli.clean_env(), cpu=args.server_cpu,
    )  # fmt: skip
    rounds: dict[int, list[dict[str, Any]]] = {c: [] for c in args.connections}
    with server, httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        server.wait_ready(modelport_cli.PREDICT_PATH, workload.bodies[0].encode())
        for name, pipeline in PIPELINES.items():
            created = client.post("/v1/endpoints", json={"name": name, "pipeline": pipeline})
            created.raise_for_status()
            server.wait_ready(f"/v1/endpoints/{name}/predict", workload.bodies[0].encode())
        for index in range(args.repeat):
            for connections in args.connections:
                shift = index % len(TARGETS)
                order = TARGETS[shift:] + TARGETS[:shift]
                measured: dict[str, Any] = {}
                for target in order:
                    console.print(f"round {index + 1}: {connections} connections, {target}")
                    measured[target] = measure(
                        server, script, connections, args, f"/v1/endpoints/{target}/predict"
                    )
                rounds[connections].append(measured)
    return {str(c): summarise(found) | {"rounds": found} for c, found in rounds.items()}


def summarise(found: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for target in TARGETS:
        summary[target] = {
            key: round(statistics.median(r[target][key] for r in found), 3)
            for key in ("p50_ms", "p99_ms", "max_ms", "requests_per_s", "other_cpu_pct")
            if key in found[0][target]
        }
        summary[target]["throughput_ratio"] = round(
            statistics.median(
                r[target]["requests_per_s"] / r["bench"]["requests_per_s"] for r in found
            ),
            3,
        )
        summary[target]["non_2xx"] = sum(r[target]["non_2xx"] for r in found)
    return summary


def print_table(results: dict[str, Any]) -> None:
    table = Table(title="One endpoint vs a two-step pipeline of the same model")
    for column in ("conns", "target", "p50 ms", "p99 ms", "req/s", "vs endpoint", "non-2xx"):
        table.add_column(column, justify="right")
    for connections, row in results["connections"].items():
        for target in TARGETS:
            figures = row[target]
            table.add_row(
                connections,
                target,
                f"{figures['p50_ms']:.2f}",
                f"{figures['p99_ms']:.2f}",
                f"{figures['requests_per_s']:,.0f}",
                f"{figures['throughput_ratio']:.2f}",
                str(figures["non_2xx"]),
            )
    console.print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 8, 32],
        help="comma-separated connection counts",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "pipeline.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.server_cpu, args.wrk_cpu = (0, 1) if args.pin else (None, None)
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-pipeline-"))
    try:
        results = {"machine": machine_info(), "connections": run(args, workdir)}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print_table(results)
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
