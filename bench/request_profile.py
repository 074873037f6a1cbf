"""Where the CPU time of one predict request goes, by layer.

python bench/request_profile.py [--requests 5000] [--connections 1,16] [--fast-path on|off]

Sets up the serving benchmark's model through the real CLI (``init``, ``models
register``, ``endpoints create``) in a temporary directory, builds the real ASGI app
(``create_app``: guard, timing, routes, data plane, log, monitoring, request index), runs
its lifespan, and sends ``--requests`` one-row predict requests straight into the app
at each concurrency (no sockets: the HTTP server's own share is what the wrk benchmark's
CPU per request adds on top).

Two passes per concurrency:

1. unprofiled: CPU per request of the event loop's thread (``time.thread_time``) and of
   the whole process (every thread: log writer, index, monitoring);
2. profiled with ``cProfile`` on the event loop's thread's CPU clock: each function's own
   time is put in a layer by its file (a C function's time goes to the layer of the
   Python function that called it), and the layers' shares are scaled to pass 1's
   figure, since the profiler's own overhead inflates Python-heavy layers.

The table is what the issue's "where each microsecond of a request goes" asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modelport_cli import ENDPOINT, setup  # noqa: E402
from workload import prepare_workload  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 120)

# (layer, substrings of a file path), first match wins.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "model (scikit-learn / onnxruntime / numpy)",
        (
            "sklearn/",
            "onnxruntime",
            "narwhals/",
            "numpy/",
            "scipy/",
            "threadpoolctl",
            "modelport/registry/flavors",
            "modelport/registry/fast",
        ),
    ),
    ("decode and encode (modelport.codecs, orjson)", ("modelport/codecs", "orjson")),
    ("data plane and runner (modelport.serving)", ("modelport/serving", "modelport/batch.py")),
    (
        "log and monitoring hand-off (record, listeners)",
        (
            "modelport/predlog",
            "modelport/monitoring",
            "modelport/vocabulary.py",
        ),
    ),
    ("metrics (prometheus-client)", ("prometheus_client", "modelport/telemetry.py")),
    ("guard, timing, handlers (modelport.api)", ("modelport/api",)),
    ("routing, middleware, responses (Starlette)", ("starlette/",)),
    ("event loop, tasks, futures (asyncio, uvloop)", ("asyncio/", "uvloop", "concurrent/")),
]
OTHER = "other (stdlib, dataclasses, ...)"


def layer_of(path: str) -> str:
    for name, needles in LAYERS:
        if any(needle in path for needle in needles):
            return name
    return OTHER


def by_layer(stats: pstats.Stats) -> dict[str, float]:
    """Own time per layer; a built-in's time goes to its caller's layer."""
    seconds: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (path, _line, _name), (_cc, _nc, own, _cum, callers) in raw.items():
        if path != "~":
            seconds[layer_of(path)] += own
            continue
        total = sum(entry[2] for entry in callers.values()) or 1.0
        for (caller_path, _, _), entry in callers.items():
            share = own * entry[2] / total
            seconds[layer_of(caller_path) if caller_path != "~" else OTHER] += share
    return dict(seconds)


def bodies_of(workload: Any) -> list[bytes]:
    return [body.encode() for body in workload.bodies]


async def one_request(app: Any, body: bytes) -> None:
    path = f"/v1/endpoints/{ENDPOINT}/predict"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "state": {}, "app": app,
    }  # fmt: skip
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"predict answered {statuses}")


class GcPauses:
    """Collections and their pauses per generation, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            f"gen{generation}": {
                "collections": len(pauses),
                "max_ms": round(1000 * max(pauses, default=0.0), 1),
                "total_ms": round(1000 * sum(pauses), 1),
            }
            for generation, pauses in self.pauses.items()
        }


async def drive(app: Any, bodies: list[bytes], requests: int, connections: int) -> None:
    async def client(first: int) -> None:
        for index in range(first, requests, connections):
            await one_request(app, bodies[index % len(bodies)])

    await asyncio.gather(*(client(k) for k in range(connections)))


async def measure(
    workdir: Path, bodies: list[bytes], requests: int, connections: list[int]
) -> list[dict[str, Any]]:
    os.chdir(workdir)
    from modelport.api.app import create_app
    from modelport.config import Settings

    app = create_app(Settings.load())
    results = []
    async with app.router.lifespan_context(app):
        await drive(app, bodies, 200, 4)  # warm-up
        for count in connections:
            await asyncio.sleep(1.0)
            process, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
            pauses = GcPauses()
            gc.callbacks.append(pauses)
            try:
                await drive(app, bodies, requests, count)
            finally:
                gc.callbacks.remove(pauses)
            process = time.process_time() - process
            thread = time.thread_time() - thread
            wall = time.perf_counter() - wall
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            await drive(app, bodies, requests, count)
            profile.disable()
            layers = by_layer(pstats.Stats(profile))
            profiled = sum(layers.values()) or 1.0
            per_request_us = thread / requests * 1e6
            results.append(
                {
                    "connections": count,
                    "requests": requests,
                    "loop_thread_us_per_request": round(per_request_us, 1),
                    "process_us_per_request": round(process / requests * 1e6, 1),
                    "wall_us_per_request": round(wall / requests * 1e6, 1),
                    "garbage_collections": pauses.summary(),
                    "tracked_objects": len(gc.get_objects()),
                    "layers_us": {
                        name: round(per_request_us * value / profiled, 1)
                        for name, value in sorted(layers.items(), key=lambda kv: -kv[1])
                    },
                }
            )
    return results


def show(results: list[dict[str, Any]]) -> None:
    for result in results:
        table = Table(
            title=f"{result['connections']} concurrent requests: "
            f"{result['loop_thread_us_per_request']} µs on the event loop's thread per "
            f"request ({result['process_us_per_request']} µs, all threads)"
        )
        table.add_column("layer")
        table.add_column("µs / request", justify="right")
        table.add_column("share", justify="right")
        total = result["loop_thread_us_per_request"] or 1.0
        for name, value in result["layers_us"].items():
            table.add_row(name, f"{value:.1f}", f"{100 * value / total:.0f} %")
        console.print(table)
        collections = ", ".join(
            f"{name}: {figures['collections']:.0f} × (max {figures['max_ms']} ms)"
            for name, figures in result["garbage_collections"].items()
        )
        console.print(
            f"garbage collections during the unprofiled pass: {collections}; "
            f"{result['tracked_objects']:,} objects tracked after it"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--output", type=Path, default=Path("bench/results/request_profile.json"))
    options = parser.parse_args()
    connections = [int(part) for part in options.connections.split(",") if part]
    output = options.output.resolve()
    with tempfile.TemporaryDirectory(prefix="modelport-profile-") as temporary:
        workdir = Path(temporary)
        workload = prepare_workload(workdir)
        setup(workdir, workload.model_path, workload.reference_path)
        results = asyncio.run(measure(workdir, bodies_of(workload), options.requests, connections))
    show(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
