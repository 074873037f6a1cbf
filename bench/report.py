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
console = Console(width=None if sys.stdout.isatty() else 140)

# Keys compared between two servers, and what they are called in the results.
RATIOS = {
    "throughput_ratio": "requests_per_s",
    "p99_ratio": "p99_ms",
    "max_ratio": "max_ms",
    "cpu_per_request_ratio": "server_cpu_ms_per_request",
}
RATIO_HEADERS = ("throughput", "p99 latency", "max latency", "CPU per request")


def _ratio(numerator: float | None, denominator: float | None) -> float:
    return round(numerator / denominator, 3) if numerator and denominator else 0.0


def ratios(base: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """other / base for throughput, p99, max and server CPU per request, per connection count.

    With several rounds each ratio is the median of the per-round ratios: a round runs
    the servers back to back, so pairing them cancels slow changes in the machine's load.

    >>> bare = {"connections": 8, "requests_per_s": 100.0, "p99_ms": 2.0, "rounds": []}
    >>> mine = {"connections": 8, "requests_per_s": 80.0, "p99_ms": 3.0, "rounds": []}
    >>> bare["max_ms"], mine["max_ms"] = 10.0, 5.0
    >>> bare["server_cpu_ms_per_request"], mine["server_cpu_ms_per_request"] = 0.4, 0.5
    >>> ratios([bare], [mine])  # doctest: +NORMALIZE_WHITESPACE
    [{'connections': 8, 'throughput_ratio': 0.8, 'p99_ratio': 1.5, 'max_ratio': 0.5,
      'cpu_per_request_ratio': 1.25}]
    """
    paired = []
    for base_run, run in zip(base, other, strict=True):
        rounds = list(zip(base_run["rounds"] or [base_run], run["rounds"] or [run], strict=True))
        row: dict[str, Any] = {"connections": base_run["connections"]}
        per_round: dict[str, list[float]] = {}
        for name, key in RATIOS.items():
            per_round[name] = [_ratio(r.get(key), b.get(key)) for b, r in rounds]
            row[name] = statistics.median(per_round[name])
        if len(rounds) > 1:
            row |= {f"{name}_rounds": values for name, values in per_round.items()}
        paired.append(row)
    return paired


def _slow(run: dict[str, Any]) -> str:
    """Requests slower than the threshold; "?" where wrk's histogram could not be read."""
    count = run.get("slow_requests", -1)
    return "?" if count < 0 else f"{count:,}"


def _pairs(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Ratio rows per pair ("modelport/bare", ...); older results held one unnamed list."""
    pairs = results.get("ratios") or {}
    return {"modelport/bare": pairs} if isinstance(pairs, list) else pairs


def _slow_ms(results: dict[str, Any]) -> str:
    return f"{results.get('settings', {}).get('slow_ms', 20.0):g}"


def print_tables(results: dict[str, Any]) -> None:
    stall = results.get("settings", {}).get("stall_run", False)
    title = "Serving: one-row predict_proba over HTTP on 127.0.0.1"
    if stall:
        duration = results["settings"]["duration_s"]
        title = f"Stall run: {duration:g} s at 16 connections per server, {title.lower()}"
    table = Table(title=title)
    slow = f"> {_slow_ms(results)} ms"
    columns = ("server", "conns", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", slow)
    for column in (*columns, "non-2xx", "errors", "CPU %", "CPU ms/req", "noise %"):
        if column == "server":
            table.add_column(column, no_wrap=True, min_width=9)
        else:
            table.add_column(column, justify="right")
    for name, outcome in results["servers"].items():
        if "error" in outcome:
            table.add_row(name, "-", "failed", *[""] * 10)
            continue
        for run in outcome["runs"]:
            table.add_row(
                name,
                str(run["connections"]),
                f"{run['requests_per_s']:,.0f}",
                f"{run['p50_ms']:.2f}",
                f"{run['p99_ms']:.2f}",
                f"{run['p999_ms']:.1f}",
                f"{run['max_ms']:.1f}",
                _slow(run),
                str(run["non_2xx"]),
                str(run["socket_errors"] + run["timeouts"]),
                f"{run['server_cpu_pct']:.0f}",
                f"{run['server_cpu_ms_per_request'] or 0:.3f}",
                f"{run['foreign_cpu_pct']:.0f}",
            )
    console.print(table)
    for pair, rows in _pairs(results).items():
        ratio_table = Table(title=f"{pair} (median of per-round ratios)")
        for column in ("conns", *RATIO_HEADERS):
            ratio_table.add_column(column, justify="right")
        for row in rows:
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
        f"| max ms | > {_slow_ms(results)} ms | non-2xx | server CPU ms/request (each round) "
        "| noise % (median round) |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, outcome in results["servers"].items():
        if "error" in outcome:
            lines.append(f"| {name} | | failed | | | | | | | | |")
            continue
        for run in outcome["runs"]:
            each = run["rounds"] or [run]
            rounds = ", ".join(f"{r['requests_per_s']:,.0f}" for r in each)
            cpu = ", ".join(f"{r['server_cpu_ms_per_request'] or 0:.2f}" for r in each)
            lines.append(
                f"| {name} | {run['connections']} | {run['requests_per_s']:,.0f} | {rounds} "
                f"| {run['p50_ms']:.2f} | {run['p99_ms']:.1f} | {run['max_ms']:.1f} "
                f"| {_slow(run)} | {run['non_2xx']} | {cpu} | {run['foreign_cpu_pct']:.0f} |"
            )
    for pair, rows in _pairs(results).items():
        headers = " | ".join(f"{header} {pair} (each round)" for header in RATIO_HEADERS)
        lines += ["", f"| conns | {headers} |", "| ---: | --- | --- | --- | --- |"]
        for row in rows:
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
