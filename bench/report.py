"""Tables and ratios for the serving benchmark.

python bench/report.py bench/results/serving.json   # Markdown, for docs/benchmarks.md
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Wide enough for the table when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)

# Keys compared between modelport and bare, and what they are called in the results.
RATIOS = {
    "throughput_ratio": "requests_per_s",
    "p99_ratio": "p99_ms",
    "cpu_per_request_ratio": "server_cpu_ms_per_request",
}


def _ratio(numerator: float | None, denominator: float | None) -> float:
    return round(numerator / denominator, 3) if numerator and denominator else 0.0


def ratios(bare: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """modelport / bare for throughput, p99 and server CPU per request, per connection count.

    With several rounds each ratio is the median of the per-round ratios: a round runs
    both servers back to back, so pairing them cancels slow changes in the machine's load.

    >>> bare = {"connections": 8, "requests_per_s": 100.0, "p99_ms": 2.0, "rounds": []}
    >>> mine = {"connections": 8, "requests_per_s": 80.0, "p99_ms": 3.0, "rounds": []}
    >>> bare["server_cpu_ms_per_request"], mine["server_cpu_ms_per_request"] = 0.4, 0.5
    >>> ratios([bare], [mine])
    [{'connections': 8, 'throughput_ratio': 0.8, 'p99_ratio': 1.5, 'cpu_per_request_ratio': 1.25}]
    """
    paired = []
    for base, run in zip(bare, other, strict=True):
        rounds = list(zip(base["rounds"] or [base], run["rounds"] or [run], strict=True))
        row: dict[str, Any] = {"connections": base["connections"]}
        per_round: dict[str, list[float]] = {}
        for name, key in RATIOS.items():
            per_round[name] = [_ratio(r.get(key), b.get(key)) for b, r in rounds]
            row[name] = statistics.median(per_round[name])
        if len(rounds) > 1:
            row |= {f"{name}_rounds": values for name, values in per_round.items()}
        paired.append(row)
    return paired


def print_tables(results: dict[str, Any]) -> None:
    table = Table(title="Serving: one-row predict_proba over HTTP on 127.0.0.1")
    columns = ("server", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "errors")
    for column in (*columns, "server CPU %", "CPU ms/req", "noise %"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for name, outcome in results["servers"].items():
        if "error" in outcome:
            table.add_row(name, "-", "failed", *[""] * 8)
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
                f"{run['server_cpu_ms_per_request'] or 0:.3f}",
                f"{run['foreign_cpu_pct']:.0f}",
            )
    console.print(table)
    if results.get("ratios"):
        ratio_table = Table(title="modelport / bare (median of per-round ratios)")
        for column in ("conns", "throughput", "p99 latency", "CPU per request"):
            ratio_table.add_column(column, justify="right")
        for row in results["ratios"]:
            ratio_table.add_row(str(row["connections"]), *[f"{row[name]:.2f}" for name in RATIOS])
        console.print(ratio_table)
    modelport = results["servers"].get("modelport", {})
    if "logged_rows" in modelport:
        console.print(
            f"modelport logged {modelport['logged_rows']} rows for "
            f"{modelport['completed_requests']} completed requests "
            f"(store grew {modelport['store_growth_bytes'] / 1e6:.1f} MB)"
        )


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables, for docs/benchmarks.md."""
    lines = [
        "| server | conns | req/s (median round) | req/s (each round) | p50 ms | p99 ms "
        "| non-2xx | server CPU ms/request (each round) | noise % (median round) |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, outcome in results["servers"].items():
        if "error" in outcome:
            lines.append(f"| {name} | | failed | | | | | | |")
            continue
        for run in outcome["runs"]:
            each = run["rounds"] or [run]
            rounds = ", ".join(f"{r['requests_per_s']:,.0f}" for r in each)
            cpu = ", ".join(f"{r['server_cpu_ms_per_request'] or 0:.2f}" for r in each)
            lines.append(
                f"| {name} | {run['connections']} | {run['requests_per_s']:,.0f} | {rounds} "
                f"| {run['p50_ms']:.2f} | {run['p99_ms']:.1f} | {run['non_2xx']} "
                f"| {cpu} | {run['foreign_cpu_pct']:.0f} |"
            )
    if results.get("ratios"):
        lines += [
            "",
            "| conns | throughput modelport/bare (each round) | p99 modelport/bare (each round) "
            "| server CPU per request modelport/bare (each round) |",
            "| ---: | --- | --- | --- |",
        ]
        for row in results["ratios"]:
            cells = []
            for name in RATIOS:
                each = ", ".join(f"{x:.2f}" for x in row.get(f"{name}_rounds", []))
                cells.append(f"**{row[name]:.2f}**" + (f" ({each})" if each else ""))
            lines.append(f"| {row['connections']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(markdown(json.loads(Path(argument).read_text())))
        print()
