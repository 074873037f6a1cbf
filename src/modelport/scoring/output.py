"""What a batch run writes: one part per chunk while it runs, then the output files.

Each chunk's scored rows (``<output>.parts/<chunk>.arrow``) and refused rows
(``<chunk>.rejects.arrow``) are written durably under their final names before the chunk
is logged, so a chunk redone after a crash replaces its parts instead of adding rows.
Parts are Arrow IPC files (lz4): they live minutes, so they cost little more than a copy
and the rows are encoded as Parquet once. When every chunk is committed the parts are
joined, in chunk order, into the output (Parquet or CSV by its suffix) and the rejects
file, each written under a temporary name and renamed; then the parts are removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelport.batch import Prediction
from modelport.errors import ValidationFailed
from modelport.predlog.files import make_folder, write_durably
from modelport.schema import OutputSpec, label_text
from modelport.scoring.decode import Reject

OUTPUT_SUFFIXES = (".parquet", ".csv")
PREDICTION = "prediction"
PROBA_PREFIX = "proba."
# Columns a rejects file adds to the refused row.
REJECT_ROW, REJECT_CODE, REJECT_FIELD, REJECT_REASON = "row", "code", "field", "reason"


def check_output_path(path: Path, field: str) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValidationFailed(
            f"{field} {path.name!r} must end in .parquet or .csv (that decides its format)",
            field=field,
        )
    if path.exists() and path.is_dir():
        raise ValidationFailed(f"{field} {path} is a folder", field=field)


def scored_table(rows: pa.Table, prediction: Prediction | None, output: OutputSpec) -> pa.Table:
    """The kept input columns of the scored rows, their prediction and probabilities."""
    if prediction is None:
        table = rows.append_column(PREDICTION, pa.array([], type=_prediction_type(output)))
        for label in output.classes if output.has_probabilities else []:
            table = table.append_column(PROBA_PREFIX + label, pa.array([], type=pa.float64()))
        return table
    table = rows.append_column(PREDICTION, _prediction_array(prediction.outputs, output))
    if prediction.probabilities is not None:
        for index, label in enumerate(output.classes):
            table = table.append_column(
                PROBA_PREFIX + label, pa.array(prediction.probabilities[:, index])
            )
    return table


def _regression(output: OutputSpec) -> bool:
    return output.kind == "regression"


def _prediction_type(output: OutputSpec) -> pa.DataType:
    return pa.float64() if _regression(output) else pa.string()


def _prediction_array(outputs: np.ndarray[Any, Any], output: OutputSpec) -> pa.Array:
    if _regression(output):
        return pa.array(np.asarray(outputs, dtype=np.float64))
    # Class labels spelled as the log and feedback spell them.
    if outputs.dtype.kind in "iu":
        return pa.array(outputs).cast(pa.string())
    return pa.array([label_text(v) for v in outputs], type=pa.string())


def rejects_table(rows: pa.Table, rejects: Sequence[Reject], first_row: int) -> pa.Table:
    """The refused rows as read (their kept columns), with where and why."""
    table = rows
    table = table.append_column(
        REJECT_ROW, pa.array([first_row + r.index for r in rejects], type=pa.int64())
    )
    table = table.append_column(REJECT_CODE, pa.array([r.code for r in rejects], pa.string()))
    table = table.append_column(REJECT_FIELD, pa.array([r.field for r in rejects], pa.string()))
    return table.append_column(REJECT_REASON, pa.array([r.reason for r in rejects], pa.string()))


class Parts:
    """The per-chunk files of one run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def scored(self, chunk: int) -> Path:
        return self.folder / f"{chunk:06d}.arrow"

    def rejected(self, chunk: int) -> Path:
        return self.folder / f"{chunk:06d}.rejects.arrow"

    def write(self, chunk: int, scored: pa.Table, rejected: pa.Table | None) -> None:
        make_folder(self.folder)
        # A chunk that is redone writes both names again; a stale rejects part of an
        # earlier attempt must not survive one that has none.
        if rejected is not None and rejected.num_rows:
            _write_part(self.rejected(chunk), rejected)
        else:
            self.rejected(chunk).unlink(missing_ok=True)
        _write_part(self.scored(chunk), scored)

    def counts(self, chunk: int) -> tuple[int, int]:
        """(scored, rejected) rows of a chunk already written."""
        rejected_path = self.rejected(chunk)
        rejected = _read_part(rejected_path).num_rows if rejected_path.exists() else 0
        return _read_part(self.scored(chunk)).num_rows, rejected

    def finish(self, chunks: int, output: Path, rejects: Path) -> bool:
        """Join the parts into ``output`` and ``rejects``; True if any row was refused."""
        _join([self.scored(k) for k in range(chunks)], output)
        refused = [p for k in range(chunks) if (p := self.rejected(k)).exists()]
        if refused:
            _join(refused, rejects)
        return bool(refused)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_part(path: Path, table: pa.Table) -> None:
    def write(handle: BinaryIO) -> None:
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_file(handle, table.schema, options=options) as writer:
            writer.write_table(table)

    write_durably(path, write)


def _read_part(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def _text_columns(schema: pa.Schema) -> list[str]:
    text = (pa.types.is_string, pa.types.is_large_string)
    return [f.name for f in schema if any(test(f.type) for test in text)]


def _join(paths: list[Path], target: Path) -> None:
    schema = pa.unify_schemas([_read_part(p).schema for p in paths], promote_options="permissive")
    csv = target.suffix.lower() == ".csv"

    def write(handle: BinaryIO) -> None:
        writer: Any
        if csv:
            writer = pacsv.CSVWriter(handle, schema)
        else:
            writer = pq.ParquetWriter(
                handle, schema, compression="zstd", use_dictionary=_text_columns(schema)
            )
        with writer:
            for path in paths:
                table = _read_part(path)
                if table.schema != schema:
                    table = table.cast(schema)
                writer.write_table(table)

    make_folder(target.parent)
    write_durably(target, write)
