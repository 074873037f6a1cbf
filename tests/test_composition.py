"""The composition root: one build, background work started and stopped in order, and
policies that need nothing but the data plane."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd

from modelport.batch import Batch
from modelport.config import Settings
from modelport.server import FULL_COLLECTIONS_RARER, Services
from modelport.serving.policies import CanarySpec
from rollout.conftest import rollout_project, rollout_template  # noqa: F401  (fixtures)
from support import churn_instance, cli_env


def _serve_a_little(services: Services) -> None:
    async def scenario() -> None:
        async with services.running():
            schema = services.plane.schema_of("churn")
            frame = pd.DataFrame([churn_instance(tenure=t) for t in range(1, 21)])
            for index in range(len(frame)):
                await services.plane.predict(
                    "churn",
                    Batch.from_frame(frame.iloc[[index]], schema),
                    request_id=f"twice-{index}",
                    started=time.perf_counter(),
                )

    asyncio.run(scenario())


def test_starting_and_stopping_services_twice_leaves_no_thread_or_task(
    rollout_project: Path,  # noqa: F811
) -> None:
    settings = Settings.load(rollout_project / "modelport.toml")
    before = set(threading.enumerate())
    # A canary endpoint: a primary, a candidate in a worker thread, background copies.
    first = Services.build(settings)
    first.endpoints.update(
        "churn", policy=CanarySpec(candidate=2, weight=50, salt="twice").to_dict()
    )
    _serve_a_little(first)
    _serve_a_little(first)  # the same services once more
    _serve_a_little(Services.build(settings))  # and a second build in the same process
    deadline = time.monotonic() + 10
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)  # a finished thread may take a moment to leave the list
    left = set(threading.enumerate()) - before
    assert not left, f"threads left behind: {sorted(t.name for t in left)}"
    # Every row of the three runs reached the log: each stop flushed it.
    roles = first.log.read("churn", columns=["role"]).column("role").to_pylist()
    assert roles.count("primary") + roles.count("canary") == 60


def test_full_collections_are_rarer_while_serving_and_as_before_after(
    rollout_project: Path,  # noqa: F811
) -> None:
    import gc

    before = gc.get_threshold()
    services = Services.build(Settings.load(rollout_project / "modelport.toml"))

    async def scenario() -> tuple[int, ...]:
        async with services.running():
            return gc.get_threshold()

    assert asyncio.run(scenario()) == FULL_COLLECTIONS_RARER
    assert gc.get_threshold() == before


def test_a_fresh_interpreter_serves_a_canary_without_importing_the_rollout_plane(
    rollout_project: Path,  # noqa: F811
) -> None:
    """The data plane owns its policies: with ``modelport.rollout`` made unimportable,
    a canary endpoint still sends its share of callers to the candidate."""
    settings = Settings.load(rollout_project / "modelport.toml")
    services = Services.build(settings)
    services.endpoints.update(
        "churn",
        policy=CanarySpec(
            candidate=6, weight=30, salt="fresh", sticky_key="header:x-user-id"
        ).to_dict(),
    )
    services.close()
    script = textwrap.dedent(
        """
        import asyncio, sys, time
        sys.modules["modelport.rollout"] = None  # any import of it now fails
        import pandas as pd
        from modelport.batch import Batch
        from modelport.config import Settings
        from modelport.predlog.parquet import ParquetPredictionLog
        from modelport.predlog.recorder import Recorder
        from modelport.registry.artifacts import ArtifactStore
        from modelport.registry.endpoints import EndpointStore
        from modelport.registry.service import Registry
        from modelport.serving.dataplane import DataPlane
        from modelport.store.db import Database
        from modelport.telemetry import Telemetry

        settings = Settings.load("modelport.toml")
        db = Database(settings.database_url)
        registry = Registry(db, ArtifactStore(settings.artifacts_dir))
        recorder = Recorder(ParquetPredictionLog(settings.log_dir))
        plane = DataPlane(registry, EndpointStore(db, registry), recorder, Telemetry())
        row = {"tenure": 5, "charges": 42.0, "plan": "basic"}

        async def main():
            await plane.start()
            schema = plane.schema_of("churn")
            batch = Batch.from_frame(pd.DataFrame([row]), schema)
            roles = []
            for i in range(1000):
                event = await plane.predict(
                    "churn", batch, request_id=f"r{i}", started=time.perf_counter(),
                    headers={"x-user-id": f"user-{i}"},
                )
                roles.append(event.role)
            await plane.stop()
            return roles

        roles = asyncio.run(main())
        recorder.close()
        assert "modelport.rollout.controller" not in sys.modules
        print(sum(role == "canary" for role in roles))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=rollout_project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    canary = int(done.stdout.strip().splitlines()[-1])
    # 30 % of 1000 callers; four standard errors (~58) either side.
    assert abs(canary - 300) < 58, canary
