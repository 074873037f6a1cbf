"""The always-valid test keeps its promises when looked at after every request."""

from __future__ import annotations

import numpy as np

from modelport.rollout.sequential import MeanEstimate, always_valid_interval, decide

LOOKS = range(20, 2001, 20)


def _first_verdict(errors: np.ndarray, threshold: float, alpha: float) -> str:
    """Peek after every 20 requests, as the controller does; return the first decision."""
    for n in LOOKS:
        estimate = MeanEstimate.proportion(int(errors[:n].sum()), n).shift(-threshold)
        verdict = decide(estimate, upper=True, alpha=alpha, tau2=0.01).verdict
        if n >= 30 and verdict != "inconclusive":
            return verdict
    return "inconclusive"


def test_a_candidate_at_the_threshold_is_rarely_failed_despite_peeking() -> None:
    rng = np.random.default_rng(1)
    verdicts = [_first_verdict(rng.random(2000) < 0.05, 0.05, 0.05) for _ in range(300)]
    assert verdicts.count("fail") / len(verdicts) <= 0.05
    assert verdicts.count("pass") / len(verdicts) <= 0.05


def test_a_clearly_broken_candidate_fails_quickly() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        errors = rng.random(2000) < 0.3
        assert _first_verdict(errors, 0.05, 0.05) == "fail"


def test_a_clearly_good_candidate_passes() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        assert _first_verdict(rng.random(2000) < 0.001, 0.05, 0.05) == "pass"


def test_interval_narrows_with_evidence_and_widens_with_confidence() -> None:
    wide = always_valid_interval(0.1, 0.01, 0.05, 0.01)
    narrow = always_valid_interval(0.1, 0.0001, 0.05, 0.01)
    stricter = always_valid_interval(0.1, 0.0001, 0.001, 0.01)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert stricter[1] - stricter[0] > narrow[1] - narrow[0]


def test_no_observations_mean_no_knowledge() -> None:
    estimate = MeanEstimate.proportion(0, 0)
    assert always_valid_interval(estimate.mean, estimate.variance, 0.05, 0.01) == (
        -np.inf,
        np.inf,
    )
