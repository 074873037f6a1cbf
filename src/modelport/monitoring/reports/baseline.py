"""What a window is compared with, and where its numbers come from.

=============  ==========================================================================
``reference``  the version's stored reference sample (≤ 100k rows, with the model's own
               predictions on it): exact KS and Wasserstein, the profile's bins for the rest
``profile``    only the stored profile (no sample file): every statistic on its bins
``previous``   the version's own logged traffic in the window just before this one
``window``     the version's own logged traffic in a window the user chose
``bootstrap``  the profile of a version's first logged rows (the live series of a version
               registered without reference data)
=============  ==========================================================================

A version registered without reference data can still be monitored against a window of
its own traffic; every report says which baseline it used (``Baseline.description``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.monitoring.profile import ReferenceProfile
from modelport.monitoring.source import LogWindow
from modelport.predlog.records import FEATURE_PREFIX, PROBA_PREFIX
from modelport.registry.records import ModelVersion
from modelport.registry.service import PREDICTION_COLUMN, PROBABILITY_PREFIX, Registry
from modelport.schema import InputSchema, OutputSpec

# Names of the model's outputs among the compared columns (as in the reference sample).
PREDICTION = PREDICTION_COLUMN
PROBABILITY = PROBABILITY_PREFIX


@dataclass
class Baseline:
    kind: str
    description: str
    rows: int
    profile: ReferenceProfile
    # Raw values by column (features, ``__prediction__``, ``__proba__<class>``) for exact
    # statistics; None when only the profile is known.
    columns: Mapping[str, np.ndarray[Any, Any]] | None = None
    window: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "description": self.description,
            "rows": self.rows,
            "exact": self.columns is not None,
        }
        if self.window:
            data["window"] = self.window
        return data


def output_columns(output: OutputSpec) -> list[str]:
    """The compared output columns of a version: its prediction, then one per class."""
    names = [PREDICTION]
    if output.has_probabilities:
        names += [f"{PROBABILITY}{label}" for label in output.classes]
    return names


class ReferenceColumns(Mapping[str, np.ndarray[Any, Any]]):
    """The reference sample's columns, each read from its Parquet file on first use: a
    report task reads and converts only its own column, in parallel with the others."""

    def __init__(self, path: Path, names: list[str], numeric: set[str]) -> None:
        self.path = path
        self.names = names
        self.numeric = numeric
        self._read: dict[str, np.ndarray[Any, Any]] = {}

    def __getitem__(self, name: str) -> np.ndarray[Any, Any]:
        if name not in self._read:
            if name not in self.names:
                raise KeyError(name)
            column = pq.ParquetFile(self.path, memory_map=True).read(
                columns=[name], use_threads=False
            )[name]
            if name in self.numeric:
                values = pc.cast(column, pa.float64()).to_numpy()
            else:
                values = np.asarray(
                    pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object
                )
            self._read[name] = values
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def from_registry(registry: Registry, version: ModelVersion) -> Baseline | None:
    """The version's registered reference (exact when its sample file is there)."""
    if version.profile is None:
        return None
    profile = ReferenceProfile.from_dict(version.profile)
    numeric = {spec.name for spec in version.input_schema.features if spec.numeric}
    numeric |= {name for name in output_columns(version.output) if name != PREDICTION}
    if version.output.kind == "regression":
        numeric.add(PREDICTION)
    wanted = [*version.input_schema.names, *output_columns(version.output)]
    columns, rows = None, 0
    if version.reference_path is not None:
        try:
            path = registry.artifacts.path(version.reference_path)
            metadata = pq.read_metadata(path)
            present = set(metadata.schema.to_arrow_schema().names)
            rows = metadata.num_rows
            columns = ReferenceColumns(path, [n for n in wanted if n in present], numeric)
        except (OSError, pa.ArrowException):
            columns = None  # the sample file went missing: the profile still answers
    if columns is None:
        return Baseline(
            "profile",
            f"reference profile of {version.ref} ({profile.n_rows_} rows, binned statistics)",
            profile.n_rows_,
            profile,
        )
    return Baseline(
        "reference",
        f"reference sample of {version.ref} ({rows} rows)",
        rows,
        profile,
        columns,
    )


def from_window(window: LogWindow, version: ModelVersion, kind: str, description: str) -> Baseline:
    """A baseline of logged traffic: its profile (bins) and raw values (exact statistics)."""
    schema, output = version.input_schema, version.output
    window.prefetch(_log_columns(schema, output))
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for spec in schema.features:
        if spec.numeric:
            columns[spec.name] = window.numeric(FEATURE_PREFIX + spec.name)
        else:
            columns[spec.name] = _objects(window.text(FEATURE_PREFIX + spec.name))
    predictions = (
        window.numeric("prediction_value")
        if output.kind == "regression"
        else _objects(window.text("prediction"))
    )
    columns[PREDICTION] = predictions
    probabilities = None
    if output.has_probabilities and output.classes:
        probabilities = np.column_stack(
            [window.numeric(f"{PROBA_PREFIX}{label}") for label in output.classes]
        )
        for index, label in enumerate(output.classes):
            columns[f"{PROBABILITY}{label}"] = probabilities[:, index]
    frame = pd.DataFrame({spec.name: columns[spec.name] for spec in schema.features})
    profile = (
        ReferenceProfile().fit(
            frame, schema, predictions=predictions, probabilities=probabilities, output=output
        )
        if window.n_rows
        else _empty_profile(schema)
    )
    return Baseline(kind, description, window.n_rows, profile, columns, window.spec.to_dict())


def _log_columns(schema: InputSchema, output: OutputSpec) -> list[str]:
    names = [FEATURE_PREFIX + spec.name for spec in schema.features]
    names.append("prediction_value" if output.kind == "regression" else "prediction")
    names += [f"{PROBA_PREFIX}{label}" for label in output.classes]
    return names


def _empty_profile(schema: InputSchema) -> ReferenceProfile:
    """A profile with no rows: every statistic will say there is not enough data."""
    profile = ReferenceProfile()
    profile.n_rows_ = 0
    from modelport.monitoring.profile import FeatureProfile

    profile.features_ = {
        spec.name: FeatureProfile(
            "numeric" if spec.numeric else "categorical",
            0,
            0,
            0.0,
            bin_counts=[0] if spec.numeric else [],
        )
        for spec in schema.features
    }
    profile.prediction_ = None
    profile.probabilities_ = None
    return profile


def _objects(column: Any) -> np.ndarray[Any, Any]:
    values: np.ndarray[Any, Any] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    return values
