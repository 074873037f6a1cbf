"""The services one server process runs, built once and shared by all handlers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from starlette.requests import Request

from modelport.config import Settings
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.recorder import Recorder
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.serving.dataplane import DataPlane
from modelport.store.db import Database
from modelport.telemetry import Telemetry


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: Registry
    endpoints: EndpointStore
    log: ParquetPredictionLog
    recorder: Recorder
    feedback: FeedbackStore
    telemetry: Telemetry
    plane: DataPlane

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        registry = Registry(db, ArtifactStore(settings.artifacts_dir))
        endpoints = EndpointStore(db, registry)
        log = ParquetPredictionLog(settings.log_dir)
        telemetry = Telemetry()
        recorder = Recorder(
            log,
            queue_size=settings.log.queue_size,
            flush_interval_s=settings.log.flush_interval_s,
            max_batch_records=settings.log.max_batch_records,
            on_written=telemetry.log_written.inc,
            on_dropped=telemetry.log_dropped.inc,
        )
        telemetry.track_queue(lambda: recorder.depth)
        plane = DataPlane(
            registry,
            endpoints,
            recorder,
            telemetry,
            settings.serving,
            refresh_s=settings.server.policy_refresh_s,
        )
        return cls(
            settings,
            db,
            registry,
            endpoints,
            log,
            recorder,
            FeedbackStore(db, log),
            telemetry,
            plane,
        )


# Background work that lives as long as the server (the rollout controller): entered
# after the data plane started, exited before it stops.
LIFESPAN_HOOKS: list[Callable[[Services], AbstractAsyncContextManager[None]]] = []


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
