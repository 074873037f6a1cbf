"""Reference profile: a small, JSON-able summary of the data a model was trained on,
fitted when a version is registered (and by monitoring on a version's own traffic).

Monitoring compares live traffic with this profile rather than with the raw reference
data, so a profile must stay a few kilobytes however large the reference is. Each
numeric feature keeps ``n_bins`` reference-quantile bins plus **tail bins**: cuts at the
0.1, 1, 99 and 99.9 percentiles and at the reference minimum and just above its maximum,
so mass moved into or beyond the reference's outer 5 % lands in buckets of its own
(``below_min``, ``above_max``) instead of vanishing in a wide outer bin. The outer bins
are open-ended (``-inf``/``+inf``), so every live value lands in some bin; each categorical
feature keeps the counts of its ``max_categories`` most frequent values and lumps the
rest into ``"__other__"``.

>>> import numpy as np, pandas as pd
>>> from modelport.schema import FeatureSpec, InputSchema
>>> schema = InputSchema(features=[FeatureSpec(name="age", kind="float"),
...                                FeatureSpec(name="city", kind="category")])
>>> frame = pd.DataFrame({"age": [20.0, 30.0, np.nan, 50.0],
...                       "city": np.array(["a", "b", "a", None], dtype=object)})
>>> profile = ReferenceProfile(n_bins=4).fit(frame, schema)
>>> profile.features_["age"].missing, profile.features_["city"].frequencies
(1, {'a': 2, 'b': 1})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from modelport.errors import ProfileError
from modelport.schema import InputSchema, OutputSpec

if TYPE_CHECKING:
    import pandas as pd

ProfileKind = Literal["numeric", "categorical"]
OTHER = "__other__"
# Percentiles that get cuts of their own besides the ``n_bins`` quantile bins.
TAIL_LEVELS = (0.001, 0.01, 0.99, 0.999)
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(slots=True)
class FeatureProfile:
    """Summary of one column. ``count`` counts non-missing values (as pandas does).

    Numeric bins: bin ``0`` is ``(-inf, cut_points[0])``, bin ``i`` is
    ``[cut_points[i-1], cut_points[i])`` and the last bin is ``[cut_points[-1], +inf)``;
    ``bin_counts`` has ``len(cut_points) + 1`` entries. Only the finite cut points are
    stored so the profile stays strict JSON.
    """

    kind: ProfileKind
    count: int
    missing: int
    missing_rate: float
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    cut_points: list[float] = field(default_factory=list)
    bin_counts: list[int] = field(default_factory=list)
    # Categorical only: reference count per category, ``"__other__"`` for the long tail.
    frequencies: dict[str, int] = field(default_factory=dict)

    @property
    def bin_edges(self) -> FloatArray:
        """All bin edges including the open outer ones: ``[-inf, *cut_points, +inf]``."""
        return np.concatenate(([-np.inf], np.asarray(self.cut_points, dtype=float), [np.inf]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureProfile:
        return cls(**data)


def profile_numeric(values: FloatArray, n_bins: int, tails: bool = True) -> FeatureProfile:
    """Profile one float column (NaN = missing) on ``n_bins`` reference-quantile bins.

    With ``tails`` (the default) the cuts also hold the :data:`TAIL_LEVELS` percentiles,
    the minimum and the float just above the maximum: bin ``0`` then counts values below
    the reference minimum and the last bin values above its maximum (both empty in the
    reference itself).
    """
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    missing = len(values) - len(present)
    if len(present) == 0:
        return FeatureProfile("numeric", 0, missing, _rate(missing, len(values)), bin_counts=[0])
    # Interior quantiles only: the outer bins stay open so no live value falls outside.
    levels = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    if tails:
        levels = np.union1d(levels, TAIL_LEVELS)
    cut_points = np.quantile(present, levels)
    if tails:
        above_max = np.nextafter(present.max(), np.inf)
        cut_points = np.concatenate(([present.min()], cut_points, [above_max]))
    cut_points = np.unique(cut_points)
    bin_counts = np.bincount(
        np.searchsorted(cut_points, present, side="right"), minlength=len(cut_points) + 1
    )
    return FeatureProfile(
        kind="numeric",
        count=len(present),
        missing=missing,
        missing_rate=_rate(missing, len(values)),
        minimum=float(present.min()),
        maximum=float(present.max()),
        mean=float(present.mean()),
        std=float(present.std()),
        cut_points=[float(c) for c in cut_points],
        bin_counts=[int(c) for c in bin_counts],
    )


def profile_categorical(values: np.ndarray[Any, Any], max_categories: int) -> FeatureProfile:
    """Profile one categorical column (None/NaN = missing, values stringified)."""
    import pandas as pd  # here: commands that read profiles never build one

    series = pd.Series(values, dtype=object)
    present = series[series.notna()].astype(str)
    missing = len(series) - len(present)
    counts = present.value_counts()
    # Ties broken by name so the same data always gives the same profile.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    frequencies = {str(name): int(count) for name, count in ranked[:max_categories]}
    tail = sum(int(count) for _, count in ranked[max_categories:])
    if tail:
        frequencies[OTHER] = tail
    return FeatureProfile(
        kind="categorical",
        count=len(present),
        missing=missing,
        missing_rate=_rate(missing, len(series)),
        frequencies=frequencies,
    )


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


class ReferenceProfile:
    """Per-feature (and prediction) profiles of a reference data set."""

    n_rows_: int
    features_: dict[str, FeatureProfile]
    prediction_: FeatureProfile | None
    probabilities_: dict[str, FeatureProfile] | None

    def __init__(self, n_bins: int = 20, max_categories: int = 200, tails: bool = True) -> None:
        self.n_bins = n_bins
        self.max_categories = max_categories
        self.tails = tails

    def fit(
        self,
        features: pd.DataFrame,
        schema: InputSchema,
        predictions: np.ndarray[Any, Any] | None = None,
        probabilities: np.ndarray[Any, Any] | None = None,
        output: OutputSpec | None = None,
    ) -> ReferenceProfile:
        if self.n_bins < 1 or self.max_categories < 1:
            raise ValueError("n_bins and max_categories must be at least 1")
        if len(features) == 0:
            raise ProfileError("reference data is empty: need at least one row to profile")
        absent = [name for name in schema.names if name not in features.columns]
        if absent:
            raise ProfileError(f"reference data lacks schema features: {', '.join(absent)}")
        self.n_rows_ = len(features)
        self.features_ = {
            spec.name: self._profile_column(features[spec.name].to_numpy(), spec.numeric)
            for spec in schema.features
        }
        self.prediction_ = self._profile_predictions(predictions, output)
        self.probabilities_ = self._profile_probabilities(probabilities, output)
        return self

    def _profile_column(self, values: np.ndarray[Any, Any], numeric: bool) -> FeatureProfile:
        if numeric:
            import pandas as pd

            floats = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            return profile_numeric(floats, self.n_bins, self.tails)
        return profile_categorical(values, self.max_categories)

    def _profile_predictions(
        self, predictions: np.ndarray[Any, Any] | None, output: OutputSpec | None
    ) -> FeatureProfile | None:
        if predictions is None:
            return None
        predictions = np.asarray(predictions)
        self._check_length(predictions, "predictions")
        if output is not None:
            regression = output.kind == "regression"
        else:
            regression = predictions.dtype.kind == "f"
        return self._profile_column(predictions, numeric=regression)

    def _profile_probabilities(
        self, probabilities: np.ndarray[Any, Any] | None, output: OutputSpec | None
    ) -> dict[str, FeatureProfile] | None:
        if probabilities is None:
            return None
        matrix = np.asarray(probabilities, dtype=np.float64)
        self._check_length(matrix, "probabilities")
        if matrix.ndim != 2:
            raise ProfileError(f"probabilities must be [n_rows, n_classes], got {matrix.shape}")
        labels = output.classes if output is not None and output.classes else None
        labels = labels or [str(index) for index in range(matrix.shape[1])]
        if len(labels) != matrix.shape[1]:
            raise ProfileError(
                f"probabilities have {matrix.shape[1]} columns but {len(labels)} classes"
            )
        return {
            label: profile_numeric(matrix[:, index], self.n_bins, self.tails)
            for index, label in enumerate(labels)
        }

    def _check_length(self, array: np.ndarray[Any, Any], what: str) -> None:
        if len(array) != self.n_rows_:
            raise ProfileError(f"{what} have {len(array)} rows but features have {self.n_rows_}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_bins": self.n_bins,
            "max_categories": self.max_categories,
            "tails": self.tails,
            "n_rows": self.n_rows_,
            "features": {name: p.to_dict() for name, p in self.features_.items()},
            "prediction": None if self.prediction_ is None else self.prediction_.to_dict(),
            "probabilities": None
            if self.probabilities_ is None
            else {label: p.to_dict() for label, p in self.probabilities_.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        # Profiles stored before tail bins existed keep the cuts they were fitted with.
        profile = cls(
            n_bins=data["n_bins"],
            max_categories=data["max_categories"],
            tails=bool(data.get("tails", False)),
        )
        profile.n_rows_ = data["n_rows"]
        profile.features_ = {
            name: FeatureProfile.from_dict(p) for name, p in data["features"].items()
        }
        prediction = data.get("prediction")
        profile.prediction_ = None if prediction is None else FeatureProfile.from_dict(prediction)
        probabilities = data.get("probabilities")
        profile.probabilities_ = (
            None
            if probabilities is None
            else {label: FeatureProfile.from_dict(p) for label, p in probabilities.items()}
        )
        return profile
