"""Rich views of the registry: a model's versions, one version, a lineage chain."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from modelport.registry.fast_path_state import fast_path_view, runtime_of
from modelport.registry.records import ModelVersion


def versions_table(name: str, versions: list[ModelVersion]) -> Table:
    table = Table(title=name)
    for header in (
        "version",
        "flavor",
        "output",
        "features",
        "reference rows",
        "aliases",
        "parent",
        "state",
        "runtime",
        "created",
        "description",
    ):
        # Wrapped, never cut: an alias or parent must stay readable on a narrow terminal.
        table.add_column(header, overflow="fold")
    for v in versions:
        table.add_row(
            str(v.version),
            v.flavor,
            v.output.kind,
            str(len(v.input_schema.features)),
            str(v.reference_rows or "-"),
            ", ".join(v.aliases) or "-",
            str((v.lineage or {}).get("parent") or "-"),
            "archived" if v.archived else "active",
            runtime_of(v.flavor, v.fast_path),
            v.created_at.isoformat()[:10],
            v.description,
        )
    return table


def version_detail(console: Console, found: ModelVersion) -> None:
    console.print(f"[bold]{found.ref}[/]  {found.flavor}  sha256 {found.artifact_sha256}")
    console.print(
        f"output: {found.output.kind}"
        + (f" classes {found.output.classes}" if found.output.classes else "")
    )
    if found.aliases:
        console.print("aliases: " + ", ".join(f"{found.name}@{a}" for a in found.aliases))
    if found.archived:
        console.print(
            f"[yellow]archived[/] {found.archived_at:%Y-%m-%d %H:%M} by {found.archived_by}"
        )
    if found.tags:
        console.print("tags: " + ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items())))
    if (parent := (found.lineage or {}).get("parent")) is not None:
        console.print(f"parent: {parent}")
    for line in fast_path_lines(found):
        console.print(line)
    table = Table("feature", "kind", "nullable", "categories")
    for f in found.input_schema.features:
        cats = ", ".join(f.categories[:8]) + (" …" if len(f.categories) > 8 else "")
        table.add_row(f.name, f.kind, "yes" if f.nullable else "no", cats)
    console.print(table)


def fast_path_lines(found: ModelVersion) -> list[str]:
    """The ONNX fast path of a scikit-learn version in a line or two (none otherwise)."""
    view = fast_path_view(found.flavor, found.fast_path)
    if view is None:
        return []
    switch = "on" if view["enabled"] else "[yellow]off[/]"
    status = view["status"]
    line = f"fast path (ONNX): {switch}, check {status}"
    if view.get("rows") is not None and status in ("passed", "failed"):
        diff = view.get("max_abs_diff")
        line += f" on {view['rows']:,} reference rows"
        if diff is not None:
            line += f" (max abs diff {diff:.2g})"
    line += f"; serves with {view['runtime']}"
    lines = [line]
    if view.get("reason"):
        lines.append(f"  {'not available' if status == 'unavailable' else 'why'}: {view['reason']}")
    if view.get("versions"):
        used = ", ".join(f"{k} {v}" for k, v in view["versions"].items() if v)
        opsets = ", ".join(f"{k or 'ai.onnx'} {v}" for k, v in (view.get("opsets") or {}).items())
        lines.append(f"  converted with {used}; opsets {opsets}; {view.get('input_type')} inputs")
    return lines


def lineage_table(ref: str, chain: list[dict[str, Any]]) -> Table:
    """Child first: each version's trainer, data window, counts and holdout metrics."""
    table = Table(title=f"lineage of {ref}")
    for header in (
        "version",
        "parent",
        "trainer",
        "data window",
        "rows",
        "labels",
        "holdout metrics",
        "parent on holdout",
    ):
        table.add_column(header, overflow="fold")
    for entry in chain:
        if entry.get("missing"):
            table.add_row(entry["ref"], "[red]no longer registered[/]", *["-"] * 6)
            continue
        holdout = entry.get("holdout") or {}
        name = entry["ref"] + (" (archived)" if entry.get("archived") else "")
        table.add_row(
            name,
            entry.get("parent") or "-",
            entry.get("trainer") or "-",
            _window(entry.get("window")),
            _count(entry.get("rows")),
            _count(entry.get("labels")),
            _metrics(holdout.get("metrics")),
            _metrics(holdout.get("parent_metrics")),
        )
    return table


def _window(window: dict[str, Any] | None) -> str:
    if not window:
        return "-"
    start = str(window.get("start") or "…")[:16].replace("T", " ")
    end = str(window.get("end") or "…")[:16].replace("T", " ")
    return f"{start} → {end}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _metrics(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return "-"
    return ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
