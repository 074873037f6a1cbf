"""One process per store compacts at a time: a lease in the control-plane database
(SQLite or PostgreSQL) that exactly one holder wins, that expires, and that the server's
compaction honours."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.predlog.records import PredictionRecord
from modelport.server import COMPACTION_LOCK, Services
from modelport.store.db import Database
from modelport.store.locks import StoreLock

MakeRecord = Callable[..., PredictionRecord]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control' / 'modelport.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


def test_one_holder_at_a_time_until_released(database: Database) -> None:
    first = StoreLock(database, "job", holder="first")
    second = StoreLock(database, "job", holder="second")

    assert first.acquire() is True
    assert second.acquire() is False
    assert first.acquire() is True  # already ours
    assert first.renew() is True and second.renew() is False
    second.release()  # not its lease: nothing happens
    assert second.acquire() is False

    first.release()
    assert second.acquire() is True
    assert first.renew() is False
    assert StoreLock(database, "another job", holder="first").acquire() is True


def test_an_expired_lease_is_taken_over(database: Database) -> None:
    dead = StoreLock(database, "job", holder="dead", ttl_s=-1.0)  # expired as taken
    assert dead.acquire() is True

    alive = StoreLock(database, "job", holder="alive")
    assert alive.acquire() is True
    assert dead.renew() is False  # the old holder learns it lost the lease


def test_concurrent_takers_have_exactly_one_winner(database: Database) -> None:
    takers = [StoreLock(database, "job", holder=f"taker-{n}") for n in range(6)]
    start = threading.Barrier(len(takers))
    won: list[str] = []

    def take(lock: StoreLock) -> None:
        start.wait()
        if lock.acquire():
            won.append(lock.holder)

    threads = [threading.Thread(target=take, args=(lock,)) for lock in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(won) == 1


def test_the_server_compacts_only_while_holding_the_store_lease(
    project: Path, database_url: str, make_record: MakeRecord, noon: float
) -> None:
    settings = Settings.load(project / "modelport.toml", store={"url": database_url})
    services = Services.build(settings)
    try:
        for index in range(3):
            services.log.write([make_record(f"r{index}", at=noon + index)])
        day = settings.log_dir / "churn" / "2026-03-01"
        files = sorted(day.glob("*.parquet"))
        elsewhere = StoreLock(services.db, COMPACTION_LOCK, holder="another-server")
        assert elsewhere.acquire()

        assert services.compact_log() is None
        assert sorted(day.glob("*.parquet")) == files

        elsewhere.release()
        results = services.compact_log()
        assert results is not None and [r.replaced for r in results] == [3]
        assert services.log.read("churn").num_rows == 6
        # The lease is given back after the run; a finished day is not merged again.
        assert elsewhere.acquire()
        elsewhere.release()
        assert services.compact_log() == []
    finally:
        services.close()
