"""Drift statistics: exact on raw samples, streaming on a reference profile's bins.

Shared by the report (exact, on raw values) and the live series (on bin counts).
Named statistics live in :mod:`.registry` (``"psi"``, ``"ks"``, ``"wasserstein"``,
``"jensenshannon"``, ``"chisquare"``, ``"total_variation"``, ``"cramers_v"``);
:mod:`.settings` says which one decides; :mod:`.calibration` estimates its no-drift
distribution at the window's size; :mod:`.drift` turns them into a per-feature verdict
and :mod:`.summary` into report entries; :mod:`.multivariate` catches drift in the joint
distribution that no single feature shows.
"""

from modelport.monitoring.stats.binned import BinnedCounts
from modelport.monitoring.stats.categorical import categorical_drift
from modelport.monitoring.stats.chisquare import chi_square
from modelport.monitoring.stats.compute import compute_stats
from modelport.monitoring.stats.cramers_v import cramers_v
from modelport.monitoring.stats.drift import FeatureDrift
from modelport.monitoring.stats.histogram import Histogram
from modelport.monitoring.stats.jensenshannon import js_distance
from modelport.monitoring.stats.ks import ks_2samp
from modelport.monitoring.stats.numeric import NumericReference, numeric_drift
from modelport.monitoring.stats.psi import psi
from modelport.monitoring.stats.registry import (
    DEFAULT_DECISION,
    DEFAULT_STATS,
    REGISTRY,
    get_stat,
    stats_for,
)
from modelport.monitoring.stats.result import StatResult
from modelport.monitoring.stats.spec import StatSpec
from modelport.monitoring.stats.total_variation import total_variation
from modelport.monitoring.stats.wasserstein import wasserstein_distance

__all__ = [
    "DEFAULT_DECISION",
    "DEFAULT_STATS",
    "REGISTRY",
    "BinnedCounts",
    "FeatureDrift",
    "Histogram",
    "NumericReference",
    "StatResult",
    "StatSpec",
    "categorical_drift",
    "chi_square",
    "compute_stats",
    "cramers_v",
    "get_stat",
    "js_distance",
    "ks_2samp",
    "numeric_drift",
    "psi",
    "stats_for",
    "total_variation",
    "wasserstein_distance",
]
