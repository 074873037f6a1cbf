from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.errors import ReferenceDataError
from modelport.registry.reference import (
    MAX_INFERRED_CATEGORIES,
    infer_schema,
    read_reference,
    sample_rows,
)
from modelport.schema import FeatureSpec


def test_kinds_categories_and_missing_values_are_inferred() -> None:
    frame = pd.DataFrame(
        {
            "age": [31, 45, 52],
            "income": [1.5, np.nan, 3.0],
            "member": [True, False, True],
            "plan": ["pro", None, "basic"],
            "city": pd.Categorical(["Oslo", "Lima", "Oslo"]),
            "target": [0, 1, 0],
        }
    )

    schema = infer_schema(frame, ["age", "income", "member", "plan", "city"])

    assert schema.features == [
        FeatureSpec(name="age", kind="int"),
        FeatureSpec(name="income", kind="float", nullable=True),
        FeatureSpec(name="member", kind="bool"),
        FeatureSpec(name="plan", kind="category", nullable=True, categories=["basic", "pro"]),
        FeatureSpec(name="city", kind="category", categories=["Lima", "Oslo"]),
    ]


def test_nullable_integers_stay_integers() -> None:
    frame = pd.DataFrame({"visits": pd.array([1, None, 3], dtype="Int64")})

    assert infer_schema(frame, ["visits"]).features == [
        FeatureSpec(name="visits", kind="int", nullable=True)
    ]


def test_inferred_categories_are_capped() -> None:
    frame = pd.DataFrame({"id": [f"user-{n:05d}" for n in range(MAX_INFERRED_CATEGORIES + 50)]})

    (feature,) = infer_schema(frame, ["id"]).features
    assert len(feature.categories) == MAX_INFERRED_CATEGORIES
    assert feature.categories[0] == "user-00000"


def test_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.5, 2.5], "plan": ["a", "b"]})
    frame.to_csv(tmp_path / "ref.csv", index=False)
    frame.to_parquet(tmp_path / "ref.parquet")

    pd.testing.assert_frame_equal(read_reference(tmp_path / "ref.csv"), frame)
    pd.testing.assert_frame_equal(read_reference(tmp_path / "ref.parquet"), frame)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ref.json", b"{}", "must be .parquet or .csv"),
        ("ref.parquet", b"not parquet at all", "cannot read reference file"),
        ("missing.csv", None, "does not exist"),
    ],
)
def test_unreadable_references_are_refused(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ReferenceDataError, match=message):
        read_reference(path)


def test_samples_are_capped_reproducible_and_in_original_order() -> None:
    frame = pd.DataFrame({"n": range(1000)}, index=range(5000, 6000))

    sample = sample_rows(frame, 100)

    assert len(sample) == 100
    assert sample["n"].is_monotonic_increasing
    assert list(sample.index) == list(range(100))
    pd.testing.assert_frame_equal(sample, sample_rows(frame, 100))
    assert len(sample_rows(frame, 5000)) == 1000
