"""Tables for ``modelport alerts list | show | history | test`` and ``modelport notifiers``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

from modelport.cli.common import console

RECENT_POINTS = 10
STATE_COLOURS = {"firing": "bold red", "pending": "yellow", "resolved": "green"}


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def duration(seconds: float | None) -> str:
    """``900`` -> ``15m``: the units the commands take.

    >>> duration(900.0), duration(7200), duration(90), duration(1.5)
    ('15m', '2h', '90s', '1.5s')
    """
    if not seconds:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def moment(text: Any) -> str:
    """An ISO time as ``2026-01-02 03:04:05`` (UTC as stored), or ``-``."""
    if not text:
        return "-"
    return str(text)[:19].replace("T", " ")


def labels_text(labels: Mapping[str, Any] | None, skip: Iterable[str] = ()) -> str:
    shown = [f"{key}={value}" for key, value in sorted((labels or {}).items()) if key not in skip]
    return ",".join(shown) or "-"


def scope(rule: Mapping[str, Any]) -> str:
    """What part of the endpoint's traffic the rule watches."""
    parts = [f"{key}={rule[key]}" for key in ("feature", "version", "role") if rule.get(key)]
    return " ".join(parts) or "-"


def threshold_text(threshold: Mapping[str, Any]) -> str:
    """``> 0.2``, ``< 0.85 (resolves at 0.9)``, ``adaptive 3σ rate 0.05, ceiling 200``."""
    if threshold.get("kind") == "adaptive":
        text = (
            f"adaptive {number(threshold.get('sigma'))}σ rate {number(threshold.get('adapt_rate'))}"
        )
        extras = [
            f"{key} {number(threshold[key])}"
            for key in ("floor", "ceiling", "resolve_sigma")
            if threshold.get(key) is not None
        ]
        if threshold.get("direction") not in (None, "both"):
            extras.append(f"{threshold['direction']} only")
        if threshold.get("seasonal"):
            extras.append("seasonal")
        return ", ".join([text, *extras])
    limits = []
    if threshold.get("above") is not None:
        limits.append(f"> {number(threshold['above'])}")
    if threshold.get("below") is not None:
        limits.append(f"< {number(threshold['below'])}")
    text = " or ".join(limits) or "-"
    if threshold.get("resolve_at") is not None:
        text += f" (resolves at {number(threshold['resolve_at'])})"
    return text


def _state(rule: Mapping[str, Any]) -> str:
    if rule.get("orphaned"):
        return "[bold red]ORPHANED[/]"
    state = str(rule.get("state") or "inactive")
    shown = f"[{STATE_COLOURS[state]}]{state}[/]" if state in STATE_COLOURS else state
    if rule.get("silenced_until"):
        shown += " (silenced)"
    return shown


def show_rules(rules: list[dict[str, Any]]) -> None:
    if not rules:
        console.print("no alert rules; add one with `modelport alerts add`")
        return
    table = Table("name", "endpoint", "metric", "scope", "threshold", "state", "firing", "source")
    # Narrow terminals fold names rather than cut them: they are what commands take.
    for column in table.columns[:4]:
        column.overflow = "fold"
    for rule in rules:
        threshold = threshold_text(rule.get("threshold") or {})
        if rule.get("for_s"):
            threshold += f" for {duration(rule['for_s'])}"
        table.add_row(
            escape(rule["name"]),
            escape(rule["endpoint"]),
            rule["metric"],
            escape(scope(rule)),
            threshold,
            _state(rule),
            str(rule.get("firing", 0)),
            str(rule.get("source", "-")),
        )
    console.print(table)
    for rule in rules:
        if rule.get("orphaned"):
            console.print(orphan_note(rule), highlight=False)


def orphan_note(rule: Mapping[str, Any]) -> str:
    return (
        f"[bold red]orphaned[/]: {escape(rule['name'])} watches endpoint "
        f"{escape(rule['endpoint'])}, which no longer exists; it is not evaluated "
        "(delete the rule or create the endpoint again)"
    )


def show_rule(view: Mapping[str, Any]) -> None:
    console.print(
        f"rule [bold]{escape(view['name'])}[/] ({view.get('source', '-')}): {view['metric']} "
        f"on {escape(view['endpoint'])}, scope {escape(scope(view))}",
        highlight=False,
    )
    guard = f", at least {view['min_samples']} samples" if view.get("min_samples") else ""
    wait = f"for {duration(view['for_s'])}" if view.get("for_s") else "fires at once"
    console.print(
        f"threshold {threshold_text(view.get('threshold') or {})}, {wait}, "
        f"severity {view.get('severity', '-')}{guard}",
        highlight=False,
    )
    state = _state(view)
    if view.get("silenced_until"):
        state += f" until {moment(view['silenced_until'])}"
    console.print(f"state {state}, {view.get('firing', 0)} firing", highlight=False)
    if view.get("created_at"):
        console.print(
            f"added {moment(view['created_at'])} by {escape(str(view.get('created_by') or '-'))}",
            highlight=False,
        )
    if view.get("orphaned"):
        console.print(orphan_note(view), highlight=False)
    alerts = view.get("alerts") or []
    if alerts:
        console.print(alert_table(alerts))
    points = view.get("points") or []
    if points:
        latest = sorted(points, key=lambda point: str(point.get("at")))[-RECENT_POINTS:]
        console.print(points_table(latest))
    silences = view.get("silences") or []
    if silences:
        table = Table("silence", "until", "by", "reason", title="silences")
        for entry in silences:
            table.add_row(
                escape(labels_text(entry.get("labels"))),
                moment(entry.get("until")),
                escape(str(entry.get("by") or "-")),
                escape(str(entry.get("reason") or "")),
            )
        console.print(table)
    history = view.get("history") or []
    if history:
        console.print(history_table(history, with_rule=False, title="recent history"))


