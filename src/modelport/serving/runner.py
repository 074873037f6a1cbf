"""A runner holds one loaded model version and micro-batches concurrent requests.

Requests that arrive while the model is busy wait in ``_pending``; the next model call
takes all of them (up to ``max_batch_size`` rows) as one batch, so under load the
per-call overhead of the model library is paid once per batch, not once per request.
With no load a request goes straight through: batching adds no waiting unless
``max_batch_wait_ms`` asks for it.

Fast models (a warm-up call under ``INLINE_BELOW_S``) run on the event loop, which
avoids a thread hop; slower ones run on a dedicated thread so the loop keeps serving
other endpoints meanwhile. Runners that must never delay the primary (shadows) are
always threaded.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.errors import PredictionFailed
from modelport.registry.flavors import Predictor
from modelport.registry.records import ModelVersion
from modelport.schema import InputSchema
from modelport.telemetry import Telemetry

INLINE_BELOW_S = 0.002


def example_batch(schema: InputSchema, rows: int = 1) -> Batch:
    """A plausible batch for warm-up: zeros, or the first known category."""
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for feature in schema.features:
        if feature.numeric:
            value: Any = feature.minimum if feature.minimum is not None else 0.0
            columns[feature.name] = np.full(rows, value, dtype=np.float64)
        else:
            first = feature.categories[0] if feature.categories else ""
            columns[feature.name] = np.full(rows, first, dtype=object)
    return Batch(columns, rows)


# Runners are shared per (version, kind): a version answering callers in the event loop
# ("any"), one answering from a worker thread (a candidate, so it cannot stall the
# primary: "threaded"), or one batching background copies ("mirror").
RunnerKind = str


class Runner:
    def __init__(
        self,
        version: ModelVersion,
        predictor: Predictor,
        *,
        endpoint: str,
        telemetry: Telemetry | None = None,
        max_batch_size: int = 64,
        max_batch_wait_ms: float = 0.0,
        threaded: bool | None = None,
    ) -> None:
        self.version = version
        self.predictor = predictor
        self.endpoint = endpoint
        self.telemetry = telemetry
        self.max_batch_size = max_batch_size
        self.max_batch_wait_s = max_batch_wait_ms / 1000.0
        self.threaded = threaded
        self._pending: deque[tuple[Batch, asyncio.Future[Prediction]]] = deque()
        self._draining = False
        self._executor: ThreadPoolExecutor | None = None
        self.ready = False

    def warm_up(self, batch: Batch | None = None) -> float:
        """One call to load lazy state; decides inline vs threaded. Returns seconds."""
        batch = batch or example_batch(self.version.input_schema)
        # The first call pays for lazy initialisation; the fastest of a few is the
        # steady-state cost that decides where the model runs.
        elapsed = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            self.predictor.predict(batch)
            elapsed = min(elapsed, time.perf_counter() - started)
        if self.threaded is None:
            self.threaded = elapsed >= INLINE_BELOW_S
        self.ready = True
        return elapsed

    async def predict(self, batch: Batch) -> Prediction:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Prediction] = loop.create_future()
        self._pending.append((batch, future))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            if self.max_batch_wait_s > 0:
                await asyncio.sleep(self.max_batch_wait_s)
            else:
                # Let requests already parsed in this loop iteration join the batch.
                await asyncio.sleep(0)
            while self._pending:
                taken: list[tuple[Batch, asyncio.Future[Prediction]]] = []
                rows = 0
                while self._pending and (
                    not taken or rows + self._pending[0][0].n_rows <= self.max_batch_size
                ):
                    item = self._pending.popleft()
                    taken.append(item)
                    rows += item[0].n_rows
                await self._run(taken)
        finally:
            self._draining = False

    async def _run(self, taken: list[tuple[Batch, asyncio.Future[Prediction]]]) -> None:
        batches = [batch for batch, _ in taken]
        try:
            prediction = await self._call(Batch.concat(batches))
        except Exception as exc:
            if len(taken) == 1:
                _settle(taken[0][1], exc=exc)
                return
            # One bad request must not fail its neighbours: retry each on its own.
            for batch, future in taken:
                try:
                    _settle(future, result=await self._call(batch))
                except Exception as single:
                    _settle(future, exc=single)
            return
        offset = 0
        for batch, future in taken:
            _settle(future, result=prediction.slice(offset, offset + batch.n_rows))
            offset += batch.n_rows

    async def _call(self, batch: Batch) -> Prediction:
        if self.telemetry is not None:
            self.telemetry.batch_rows.labels(self.endpoint, str(self.version.version)).observe(
                batch.n_rows
            )
        try:
            if self.threaded:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="modelport-model")
                loop = asyncio.get_running_loop()
                prediction = await loop.run_in_executor(
                    self._executor, self.predictor.predict, batch
                )
            else:
                prediction = self.predictor.predict(batch)
        except Exception as exc:
            raise PredictionFailed(
                f"model {self.version.ref} raised {type(exc).__name__}: {exc}"
            ) from exc
        if len(prediction.outputs) != batch.n_rows:
            raise PredictionFailed(
                f"model {self.version.ref} answered {len(prediction.outputs)} rows for "
                f"{batch.n_rows}"
            )
        return prediction

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _settle(
    future: asyncio.Future[Prediction],
    *,
    result: Prediction | None = None,
    exc: BaseException | None = None,
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    elif result is not None:
        future.set_result(result)
