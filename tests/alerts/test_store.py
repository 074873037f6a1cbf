"""The alert tables: migration 0006 over a store at 0005 (SQLite and PostgreSQL), bounded
points, delivery counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from alerts.synthetic import database  # noqa: F401  (fixture)
from modelport.alerts import store as alert_store
from modelport.alerts.lifecycle import Alert
from modelport.alerts.store import AlertStore, HistoryEntry, Point
from modelport.store.db import MIGRATIONS, Database
from modelport.store.tables import AuditRow

ALERT_TABLES = {
    "alert_rules",
    "alert_states",
    "alert_history",
    "alert_silences",
    "alert_points",
    "notifiers",
}


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


def test_upgrading_a_0005_store_adds_the_alert_tables_and_keeps_its_data(
    empty: Database,
) -> None:
    try:
        _alembic(empty, "0005")
        assert not ALERT_TABLES & set(inspect(empty.engine).get_table_names())
        with empty.session() as session:
            session.add(AuditRow(subject="endpoint:churn", action="create", details={}))

        empty.upgrade()

        assert ALERT_TABLES <= set(inspect(empty.engine).get_table_names())
        with empty.engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert revision.scalar() >= "0006"  # later migrations may follow
        with empty.session() as session:
            assert [row.subject for row in session.scalars(select(AuditRow))] == ["endpoint:churn"]
        store = AlertStore(empty)
        assert store.put_rule("r", {"name": "r"}, source="api", by="ops", replace=False)

        _alembic(empty, "0005", down=True)  # and back: the downgrade drops them cleanly
        assert not ALERT_TABLES & set(inspect(empty.engine).get_table_names())
    finally:
        empty.dispose()


def test_points_are_bounded_per_alert_keeping_the_newest(
    database: Database,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alert_store, "POINTS_PER_ALERT", 3)
    store = AlertStore(database)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for minute in range(5):
        moment = start + timedelta(minutes=minute)
        store.save_alerts(
            [],
            points=[
                Point('r{endpoint="a"}', moment, float(minute), None, 1.0),
                Point('r{endpoint="b"}', moment, 10.0 + minute, 0.0, None),
            ],
        )

    points = store.points("r", per_alert=10)
    assert [(p.key, p.value) for p in points] == [
        ('r{endpoint="a"}', 2.0),
        ('r{endpoint="a"}', 3.0),
        ('r{endpoint="a"}', 4.0),
        ('r{endpoint="b"}', 12.0),
        ('r{endpoint="b"}', 13.0),
        ('r{endpoint="b"}', 14.0),
    ]
    assert [p.value for p in store.points("r", per_alert=2)] == [3.0, 4.0, 13.0, 14.0]


def test_alerts_round_trip_and_deliveries_are_counted_per_notifier(
    database: Database,  # noqa: F811
) -> None:
    store = AlertStore(database)
    alert = Alert(rule="r", labels={"endpoint": "churn"}, value=0.3)
    now = datetime.now(UTC)
    store.save_alerts(
        [alert],
        history=[
            HistoryEntry("r", "delivery", {"delivered": True}, now, notifier="ops", delivered=True),
            HistoryEntry(
                "r", "delivery", {"delivered": False}, now, notifier="ops", delivered=False
            ),
            HistoryEntry("r", "delivery", {"delivered": True}, now, notifier="am", delivered=True),
        ],
    )

    assert store.alerts("r") == [alert]
    assert store.alerts("other") == []
    assert store.delivery_counts() == {("ops", True): 1, ("ops", False): 1, ("am", True): 1}
    assert len(store.history("r", since=None, limit=2)) == 2
    assert store.history("r", since=now + timedelta(seconds=1), limit=10) == []
