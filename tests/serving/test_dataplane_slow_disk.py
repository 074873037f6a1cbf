"""A slow disk never adds latency to requests, at the data plane: with the log writer stuck
inside a write, ``DataPlane.predict`` keeps answering, and every answer reaches the log
once the disk does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

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
from modelport.vocabulary import PredictionEvent
from predlog.slowdisk import BlockingSink
from support import churn_instance, register_churn

REQUESTS = 40


def test_predict_answers_while_the_log_writer_is_blocked(
    project: Path, churn_files: tuple[Path, Path]
) -> None:
    register_churn(project, churn_files)
    settings = Settings.load(project / "modelport.toml")
    db = Database(settings.database_url)
    registry = Registry(db, ArtifactStore(settings.artifacts_dir))
    log = ParquetPredictionLog(settings.log_dir)
    sink = BlockingSink(log)
    telemetry = Telemetry()
    # Assembled as Services.build does, with the stalled disk under the recorder.
    recorder = Recorder(sink, flush_interval_s=0.05, on_written=telemetry.log_written.inc)
    plane = DataPlane(
        registry, EndpointStore(db, registry), recorder, telemetry, settings.serving, 3600
    )
    frame = pd.DataFrame([churn_instance(tenure=t, charges=40.0 + t) for t in range(REQUESTS)])

    async def scenario() -> tuple[PredictionEvent, list[PredictionEvent], bool]:
        await plane.start()
        recorder.start()
        schema = plane.schema_of("churn")

        def ask(index: int) -> asyncio.Future[PredictionEvent]:
            batch = Batch.from_frame(frame.iloc[[index]], schema)
            return asyncio.ensure_future(
                plane.predict(
                    "churn", batch, request_id=f"slow-{index}", started=time.perf_counter()
                )
            )

        first = await ask(0)
        # The writer has taken the first record and hangs inside write().
        assert await asyncio.to_thread(sink.entered.wait, 60)
        answers = list(await asyncio.gather(*(ask(i) for i in range(1, REQUESTS))))
        # Still stuck: every answer above came while the disk was blocked.
        blocked = not sink.release.is_set() and sink.calls == 1
        blocked = blocked and sink.writes_from_request_path == 0
        sink.release.set()
        assert await asyncio.to_thread(recorder.flush, 60)
        await plane.stop()
        return first, answers, blocked

    try:
        first, answers, blocked = asyncio.run(scenario())
    finally:
        sink.release.set()
        recorder.close()
        db.dispose()

    assert blocked
    expected = registry.load(registry.get("churn", 1)).predict(
        Batch.from_frame(frame, plane.schema_of("churn"))
    )
    results = [first, *answers]
    assert [r.request_id for r in results] == [f"slow-{i}" for i in range(REQUESTS)]
    assert all(r.version.version == 1 and r.role == "primary" for r in results)
    assert [r.prediction.outputs[0] for r in results] == list(expected.outputs)
    table = log.read("churn")
    assert sorted(table["request_id"].to_pylist()) == sorted(f"slow-{i}" for i in range(REQUESTS))
    assert set(table["status"].to_pylist()) == {"ok"}
    assert recorder.written_rows == REQUESTS and recorder.dropped == 0