def points_table(points: list[dict[str, Any]]) -> Table:
    """The value and the band in force at recent evaluations."""
    table = Table("at", "alert", "value", "lower", "upper", title="recent evaluations")
    for point in points:
        table.add_row(
            moment(point.get("at")),
            escape(str(point.get("key", "-"))),
            number(point.get("value")),
            number(point.get("lower")),
            number(point.get("upper")),
        )
    return table


def alert_table(alerts: list[dict[str, Any]]) -> Table:
    table = Table("alert", "state", "since", "value", "lower", "upper", "silenced", "acked by")
    for alert in alerts:
        band = alert.get("band") or {}
        state = str(alert.get("state", "-"))
        colour = STATE_COLOURS.get(state)
        table.add_row(
            escape(labels_text(alert.get("labels"), skip=("endpoint",))),
            f"[{colour}]{state}[/]" if colour else state,
            moment(alert.get("since")),
            number(alert.get("value")),
            number(band.get("lower")),
            number(band.get("upper")),
            "yes" if alert.get("silenced") else "",
            escape(str(alert.get("acked_by") or "")),
        )
    return table


def _what(entry: Mapping[str, Any]) -> str:
    kind = entry.get("kind")
    if kind == "delivery":
        outcome = "delivered" if entry.get("delivered") else "[red]delivery failed[/]"
        return f"{outcome} to {escape(str(entry.get('notifier', '?')))}"
    if kind == "silence":
        return f"silenced until {moment(entry.get('until'))}"
    if kind in ("rule-added", "rule-deleted"):
        return str(kind).replace("-", " ")
    event = str(entry.get("event") or kind or "-")
    if entry.get("from_state") and entry.get("to_state") and event != "acknowledged":
        event = f"{entry['from_state']} → {entry['to_state']}"
    if entry.get("silenced"):
        event += " (silenced)"
    return event


def _detail(entry: Mapping[str, Any]) -> str:
    if entry.get("kind") == "delivery":
        parts = [f"{entry.get('attempts', '?')} attempt(s)"]
        if entry.get("error"):
            parts.append(str(entry["error"]))
        return escape("; ".join(parts))
    parts = []
    band = entry.get("band") or {}
    if entry.get("value") is not None:
        parts.append(
            f"value {number(entry['value'])} band [{number(band.get('lower'))}, "
            f"{number(band.get('upper'))}]"
        )
    if entry.get("by"):
        parts.append(f"by {entry['by']}")
    if entry.get("source"):
        parts.append(f"from {entry['source']}")
    if entry.get("reason"):
        parts.append(str(entry["reason"]))
    return escape(", ".join(parts))


def history_table(
    entries: list[dict[str, Any]], *, with_rule: bool = True, title: str | None = None
) -> Table:
    columns = ["at", *(["rule"] if with_rule else []), "alert", "what", "detail"]
    table = Table(*columns, title=title)
    for entry in entries:
        row = [moment(entry.get("at"))]
        if with_rule:
            row.append(escape(str(entry.get("rule", "-"))))
        row += [
            escape(labels_text(entry.get("labels"), skip=("endpoint",))),
            _what(entry),
            _detail(entry),
        ]
        table.add_row(*row)
    return table


def show_history(entries: list[dict[str, Any]], name: str | None) -> None:
    if not entries:
        console.print(f"no history{f' for {escape(name)}' if name else ''} in that period")
        return
    console.print(history_table(entries, with_rule=name is None))


def show_test(name: str, results: list[dict[str, Any]]) -> None:
    if not results:
        console.print(
            f"{escape(name)}: no figure to evaluate yet (no traffic in the window, or the "
            "endpoint is gone)"
        )
        return
    table = Table("alert", "value", "lower", "upper", "breached", "would be")
    firing = 0
    for result in results:
        band = result.get("band") or {}
        state = str(result.get("state") or result.get("to_state") or "-")
        firing += state == "firing"
        breached = result.get("breached") if result.get("value") is not None else None
        table.add_row(
            escape(labels_text(result.get("labels"), skip=("endpoint",))),
            number(result.get("value")),
            number(band.get("lower")),
            number(band.get("upper")),
            "-" if breached is None else ("[red]yes[/]" if breached else "no"),
            f"[{STATE_COLOURS[state]}]{state}[/]" if state in STATE_COLOURS else state,
        )
    console.print(table)
    console.print(f"{escape(name)}: {firing} of {len(results)} alert(s) would be firing")
    if all(result.get("value") is None for result in results):
        console.print("no figure yet: no traffic in the monitoring window (or too few samples)")


def show_notifiers(notifiers: list[dict[str, Any]]) -> None:
    if not notifiers:
        console.print("no notifiers; add one with `modelport notifiers add`")
        return
    table = Table("name", "kind", "url", "format", "source", "delivered", "failed")
    for notifier in notifiers:
        table.add_row(
            escape(notifier["name"]),
            notifier["kind"],
            escape(str(notifier.get("url") or "-")),
            str(notifier.get("format") or "-"),
            str(notifier.get("source", "-")),
            number(notifier.get("delivered")),
            number(notifier.get("failed")),
        )
    console.print(table)
