"""Joining pieces of the log read from different segments into one table."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def concat(tables: list[pa.Table]) -> pa.Table:
    """One table from segments whose columns may differ in presence and type.

    A column absent from a segment reads as nulls there. A feature can change kind
    between model versions behind one endpoint (numeric in one segment, text in the
    next); such a column is read back as text rather than failing the whole read.
    """
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    conflicting = conflicting_columns([table.schema for table in tables])
    as_text = []
    for table in tables:
        for name in conflicting.intersection(table.column_names):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.cast(table[name], pa.string()))
        as_text.append(table)
    return pa.concat_tables(as_text, promote_options="permissive")


def conflicting_columns(schemas: list[pa.Schema]) -> set[str]:
    """Columns whose types differ across ``schemas`` in a way pyarrow cannot promote
    (e.g. float64 in one segment, string in another): those are read as text."""
    types: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for field in schema:
            types.setdefault(field.name, []).append(field.type)
    conflicting = set()
    for name, found in types.items():
        try:
            pa.unify_schemas(
                [pa.schema([pa.field(name, t)]) for t in found], promote_options="permissive"
            )
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            conflicting.add(name)
    return conflicting
