"""Exact statistics agree with scipy on the same data (to 1e-9)."""

import numpy as np
import pytest
from scipy import spatial, special, stats

from modelport.monitoring.stats import chi_square, js_distance, ks_2samp, wasserstein_distance
from modelport.monitoring.stats.ks import ks_pvalue, smirnov_sf


def samples(kind: str, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(size=n), rng.normal(0.03, 1.1, size=m)
    if kind == "discrete":  # many ties inside and across the samples
        return rng.integers(0, 7, n).astype(float), rng.integers(1, 8, m).astype(float)
    if kind == "far_from_zero":  # large offset: prefix sums must not lose precision
        return 1e9 + rng.normal(size=n), 1e9 + rng.normal(0.2, 1.0, size=m)
    return rng.exponential(size=n), rng.lognormal(size=m)


SIZES = [(7, 5), (300, 1_000), (5_000, 200), (20_000, 3_000), (2_000, 30_000), (200_000, 50_000)]


@pytest.mark.parametrize("kind", ["normal", "discrete", "far_from_zero", "skewed"])
@pytest.mark.parametrize(("n", "m"), SIZES)
def test_ks_matches_scipy(kind: str, n: int, m: int) -> None:
    reference, current = samples(kind, n, m, seed=n + m)
    statistic, p_value = ks_2samp(reference, current)
    expected = stats.ks_2samp(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.parametrize("kind", ["normal", "discrete", "far_from_zero", "skewed"])
@pytest.mark.parametrize(("n", "m"), SIZES)
def test_wasserstein_matches_scipy(kind: str, n: int, m: int) -> None:
    reference, current = samples(kind, n, m, seed=n * m)
    expected = stats.wasserstein_distance(reference, current)
    assert wasserstein_distance(reference, current) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("shift", [0.002, 0.005, 0.01, 0.02, 0.04])
def test_ks_pvalue_in_the_slow_smirnov_branch_matches_scipy(shift: float) -> None:
    # n*D^2 between 2.2 and 370 at en ~ 45k: scipy sums its series term by term here.
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=100_000), rng.normal(shift, 1.0, size=80_000)
    statistic, p_value = ks_2samp(reference, current)
    assert p_value == pytest.approx(stats.ks_2samp(reference, current).pvalue, abs=1e-9)


@pytest.mark.parametrize("n", [20_001, 90_909, 150_000])
@pytest.mark.parametrize("n_d_squared", [2.2, 3.0, 10.0, 60.0, 369.0])
def test_ks_pvalue_matches_kstwo(n: int, n_d_squared: float) -> None:
    statistic = float(np.sqrt(n_d_squared / n))
    if n > 100_000:  # scipy itself takes a second here: compare with the series directly
        expected = 2 * special.smirnov(n, statistic)
        assert 2 * smirnov_sf(n, statistic) == pytest.approx(expected, abs=1e-9)
        return
    assert ks_pvalue(statistic, n, 10**12) == pytest.approx(stats.kstwo.sf(statistic, n), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_chi_square_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(1, 1_000, size=8)
    current = rng.multinomial(5_000, reference / reference.sum())
    current[2] = 0  # a bucket empty on one side only stays in the table
    statistic, p_value = chi_square(reference, current)
    expected = stats.chi2_contingency(np.vstack((reference, current)), correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_chi_square_drops_buckets_empty_on_both_sides() -> None:
    with_empty = chi_square([300, 0, 700], [280, 0, 720])
    without = stats.chi2_contingency([[300, 700], [280, 720]], correction=False)
    assert with_empty == pytest.approx((without.statistic, without.pvalue), rel=1e-9)


def test_chi_square_survives_an_unseen_bucket() -> None:
    statistic, p_value = chi_square([500, 500, 0], [480, 500, 20])
    assert np.isfinite(statistic) and p_value < 1e-4


@pytest.mark.parametrize("seed", range(5))
def test_jensen_shannon_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = rng.integers(0, 100, size=12), rng.integers(0, 100, size=12)
    current[3] = 0
    expected = spatial.distance.jensenshannon(reference, current, base=2)
    assert js_distance(reference, current) == pytest.approx(expected, abs=1e-12)


def test_identical_histograms_have_zero_distance() -> None:
    assert js_distance([3, 5, 7], [6, 10, 14]) == 0.0
