"""Drift settings, one object for the report and the live series alike: the deciding
statistic per feature kind, the statistics reported beside it, threshold overrides by
statistic name, and the share of drifted features that makes the whole data set drift.

>>> settings = DriftSettings(thresholds={"psi": 0.25})
>>> settings.names("numeric"), settings.dataset_share
(['psi', 'ks', 'wasserstein', 'jensenshannon'], 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelport.monitoring.stats.histogram import Kind
from modelport.monitoring.stats.registry import DEFAULT_DECISION, DEFAULT_STATS, get_stat


@dataclass(frozen=True)
class DriftSettings:
    """Deciding statistic per kind, statistics reported beside it, threshold overrides,
    and the share of drifted features that makes the whole data set drift."""

    decision: Mapping[Kind, str] = field(default_factory=lambda: dict(DEFAULT_DECISION))
    stats: Mapping[Kind, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_STATS))
    thresholds: Mapping[str, float] = field(default_factory=dict)
    dataset_share: float = 0.5

    def __post_init__(self) -> None:
        for name in [*self.decision.values(), *self.thresholds]:
            get_stat(name)  # a misspelt name fails here, not in the middle of a report

    def names(self, kind: Kind) -> list[str]:
        """The deciding statistic of ``kind`` first, then the ones reported beside it."""
        decision = self.decision[kind]
        return [decision, *(n for n in self.stats.get(kind, ()) if n != decision)]
