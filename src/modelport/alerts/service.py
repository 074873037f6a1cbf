"""Alert rules, notifiers and alert state in the control-plane store, and one evaluation
round over every rule.

:class:`AlertService` is what the CLI, the admin HTTP API and the server's evaluator all
use, so ``modelport alerts ...`` and ``/v1/alerts`` see the same rules and history.
Rules and notifiers live in SQL (tables ``alert_rules``, ``alert_states``,
``alert_history``, ``alert_silences``, ``notifiers``); those declared in
``modelport.toml`` (``[[alerts.rules]]``, ``[alerts.notifiers.NAME]``) are stored with
``source = "config"`` when the server starts.

One server per store evaluates at a time (the ``alert-evaluation`` lease, like log
compaction): :meth:`AlertService.evaluate` reads each rule's figures through an
:class:`~modelport.alerts.observe.Observer`, steps its alerts
(:func:`~modelport.alerts.lifecycle.evaluate`), stores the new states and every
transition, and returns the notifications to deliver.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelport.alerts.lifecycle import Alert, Silence, Transition
from modelport.alerts.notifiers import Notification
from modelport.alerts.rules import Rule


class AlertService:
    """Interface (implementation in progress): every method below is the contract the
    CLI and the HTTP API code against. Errors: ``ValidationFailed`` naming the field for
    bad input (nothing stored), ``NotFound`` (code ``alert_not_found`` /
    ``notifier_not_found``) for unknown names, ``Conflict`` (code ``alert_exists`` /
    ``notifier_exists``) when a name is taken and ``replace`` is false."""

    # -- rules ---------------------------------------------------------------------------
    def add_rule(self, data: Mapping[str, Any], *, by: str, replace: bool = False) -> Rule:
        """Validate (``parse_rule`` + endpoint/feature exist) and store a rule; audited."""
        raise NotImplementedError

    def rules(self) -> list[dict[str, Any]]:
        """Every rule as ``Rule.to_dict()`` plus ``source`` (api|config), ``orphaned``
        (its endpoint is gone), ``state`` (worst state of its alerts: firing > pending >
        resolved > inactive), ``firing`` (count), ``silenced_until`` (or None)."""
        raise NotImplementedError

    def rule(self, name: str) -> Rule:
        raise NotImplementedError

    def show(self, name: str) -> dict[str, Any]:
        """One rule (as in :meth:`rules`) with ``alerts`` (``Alert.to_dict()`` each),
        ``silences`` in force and its 20 latest history entries."""
        raise NotImplementedError

    def delete_rule(self, name: str, *, by: str) -> None:
        """Remove a rule, its alert states and silences (history stays); audited."""
        raise NotImplementedError

    def history(
        self, name: str | None = None, *, since: datetime | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Transitions (``Transition.to_dict()`` with ``kind = "transition"``) and
        delivery outcomes (``kind = "delivery"``: notifier, delivered, attempts, error),
        newest first."""
        raise NotImplementedError

    def silence(
        self,
        name: str,
        *,
        for_s: float,
        reason: str = "",
        by: str,
        labels: Mapping[str, str] | None = None,
    ) -> Silence:
        """Silence a rule (or only its alerts with ``labels``) for ``for_s`` seconds;
        recorded in history with who and why."""
        raise NotImplementedError

    def ack(
        self, name: str, *, by: str, labels: Mapping[str, str] | None = None
    ) -> list[Transition]:
        """Acknowledge the rule's pending/firing alerts (those matching ``labels``)."""
        raise NotImplementedError

    def alerts(self, *, active_only: bool = False) -> list[Alert]:
        """Every stored alert (only pending and firing with ``active_only``)."""
        raise NotImplementedError

    def test(self, name: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate ``name`` now against the stored figures without storing anything:
        per label set the value, the band in force, ``breached`` and the state it would
        move to."""
        raise NotImplementedError

    # -- notifiers -----------------------------------------------------------------------
    def add_notifier(
        self, data: Mapping[str, Any], *, by: str, replace: bool = False
    ) -> dict[str, Any]:
        """``{"name", "kind": webhook|alertmanager|log, "url", "format": json|slack}``,
        validated by ``notifier_from_dict``; audited. Answers the stored view."""
        raise NotImplementedError

    def notifiers(self) -> list[dict[str, Any]]:
        """name, kind, url, format, source, created_at, and delivery counts."""
        raise NotImplementedError

    def notifier(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def delete_notifier(self, name: str, *, by: str) -> None:
        raise NotImplementedError

    # -- evaluation (the server's evaluator) ----------------------------------------------
    def evaluate(self, at: datetime | None = None) -> list[Notification]:
        """One round over every rule; stores states and transitions; the notifications
        to send (the caller hands them to :class:`~modelport.alerts.delivery.Delivery`)."""
        raise NotImplementedError


__all__ = ["AlertService"]
