"""Migration 0010 over a store at 0009 (SQLite and PostgreSQL): the policy tables appear,
existing data stays, and the downgrade drops them cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select

from modelport.store.db import MIGRATIONS, Database
from modelport.store.tables import AuditRow, RetrainEventRow, RetrainPolicyRow

TABLES = {"retrain_policies", "retrain_events"}


def _alembic(db: Database, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control' / 'modelport.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return Database(url, migrate=False)


def test_upgrading_a_0009_store_adds_the_policy_tables_and_keeps_its_data(
    empty: Database,
) -> None:
    try:
        _alembic(empty, "0009")
        assert not TABLES & set(inspect(empty.engine).get_table_names())
        with empty.session() as session:
            session.add(AuditRow(subject="endpoint:churn", action="create", details={}))

        _alembic(empty, "0010")

        assert TABLES <= set(inspect(empty.engine).get_table_names())
        with empty.session() as session:
            assert [row.subject for row in session.scalars(select(AuditRow))] == ["endpoint:churn"]
            session.add(
                RetrainPolicyRow(
                    endpoint="churn",
                    trainer="mypkg.train:fit",
                    on_alert="churn-drift",
                    cooldown_s=86400.0,
                    min_labels=1000,
                    max_attempts=3,
                    options={},
                )
            )
            session.add(RetrainEventRow(endpoint="churn", decision="skipped", cause="labels"))
        with empty.session() as session:
            event = session.scalars(select(RetrainEventRow)).one()
            assert (event.decision, event.cause, event.reason) == ("skipped", "labels", "")
            assert session.scalars(select(RetrainPolicyRow)).one().enabled is True

        _alembic(empty, "0009", down=True)
        assert not TABLES & set(inspect(empty.engine).get_table_names())
    finally:
        empty.dispose()
