"""The detectors' stated behaviour, on short simulations with fixed seeds: few alarms on
stationary streams, the same alarms in any unit, a bounded delay for the default
detector, and the warm-up that fixes each stream's scale. The full simulation is
``bench/calibrate_detectors.py`` (figures in docs/statistics.md)."""

import numpy as np
import pytest

from modelport.config import MonitoringSettings
from modelport.monitoring.concept.detectors import DETECTORS, make_detector

LENGTH = 50_000


def bernoulli(seed: int, rates: np.ndarray) -> list[float]:
    rng = np.random.default_rng(seed)
    return (rng.random(len(rates)) < rates).astype(float).tolist()


def regression(seed: int, sigma: float, length: int = 30_000, at: int = 15_000) -> list[float]:
    """Absolute errors |N(0, σ)|, 1.5 times larger from ``at``."""
    rng = np.random.default_rng(seed)
    factor = np.where(np.arange(length) < at, 1.0, 1.5)
    return (np.abs(rng.normal(size=length)) * factor * sigma).tolist()


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_at_most_one_of_twelve_stationary_streams_alarms(name: str) -> None:
    # Calibrated for <= 5 % of 50k-point Bernoulli(0.1) streams; River's Page-Hinkley
    # defaults alarmed on 96 % of them, the paper's DDM on about 45 %.
    alarmed = [
        seed
        for seed in range(12)
        if make_detector(name).update_many(bernoulli(seed, np.full(LENGTH, 0.1)))
    ]
    assert len(alarmed) <= 1, alarmed


@pytest.mark.parametrize("name", ["page_hinkley", "adwin"])
def test_the_same_errors_in_other_units_give_the_same_alarms(name: str) -> None:
    for seed in range(3):
        small, unit, large = (
            make_detector(name).update_many(regression(seed, sigma))
            for sigma in (0.01, 1.0, 1_000.0)
        )
        assert small == unit == large
        assert small and small[0] >= 15_000, small  # the change, and only after it


def test_the_default_detector_catches_a_doubling_of_the_error_rate_within_1000() -> None:
    default = MonitoringSettings().detectors[0]
    assert default == "adwin"
    rates = np.where(np.arange(26_000) < 25_000, 0.1, 0.2)
    for seed in range(8):
        fired = make_detector(default).update_many(bernoulli(100 + seed, rates))
        assert fired and 25_000 <= fired[0] < 26_000, (seed, fired[:3])


@pytest.mark.parametrize("name", ["adwin", "page_hinkley"])
def test_a_change_inside_the_warm_up_is_raised_when_the_warm_up_ends(name: str) -> None:
    detector = make_detector(name)
    stream = bernoulli(1, np.where(np.arange(3_000) < 500, 0.1, 0.6))
    for position, value in enumerate(stream[:999]):
        detector.update(value)
        assert detector.warming_up and not detector.drift_detected, position
    detector.update(stream[999])
    assert not detector.warming_up
    assert detector.drift_detected and detector.drift_indices_ == [999]


@pytest.mark.parametrize("name", ["adwin", "page_hinkley"])
def test_a_constant_start_has_no_scale_and_the_warm_up_waits_for_a_change(name: str) -> None:
    detector = make_detector(name)
    detector.update_many([0.0] * 1_500)
    assert detector.warming_up  # an error-free start says nothing about the errors' spread
    fired = detector.update_many(bernoulli(2, np.full(1_000, 0.3)))
    assert not detector.warming_up
    assert fired and 1_500 <= fired[0] < 1_700, fired[:3]


def test_ddm_counts_errors_whatever_their_value_and_waits_for_its_warm_start() -> None:
    ddm = make_detector("ddm")
    assert ddm.params["warm_start"] == 1_000 and ddm.needs == 1_001 and ddm.warming_up
    stream = bernoulli(3, np.where(np.arange(4_000) < 2_000, 0.1, 0.5))
    fired = ddm.update_many(stream)
    assert not ddm.warming_up and fired and 2_000 <= fired[0] < 2_400
    assert make_detector("ddm").update_many([x * 1_000 for x in stream]) == fired


def test_a_warm_up_below_two_values_is_refused() -> None:
    with pytest.raises(ValueError, match="warm_up"):
        make_detector("adwin", warm_up=1)
