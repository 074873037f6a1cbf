"""Exports for teams that run the Prometheus stack: static alert rules as a Prometheus
alerting-rules file, and a Grafana dashboard whose panels query only metric names the
server exports.

Interface (implementation in progress)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelport.alerts.rules import Rule


def prometheus_rules(rules: Sequence[Rule]) -> str:
    """A Prometheus rules file (YAML) with one alerting rule per static rule; adaptive
    rules are listed in a comment (they live only in modelport)."""
    raise NotImplementedError


def grafana_dashboard() -> dict[str, Any]:
    """A Grafana dashboard (JSON model) over modelport's exported metrics."""
    raise NotImplementedError


__all__ = ["grafana_dashboard", "prometheus_rules"]
