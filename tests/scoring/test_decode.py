"""A chunk is validated by the data plane's own decoder: same verdicts, codes, messages."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from modelport.codecs.decode import decode_instances
from modelport.errors import ValidationFailed
from modelport.schema import FeatureSpec, InputSchema
from modelport.scoring.decode import BLOCK_ROWS, decode_chunk

SCHEMA = InputSchema(
    features=[
        FeatureSpec(name="tenure", kind="int"),
        FeatureSpec(name="charges", kind="float", nullable=True),
        FeatureSpec(name="plan", kind="category", categories=["basic", "pro"], allow_unknown=False),
        FeatureSpec(name="senior", kind="bool"),
    ]
)


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def _row(**changes: object) -> dict[str, object]:
    return {"tenure": 3, "charges": 50.5, "plan": "basic", "senior": True, **changes}


def test_clean_rows_decode_as_a_request_would() -> None:
    rows = [_row(tenure=i, charges=i / 2, plan=("basic", "pro")[i % 2]) for i in range(50)]
    rows[4]["charges"] = None
    chunk = decode_chunk(_table(rows), SCHEMA, first_row=0)
    request = decode_instances(rows, SCHEMA)
    assert chunk.rejects == []
    assert chunk.kept.tolist() == list(range(50))
    for name in SCHEMA.names:
        np.testing.assert_array_equal(chunk.batch.columns[name], request.columns[name])
        np.testing.assert_array_equal(chunk.columns[name], request.columns[name])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"tenure": 2.5}, "wrong_type"),
        ({"tenure": None}, "nan_not_allowed"),
        ({"charges": float("inf")}, "nan_not_allowed"),
        ({"plan": "gold"}, "unknown_category"),
        ({"plan": "x" * 5000}, "value_too_long"),
        ({"senior": None}, "nan_not_allowed"),
    ],
)
def test_a_bad_row_is_refused_with_the_request_paths_code_and_message(
    change: dict[str, object], code: str
) -> None:
    rows = [_row() for _ in range(10)]
    rows[7] = _row(**change)
    chunk = decode_chunk(_table(rows), SCHEMA, first_row=1000)
    assert [r.index for r in chunk.rejects] == [7]
    reject = chunk.rejects[0]
    assert reject.code == code
    name = next(iter(change))
    assert reject.field == f"rows[1007].{name}"
    # The message a request with this row would get, with the field spelled for files.
    with pytest.raises(ValidationFailed) as refused:
        decode_instances([rows[7]], SCHEMA)
    assert refused.value.code == code
    expected = refused.value.message.replace(f"instances[0].{name}", f"rows[1007].{name}")
    assert reject.reason == expected
    assert chunk.kept.tolist() == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    assert chunk.batch.n_rows == 9


def test_every_bad_row_of_a_large_chunk_is_named_and_the_rest_scored() -> None:
    n = BLOCK_ROWS * 3 + 17
    bad = {5, BLOCK_ROWS + 1, BLOCK_ROWS + 2, n - 1}
    rows = [_row(tenure=i) if i not in bad else _row(tenure="x") for i in range(n)]
    # A column of mixed Python values reaches Arrow as text: give it as such.
    table = pa.table(
        {
            "tenure": pa.array([str(r["tenure"]) for r in rows]),
            "charges": [r["charges"] for r in rows],
            "plan": [r["plan"] for r in rows],
            "senior": [r["senior"] for r in rows],
        }
    )
    chunk = decode_chunk(table, SCHEMA, first_row=0, text=False)
    # Text where a number belongs: every row is refused (a file-level check stops this
    # earlier for Parquet); as CSV text the numbers convert and only "x" is refused.
    assert len(chunk.rejects) == n
    as_csv = decode_chunk(
        table.set_column(1, "charges", pa.array([str(r["charges"]) for r in rows])).set_column(
            3, "senior", pa.array(["true"] * n)
        ),
        SCHEMA,
        first_row=0,
        text=True,
    )
    assert {r.index for r in as_csv.rejects} == bad
    assert all(r.code == "wrong_type" for r in as_csv.rejects)
    assert as_csv.batch.n_rows == n - len(bad)
    assert as_csv.batch.columns["tenure"].tolist() == [i for i in range(n) if i not in bad]


def test_a_row_with_several_bad_values_is_refused_once() -> None:
    rows = [_row(), _row(tenure=1.5, plan="gold")]
    chunk = decode_chunk(_table(rows), SCHEMA, first_row=0)
    assert len(chunk.rejects) == 1
    assert chunk.rejects[0].field == "rows[1].tenure"
