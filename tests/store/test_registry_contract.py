"""Registry storage over every backend: versions, JSON columns, atomicity, concurrency."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from modelport.errors import ModelNotFound
from modelport.registry.service import Registration, Registry
from modelport.store.tables import AuditRow, ModelRow, VersionRow


def count(registry: Registry, table: type) -> int:
    with registry.db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_versions_count_up_per_model(registry: Registry, halver: Registration) -> None:
    first = registry.register(dataclasses.replace(halver, tags={"team": "pricing"}))
    second = registry.register(halver)
    other = registry.register(dataclasses.replace(halver, name="halver-b"))

    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert [v.version for v in registry.versions("halver")] == [1, 2]
    assert registry.get("halver") == second
    assert registry.get("halver", 1).tags == {"team": "pricing"}
    assert [(m["name"], m["versions"], m["latest"]) for m in registry.list_models()] == [
        ("halver", 2, 2),
        ("halver-b", 1, 1),
    ]
    assert first.created_at.tzinfo is not None
    assert first.created_at.utcoffset() == UTC.utcoffset(None)
    assert count(registry, AuditRow) == 3


def test_json_columns_round_trip(registry: Registry, churn_files: tuple[Path, Path]) -> None:
    model, reference = churn_files
    registered = registry.register(
        Registration(
            name="churn",
            source=str(model),
            flavor="sklearn",
            reference=reference,
            target="churned",
            tags={"nested": {"list": [1, 2.5, "x", None, True]}},
        )
    )

    stored = registry.get("churn", 1)
    assert stored == registered
    assert stored.profile == registered.profile is not None
    assert stored.input_schema.get("plan") is not None
    assert stored.tags == {"nested": {"list": [1, 2.5, "x", None, True]}}


def test_failed_first_registration_leaves_no_rows(registry: Registry, halver: Registration) -> None:
    # SQLite's driver wraps the encoding error, psycopg raises it as it is.
    with pytest.raises((StatementError, TypeError), match="not JSON serializable"):
        registry.register(dataclasses.replace(halver, tags={"bad": object()}))

    assert (count(registry, ModelRow), count(registry, VersionRow)) == (0, 0)
    assert count(registry, AuditRow) == 0
    with pytest.raises(ModelNotFound):
        registry.get("halver")
    # The name stays usable and numbering starts at 1.
    assert registry.register(halver).version == 1


def test_concurrent_registrations_get_distinct_consecutive_versions(
    registry: Registry, halver: Registration
) -> None:
    workers, rounds = 6, 3
    start = threading.Barrier(workers)
    versions: list[int] = []
    failures: list[BaseException] = []

    def register() -> None:
        start.wait()
        try:
            for _ in range(rounds):
                versions.append(registry.register(halver).version)
        except BaseException as exc:  # collected so the main thread reports it
            failures.append(exc)

    threads = [threading.Thread(target=register) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(versions) == list(range(1, workers * rounds + 1))
    assert count(registry, ModelRow) == 1
