"""CLI start-up: wall and CPU time of ``--help`` and the read-only commands.

    python bench/cli_startup.py [--repeat 5] [--src PATH]

Builds a project (``init``, the serving benchmark's model registered, endpoint ``bench``)
in a temporary folder, then runs each command ``--repeat`` times as a user would
(``python -m modelport ...``, output to a pipe) and reports the median wall time and the
median CPU time (user + system) of each. CPU time moves less than wall time on a busy
machine. ``--src`` runs another checkout's ``src`` (e.g. an older commit's, for a
before/after in one run). Writes ``bench/results/cli_startup.json``.
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

import report
from machine import machine_busy_percent, machine_info
from workload import prepare_workload

BENCH = Path(__file__).resolve().parent
COMMANDS = [
    ["--help"],
    ["models", "list"],
    ["models", "show", "bench"],
    ["endpoints", "list"],
    ["endpoints", "show", "bench"],
    ["rollout", "status", "bench"],
    ["alerts", "list"],
    ["monitor", "events", "bench"],
    ["logs", "tail", "bench"],
]


def _env(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env["NO_COLOR"] = "1"
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def run_once(arguments: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``modelport`` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "modelport", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"modelport {' '.join(arguments)} failed:\n{completed.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--src", type=Path, default=None, help="another checkout's src folder")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "cli_startup.json")
    args = parser.parse_args(argv)
    env = _env(args.src)
    busy = machine_busy_percent(1.0)
    with tempfile.TemporaryDirectory(prefix="modelport-cli-") as folder:
        project = Path(folder)
        workload = prepare_workload(project)
        run_once(["init"], project, env)
        run_once(
            ["models", "register", "bench", str(workload.model_path), "--flavor", "sklearn"]
            + ["--reference", str(workload.reference_path)],
            project,
            env,
        )
        run_once(["endpoints", "create", "bench", "--model", "bench:1"], project, env)
        figures: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):  # rounds over all commands: drifts in load hit all
            for arguments in COMMANDS:
                wall, cpu = run_once(arguments, project, env)
                figure = figures.setdefault(" ".join(arguments), {"wall": [], "cpu": []})
                figure["wall"].append(wall)
                figure["cpu"].append(cpu)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "repeat": args.repeat,
            "src": str(args.src) if args.src else None,
            "machine_busy_pct_at_start": round(busy, 1),
        },
        "commands": {
            name: {
                "wall_s": round(statistics.median(f["wall"]), 3),
                "cpu_s": round(statistics.median(f["cpu"]), 3),
            }
            for name, f in figures.items()
        },
    }
    report.console.print(f"{'command':<28} {'wall (median)':>14} {'CPU (median)':>13}")
    for name, figure in results["commands"].items():
        report.console.print(
            f"modelport {name:<18} {figure['wall_s']:>12.2f} s {figure['cpu_s']:>11.2f} s"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    report.console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
