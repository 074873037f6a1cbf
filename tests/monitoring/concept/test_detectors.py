"""Contract suite over every concept-drift detector: fires after a change, not before."""

import subprocess
import sys

import numpy as np
import pytest

from modelport.errors import ConfigError
from modelport.monitoring.concept.detectors import DETECTORS, ConceptDriftDetector, make_detector

CHANGE_AT = 2_000
MAX_DELAY = 1_000


def error_stream(seed: int, before: float, after: float, length: int = 4_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = np.where(np.arange(length) < CHANGE_AT, before, after)
    return (rng.random(length) < rates).astype(float)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_follows_the_contract(name: str) -> None:
    detector = make_detector(name)
    assert isinstance(detector, ConceptDriftDetector)
    assert detector.n_ == 0 and detector.drift_indices_ == [] and not detector.drift_detected


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_fires_within_a_bounded_delay_after_the_error_rate_rises(name: str, seed: int) -> None:
    detector = make_detector(name)
    fired = detector.update_many(error_stream(seed, 0.1, 0.4))
    assert fired, f"{name} never fired"
    assert CHANGE_AT <= fired[0] < CHANGE_AT + MAX_DELAY
    assert detector.n_ == 4_000


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_stays_quiet_on_a_stable_stream(name: str, seed: int) -> None:
    detector = make_detector(name)
    assert detector.update_many(error_stream(seed, 0.1, 0.1)) == []


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_drift_detected_reflects_the_last_update(name: str) -> None:
    detector = make_detector(name)
    for index, value in enumerate(error_stream(0, 0.1, 0.6)):
        detector.update(value)
        assert detector.drift_detected == (detector.drift_indices_[-1:] == [index])


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_reset_forgets_the_stream(name: str) -> None:
    detector = make_detector(name)
    detector.update_many(error_stream(0, 0.1, 0.5))
    detector.reset()
    assert detector.n_ == 0 and detector.drift_indices_ == []


def test_unknown_detector_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="adwin"):
        make_detector("cusum")


def test_river_is_imported_only_when_a_report_runs_detectors() -> None:
    code = (
        "import sys, modelport, modelport.monitoring.reports.service, "
        "modelport.monitoring.live.queries; print('river' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (found.returncode, found.stdout.strip()) == (0, "False"), found.stderr
