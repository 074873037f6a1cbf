"""Tables and ratios for the serving benchmark."""

from __future__ import annotations

import statistics
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# Wide enough for the table when output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


def ratios(bare: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """modelport / bare for throughput and p99, per connection count.

    With several rounds the ratio is the median of the per-round ratios: each round ran
    both servers back to back, so pairing them cancels slow changes in the machine's load.

    >>> ratios([{"connections": 8, "requests_per_s": 100.0, "p99_ms": 2.0, "rounds": []}],
    ...        [{"connections": 8, "requests_per_s": 80.0, "p99_ms": 3.0, "rounds": []}])
    [{'connections': 8, 'throughput_ratio': 0.8, 'p99_ratio': 1.5}]
    """
    paired = []
    for base, run in zip(bare, other, strict=True):
        base_rounds, run_rounds = base["rounds"] or [base], run["rounds"] or [run]
        throughput = [
            _ratio(r["requests_per_s"], b["requests_per_s"])
            for b, r in zip(base_rounds, run_rounds, strict=True)
        ]
        p99 = [
            _ratio(r["p99_ms"], b["p99_ms"]) for b, r in zip(base_rounds, run_rounds, strict=True)
        ]
        row: dict[str, Any] = {
            "connections": base["connections"],
            "throughput_ratio": statistics.median(throughput),
            "p99_ratio": statistics.median(p99),
        }
        if len(throughput) > 1:
            row["throughput_ratio_rounds"] = throughput
            row["p99_ratio_rounds"] = p99
        paired.append(row)
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


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables, for docs/benchmarks.md."""
    lines = [
        "| server | conns | req/s (median) | req/s (all rounds) | p50 ms | p99 ms | non-2xx "
        "| server CPU % | noise % |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, outcome in results["servers"].items():
        if "error" in outcome:
            lines.append(f"| {name} | | failed | | | | | | |")
            continue
        for run in outcome["runs"]:
            rounds = ", ".join(f"{r['requests_per_s']:,.0f}" for r in run["rounds"]) or "-"
            lines.append(
                f"| {name} | {run['connections']} | {run['requests_per_s']:,.0f} | {rounds} "
                f"| {run['p50_ms']:.2f} | {run['p99_ms']:.1f} | {run['non_2xx']} "
                f"| {run['server_cpu_pct']:.0f} | {run['foreign_cpu_pct']:.0f} |"
            )
    if results.get("ratios"):
        lines += [
            "",
            "| conns | throughput modelport/bare | per round | p99 modelport/bare | per round |",
        ]
        lines.append("| ---: | ---: | --- | ---: | --- |")
        for row in results["ratios"]:
            each = ", ".join(f"{x:.2f}" for x in row.get("throughput_ratio_rounds", []))
            each_p99 = ", ".join(f"{x:.2f}" for x in row.get("p99_ratio_rounds", []))
            lines.append(
                f"| {row['connections']} | {row['throughput_ratio']:.2f} | {each} "
                f"| {row['p99_ratio']:.2f} | {each_p99} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    from pathlib import Path

    for argument in sys.argv[1:]:
        print(markdown(json.loads(Path(argument).read_text())))
        print()
