"""The default drift decision: tails seen, categories tested as two samples, critical
values calibrated on the reference and corrected across features, materiality per
feature, and reports that say which bar decided. Fast versions of the simulations in
``bench/calibrate_drift.py`` (docs/statistics.md, "Default decision")."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from modelport.config import MonitoringSettings
from modelport.errors import ValidationFailed
from modelport.monitoring.reports.datadrift import NumericComparator
from modelport.monitoring.reports.options import report_request
from modelport.monitoring.stats import BinnedCounts
from modelport.monitoring.stats.calibration import null_statistics, size_bucket
from modelport.monitoring.stats.chisquare import chi_square
from modelport.monitoring.stats.cramers_v import cramers_v
from modelport.monitoring.stats.drift import FeatureDrift, summarise
from modelport.monitoring.stats.settings import DriftSettings
from modelport.monitoring.stats.summary import feature_fields, severity
from modelport.registry.profile import profile_categorical, profile_numeric

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
FEATURES = 20
SETTINGS = DriftSettings().with_family(FEATURES)
DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int], FloatArray]] = {
    "normal": lambda rng, n: rng.normal(10.0, 2.0, n),
    "lognormal": lambda rng, n: rng.lognormal(0.0, 1.0, n),
    "uniform": lambda rng, n: rng.uniform(0.0, 5.0, n),
}


def top_times_ten(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    x = x.copy()
    x[x >= np.quantile(x, 0.95)] *= 10.0
    return x


def rows_times_hundred(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    x = x.copy()
    x[rng.choice(len(x), len(x) // 50, replace=False)] *= 100.0  # a unit change in 2 %
    return x


def bottom_to_zero(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    x = x.copy()
    x[x <= np.quantile(x, 0.05)] = 0.0
    return x


def quarter_std(rng: np.random.Generator, x: FloatArray) -> FloatArray:
    return x + 0.25 * x.std()


SCENARIOS = {
    "top 5 % x10": top_times_ten,
    "2 % of rows x100": rows_times_hundred,
    "bottom 5 % set to 0": bottom_to_zero,
    "mean +0.25 sd": quarter_std,
}


def live(profile_values: FloatArray, current: FloatArray, settings: DriftSettings) -> FeatureDrift:
    state = BinnedCounts().fit(profile_numeric(profile_values, 20))
    state.update(current)
    histogram = state.histogram()
    results = state.get(settings.names("numeric"), settings.thresholds_for("x"))
    return summarise("x", histogram, results, "psi", settings)


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_tail_and_shift_scenarios_are_flagged_at_10k(distribution: str, scenario: str) -> None:
    rng = np.random.default_rng(7)
    draw = DISTRIBUTIONS[distribution]
    reference = draw(rng, 100_000)
    current = SCENARIOS[scenario](rng, draw(rng, 10_000))
    clean_window = live(reference, draw(rng, 10_000), SETTINGS)
    drift = live(reference, current, SETTINGS)
    assert clean_window.drifted is False
    assert drift.drifted is True, (drift.statistic, drift.critical_value)
    assert drift.p_value is not None and drift.p_value <= SETTINGS.level


def test_the_exact_report_flags_the_same_scenarios() -> None:
    rng = np.random.default_rng(8)
    reference = rng.normal(size=100_000)
    comparator = NumericComparator("x", profile_numeric(reference, 20), reference)
    for name, scenario in SCENARIOS.items():
        result = comparator.compare(scenario(rng, rng.normal(size=10_000)), SETTINGS)
        assert result.drift.drifted is True, name


def test_no_drift_at_a_million_rows_flags_no_feature() -> None:
    rng = np.random.default_rng(9)
    flags = []
    for index in range(FEATURES):
        draw = DISTRIBUTIONS[sorted(DISTRIBUTIONS)[index % 3]]
        flags.append(live(draw(rng, 100_000), draw(rng, 1_000_000), SETTINGS).drifted)
    assert flags == [False] * FEATURES


def test_calibrated_p_values_hold_their_level_on_small_windows() -> None:
    # 1,000-row windows (a size between two buckets): the calibrated test alone
    # (materiality switched off) rejects about its level, neither far more nor far less.
    rng = np.random.default_rng(10)
    reference = rng.lognormal(size=20_000)
    settings = DriftSettings(thresholds={"psi": 0.0})
    profile = profile_numeric(reference, 20)
    rejected = 0
    windows = 300
    for _ in range(windows):
        state = BinnedCounts().fit(profile)
        state.update(rng.lognormal(size=1_000))
        results = state.get(["psi"], settings.thresholds)
        rejected += bool(summarise("x", state.histogram(), results, "psi", settings).drifted)
    margin = 3 * np.sqrt(0.05 * 0.95 / windows)
    assert 0.05 - margin <= rejected / windows <= 0.05 + margin


def test_chi_square_is_a_two_sample_test_at_its_level_whatever_the_sizes() -> None:
    # Reference 100k rows, current 1M, no drift: the goodness-of-fit test rejected 99.8 %.
    rng = np.random.default_rng(11)
    shares = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
    repetitions = 1_000
    reference = rng.multinomial(100_000, shares, size=repetitions)
    current = rng.multinomial(1_000_000, shares, size=repetitions)
    p_values = np.array([chi_square(r, c)[1] for r, c in zip(reference, current, strict=True)])
    rate = float(np.mean(p_values < 0.05))
    assert 0.03 <= rate <= 0.07


def test_cramers_v_is_the_v_of_two_equal_samples_and_ignores_the_size_ratio() -> None:
    reference, current = np.array([400, 300, 300]), np.array([350, 300, 350])
    expected = stats.contingency.association(np.vstack((reference, current)), method="cramer")
    assert cramers_v(reference, current) == pytest.approx(expected, rel=1e-12)
    assert cramers_v(reference, current * 10) == pytest.approx(expected, rel=1e-12)


def test_a_new_category_is_material_and_significant() -> None:
    profile = profile_categorical(np.array(["a"] * 6_000 + ["b"] * 4_000, dtype=object), 10)
    state = BinnedCounts().fit(profile)
    state.update_counts({"a": 2_500, "b": 2_000, "new": 500})
    results = state.get(["cramers_v", "chisquare"])
    drift = summarise("plan", state.histogram(), results, "cramers_v", SETTINGS)
    assert drift.drifted is True and drift.threshold == 0.1
    assert drift.statistic is not None and drift.statistic > drift.threshold


def test_a_tiny_shift_on_a_million_rows_is_significant_but_not_material() -> None:
    rng = np.random.default_rng(12)
    reference = rng.normal(size=100_000)
    drift = live(reference, rng.normal(0.05, 1.0, 1_000_000), SETTINGS)
    assert drift.p_value is not None and drift.p_value <= SETTINGS.level
    assert drift.drifted is False and drift.decided_by == "materiality"
    fields = feature_fields(drift, exact=False)
    assert fields["materiality"] == 0.04 and fields["critical_value"] < fields["statistic"]
    # The deciding statistic's own entry (what the live series stores) agrees.
    psi = drift.results["psi"]
    assert psi.drifted is False and psi.p_value == drift.p_value
    assert psi.details["critical_value"] == drift.critical_value


def test_on_a_small_window_the_calibrated_critical_value_is_the_higher_bar() -> None:
    rng = np.random.default_rng(13)
    reference = rng.normal(size=100_000)
    small = live(reference, rng.normal(0.15, 1.0, 700), SETTINGS)
    # Material (PSI above 0.04) but within the no-drift noise of 700 rows: not flagged.
    assert small.statistic is not None and small.threshold is not None
    assert small.critical_value is not None and small.p_value is not None
    assert small.threshold <= small.statistic < small.critical_value
    assert small.drifted is False and small.decided_by == "calibration"
    assert small.null_rows == size_bucket(700) == 512
    large = live(reference, rng.normal(0.3, 1.0, 700), SETTINGS)
    assert large.drifted is True and large.decided_by == "calibration"
    # Severity is measured against the higher bar, so only drifted features reach 1.
    assert severity(small) < 1.0 <= severity(large)


def test_materiality_can_be_set_per_feature() -> None:
    rng = np.random.default_rng(14)
    reference = rng.normal(size=100_000)
    current = quarter_std(rng, rng.normal(size=10_000))
    lenient = DriftSettings(features={"x": {"psi": 0.5}}).with_family(FEATURES)
    assert live(reference, current, SETTINGS).drifted is True
    drift = live(reference, current, lenient)
    assert drift.drifted is False and drift.threshold == 0.5
    assert drift.decided_by == "materiality"


def test_null_replicates_are_computed_once_per_reference_and_size_bucket() -> None:
    counts = (500, 300, 200, 0)
    first = null_statistics("psi", counts, 5_000, numeric=False, level=0.01)
    again = null_statistics("psi", counts, 6_000, numeric=False, level=0.01)  # same bucket
    other = null_statistics("psi", counts, 9_000, numeric=False, level=0.01)
    assert first is again and other is not first
    assert not first.flags.writeable


def test_settings_come_from_the_monitoring_section_and_the_report_options() -> None:
    monitoring = MonitoringSettings(
        thresholds={"psi": 0.1},
        feature_thresholds={"age": {"psi": 0.3}},
        drift_alpha=0.01,
        drift_correction="none",
    )
    settings = DriftSettings.from_config(monitoring).with_family(10)
    assert settings.thresholds_for("age") == {"psi": 0.3}
    assert settings.thresholds_for("city") == {"psi": 0.1}
    assert settings.level == 0.01
    request = report_request(thresholds=["income:psi=0.2"], settings=monitoring)
    assert request.drift.thresholds_for("income") == {"psi": 0.2}
    assert request.drift.thresholds_for("age") == {"psi": 0.3}
    with pytest.raises(ValidationFailed) as refused:
        report_request(thresholds=[":psi=0.2"])
    assert refused.value.field == "threshold"
    with pytest.raises(ValidationFailed) as misspelt:
        report_request(thresholds=["age:pssi=0.2"])
    assert misspelt.value.field == "threshold"
