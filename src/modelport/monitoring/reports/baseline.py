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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.predlog import columns as col
from modelport.predlog.reader import LogWindow, WindowSpec
from modelport.registry.profile import FeatureProfile, ReferenceProfile
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.schema import InputSchema, OutputSpec


@dataclass
class Baseline:
    kind: str
    description: str
    rows: int
    profile: ReferenceProfile
    # Raw values by series name (features, ``__prediction__``, ``__proba__<class>``) for
    # exact statistics; None when only the profile is known.
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


def output_series(output: OutputSpec) -> list[str]:
    """The compared outputs of a version: its prediction, then one per class."""
    names = [col.series_output()]
    if output.has_probabilities:
        names += [col.series_output(label) for label in output.classes]
    return names


class ReferenceColumns(Mapping[str, np.ndarray[Any, Any]]):
    """The reference sample's columns by series name, each read from its Parquet file on
    first use: a report task reads and converts only its own column, in parallel with
    the others."""

    def __init__(self, path: Path, stored: Mapping[str, str], numeric: set[str]) -> None:
        self.path = path
        self.stored = stored
        self.numeric = numeric
        self._read: dict[str, np.ndarray[Any, Any]] = {}

    def __getitem__(self, name: str) -> np.ndarray[Any, Any]:
        if name not in self._read:
            where = self.stored[name]
            column = pq.ParquetFile(self.path, memory_map=True).read(
                columns=[where], use_threads=False
            )[where]
            if name in self.numeric:
                values = pc.cast(column, pa.float64()).to_numpy()
            else:
                values = np.asarray(
                    pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object
                )
            self._read[name] = values
        return self._read[name]

    def __contains__(self, name: object) -> bool:
        return name in self.stored

    def __iter__(self) -> Iterator[str]:
        return iter(self.stored)

    def __len__(self) -> int:
        return len(self.stored)


def from_registry(registry: Registry, version: ModelVersion) -> Baseline | None:
    """The version's registered reference (exact when its sample file is there)."""
    from modelport.registry.reference import sample_columns  # pandas, for reports only

    if version.profile is None:
        return None
    profile = ReferenceProfile.from_dict(version.profile)
    kind = version.output.kind
    numeric = {spec.name for spec in version.input_schema.features if spec.numeric}
    numeric |= {name for name in output_series(version.output) if name != col.SERIES_PREDICTION}
    if kind == "regression":
        numeric.add(col.SERIES_PREDICTION)
    wanted = [*version.input_schema.names, *output_series(version.output)]
    columns, rows = None, 0
    path = registry.reference_sample(version)
    if path is not None:
        try:
            metadata = pq.read_metadata(path)
            where = sample_columns(metadata.schema.to_arrow_schema().names, kind, version.target)
            rows = metadata.num_rows
            stored = {
                name: where[col.log_column(name, kind)]
                for name in wanted
                if col.log_column(name, kind) in where
            }
            columns = ReferenceColumns(path, stored, numeric)
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


def from_window(
    window: LogWindow, spec: WindowSpec, version: ModelVersion, kind: str, description: str
) -> Baseline:
    """A baseline of logged traffic (the rows of ``spec``): its profile (bins) and raw
    values (exact statistics)."""
    import pandas as pd  # here: commands importing this module skip pandas

    schema, output = version.input_schema, version.output
    window.prefetch([*map(col.feature, schema.names), *col.output_columns(output)])
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for feature in schema.features:
        if feature.numeric:
            columns[feature.name] = window.numeric(col.feature(feature.name))
        else:
            columns[feature.name] = _objects(window.text(col.feature(feature.name)))
    answer = col.output_column(output.kind)
    predictions = (
        window.numeric(answer) if output.kind == "regression" else _objects(window.text(answer))
    )
    columns[col.series_output()] = predictions
    probabilities = None
    if output.has_probabilities and output.classes:
        probabilities = np.column_stack(
            [window.numeric(col.proba(label)) for label in output.classes]
        )
        for index, label in enumerate(output.classes):
            columns[col.series_output(label)] = probabilities[:, index]
    frame = pd.DataFrame({name: columns[name] for name in schema.names})
    profile = (
        ReferenceProfile().fit(
            frame, schema, predictions=predictions, probabilities=probabilities, output=output
        )
        if window.n_rows
        else _empty_profile(schema)
    )
    return Baseline(kind, description, window.n_rows, profile, columns, spec.to_dict())


def _empty_profile(schema: InputSchema) -> ReferenceProfile:
    """A profile with no rows: every statistic will say there is not enough data."""
    profile = ReferenceProfile()
    profile.n_rows_ = 0
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
