"""Every named statistic, so configuration can say ``"psi"`` or ``"ks"``.

>>> get_stat("psi").default_threshold, get_stat("ks").test_type
(0.04, 'p_value')
>>> sorted(stats_for("categorical"))
['chisquare', 'cramers_v', 'jensenshannon', 'psi', 'total_variation']
"""

from __future__ import annotations

from modelport.errors import ConfigError
from modelport.monitoring.stats import (
    chisquare,
    cramers_v,
    jensenshannon,
    ks,
    psi,
    total_variation,
    wasserstein,
)
from modelport.monitoring.stats.histogram import Kind
from modelport.monitoring.stats.spec import StatSpec

# The default decision is a distance that must pass both its calibrated no-drift
# quantile and a materiality threshold (see docs/statistics.md, "Default decision").
DEFAULT_DECISION: dict[Kind, str] = {"numeric": "psi", "categorical": "cramers_v"}
DEFAULT_STATS: dict[Kind, tuple[str, ...]] = {
    "numeric": ("psi", "ks", "wasserstein", "jensenshannon"),
    "categorical": ("cramers_v", "jensenshannon", "psi", "chisquare", "total_variation"),
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
        cramers_v.SPEC,
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
