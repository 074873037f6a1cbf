"""Tables for ``modelport rollout status | report | history``."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from modelport.cli.common import console


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def show_status(body: dict[str, Any]) -> None:
    rollout = body.get("rollout")
    if rollout is None:
        console.print(f"endpoint {body['endpoint']} has had no rollout")
        return
    console.print(
        f"rollout [bold]{rollout['id']}[/] on {rollout['endpoint']}: {rollout['strategy']} "
        f"of {rollout['model']}:{rollout['candidate']} against primary "
        f"{rollout['model']}:{rollout['primary']}"
    )
    steps = rollout["spec"]["steps"]
    where = rollout["phase"]
    if rollout["phase"] == "canary":
        where = f"canary step {rollout['step'] + 1}/{len(steps)} at {rollout['weight']:g}%"
    console.print(f"status [bold]{rollout['status']}[/], {where}")
    if rollout.get("note"):
        console.print(rollout["note"], highlight=False)
    gates = rollout.get("verdicts", {}).get("gates", [])
    if gates:
        console.print(gate_table(gates))
        for gate in gates:
            if gate.get("reason"):
                console.print(f"  {gate['gate']}: {gate['reason']}", highlight=False)
    evidence = rollout.get("verdicts", {}).get("evidence")
    if evidence:
        console.print(
            "evidence: " + ", ".join(f"{k} {v}" for k, v in evidence.items()), highlight=False
        )


def gate_table(gates: list[dict[str, Any]]) -> Table:
    table = Table("gate", "verdict", "candidate", "primary", "bound", "n/needed", "interval")
    # Narrow terminals wrap gate texts rather than cut them: the text is the gate's name.
    table.columns[0].overflow = "fold"
    table.columns[1].no_wrap = True
    for gate in gates:
        interval = gate.get("interval")
        shown = f"[{_num(interval[0])}, {_num(interval[1])}]" if interval else "-"
        colour = {"pass": "green", "fail": "red"}.get(gate["verdict"], "yellow")
        table.add_row(
            gate["gate"],
            f"[{colour}]{gate['verdict']}[/]",
            _num(gate.get("candidate")),
            _num(gate.get("primary")),
            _num(gate.get("threshold")),
            f"{gate['n']}/{gate['min_samples']}",
            shown,
        )
    return table


def show_report(body: dict[str, Any]) -> None:
    console.print(
        f"rollout {body['rollout']} on {body['endpoint']}: candidate {body['candidate']} vs "
        f"primary {body['primary']} ({body['strategy']}, {body['status']}) since {body['since']}"
    )
    requests = body["requests"]
    overview = Table("", "primary", "candidate", "delta")
    overview.add_row("requests", _num(requests["primary"]), _num(requests["candidate"]), "")
    errors = body["errors"]
    overview.add_row(
        "error rate",
        _num(errors["primary"]["rate"]),
        _num(errors["candidate"]["rate"]),
        "",
    )
    latency = body["latency_ms"]
    for key in ("p50", "p99"):
        overview.add_row(
            f"latency {key} ms",
            _num(latency["primary"][key]),
            _num(latency["candidate"][key]),
            _num(latency["delta"][key]),
        )
    console.print(overview)
    if latency.get("note"):
        console.print(f"note: {latency['note']}", highlight=False)
    if requests.get("shadow_missing"):
        console.print(f"primary requests without a shadow copy: {requests['shadow_missing']}")
    for item in errors["candidate"]["top"]:
        console.print(f"candidate error x{item['count']}: {item['error']}", highlight=False)
    comparison = body["comparison"]
    console.print(
        "on the same rows: "
        + ", ".join(
            f"{k} {_num(v)}" for k, v in comparison.items() if not isinstance(v, dict | list)
        ),
        highlight=False,
    )
    confusion = comparison.get("confusion")
    if confusion:
        table = Table("primary \\ candidate", *confusion["labels"])
        for label, row in zip(confusion["labels"], confusion["matrix"], strict=True):
            table.add_row(label, *[str(v) for v in row])
        console.print(table)
    distribution = comparison.get("distribution")
    if distribution:
        distances = [
            f"{k} {_num(v)}" + _units(distribution.get(f"{k}_units"))
            for k, v in distribution.items()
            if not isinstance(v, dict | str)
        ]
        console.print("distribution distance: " + ", ".join(distances), highlight=False)
    slices = body.get("slices")
    if slices and slices["rows"]:
        columns = [k for k in slices["rows"][0] if k != "slice"]
        table = Table(slices["feature"], *columns)
        for row in slices["rows"]:
            table.add_row(row["slice"], *[_num(row.get(c)) for c in columns])
        console.print(table)
    if body.get("pipeline"):
        show_pipeline(body["pipeline"])


def show_pipeline(section: dict[str, Any]) -> None:
    """A step's rollout: the pipeline's final outputs by the arm that served the step."""
    console.print(
        f"pipeline {section['pipeline']}, step {section['step']} "
        f"(final step {section['final_step']}): {section['final_outputs']}",
        highlight=False,
    )
    if "primary" not in section:
        return
    arms = [section["primary"], section["candidate"]]
    table = Table("final outputs", "primary", "candidate", "delta")
    table.add_row("step rows", *[_num(arm["step_rows"]) for arm in arms], "")
    table.add_row("final rows", *[_num(arm["rows"]) for arm in arms], "")
    difference = section["difference"]
    for key in ("mean", "accuracy", "mae"):
        if key in arms[0]:
            table.add_row(key, *[_num(arm.get(key)) for arm in arms], _num(difference.get(key)))
    for label, delta in difference.get("share", {}).items():
        shares = [_num(arm["share"].get(label, 0.0)) for arm in arms]
        table.add_row(f"share {label}", *shares, _num(delta))
    console.print(table)


def _units(units: str | None) -> str:
    """How a distance is measured, when the report says (``wasserstein_units``)."""
    if units is None:
        return ""
    return " (in primary std)" if units == "primary_std" else f" (in {units} units)"


def show_history(events: list[dict[str, Any]]) -> None:
    for event in events:
        where = event["phase"]
        if event["phase"] == "canary":
            where = f"canary step {event['step'] + 1} at {event['weight']:g}%"
        console.print(
            f"{event['at'][:19]}  rollout {event['rollout']}  {event['action']:<12} "
            f"{where:<26} by {event['actor']}: {event['reason']}",
            highlight=False,
            soft_wrap=True,
        )
