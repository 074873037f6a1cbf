"""Schema management over every backend: migrations from empty, idempotent upgrades."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registration, Registry
from modelport.store.db import Database
from modelport.store.tables import AuditRow, Base


def test_migrations_build_every_table_from_an_empty_database(database_url: str) -> None:
    empty = Database(database_url, migrate=False)
    try:
        assert inspect(empty.engine).get_table_names() == []
        empty.upgrade()
        tables = set(inspect(empty.engine).get_table_names())
        with empty.engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        empty.dispose()

    # The migrations create what the ORM maps: no table is left to create_all().
    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    assert revision is not None


def test_opening_twice_upgrades_idempotently_and_keeps_data(
    database_url: str, tmp_path: Path, halver: Registration
) -> None:
    artifacts = ArtifactStore(tmp_path / "artifacts")
    first = Database(database_url)
    try:
        registered = Registry(first, artifacts).register(halver)
    finally:
        first.dispose()

    second = Database(database_url)
    try:
        registry = Registry(second, artifacts)
        assert registry.get("halver") == registered
        assert registry.register(dataclasses.replace(halver)).version == 2
    finally:
        second.dispose()


def test_datetimes_come_back_aware_and_compare_in_utc(database: Database) -> None:
    # 12:00 at UTC+02:00 is 10:00 UTC, whatever the backend stores.
    at = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with database.session() as session:
        session.add(AuditRow(at=at, subject="clock", action="tick", details={}))

    with database.session() as session:
        stored = session.scalars(select(AuditRow)).one()
        assert stored.at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
        assert stored.at.utcoffset() == timedelta(0)
        # 09:30 and 11:30 UTC, written in zones whose wall clocks say otherwise.
        half_hour_before = datetime(2026, 5, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
        half_hour_after = datetime(2026, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=-1)))
        assert session.scalars(select(AuditRow).where(AuditRow.at < half_hour_before)).all() == []
        assert (
            len(session.scalars(select(AuditRow).where(AuditRow.at < half_hour_after)).all()) == 1
        )


def test_migrations_match_the_mapped_tables_exactly(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    # Every change to tables.py ships its migration: columns, types, indexes, constraints.
    assert differences == []
