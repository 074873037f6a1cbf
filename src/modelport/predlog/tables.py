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
    types: dict[str, list[pa.DataType]] = {}
    for table in tables:
        for column in table.schema:
            types.setdefault(column.name, []).append(column.type)
    conflicting = set()
    for name, found in types.items():
        try:
            pa.unify_schemas(
                [pa.schema([pa.field(name, t)]) for t in found], promote_options="permissive"
            )
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            conflicting.add(name)
    as_text = []
    for table in tables:
        for name in conflicting.intersection(table.column_names):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.cast(table[name], pa.string()))
        as_text.append(table)
    return pa.concat_tables(as_text, promote_options="permissive")
