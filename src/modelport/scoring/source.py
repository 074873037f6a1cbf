"""What a batch run reads: a Parquet or CSV file, or a folder of them, in a stable order.

The files are listed once (a folder: its ``*.parquet`` and ``*.csv`` files, not
recursively, sorted by name), checked against the version's input schema before any row
is scored, fingerprinted (so a resumed run can refuse an input that changed), and read
as one stream of chunks of exactly ``chunk`` rows (the last one shorter) that run across
file boundaries. Chunk ``k`` always holds input rows ``k * chunk`` onwards, so a resumed
run starts where the last committed chunk ended.

Parquet columns keep their types. CSV feature columns are read as text and converted per
chunk (:mod:`modelport.scoring.decode`), so one stray value rejects its row instead of
stopping the reader.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelport.errors import MissingFeature, ValidationFailed, WrongType
from modelport.schema import FeatureSpec, InputSchema

FileKind = Literal["parquet", "csv"]
SUFFIXES: dict[str, FileKind] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
# Columns a run keeps beside the features when the input has them (the first found).
ID_COLUMNS = ("id", "request_id")
CSV_BLOCK_BYTES = 16 << 20
# How many problems one refusal lists before "... and N more".
SHOWN_PROBLEMS = 20
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: FileKind
    # Exact for Parquet (from its footer); an estimate from the line count for CSV.
    rows: int


@dataclass(frozen=True)
class Source:
    """The files of one run and the columns read from them."""

    files: tuple[InputFile, ...]
    schema: InputSchema
    id_column: str | None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def exact_rows(self) -> bool:
        return all(f.kind == "parquet" for f in self.files)

    @property
    def columns(self) -> list[str]:
        wanted = [] if self.id_column is None else [self.id_column]
        return wanted + [n for n in self.schema.names if n not in wanted]

    def fingerprint(self) -> str:
        """sha256 of every file's name, size and modification time, in order."""
        digest = hashlib.sha256()
        for item in self.files:
            stat = item.path.stat()
            digest.update(f"{item.path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def chunks(self, chunk: int, *, start_row: int = 0) -> Iterator[pa.Table]:
        """Tables of ``chunk`` rows (the last may be shorter), from input row
        ``start_row`` on; columns :attr:`columns`."""
        pending: list[pa.Table] = []
        buffered = 0
        for table in self._tables(start_row):
            while table.num_rows:
                take = min(chunk - buffered, table.num_rows)
                pending.append(table.slice(0, take))
                buffered += take
                table = table.slice(take)
                if buffered == chunk:
                    yield _concat(pending)
                    pending, buffered = [], 0
        if buffered:
            yield _concat(pending)

    def _tables(self, skip: int) -> Iterator[pa.Table]:
        columns = self.columns
        for item in self.files:
            if item.kind == "parquet":
                handle = pq.ParquetFile(item.path)
                rows = handle.metadata.num_rows
                if skip >= rows:
                    skip -= rows
                    continue
                groups = list(range(handle.num_row_groups))
                # Whole row groups before the start are not read at all.
                while groups and skip >= handle.metadata.row_group(groups[0]).num_rows:
                    skip -= handle.metadata.row_group(groups[0]).num_rows
                    groups.pop(0)
                for batch in handle.iter_batches(
                    batch_size=65_536, row_groups=groups, columns=columns
                ):
                    table = pa.Table.from_batches([batch])
                    if skip:
                        cut = min(skip, table.num_rows)
                        table, skip = table.slice(cut), skip - cut
                    if table.num_rows:
                        yield table
            else:
                reader = pacsv.open_csv(
                    item.path,
                    read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=columns,
                        column_types={name: pa.string() for name in columns},
                        strings_can_be_null=True,
                    ),
                )
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    if skip:
                        cut = min(skip, table.num_rows)
                        table, skip = table.slice(cut), skip - cut
                    if table.num_rows:
                        yield table


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    # Files of one folder may store a column as int64 in one and double in another.
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def list_inputs(path: Path, *, field: str = "input") -> list[InputFile]:
    """The Parquet and CSV files of ``path`` (a file, or a folder of them by name)."""
    if path.is_dir():
        found = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUFFIXES
        )
        if not found:
            raise ValidationFailed(f"folder {path} holds no .parquet or .csv file", field=field)
    elif path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise ValidationFailed(
                f"input {path} must be a .parquet or .csv file (or a folder of them)",
                field=field,
            )
        found = [path]
    else:
        raise ValidationFailed(f"input {path} does not exist", field=field)
    kinds = {SUFFIXES[p.suffix.lower()] for p in found}
    if len(kinds) > 1:
        raise ValidationFailed(
            f"folder {path} mixes Parquet and CSV files; score one kind at a time", field=field
        )
    return [_describe(p, field) for p in found]


