"""``modelport alerts`` and ``modelport notifiers``: rules over monitoring figures, their
alerts, silences and history, and where notifications go.

Commands work on the shared store like ``modelport endpoints`` does; the server holding
the evaluation lease picks changes up at its next round. The flags map onto the fields
``parse_rule`` / ``notifier_from_dict`` take; the service validates them, and an error
names the flag it is about."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from modelport.alerts.rules import FIELDS
from modelport.alerts.service import AlertService
from modelport.cli import exports
from modelport.cli.alert_views import (
    duration,
    moment,
    show_history,
    show_notifiers,
    show_rule,
    show_rules,
    show_test,
)
from modelport.cli.common import console, handle_errors, print_json, services
from modelport.errors import ValidationFailed
from modelport.vocabulary import Role, parse_duration, parse_moment

app = typer.Typer(help="Alert rules, alerts, silences and their history.", no_args_is_help=True)
notifiers_app = typer.Typer(help="Where alert notifications go.", no_args_is_help=True)

app.command("export-prometheus-rules")(exports.export_prometheus_rules)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Labels = Annotated[
    list[str] | None,
    typer.Option("--label", help="Only the alerts with this label, k=v (repeatable)."),
]
ROLES = ", ".join(role.value for role in Role)
# A rule field as the flag that sets it: errors name what the user typed.
FLAGS = {field: "--" + field.replace("_", "-") for field in FIELDS if field != "name"}


def _service() -> AlertService:
    return services().alerts


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


@contextmanager
def _flags(names: dict[str, str]) -> Iterator[None]:
    """Re-label a ValidationFailed about a field with the flag that set it."""
    try:
        yield
    except ValidationFailed as exc:
        if exc.field in names:
            exc.field = names[exc.field]
        raise


def _labels(pairs: list[str] | None) -> dict[str, str] | None:
    """``["feature=tenure"]`` -> ``{"feature": "tenure"}``."""
    if not pairs:
        return None
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValidationFailed(
                f"--label takes k=v, e.g. --label feature=tenure; got {pair!r}", field="--label"
            )
        labels[key.strip()] = value.strip()
    return labels


# --- rules --------------------------------------------------------------------------------


@app.command()
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    endpoint: Annotated[str, typer.Option(help="Endpoint whose figures it watches.")],
    metric: Annotated[
        str,
        typer.Option(help="e.g. drift.psi, latency.p99_ms, performance.accuracy, errors.rate."),
    ],
    feature: Annotated[
        str | None, typer.Option(help="Per-feature metrics: one feature, or * for each.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Only this model version.")] = None,
    role: Annotated[str | None, typer.Option(help=f"Only this traffic role: {ROLES}.")] = None,
    above: Annotated[float | None, typer.Option(help="Static: fire above this value.")] = None,
    below: Annotated[float | None, typer.Option(help="Static: fire below this value.")] = None,
    resolve_at: Annotated[
        float | None, typer.Option(help="Static: a firing alert resolves back past this.")
    ] = None,
    adaptive: Annotated[
        bool, typer.Option("--adaptive", help="Learn the band from the metric's history.")
    ] = False,
    sigma: Annotated[
        float | None, typer.Option(help="Adaptive: band width in deviations (3).")
    ] = None,
    adapt_rate: Annotated[
        float | None, typer.Option(help="Adaptive: how fast the band moves, (0, 1] (0.05).")
    ] = None,
    floor: Annotated[
        float | None, typer.Option(help="Adaptive: the band never goes below this.")
    ] = None,
    ceiling: Annotated[
        float | None, typer.Option(help="Adaptive: the band never goes above this.")
    ] = None,
    seasonal: Annotated[
        bool, typer.Option("--seasonal", help="Adaptive: one baseline per hour of the week.")
    ] = False,
    direction: Annotated[
        str | None, typer.Option(help="Adaptive: above, below or both (default).")
    ] = None,
    warmup: Annotated[
        int | None, typer.Option(help="Adaptive: values learned before the band applies (10).")
    ] = None,
    resolve_sigma: Annotated[
        float | None, typer.Option(help="Adaptive: narrower band a firing alert returns into.")
    ] = None,
    for_: Annotated[
        str | None, typer.Option("--for", help="How long a breach lasts before firing (15m).")
    ] = None,
    severity: Annotated[
        str | None, typer.Option(help="info, warning (default) or critical.")
    ] = None,
    min_samples: Annotated[
        int | None, typer.Option(help="Fewer samples than this change nothing.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the rule of that name.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Add a rule: a static threshold (--above/--below) or an adaptive one (--adaptive)."""
    fields: dict[str, Any] = {
        "name": name,
        "endpoint": endpoint,
        "metric": metric,
        "feature": feature,
        "version": version,
        "role": role,
        "above": above,
        "below": below,
        "resolve_at": resolve_at,
        "adaptive": adaptive or None,
        "sigma": sigma,
        "adapt_rate": adapt_rate,
        "floor": floor,
        "ceiling": ceiling,
        "seasonal": seasonal or None,
        "direction": direction,
        "warmup": warmup,
        "resolve_sigma": resolve_sigma,
        "for": for_,
        "severity": severity,
        "min_samples": min_samples,
    }
    with _flags(FLAGS):
        rule = _service().add_rule(fields, by=_actor(), replace=replace)
    if as_json:
        print_json(rule.to_dict())
        return
    verb = "replaced" if replace else "added"
    console.print(f"{verb} alert rule [bold]{rule.name}[/] on {rule.endpoint}: {rule.metric}")


