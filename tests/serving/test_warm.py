"""An endpoint following an alias keeps the versions it may be moved to loaded, so a move
is served by a runner loaded before it: the challenger's version and the previous primary
are warm, an endpoint pointed at a version by number keeps nothing extra, an archived
version is never loaded ahead, and a version that cannot load leaves serving untouched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from modelport.batch import Batch
from modelport.config import Settings
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.recorder import Recorder
from modelport.registry.aliases import AliasStore
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.catalog import Catalog
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registration, Registry
from modelport.serving.dataplane import DataPlane
from modelport.serving.warm import keep_warm
from modelport.store.db import Database
from modelport.telemetry import Telemetry
from support import churn_instance, register_churn


@dataclass
class Stores:
    registry: Registry
    endpoints: EndpointStore
    aliases: AliasStore
    catalog: Catalog
    plane: DataPlane


@pytest.fixture
def stores(
    project: Path, churn_files: tuple[Path, Path], churn_files_v2: tuple[Path, Path]
) -> Iterator[Stores]:
    """churn:1..3 registered (3 from its own artifact); endpoint ``churn`` serves 1 by
    number; ``follower`` follows churn@champion (1); churn@challenger names 2. The plane
    never polls by itself."""
    register_churn(project, churn_files)
    settings = Settings.load(project / "modelport.toml")
    db = Database(settings.database_url)
    registry = Registry(db, ArtifactStore(settings.artifacts_dir))
    for model, reference in [(project / "model.skops", project / "train.parquet"), churn_files_v2]:
        registry.register(
            Registration(
                name="churn",
                source=str(model),
                flavor="sklearn",
                reference=reference,
                target="churned",
            )
        )
    endpoints = EndpointStore(db, registry)
    aliases = AliasStore(endpoints)
    aliases.set("churn", "champion", 1)
    aliases.set("churn", "challenger", 2)
    endpoints.create("follower", "churn", None, alias="champion")
    recorder = Recorder(ParquetPredictionLog(settings.log_dir), flush_interval_s=0.05)
    plane = DataPlane(registry, endpoints, recorder, Telemetry(), settings.serving, 3600)
    try:
        yield Stores(registry, endpoints, aliases, Catalog(registry), plane)
    finally:
        recorder.close()
        db.dispose()


def warm(stores: Stores, endpoint: str) -> set[int]:
    return {version for version, _ in stores.plane.runtimes[endpoint].warm}


async def served(plane: DataPlane, endpoint: str) -> int:
    schema = plane.schema_of(endpoint)
    batch = Batch.from_frame(pd.DataFrame([churn_instance()]), schema)
    event = await plane.predict(endpoint, batch, request_id="warm", started=time.perf_counter())
    return event.version.version


def test_an_alias_move_is_served_by_a_runner_loaded_before_it(stores: Stores) -> None:
    plane = stores.plane

    async def scenario() -> None:
        await plane.start()
        await keep_warm(plane)
        assert warm(stores, "follower") == {2}  # the challenger's version
        assert warm(stores, "churn") == set()  # serves 1 by number: nothing ahead
        challenger = plane.runtimes["follower"].warm[(2, "any")]
        first = plane.runtimes["follower"].runners[(1, "any")]

        # Moved by another process: seen at the next refresh, served by the warm runner.
        await asyncio.to_thread(stores.aliases.set, "churn", "champion", 2)
        await plane.refresh()
        assert plane.runtimes["follower"].runners[(2, "any")] is challenger
        assert await served(plane, "follower") == 2
        # The previous primary stays loaded: moving back loads nothing either.
        await keep_warm(plane)
        assert warm(stores, "follower") == {1}
        await asyncio.to_thread(stores.aliases.set, "churn", "champion", 1)
        await plane.refresh()
        assert plane.runtimes["follower"].runners[(1, "any")] is first
        assert await served(plane, "follower") == 1

        # A version no alias names any more is let go; a newly named one is loaded.
        await asyncio.to_thread(stores.aliases.set, "churn", "challenger", 3)
        await keep_warm(plane)
        assert warm(stores, "follower") == {2, 3}  # 2: the previous primary
        await asyncio.to_thread(stores.aliases.delete, "churn", "challenger")
        await keep_warm(plane)
        assert warm(stores, "follower") == {2}

        # Pointed at a version by number: the endpoint keeps nothing ahead.
        await asyncio.to_thread(
            lambda: stores.endpoints.update("follower", primary_version=3, unfollow=True)
        )
        await plane.refresh()
        await keep_warm(plane)
        assert warm(stores, "follower") == set()
        assert await served(plane, "follower") == 3
        await plane.stop()

    asyncio.run(scenario())


def test_archived_or_broken_versions_are_not_loaded_ahead(stores: Stores) -> None:
    plane = stores.plane

    async def scenario() -> None:
        await plane.start()
        # churn:3 breaks on disk after registration; the challenger names it.
        broken = stores.registry.get("churn", 3)
        stores.registry.artifacts.path(broken.artifact_path).write_bytes(b"not a model")
        await asyncio.to_thread(stores.aliases.set, "churn", "challenger", 3)
        await keep_warm(plane)
        runtime = plane.runtimes["follower"]
        assert warm(stores, "follower") == set()
        assert runtime.warm_failed == {3}
        assert await served(plane, "follower") == 1  # serving is untouched
        await keep_warm(plane)  # not retried until the endpoint changes
        assert plane.runtimes["follower"] is runtime and runtime.warm_failed == {3}

        # The previous primary archived after the move is never loaded ahead.
        await asyncio.to_thread(stores.aliases.delete, "churn", "challenger")
        await asyncio.to_thread(stores.aliases.set, "churn", "champion", 2)
        await plane.refresh()
        assert plane.runtimes["follower"].previous_primary == 1
        plane.runtimes["follower"].warm.clear()  # as after a restart with 1 not loaded
        await asyncio.to_thread(lambda: stores.endpoints.update("churn", primary_version=2))
        await asyncio.to_thread(stores.catalog.archive, "churn", 1)
        await keep_warm(plane)
        assert warm(stores, "follower") == set()
        assert plane.runtimes["follower"].warm_failed == {1}
        assert await served(plane, "follower") == 2
        await plane.stop()

    asyncio.run(scenario())