def _describe(path: Path, field: str) -> InputFile:
    kind = SUFFIXES[path.suffix.lower()]
    try:
        if kind == "parquet":
            return InputFile(path, kind, pq.read_metadata(path).num_rows)
        return InputFile(path, kind, _count_lines(path))
    except (pa.ArrowException, OSError) as exc:
        raise ValidationFailed(f"cannot read {path.name}: {exc}", field=field) from exc


def _count_lines(path: Path) -> int:
    """Data rows of a CSV file, estimated as its lines minus the header."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def open_source(
    path: Path, schema: InputSchema, *, id_column: str | None = None, field: str = "input"
) -> Source:
    """The files of ``path``, refused with one message naming every missing or mistyped
    column (in every file) before any row is read for scoring."""
    files = list_inputs(path, field=field)
    problems: list[str] = []
    missing: list[str] = []
    mistyped: dict[str, str] = {}
    chosen = id_column
    for item in files:
        columns = _column_types(item, schema, field)
        prefix = f"{item.path.name}: " if len(files) > 1 else ""
        for feature in schema.features:
            found = columns.get(feature.name)
            if found is None:
                missing.append(feature.name)
                problems.append(f"{prefix}lacks column {feature.name!r}")
            elif not _accepts(feature, found):
                mistyped[feature.name] = str(found)
                problems.append(
                    f"{prefix}column {feature.name!r} is {_shown(found)}, feature "
                    f"{feature.name!r} needs {_needs(feature)}"
                )
        if id_column is not None and id_column not in columns:
            problems.append(f"{prefix}lacks the id column {id_column!r}")
        if id_column is None and item is files[0]:
            chosen = next((c for c in ID_COLUMNS if c in columns and c not in schema.names), None)
        elif id_column is None and chosen is not None and chosen not in columns:
            problems.append(f"{prefix}lacks the id column {chosen!r} that {files[0].path.name} has")
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        if len(problems) > SHOWN_PROBLEMS:
            shown += f"; and {len(problems) - SHOWN_PROBLEMS} more"
        error = MissingFeature if missing else WrongType
        raise error(
            f"the input does not match the schema: {shown}",
            field=(missing or list(mistyped) or [id_column or chosen or field])[0],
            missing=sorted(set(missing)),
            mistyped=mistyped,
        )
    return Source(tuple(files), schema, chosen)


def _column_types(item: InputFile, schema: InputSchema, field: str) -> dict[str, pa.DataType]:
    try:
        if item.kind == "parquet":
            arrow = pq.read_schema(item.path)
            return {name: arrow.field(name).type for name in arrow.names}
        reader = pacsv.open_csv(
            item.path,
            read_options=pacsv.ReadOptions(block_size=1 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={f.name: pa.string() for f in schema.features},
                strings_can_be_null=True,
            ),
        )
        first = reader.read_next_batch() if reader.schema.names else None
        types = {name: reader.schema.field(name).type for name in reader.schema.names}
        if first is not None:
            # Text columns: a numeric feature is mistyped when no value of the first
            # block is a number (a stray value only rejects its row).
            for feature in schema.features:
                if feature.numeric and feature.name in types:
                    values = first.column(feature.name)
                    numbers = pc.sum(pc.match_substring_regex(values, _NUMBER)).as_py() or 0
                    present = len(values) - values.null_count
                    if feature.kind != "bool" and present and not numbers:
                        types[feature.name] = pa.string()
                    else:
                        types[feature.name] = pa.float64()
        return types
    except (pa.ArrowException, OSError, StopIteration) as exc:
        raise ValidationFailed(f"cannot read {item.path.name}: {exc}", field=field) from exc


def _accepts(feature: FeatureSpec, arrow: pa.DataType) -> bool:
    if pa.types.is_dictionary(arrow):
        arrow = arrow.value_type
    if pa.types.is_null(arrow):
        return True
    if feature.kind in ("float", "int"):
        return bool(
            pa.types.is_integer(arrow) or pa.types.is_floating(arrow) or pa.types.is_decimal(arrow)
        )
    if feature.kind == "bool":
        return bool(
            pa.types.is_boolean(arrow) or pa.types.is_integer(arrow) or pa.types.is_floating(arrow)
        )
    return bool(
        pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_integer(arrow)
    )


def _needs(feature: FeatureSpec) -> str:
    return {"float": "a number", "int": "a whole number", "bool": "a boolean"}.get(
        feature.kind, "text (a category)"
    )


def _shown(arrow: pa.DataType) -> str:
    text = str(arrow)
    return re.sub(r"^(large_)?(string|utf8)$", "text", text)