@app.command("list")
@handle_errors
def list_rules(as_json: Json = False) -> None:
    """Every rule with its state; rules whose endpoint is gone are flagged ORPHANED."""
    rules = _service().rules()
    if as_json:
        print_json(rules)
    else:
        show_rules(rules)


@app.command()
@handle_errors
def show(name: Annotated[str, typer.Argument()], as_json: Json = False) -> None:
    """A rule, its alerts with value and band, silences and recent history."""
    view = _service().show(name)
    if as_json:
        print_json(view)
    else:
        show_rule(view)


@app.command()
@handle_errors
def history(
    name: Annotated[str | None, typer.Argument(help="Only this rule.")] = None,
    since: Annotated[str | None, typer.Option(help="A duration ago (7d) or an ISO time.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Newest entries.")] = 1000,
    as_json: Json = False,
) -> None:
    """Transitions (who silenced or acked, with the values) and deliveries, newest first."""
    service = _service()
    with _flags({"since": "--since"}):
        start = None if since is None else parse_moment(since, field="since")
    if name is not None:
        service.rule(name)  # an unknown rule is an error, not an empty history
    entries = service.history(name, since=start, limit=limit)
    if as_json:
        print_json(entries)
    else:
        show_history(entries, name)


@app.command()
@handle_errors
def silence(
    name: Annotated[str, typer.Argument()],
    for_: Annotated[str, typer.Option("--for", help="How long, e.g. 2h.")],
    reason: Annotated[str, typer.Option(help="Why; kept in the history.")] = "",
    label: Labels = None,
    as_json: Json = False,
) -> None:
    """Send no notifications for NAME (or only its alerts with --label) for a while."""
    with _flags({"for": "--for"}):
        seconds = parse_duration(for_, field="for")
    labels = _labels(label)
    made = _service().silence(name, for_s=seconds, reason=reason, by=_actor(), labels=labels)
    if as_json:
        print_json(made.to_dict())
        return
    only = f" (alerts with {', '.join(f'{k}={v}' for k, v in labels.items())})" if labels else ""
    console.print(
        f"silenced [bold]{name}[/]{only} for {duration(seconds)}, until "
        f"{moment(made.until.isoformat())} UTC",
        highlight=False,
    )


@app.command()
@handle_errors
def ack(
    name: Annotated[str, typer.Argument()], label: Labels = None, as_json: Json = False
) -> None:
    """Acknowledge NAME's pending and firing alerts (until they resolve)."""
    done = _service().ack(name, by=_actor(), labels=_labels(label))
    if as_json:
        print_json([transition.to_dict() for transition in done])
        return
    if not done:
        console.print(f"nothing to acknowledge: {name} has no pending or firing alert")
        return
    console.print(f"acknowledged {len(done)} alert(s) of [bold]{name}[/]")


@app.command()
@handle_errors
def delete(name: Annotated[str, typer.Argument()]) -> None:
    """Delete a rule, its alerts and silences (its history stays)."""
    _service().delete_rule(name, by=_actor())
    console.print(f"deleted alert rule {name}")


@app.command("test")
@handle_errors
def test_rule(name: Annotated[str, typer.Argument()], as_json: Json = False) -> None:
    """Evaluate NAME now against the stored figures: what would fire (stores nothing)."""
    results = _service().test(name)
    if as_json:
        print_json(results)
    else:
        show_test(name, results)


# --- notifiers ----------------------------------------------------------------------------


@notifiers_app.command("add")
@handle_errors
def add_notifier(
    name: Annotated[str, typer.Argument(help="Notifier name.")],
    webhook: Annotated[
        str | None, typer.Option(help="POST each notification as JSON to this URL.")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="Webhook body: json (default) or slack.")
    ] = None,
    alertmanager: Annotated[
        str | None, typer.Option(help="Alertmanager base URL, e.g. http://127.0.0.1:9093.")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log", help="Write notifications to the server log.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the notifier of that name.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Add a notifier: one of --webhook URL, --alertmanager URL or --log."""
    given = [
        flag
        for flag, value in (
            ("--webhook", webhook),
            ("--alertmanager", alertmanager),
            ("--log", log),
        )
        if value
    ]
    if len(given) != 1:
        raise ValidationFailed(
            "give exactly one of --webhook URL, --alertmanager URL or --log"
            + (f", not {' and '.join(given)}" if given else ""),
            field=given[1] if given else "--webhook",
        )
    kind = given[0].removeprefix("--")
    url = webhook or alertmanager
    fields: dict[str, Any] = {"name": name, "kind": kind}
    if url is not None:
        fields["url"] = url
    if format is not None:
        fields["format"] = format
    with _flags({"url": given[0], "format": "--format"}):
        view = _service().add_notifier(fields, by=_actor(), replace=replace)
    if as_json:
        print_json(view)
        return
    verb = "replaced" if replace else "added"
    console.print(f"{verb} notifier [bold]{view['name']}[/] ({view['kind']})")


@notifiers_app.command("list")
@handle_errors
def list_notifiers(as_json: Json = False) -> None:
    """Every notifier, where it sends, and its delivery counts."""
    found = _service().notifiers()
    if as_json:
        print_json(found)
    else:
        show_notifiers(found)


@notifiers_app.command("show")
@handle_errors
def show_notifier(name: Annotated[str, typer.Argument()], as_json: Json = False) -> None:
    """One notifier."""
    view = _service().notifier(name)
    if as_json:
        print_json(view)
    else:
        show_notifiers([view])


@notifiers_app.command("delete")
@handle_errors
def delete_notifier(name: Annotated[str, typer.Argument()]) -> None:
    """Delete a notifier."""
    _service().delete_notifier(name, by=_actor())
    console.print(f"deleted notifier {name}")
