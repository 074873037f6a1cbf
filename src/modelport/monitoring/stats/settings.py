"""Drift settings, one object for the report and the live series alike: the deciding
statistic per feature kind, the statistics reported beside it, materiality thresholds by
statistic name and per feature, the family-wise error level and its correction across
features, and the share of drifted features that makes the whole data set drift.

>>> settings = DriftSettings(thresholds={"psi": 0.25}, features={"age": {"psi": 0.3}})
>>> settings.names("numeric"), settings.dataset_share
(['psi', 'ks', 'wasserstein', 'jensenshannon'], 0.5)
>>> settings.thresholds_for("age")["psi"], settings.thresholds_for("city")["psi"]
(0.3, 0.25)
>>> settings.with_family(20).level
0.0025
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from modelport.config import MonitoringSettings
from modelport.monitoring.stats.histogram import Kind
from modelport.monitoring.stats.registry import DEFAULT_DECISION, DEFAULT_STATS, get_stat

Correction = Literal["bonferroni", "none"]
CORRECTIONS: tuple[Correction, ...] = ("bonferroni", "none")


@dataclass(frozen=True)
class DriftSettings:
    """What decides drift and how strictly.

    A feature drifts when its deciding statistic passes **both** the calibrated test
    (bootstrap p-value at most ``level``: ``alpha`` divided by ``family``, the number of
    columns judged together, under the Bonferroni correction) **and** its materiality
    threshold (``thresholds``, overridden per feature by ``features``).
    """

    decision: Mapping[Kind, str] = field(default_factory=lambda: dict(DEFAULT_DECISION))
    stats: Mapping[Kind, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_STATS))
    thresholds: Mapping[str, float] = field(default_factory=dict)
    dataset_share: float = 0.5
    # Per-feature materiality overrides: {"age": {"psi": 0.3}}.
    features: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # Family-wise probability of any false flag among the columns of one window.
    alpha: float = 0.05
    correction: Correction = "bonferroni"
    family: int = 1

    def __post_init__(self) -> None:
        names = [*self.decision.values(), *self.thresholds]
        names += [name for limits in self.features.values() for name in limits]
        for name in names:
            get_stat(name)  # a misspelt name fails here, not in the middle of a report
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}")

    @classmethod
    def from_config(
        cls, monitoring: MonitoringSettings, thresholds: Mapping[str, float] | None = None
    ) -> DriftSettings:
        """The drift part of the ``monitoring`` settings (``thresholds`` over its own)."""
        return cls(
            thresholds={**monitoring.thresholds, **(thresholds or {})},
            features=monitoring.feature_thresholds,
            alpha=monitoring.drift_alpha,
            correction=monitoring.drift_correction,
        )

    def names(self, kind: Kind) -> list[str]:
        """The deciding statistic of ``kind`` first, then the ones reported beside it."""
        decision = self.decision[kind]
        return [decision, *(n for n in self.stats.get(kind, ()) if n != decision)]

    def thresholds_for(self, feature: str) -> dict[str, float]:
        """Materiality thresholds of one feature: by statistic, then its own overrides."""
        return {**self.thresholds, **self.features.get(feature, {})}

    def with_family(self, family: int) -> DriftSettings:
        """The same settings for ``family`` columns judged together."""
        return replace(self, family=max(int(family), 1))

    @property
    def level(self) -> float:
        """The per-column test level after the correction across the family."""
        if self.correction == "bonferroni":
            return self.alpha / self.family
        return self.alpha
