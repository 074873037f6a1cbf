"""The figure a rule watches, read from what the system stores: live monitoring points
and window states (drift, quality, prediction drift, class shares, performance), the
prediction log (request rate, error rate, latency quantiles), the process's log-writer
counters, concept-drift detector events and rollouts.

Interface (implementation in progress)."""

from __future__ import annotations

from datetime import datetime

from modelport.alerts.lifecycle import Observation
from modelport.alerts.rules import Rule


class Observer:
    """``observe(rule, at)``: one :class:`Observation` per label set of the rule (a rule
    on any feature fans out over the endpoint's features); ``value=None`` when there is
    no figure yet. ``features(endpoint)``: the features a rule on it may name (the
    schema of the versions it serves); ``endpoints()``: names that exist."""

    def endpoints(self) -> set[str]:
        raise NotImplementedError

    def features(self, endpoint: str) -> list[str]:
        raise NotImplementedError

    def observe(self, rule: Rule, at: datetime) -> list[Observation]:
        raise NotImplementedError


__all__ = ["Observer"]
