"""Data quality of one column in one window: what arrived empty, out of range, new or stuck.

* **missing rate**: NaN/null values over all rows, beside the reference's own rate;
* **out of range**: values below the lower or above the upper bound, where the bounds are
  the feature's declared ``minimum``/``maximum`` (schema) or else the reference's min/max;
* **unseen categories**: values the reference (or the schema) never had, with the most
  frequent ones named;
* **type violations**: logged values that are not of the schema's type (a numeric
  feature logged as text by another version);
* **constant**: every present value is the same (a stuck sensor, a default filled in).

A column becomes an *issue* past fixed, documented limits: missing rate up by more than
``MISSING_RATE_RISE``, more than ``OUT_OF_RANGE_RATE`` out of range or
``UNSEEN_RATE`` unseen, any type violation, or constant when the reference was not.

>>> ordered = np.array([1.0, 2.0, 9.0])
>>> q = numeric_quality("x", ordered, missing=1, bounds=(0.0, 5.0), bounds_source="reference")
>>> q.missing_rate, q.out_of_range, q.issues
(0.25, 1, ['33.3% of values out of range [0, 5]', 'missing rate 25.0% (reference 0.0%)'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

MISSING_RATE_RISE = 0.05
OUT_OF_RANGE_RATE = 0.01
UNSEEN_RATE = 0.01
TOP_UNSEEN = 10


@dataclass
class FeatureQuality:
    feature: str
    kind: str
    rows: int
    missing: int
    missing_rate: float
    missing_rate_reference: float = 0.0
    out_of_range: int = 0
    out_of_range_rate: float = 0.0
    bounds: tuple[float, float] | None = None
    bounds_source: str | None = None
    unseen: int = 0
    unseen_rate: float = 0.0
    unseen_values: dict[str, int] = field(default_factory=dict)
    type_violations: int = 0
    constant: bool = False
    constant_value: str | None = None
    constant_reference: bool = False
    minimum: float | None = None
    maximum: float | None = None
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bounds"] = None if self.bounds is None else list(self.bounds)
        return data

    def find_issues(self) -> FeatureQuality:
        present = self.rows - self.missing
        if self.out_of_range and self.out_of_range_rate > OUT_OF_RANGE_RATE:
            assert self.bounds is not None
            low, high = self.bounds
            self.issues.append(
                f"{self.out_of_range_rate:.1%} of values out of range [{low:g}, {high:g}]"
            )
        if self.missing_rate - self.missing_rate_reference > MISSING_RATE_RISE:
            self.issues.append(
                f"missing rate {self.missing_rate:.1%} "
                f"(reference {self.missing_rate_reference:.1%})"
            )
        if self.unseen and self.unseen_rate > UNSEEN_RATE:
            names = ", ".join(list(self.unseen_values)[:3])
            self.issues.append(f"{self.unseen_rate:.1%} unseen categories ({names})")
        if self.type_violations:
            self.issues.append(f"{self.type_violations} values of the wrong type")
        if self.constant and not self.constant_reference and present > 1:
            self.issues.append(f"constant: every value is {self.constant_value}")
        return self


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def numeric_quality(
    feature: str,
    ordered: np.ndarray[Any, np.dtype[np.float64]],
    missing: int,
    bounds: tuple[float, float] | None,
    bounds_source: str | None,
    missing_rate_reference: float = 0.0,
    constant_reference: bool = False,
    type_violations: int = 0,
) -> FeatureQuality:
    """Quality of a numeric column from its sorted non-missing values."""
    rows = len(ordered) + missing
    out = 0
    if bounds is not None and len(ordered):
        below = int(np.searchsorted(ordered, bounds[0], side="left"))
        above = len(ordered) - int(np.searchsorted(ordered, bounds[1], side="right"))
        out = below + above
    quality = FeatureQuality(
        feature=feature,
        kind="numeric",
        rows=rows,
        missing=missing,
        missing_rate=_rate(missing, rows),
        missing_rate_reference=missing_rate_reference,
        out_of_range=out,
        out_of_range_rate=_rate(out, len(ordered)),
        bounds=bounds,
        bounds_source=bounds_source,
        type_violations=type_violations,
        constant=bool(len(ordered) > 1 and ordered[0] == ordered[-1]),
        constant_value=f"{ordered[0]:g}" if len(ordered) else None,
        constant_reference=constant_reference,
        minimum=float(ordered[0]) if len(ordered) else None,
        maximum=float(ordered[-1]) if len(ordered) else None,
    )
    return quality.find_issues()


def categorical_quality(
    feature: str,
    counts: Mapping[str, int],
    missing: int,
    known: set[str] | None,
    missing_rate_reference: float = 0.0,
    constant_reference: bool = False,
) -> FeatureQuality:
    """Quality of a categorical column from its value counts; ``known`` = reference
    categories (None when the reference lumped a long tail, so "unseen" is unknowable)."""
    present = sum(counts.values())
    rows = present + missing
    unseen_counts: dict[str, int] = {}
    if known is not None:
        unseen_counts = {value: n for value, n in counts.items() if value not in known}
    ranked = sorted(unseen_counts.items(), key=lambda item: (-item[1], item[0]))
    unseen = sum(unseen_counts.values())
    quality = FeatureQuality(
        feature=feature,
        kind="categorical",
        rows=rows,
        missing=missing,
        missing_rate=_rate(missing, rows),
        missing_rate_reference=missing_rate_reference,
        unseen=unseen,
        unseen_rate=_rate(unseen, present),
        unseen_values=dict(ranked[:TOP_UNSEEN]),
        constant=sum(1 for n in counts.values() if n) == 1 and present > 1,
        constant_value=next((repr(v) for v, n in counts.items() if n), None),
        constant_reference=constant_reference,
    )
    return quality.find_issues()
