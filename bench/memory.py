"""Server memory: modelport's RSS against the bare endpoint's, and what each endpoint adds.

    python bench/memory.py [--endpoints 1,2,5,10] [--requests 1000]

Starts the bare Starlette + uvicorn + scikit-learn endpoint (``bare_app.py``) and then
``modelport serve`` with 1, 2, 5 and 10 endpoints (each its own registered version of
the serving benchmark's model, so each loads its own copy), one server at a time on
127.0.0.1. For each: RSS once it answers, then ``--requests`` requests (spread evenly over
the endpoints, one connection), then RSS and the high-water mark (``VmRSS``/``VmHWM``
from ``/proc/<pid>/status``) after a short settle. Prints a table, writes
``bench/results/memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import modelport_cli
import report
import wrk
from machine import machine_busy_percent, machine_info
from servers import Server, free_port
from workload import Workload, prepare_workload

BENCH = Path(__file__).resolve().parent
SETTLE_S = 2.0


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of process ``pid`` in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def add_endpoints(workdir: Path, workload: Workload, count: int) -> None:
    """Models ``m1..m<count>`` (the same file, each its own version) behind endpoints
    ``e1..e<count>``; the ones that exist already are kept."""
    # The stores alone (as the tests build them), so the same script measures older
    # commits too.
    from modelport.config import Settings
    from modelport.errors import ModelportError
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    here = Path.cwd()
    os.chdir(workdir)  # the settings' store paths are relative to the project folder
    try:
        settings = Settings.load(workdir / "modelport.toml")
        db = Database(settings.database_url)
        registry = Registry(db, ArtifactStore(settings.artifacts_dir))
        endpoints = EndpointStore(db, registry)
        try:
            for index in range(1, count + 1):
                try:
                    endpoints.get(f"e{index}")
                    continue
                except ModelportError:
                    pass
                version = registry.register(
                    Registration(
                        name=f"m{index}",
                        source=str(workload.model_path),
                        flavor="sklearn",
                        reference=workload.reference_path,
                    )
                )
                endpoints.create(f"e{index}", version.name, version.version)
        finally:
            db.dispose()
    finally:
        os.chdir(here)


def measure(
    server: Server, paths: list[str], workload: Workload, args: argparse.Namespace
) -> dict[str, Any]:
    """RSS when ready, after ``args.requests`` requests spread over ``paths``, and after
    ``args.load_s`` seconds of wrk."""
    requests = args.requests
    first = workload.bodies[0].encode()
    started = time.perf_counter()
    server.start()
    try:
        for path in paths:
            server.wait_ready(path, first, timeout_s=120)
        ready_s = time.perf_counter() - started
        time.sleep(SETTLE_S)
        assert server.process is not None
        pid = server.process.pid
        at_start = memory_kib(pid)
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
            for index in range(requests):
                body = workload.bodies[index % len(workload.bodies)]
                response = client.post(
                    paths[index % len(paths)],
                    content=body,
                    headers={"content-type": "application/json"},
                )
                response.raise_for_status()
        time.sleep(SETTLE_S)
        after = memory_kib(pid)
        loaded: dict[str, Any] = {}
        if args.load_s > 0:
            script = wrk.write_script(server.log_path.with_suffix(".lua"), workload.bodies)
            result = wrk.run(
                server.base_url + paths[0], script, connections=16, duration_s=args.load_s
            )
            time.sleep(SETTLE_S)
            under_load = memory_kib(pid)
            loaded = {
                "load_requests": result.requests,
                "rss_loaded_mib": round(under_load["VmRSS"] / 1024, 1),
                "peak_loaded_mib": round(under_load["VmHWM"] / 1024, 1),
            }
    finally:
        server.stop()
    return {
        "ready_s": round(ready_s, 2),
        "rss_start_mib": round(at_start["VmRSS"] / 1024, 1),
        "rss_mib": round(after["VmRSS"] / 1024, 1),
        "peak_mib": round(after["VmHWM"] / 1024, 1),
        **loaded,
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    workload = prepare_workload(workdir)
    bare_port = free_port()
    bare = Server(
        "bare",
        [sys.executable, str(BENCH / "bare_app.py"), "--model", str(workload.model_path)]
        + ["--port", str(bare_port)],
        bare_port,
        workdir / "bare.log",
    )
    results: dict[str, Any] = {"bare": measure(bare, ["/predict"], workload, args)}
    report.console.print(f"bare: {results['bare']}")
    modelport_cli._run(workdir, "init")
    results["modelport"] = {}
    for count in args.endpoints:
        add_endpoints(workdir, workload, count)
        port = free_port()
        server = Server(
            f"modelport-{count}",
            modelport_cli.serve_command(port),
            port,
            workdir / f"modelport-{count}.log",
            cwd=workdir,
            env=modelport_cli.clean_env(),
        )
        paths = [f"/v1/endpoints/e{index}/predict" for index in range(1, count + 1)]
        outcome = measure(server, paths, workload, args)
        results["modelport"][str(count)] = outcome
        report.console.print(f"modelport, {count} endpoint(s): {outcome}")
    return results


def show(results: dict[str, Any]) -> None:
    bare = results["bare"]
    rows = [("bare", 1, bare)] + [
        ("modelport", int(count), outcome) for count, outcome in results["modelport"].items()
    ]
    one = results["modelport"].get("1")
    report.console.print(
        f"{'server':<10} {'endpoints':>9} {'RSS at start':>13} {'RSS after':>10} "
        f"{'peak':>8} {'× bare':>7} {'per extra endpoint':>19}"
    )
    for name, count, outcome in rows:
        ratio = outcome["rss_mib"] / bare["rss_mib"]
        extra = ""
        if name == "modelport" and one is not None and count > 1:
            extra = f"{(outcome['rss_mib'] - one['rss_mib']) / (count - 1):.1f} MiB"
        loaded = ""
        if "rss_loaded_mib" in outcome:
            loaded = (
                f"  after {outcome['load_requests']:,} more: {outcome['rss_loaded_mib']:.1f} MiB "
                f"({outcome['rss_loaded_mib'] / bare.get('rss_loaded_mib', bare['rss_mib']):.2f}×)"
            )
        report.console.print(
            f"{name:<10} {count:>9} {outcome['rss_start_mib']:>9.1f} MiB "
            f"{outcome['rss_mib']:>6.1f} MiB {outcome['peak_mib']:>4.0f} MiB "
            f"{ratio:>6.2f}× {extra:>19}{loaded}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoints",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 2, 5, 10],
        help="endpoint counts to measure modelport with, comma-separated",
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--load-s", type=float, default=0.0, help="seconds of wrk (c16) after the requests"
    )
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "memory.json")
    args = parser.parse_args(argv)
    busy = machine_busy_percent(1.0)
    workdir = Path(tempfile.mkdtemp(prefix="modelport-memory-"))
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "requests": args.requests,
            "load_s": args.load_s,
            "endpoints": args.endpoints,
            "machine_busy_pct_at_start": round(busy, 1),
        },
    }
    results.update(benchmark(args, workdir))
    show(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    report.console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
