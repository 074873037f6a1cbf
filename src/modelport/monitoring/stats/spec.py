"""The metadata every named statistic carries, and how a threshold turns it into a verdict.

Two kinds of statistic live side by side:

* **distances** (PSI, Jensen–Shannon, total variation, Wasserstein) grow with the size of
  a change but not with the sample size, so a fixed threshold keeps its meaning on a
  million rows; these make the default drift decision;
* **p-value tests** (KS, chi-square) answer "could this be chance?"; on large samples
  they flag differences too small to matter, so they are reported beside the distance.

Each statistic also declares how many rows it needs: ``max(min_rows, min_rows_per_bin *
bins)``. Below that its noise floor approaches its threshold and it would cry wolf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from modelport.monitoring.stats.ecdf import EcdfAlignment
from modelport.monitoring.stats.histogram import Histogram, Kind
from modelport.monitoring.stats.result import Measurement, StatResult, not_enough_data

TestType = Literal["distance", "p_value"]
Direction = Literal["above", "below"]
BinnedStat = Callable[[Histogram], Measurement]
ExactStat = Callable[[Histogram, EcdfAlignment], Measurement]


@dataclass(frozen=True, slots=True)
class StatSpec:
    """A named statistic: what it applies to, its default threshold and how to compute it.

    ``direction="above"`` means drift when ``statistic >= threshold`` (distances);
    ``"below"`` means drift when ``p_value < threshold`` (tests).
    """

    name: str
    kinds: frozenset[Kind]
    test_type: TestType
    default_threshold: float
    direction: Direction
    min_rows: int
    min_rows_per_bin: int
    binned: BinnedStat
    # Set when the statistic has an exact form on raw numeric samples (KS, Wasserstein).
    exact: ExactStat | None = None
    # Ordered statistics compare non-missing values only, so they count those rows.
    values_only: bool = False
    summary: str = ""

    def needed_rows(self, n_bins: int) -> int:
        return max(self.min_rows, self.min_rows_per_bin * max(n_bins, 1))

    def is_drift(self, measurement: Measurement, threshold: float) -> bool:
        if self.direction == "below":
            assert measurement.p_value is not None, f"{self.name} gives no p-value"
            return measurement.p_value < threshold
        return measurement.statistic >= threshold

    def evaluate(
        self,
        compute: Callable[[], Measurement],
        n_reference: int,
        n_current: int,
        n_bins: int = 1,
        threshold: float | None = None,
    ) -> StatResult:
        """Run ``compute`` if both samples are large enough, and apply the threshold."""
        need = self.needed_rows(n_bins)
        if min(n_reference, n_current) < need:
            return not_enough_data(self.name, n_reference, n_current, need)
        measurement = compute()
        threshold = self.default_threshold if threshold is None else threshold
        return StatResult(
            name=self.name,
            status="ok",
            statistic=measurement.statistic,
            p_value=measurement.p_value,
            threshold=threshold,
            drifted=self.is_drift(measurement, threshold),
            n_reference=n_reference,
            n_current=n_current,
            details=measurement.details,
        )
