"""Every named statistic, so configuration can say ``"psi"`` or ``"ks"``.

>>> get_stat("psi").default_threshold, get_stat("ks").test_type
(0.2, 'p_value')
>>> sorted(stats_for("categorical"))
['chisquare', 'jensenshannon', 'psi', 'total_variation']
"""

from __future__ import annotations

from modelport.errors import ConfigError
from modelport.monitoring.stats import (
    chisquare,
    jensenshannon,
    ks,
    psi,
    total_variation,
    wasserstein,
)
from modelport.monitoring.stats.histogram import Kind
from modelport.monitoring.stats.spec import StatSpec

# The default decision is a distance with a fixed threshold (see docs/statistics.md):
# p-value tests are computed beside it but flag negligible changes on large samples.
DEFAULT_DECISION: dict[Kind, str] = {"numeric": "psi", "categorical": "jensenshannon"}
DEFAULT_STATS: dict[Kind, tuple[str, ...]] = {
    "numeric": ("psi", "ks", "wasserstein", "jensenshannon"),
    "categorical": ("jensenshannon", "psi", "chisquare", "total_variation"),
}

REGISTRY: dict[str, StatSpec] = {
    spec.name: spec
    for spec in (
        psi.SPEC,
        ks.SPEC,
        wasserstein.SPEC,
        jensenshannon.SPEC,
        chisquare.SPEC,
        total_variation.SPEC,
    )
}


def get_stat(name: str) -> StatSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"unknown statistic {name!r}; known: {known}") from None


def stats_for(kind: Kind) -> list[str]:
    """Names of the statistics that apply to a feature kind, in registry order."""
    return [name for name, spec in REGISTRY.items() if kind in spec.kinds]
