"""Concept-drift detectors by name: ``make_detector("adwin")`` (this imports River).

Parameters override the detector's defaults; ``warm_up`` (see :mod:`.base`) is the
wrapper's, the rest are River's:

>>> make_detector("page_hinkley", threshold=20.0).params
{'delta': 0.1, 'threshold': 20.0, 'alpha': 1.0}
"""

from __future__ import annotations

from typing import Any

from modelport.errors import ConfigError
from modelport.monitoring.concept.adwin import ADWIN
from modelport.monitoring.concept.base import ConceptDriftDetector, RiverDriftDetector
from modelport.monitoring.concept.ddm import DDM
from modelport.monitoring.concept.page_hinkley import PageHinkley

DETECTORS: dict[str, type[RiverDriftDetector]] = {
    cls.name: cls for cls in (ADWIN, DDM, PageHinkley)
}


def check_detector(name: str) -> type[RiverDriftDetector]:
    """The detector class called ``name``; a clear error for a name that is none."""
    try:
        return DETECTORS[name]
    except KeyError:
        known = ", ".join(sorted(DETECTORS))
        raise ConfigError(f"unknown drift detector {name!r}; known: {known}") from None


def make_detector(name: str, **params: Any) -> RiverDriftDetector:
    return check_detector(name)(**params)


__all__ = [
    "ADWIN",
    "DDM",
    "DETECTORS",
    "ConceptDriftDetector",
    "PageHinkley",
    "RiverDriftDetector",
    "make_detector",
]
