"""Terminal tables for ``modelport monitor report | history | live``."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from modelport.cli.common import console


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _verdict(entry: dict[str, Any]) -> str:
    if entry.get("drifted"):
        return "[bold red]drift[/]"
    if entry.get("status") == "ok":
        return "[green]ok[/]"
    return f"[yellow]{entry.get('message') or entry.get('status')}[/]"


def show_report(report: dict[str, Any]) -> None:
    window = report["window"]
    console.print(
        f"[bold]{report['endpoint']}[/] model {report['model']}:{report['version']}, "
        f"window {window['label']} ({window['rows']} rows), versions {report['versions']}",
        highlight=False,
    )
    console.print(f"baseline: {report['baseline']['description']}", highlight=False)
    if "pipeline" in report:
        _pipeline(report["pipeline"])
    for skipped in report.get("skipped_segments", []):
        console.print(f"[yellow]skipped unreadable segment[/] {skipped['path']}", highlight=False)
    if "features" in report:
        _drift(report)
    if "prediction" in report:
        console.print(_drift_table("output", report["prediction"]))
    if "multivariate" in report:
        _multivariate(report["multivariate"])
    if "quality" in report:
        _quality(report["quality"])
    if "performance" in report:
        _performance(report["performance"])
    if "concept_drift" in report:
        _concept(report["concept_drift"])


def _pipeline(section: dict[str, Any]) -> None:
    """Which step of which pipeline, and how many of the pipeline's rows it ran."""
    condition = f"when {section['when']}" if section["when"] else "no condition"
    console.print(
        f"pipeline {section['pipeline']}, step {section['step']} ({condition}): ran "
        f"{section['rows_run']} of {section['rows_in']} rows, skipped {section['skipped']} "
        f"(skip rate {_pct(section['skip_rate'])})",
        highlight=False,
    )


def _drift(report: dict[str, Any]) -> None:
    summary = report["summary"]
    if summary["share_drifted"] is None:
        console.print("data drift: no feature has enough data for a verdict")
    else:
        verdict = "no data-set drift"
        if summary["dataset_drifted"]:
            verdict = "[bold red]data set drifted[/]"
        console.print(
            f"data drift: {summary['drifted']} of {summary['judged']} features drifted "
            f"({summary['share_drifted']:.0%}); {verdict} "
            f"(threshold {summary['dataset_share_threshold']:.0%})"
        )
    console.print(_drift_table("feature", report["features"]))


def _drift_table(title: str, entries: list[dict[str, Any]]) -> Table:
    table = Table(
        title,
        "kind",
        "verdict",
        "stat",
        "value",
        "threshold",
        "psi",
        "ks p",
        "wasserstein",
        "js",
        "missing ref->cur",
    )
    for entry in entries:
        results = entry.get("results", {})
        table.add_row(
            entry["feature"],
            entry["kind"],
            _verdict(entry),
            entry.get("stat") or "-",
            _num(entry.get("statistic")),
            _num(entry.get("threshold")),
            _num(results.get("psi", {}).get("statistic")),
            _num(results.get("ks", {}).get("p_value"), 3),
            _num(results.get("wasserstein", {}).get("statistic")),
            _num(results.get("jensenshannon", {}).get("statistic")),
            f"{_pct(entry.get('missing_rate_reference'))} -> "
            f"{_pct(entry.get('missing_rate_current'))}",
        )
    return table


def _multivariate(section: dict[str, Any]) -> None:
    if section["status"] != "ok":
        console.print(f"multivariate drift: {section['message']}", highlight=False)
        return
    verdict = "[bold red]drift[/]" if section["drifted"] else "[green]ok[/]"
    leaned = ", ".join(f"{f['feature']} {_pct(f['share'])}" for f in section["top_features"])
    console.print(
        f"multivariate drift: {verdict}, domain classifier AUC {_num(section['auc'], 3)} "
        f"({section['classifier']}), p-value {_num(section['p_value'], 4)}, "
        f"alpha {_num(section['alpha'])}, decided by {section['decided_by']} "
        f"({section['n_reference']} baseline, {section['n_current']} window rows)"
        + (f"; leaned on {leaned}" if leaned else ""),
        highlight=False,
    )


def _quality(quality: dict[str, Any]) -> None:
    invalid = quality.get("invalid_requests")
    refused = f", {invalid['total']} refused at the API" if invalid else ""
    console.print(f"data quality: {quality['rows']} rows, {quality['failed_rows']} failed{refused}")
    for issue in quality["issues"]:
        console.print(f"  [red]{issue}[/]", highlight=False)
    table = Table(
        "feature", "missing", "out of range", "bounds", "unseen", "type errors", "constant"
    )
    for entry in quality["features"]:
        bounds = entry.get("bounds")
        shown_bounds = "-"
        if bounds:
            shown_bounds = f"[{_num(bounds[0])}, {_num(bounds[1])}] {entry['bounds_source']}"
        table.add_row(
            entry["feature"],
            _pct(entry["missing_rate"]),
            _pct(entry["out_of_range_rate"]),
            shown_bounds,
            _pct(entry["unseen_rate"]),
            str(entry["type_violations"]),
            _num(entry["constant"]),
        )
    console.print(table)


METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse", "r2")


def _performance(section: dict[str, Any]) -> None:
    if section["status"] != "ok":
        console.print(f"performance: {section['message']}")
        return
    delay = section["label_delay_s"]
    console.print(
        f"performance: {section['labelled_rows']} of {section['rows']} predictions labelled "
        f"({section['labelled_fraction']:.1%}), label delay median {delay['median']:.3g} s"
    )
    shown = [m for m in METRICS if m in section["metrics"]]
    table = Table("", "labelled", *shown)
    rows = [("all", section["metrics"])]
    rows += [(f"version {v}", metrics) for v, metrics in section["by_version"].items()]
    for label, metrics in rows:
        table.add_row(label, str(metrics["n"]), *[_num(metrics.get(m)) for m in shown])
    for piece in (section.get("slices") or {}).get("slices", []):
        table.add_row(
            f"{section['slices']['feature']}={piece['slice']}",
            str(piece["labelled_rows"]),
            *[_num(piece["metrics"].get(m)) for m in shown],
        )
    console.print(table)


def _concept(section: dict[str, Any]) -> None:
    if section["status"] != "ok":
        console.print(f"concept drift: {section['message']}")
        return
    console.print(f"concept drift: {section['stream']} labelled predictions ({section['error']})")
    table = Table("detector", "fired", "first at", "request", "predicted at")
    for detector in section["detectors"]:
        events = detector["events"]
        first = events[0] if events else None
        table.add_row(
            detector["name"],
            detector["message"] or f"{len(events)}x",
            "-" if first is None else str(first["position"]),
            "-" if first is None else f"{first['request_id']}#{first['row']}",
            "-" if first is None else first["predicted_at"],
        )
    console.print(table)


def show_history(body: dict[str, Any]) -> None:
    table = Table(
        "window start",
        "window",
        "version",
        "feature",
        "statistic",
        "value",
        "threshold",
        "drift",
        "rows",
        "final",
    )
    for point in body["points"]:
        table.add_row(
            point["window_start"],
            point["window"],
            str(point["version"]),
            point["feature"],
            point["statistic"],
            _num(point["value"]),
            _num(point["threshold"]),
            _num(point["drifted"]),
            str(point["rows"]),
            _num(point["final"]),
        )
    console.print(table)
    if not body["points"]:
        console.print("no stored points match (is the server running with monitoring enabled?)")
