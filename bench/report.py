"""Tables and ratios for the serving benchmark."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# Wide enough for the table when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)


def ratios(bare: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """modelport / bare for throughput and p99, per connection count.

    >>> ratios([{"connections": 8, "requests_per_s": 100.0, "p99_ms": 2.0}],
    ...        [{"connections": 8, "requests_per_s": 80.0, "p99_ms": 3.0}])
    [{'connections': 8, 'throughput_ratio': 0.8, 'p99_ratio': 1.5}]
    """
    paired = []
    for base, run in zip(bare, other, strict=True):
        throughput = run["requests_per_s"] / base["requests_per_s"] if base["requests_per_s"] else 0
        p99 = run["p99_ms"] / base["p99_ms"] if base["p99_ms"] else 0
        paired.append(
            {
                "connections": base["connections"],
                "throughput_ratio": round(throughput, 3),
                "p99_ratio": round(p99, 3),
            }
        )
    return paired


def print_tables(results: dict[str, Any]) -> None:
    table = Table(title="Serving: one-row predict_proba over HTTP on 127.0.0.1")
    columns = ("server", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "errors")
    for column in (*columns, "server CPU %", "noise %"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for name, outcome in results["servers"].items():
        if "error" in outcome:
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
                str(row["connections"]), f"{row['throughput_ratio']:.2f}", f"{row['p99_ratio']:.2f}"
            )
        console.print(ratio_table)
    modelport = results["servers"].get("modelport", {})
    if "logged_rows" in modelport:
        console.print(
            f"modelport logged {modelport['logged_rows']} rows for "
            f"{modelport['completed_requests']} completed requests "
            f"(store grew {modelport['store_growth_bytes'] / 1e6:.1f} MB)"
        )
