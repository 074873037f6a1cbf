"""The composition root: every plane object built once, every background service started
and stopped in one stated order.

``Services.build(settings)`` wires the object graph on top of ``ControlPlane.build``
(database, registry, endpoints, aliases, catalog: all a read-only CLI command builds);
nothing registers itself by being imported. The HTTP adapter
(:func:`modelport.api.app.create_app`) and the CLI both use it, so a command and a server
see the same planes::

    store (SQL)  -> registry, endpoints, rollouts, series, feedback
    log (Parquet segments) <- recorder (writer thread) <- data plane (request path)
    data plane   -> listeners: monitoring collector (O(1) per request)
    rollout controller -> endpoints' policies -> data plane refresh

``async with services.running():`` starts background work in this order and stops it in
the reverse one:

1. the recorder's writer thread (so the first answer can already be logged);
2. the data plane: load every endpoint's models, then refresh on revision changes;
3. the monitoring collector's tick loop (if ``monitoring.enabled``), listening to the
   data plane;
4. the rollout controller's loop (it refreshes the data plane when it moves a rollout);
5. hourly log compaction (if ``monitoring.compact_log``), by one process per store at a
   time: the one holding the ``log-compaction`` lease in the control-plane database;
6. log retention at start and hourly (if ``log.retention`` is set), by one process per
   store at a time (the ``log-retention`` lease);
7. the request index: remembers answered requests, follows the log into SQL (by one
   process per store at a time: the ``request-index`` lease), so a label finds its
   prediction by key (``predlog/index.py``);
8. alerting (if ``alerts.enabled``): the rules and notifiers declared in
   ``modelport.toml`` are stored first (a malformed one refuses the start, before
   anything else runs); then every ``alerts.interval_s`` the evaluator follows the
   stored notifiers (its delivery threads, one per notifier) and, by one process per
   store at a time (the ``alert-evaluation`` lease), evaluates every rule and hands
   the notifications to the delivery;
9. the ``/metrics`` snapshot of the live monitoring figures and alert state, refreshed
   every monitoring interval (scrapes never query the store);
10. batch jobs (``POST /v1/endpoints/{name}/batch``): none runs at start; on the way
    down each running job finishes its current chunk and stops, resumable, within
    ``batch.stop_timeout_s``;
11. retrain jobs (``POST /v1/endpoints/{name}/retrain``): none runs at start; each
    trains in its own worker process, terminated on the way down;
12. retraining policies: every ``retrain.interval_s``, by one process per store at a
    time (the ``retrain-policies`` lease), each enabled policy is checked against its
    alert, cooldown, labels and attempts, and trains in a worker process
    (``retraining/service.py``); the lease is given up on the way down.

On the way down nothing new starts, the alert evaluator stops and its delivery drains
for a short deadline, the collector bins what arrived since its last tick, the data
plane waits for its background copies, and the recorder writes every queued record
before the database pool closes: a SIGTERM loses nothing.

Later services (a retraining policy) are built in :meth:`Services.build` and started
in :meth:`Services.running`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from modelport.config import Settings
from modelport.errors import NotFound

# Only the names the dataclasses below are annotated with: each plane's module is imported
# where it is built, so a CLI command that needs the control plane alone (``models list``)
# imports neither scipy, river nor pandas, and a server imports what it starts.
if TYPE_CHECKING:
    from modelport.alerts.evaluator import Evaluator
    from modelport.alerts.service import AlertService
    from modelport.monitoring.live.collector import Collector
    from modelport.monitoring.live.exporter import MonitoringExporter
    from modelport.monitoring.live.series import SeriesStore
    from modelport.monitoring.reports.service import MonitoringService
    from modelport.predlog.compaction import CompactionResult
    from modelport.predlog.feedback import FeedbackStore, OutputOf
    from modelport.predlog.index import RequestIndex
    from modelport.predlog.parquet import ParquetPredictionLog
    from modelport.predlog.recorder import Recorder
    from modelport.predlog.retention import LogRetention
    from modelport.registry.aliases import AliasStore
    from modelport.registry.catalog import Catalog
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registry
    from modelport.retraining.jobs import RetrainJobs
    from modelport.retraining.run import Retrainer
    from modelport.retraining.service import PolicyService
    from modelport.rollout.controller import Controller
    from modelport.rollout.service import RolloutService
    from modelport.schema import OutputSpec
    from modelport.scoring.jobs import BatchJobs
    from modelport.scoring.run import BatchScorer
    from modelport.serving.dataplane import DataPlane
    from modelport.store.db import Database
    from modelport.store.locks import StoreLock
    from modelport.telemetry import Telemetry

logger = logging.getLogger(__name__)

COMPACTION_EVERY_S = 3600.0
# The lease one process per store holds while it compacts; renewed as it goes, so a
# holder that dies blocks the others for at most this long.
COMPACTION_LOCK = "log-compaction"
COMPACTION_LEASE_S = 600.0
RETENTION_EVERY_S = 3600.0
# Retention deletes day folders: one process per store at a time, or two servers (or
# worker processes) started together race for the same folders.
RETENTION_LOCK = "log-retention"
RETENTION_LEASE_S = 600.0
# Files the process writes are 0640 at most and folders 0750: never world-readable.
UMASK = 0o027


def restrict_file_modes() -> None:
    """Set the process umask so nothing this process writes is group-writable or
    readable by others (SQLite, Parquet, artifacts, locks)."""
    os.umask(UMASK)


# The request index reads new log segments at most this often, by one process per
# store at a time (the lease holder keeps it by taking it again each round): every
# process reading every segment and inserting the same keys would multiply the work by
# the number of processes for nothing.
INDEX_EVERY_S = 1.0
INDEX_LOCK = "request-index"
INDEX_LEASE_S = 30.0
# How long queued notifications may still go out at shutdown.
DELIVERY_DRAIN_S = 3.0
# How long a retrain's worker process may take to exit once asked to at shutdown.
RETRAIN_STOP_TIMEOUT_S = 5.0


@dataclass
class ControlPlane:
    """The stores every command reads and writes (SQL and artifacts), built in a fraction
    of the full graph's time: a read-only CLI command (``models list``, ``endpoints
    show``) builds only this; :meth:`Services.build` builds it first and the rest on top.
    """

    settings: Settings
    db: Database
    registry: Registry
    endpoints: EndpointStore
    aliases: AliasStore
    catalog: Catalog

    @classmethod
    def build(cls, settings: Settings) -> ControlPlane:
        from modelport.registry.aliases import AliasStore
        from modelport.registry.artifacts import ArtifactStore
        from modelport.registry.catalog import Catalog
        from modelport.registry.endpoints import EndpointStore
        from modelport.registry.service import Registry
        from modelport.store.db import Database

        restrict_file_modes()
        db = Database(settings.database_url)
        registry = Registry(db, ArtifactStore(settings.artifacts_dir))
        endpoints = EndpointStore(db, registry)
        return cls(
            settings=settings,
            db=db,
            registry=registry,
            endpoints=endpoints,
            aliases=AliasStore(endpoints),
            catalog=Catalog(registry),
        )

    def close(self) -> None:
        """Release the database pool."""
        self.db.dispose()


@dataclass
class Services:
    """Every plane object of one process, built once."""

    settings: Settings
    db: Database
    registry: Registry
    endpoints: EndpointStore
    # The registry's aliases (moving one moves the endpoints that follow it), archiving,
    # tags, lineage and model audit trail.
    aliases: AliasStore
    catalog: Catalog
    log: ParquetPredictionLog
    feedback: FeedbackStore
    index: RequestIndex
    telemetry: Telemetry
    recorder: Recorder
    plane: DataPlane
    rollouts: RolloutService
    controller: Controller
    series: SeriesStore
    monitoring: MonitoringService
    # None when live monitoring is switched off (``monitoring.enabled = false``).
    collector: Collector | None
    retention: LogRetention
    alerts: AlertService
    # The live monitoring figures and alert state on /metrics, refreshed in the background.
    exporter: MonitoringExporter
    # Scores files through endpoints (the CLI's ``batch``), logging rows with role batch.
    batch: BatchScorer
    # Batch runs started over HTTP, on worker threads, confined to ``batch.root``.
    batch_jobs: BatchJobs
    # Trains new versions from logged, labelled traffic in this process (the CLI's retrain).
    retrainer: Retrainer
    # Retrains started over HTTP or by policies, each in a worker process.
    retrain_jobs: RetrainJobs
    # Policies that start retrain jobs by themselves when an alert fires.
    retrain_policies: PolicyService
    # Built by ``running()`` while alerting runs (``alerts.enabled``), else None.
    evaluator: Evaluator | None = None

    @classmethod
    def build(cls, settings: Settings, control: ControlPlane | None = None) -> Services:
        """Every plane, on top of ``control`` (built here when not given)."""
        from modelport.alerts.observe import Observer
        from modelport.alerts.service import AlertService
        from modelport.monitoring.live import queries
        from modelport.monitoring.live.collector import Collector
        from modelport.monitoring.live.exporter import MonitoringExporter, roles_from_routing
        from modelport.monitoring.live.series import SeriesStore
        from modelport.monitoring.reports.service import MonitoringService
        from modelport.predlog.feedback import FeedbackStore
        from modelport.predlog.index import RequestIndex
        from modelport.predlog.parquet import ParquetPredictionLog
        from modelport.predlog.privacy import FieldRules
        from modelport.predlog.recorder import Recorder
        from modelport.predlog.retention import LogRetention
        from modelport.retraining.jobs import RetrainJobs
        from modelport.retraining.policy import PolicyStore
        from modelport.retraining.run import Retrainer
        from modelport.retraining.service import PolicyService
        from modelport.rollout.controller import Controller
        from modelport.rollout.metrics import RolloutMetrics
        from modelport.rollout.service import RolloutService
        from modelport.rollout.state import RolloutStore
        from modelport.scoring.jobs import BatchJobs
        from modelport.scoring.run import BatchScorer
        from modelport.serving.dataplane import DataPlane
        from modelport.serving.runtime_info import RuntimeInfo
        from modelport.telemetry import Telemetry

        restrict_file_modes()
        # Before anything is built: a hash rule without its key refuses to start.
        privacy = FieldRules.from_settings(settings.privacy)
        if control is None:
            control = ControlPlane.build(settings)
        db, registry, endpoints = control.db, control.registry, control.endpoints
        log = ParquetPredictionLog(settings.log_dir)
        index = RequestIndex(db, log, recent=settings.monitoring.recent_predictions)
        feedback = FeedbackStore(
            db,
            log,
            index=index,
            output_of=_output_of(registry),
            overwrite=settings.feedback.overwrite,
        )
        workers = settings.server.workers
        # One of several processes on one port: its figures carry its process id.
        telemetry = Telemetry(worker=str(os.getpid()) if workers > 1 else None, workers=workers)
        recorder = Recorder(
            log,
            queue_size=settings.log.queue_size,
            flush_interval_s=settings.log.flush_interval_s,
            max_batch_records=settings.log.max_batch_records,
            on_written=telemetry.log_written.inc,
            on_dropped=telemetry.log_drop,
            on_write_error=telemetry.log_write_error,
        )
        telemetry.track_queue(lambda: recorder.depth)
        plane = DataPlane(
            registry,
            endpoints,
            recorder,
            telemetry,
            settings.serving,
            refresh_s=settings.server.policy_refresh_s,
            privacy=privacy,
        )

        def mirrors_dropped(endpoint: str) -> int:
            status = plane.find(endpoint)
            return 0 if status is None else status.mirrors_dropped

        def policy_problem(endpoint: str) -> tuple[int | None, str | None]:
            status = plane.find(endpoint)
            return (None, None) if status is None else (status.policy_rollout, status.routing_error)

        rollout_store = RolloutStore(db, endpoints)
        rollout_metrics = RolloutMetrics(telemetry.registry, mirrors_dropped)
        controller = Controller(
            rollout_store,
            registry,
            log,
            feedback,
            policy_error=policy_problem,
            on_tick=rollout_metrics.update,
        )
        rollouts = RolloutService(
            registry, endpoints, log, feedback, store=rollout_store, controller=controller
        )
        series = SeriesStore(db)
        monitoring = MonitoringService(
            registry,
            endpoints,
            log,
            feedback,
            invalid_requests=lambda endpoint, since, until: queries.refusals(
                series, endpoint, since, until
            ),
        )
        collector = None
        if settings.monitoring.enabled:

            def primary_of(endpoint: str) -> int | None:
                status = plane.find(endpoint)
                return None if status is None else status.primary.version

            collector = Collector(
                registry,
                feedback,
                series,
                settings.monitoring,
                invalid_counts=telemetry.invalid_counts,
                primary_of=primary_of,
            )
        alerts = AlertService(
            db,
            Observer(
                series=series,
                log=log,
                endpoints=endpoints,
                registry=registry,
                rollouts=rollouts,
                telemetry=telemetry,
                settings=settings,
            ),
            link_base=_link_base(settings),
        )

        def roles_of(endpoint: str) -> dict[int, str] | None:
            status = plane.find(endpoint)
            return None if status is None else roles_from_routing(status.routing)

        exporter = MonitoringExporter(
            series, window=settings.monitoring.window, roles_of=roles_of, alerts=alerts
        )
        telemetry.registry.register(exporter)
        telemetry.registry.register(RuntimeInfo(plane.statuses))
        batch = BatchScorer(
            registry,
            endpoints,
            log,
            privacy=privacy,
            max_string_bytes=settings.serving.max_string_bytes,
        )
        retrain_jobs = RetrainJobs(settings)
        retrain_policies = PolicyService(
            PolicyStore(
                db,
                endpoints,
                trainers=settings.retrain.trainers,
                declared_alerts=settings.alerts.rules,
            ),
            retrain_jobs,
            rollout_store,
            interval_s=settings.retrain.interval_s,
        )
        return cls(
            settings=settings,
            db=db,
            registry=registry,
            endpoints=endpoints,
            aliases=control.aliases,
            catalog=control.catalog,
            log=log,
            feedback=feedback,
            index=index,
            telemetry=telemetry,
            recorder=recorder,
            plane=plane,
            rollouts=rollouts,
            controller=controller,
            series=series,
            monitoring=monitoring,
            collector=collector,
            retention=LogRetention(settings.log_dir, db),
            alerts=alerts,
            exporter=exporter,
            batch=batch,
            batch_jobs=BatchJobs(batch, settings.batch_root),
            retrainer=Retrainer(db, registry, endpoints, log, feedback, rollouts),
            retrain_jobs=retrain_jobs,
            retrain_policies=retrain_policies,
        )

    # -- lifecycle ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Services]:
        """Start every background service (module docstring has the order); stop them in
        reverse on the way out, flushing every queued record."""
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self.db.dispose)
            alerting = self.settings.alerts
            if alerting.enabled:
                # Before anything starts: a malformed declaration refuses the start.
                await asyncio.to_thread(self.alerts.declare, alerting.rules, alerting.notifiers)
            self.recorder.start()
            stack.callback(self._flush_log)
            await self.plane.start()
            stack.push_async_callback(self.plane.stop)
            collector = self.collector
            if collector is not None:
                self.plane.listeners.append(collector.listen)
                stack.push_async_callback(self._stop_collector, collector)
                await stack.enter_async_context(
                    _background(_every(self.settings.monitoring.interval_s, collector.tick))
                )
                await stack.enter_async_context(
                    _background(_every(collector.drain_every_s, collector.drain))
                )
            await stack.enter_async_context(
                _background(self.controller.run(lambda name: self.plane.refresh(only=name)))
            )
            if self.settings.monitoring.compact_log:
                await stack.enter_async_context(
                    _background(_every(COMPACTION_EVERY_S, self.compact_log))
                )
            if self.settings.log.retention:
                await stack.enter_async_context(
                    _background(_every(RETENTION_EVERY_S, self.prune_log, at_start=True))
                )
            await stack.enter_async_context(self._following_index())
            if alerting.enabled:
                await stack.enter_async_context(self._alerting())
            await stack.enter_async_context(
                _background(
                    _every(
                        self.settings.monitoring.interval_s, self.exporter.refresh, at_start=True
                    )
                )
            )
            stack.push_async_callback(
                asyncio.to_thread, self.batch_jobs.stop, self.settings.batch.stop_timeout_s
            )
            stack.push_async_callback(
                asyncio.to_thread, self.retrain_jobs.stop, RETRAIN_STOP_TIMEOUT_S
            )
            stack.push_async_callback(asyncio.to_thread, self.retrain_policies.stop)
            await stack.enter_async_context(
                _background(_every(self.settings.retrain.interval_s, self.retrain_policies.round))
            )
            # Everything loaded so far (libraries, models) lives as long as the process:
            # move it out of the collector's sight, or every full collection walks
            # millions of objects and stalls requests for tens of milliseconds.
            gc.collect()
            gc.freeze()
            # Full collections a tenth as often as CPython's default (every 100 collections
            # of the middle generation, not 10): each still walks every object a request
            # left alive meanwhile, and requests in flight wait for it. At 16 connections
            # this took the p99 of a 20 s run from 48–58 ms to 29–32 ms (three runs each,
            # docs/benchmarks.md). The youngest generations keep their defaults.
            stack.callback(gc.set_threshold, *gc.get_threshold())
            gc.set_threshold(*FULL_COLLECTIONS_RARER)
            logger.info("modelport ready: %d endpoints", len(self.plane.statuses()))
            yield self

    @contextlib.asynccontextmanager
    async def _following_index(self) -> AsyncIterator[None]:
        """Remember answered requests and index the log in the background."""
        index = self.index
        self.plane.listeners.append(index.listen)
        index.following = True
        from modelport.store.locks import StoreLock

        interval = max(self.settings.log.flush_interval_s, INDEX_EVERY_S)
        lock = StoreLock(self.db, INDEX_LOCK, ttl_s=max(INDEX_LEASE_S, 4 * interval))

        def catch_up() -> None:
            if lock.acquire():
                index.catch_up()

        try:
            async with _background(_every(interval, catch_up, at_start=True)):
                yield
        finally:
            index.following = False
            self.plane.listeners.remove(index.listen)
            await asyncio.to_thread(_release, lock)

    @contextlib.asynccontextmanager
    async def _alerting(self) -> AsyncIterator[None]:
        """Evaluate alert rules in the background; on the way out the evaluator stops
        first, then its delivery drains for :data:`DELIVERY_DRAIN_S`."""
        from modelport.alerts.evaluator import Evaluator

        alerting = self.settings.alerts
        evaluator = Evaluator(
            self.alerts,
            self.db,
            interval_s=alerting.interval_s,
            attempts=alerting.attempts,
            backoff_s=alerting.backoff_s,
            on_failure=self.telemetry.alert_notification_failed,
            on_round=self.telemetry.alert_evaluation,
        )
        self.evaluator = evaluator
        try:
            async with _background(_every(alerting.interval_s, evaluator.round, at_start=True)):
                yield
        finally:
            self.evaluator = None
            await asyncio.to_thread(evaluator.stop, DELIVERY_DRAIN_S)

    async def _stop_collector(self, collector: Collector) -> None:
        self.plane.listeners.remove(collector.listen)
        await asyncio.to_thread(collector.tick)  # what arrived since the last tick

    def _flush_log(self) -> None:
        self.recorder.close()
        logger.info(
            "prediction log flushed: %d rows written, %d records dropped",
            self.recorder.written_rows,
            self.recorder.dropped,
        )

    def compact_log(
        self, endpoints: list[str] | None = None, *, before: date | None = None
    ) -> list[CompactionResult] | None:
        """Merge finished days' segments, so reports over them read one file per day.

        ``endpoints`` defaults to every endpoint and ``before`` to today. Only while
        holding the store's compaction lease: None (and nothing done) when another
        process holds it."""
        from modelport.predlog.compaction import CompactionAbandoned, compact_endpoint
        from modelport.store.locks import StoreLock

        lock = StoreLock(self.db, COMPACTION_LOCK, ttl_s=COMPACTION_LEASE_S)
        with lock.held() as mine:
            if not mine:
                logger.info("another process is compacting the prediction log; skipped")
                return None
            keep_going = _renewing(lock)
            results: list[CompactionResult] = []
            for endpoint in self.log.endpoints() if endpoints is None else endpoints:
                try:
                    results += compact_endpoint(
                        self.log.root,
                        endpoint,
                        before=before,
                        memory_mb=self.settings.log.compaction_memory_mb,
                        keep_going=keep_going,
                    )
                except CompactionAbandoned:
                    logger.warning("the log compaction lease was taken over; stopped")
                    break
                except Exception:
                    logger.exception("compacting the log of %s failed; segments stay", endpoint)
            return results

    def prune_log(self) -> None:
        """Delete log days and labels older than ``log.retention`` (while holding the
        store's retention lease; another process holding it is pruning already)."""
        from modelport.store.locks import StoreLock

        lock = StoreLock(self.db, RETENTION_LOCK, ttl_s=RETENTION_LEASE_S)
        with lock.held() as mine:
            if not mine:
                logger.info("another process is pruning the prediction log; skipped")
                return
            result = self.retention.prune(self.settings.log.retention)
        if result.days_removed or result.labels_removed:
            logger.info(
                "log retention %s: removed %d day folders and %d labels",
                self.settings.log.retention,
                len(result.days_removed),
                result.labels_removed,
            )

    def close(self) -> None:
        """Write what is queued and release the database pool (for a CLI command)."""
        self.recorder.close()
        self.db.dispose()


def _link_base(settings: Settings) -> str:
    """Where notification links point: ``alerts.link_base``, else this server."""
    if settings.alerts.link_base:
        return settings.alerts.link_base
    host = settings.server.host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.server.port}"


def _release(lock: StoreLock) -> None:
    """Give a lease up on the way down; one that cannot be released expires by itself."""
    try:
        lock.release()
    except Exception:
        logger.exception("releasing lock %s failed; it expires by itself", lock.name)


def _renewing(lock: StoreLock) -> Callable[[], bool]:
    """``keep_going`` for a long task under ``lock``: renews the lease every quarter of
    its time to live, and says stop once it is no longer ours."""
    renewed = time.monotonic()

    def keep_going() -> bool:
        nonlocal renewed
        if time.monotonic() - renewed < lock.ttl_s / 4:
            return True
        renewed = time.monotonic()
        return lock.renew()

    return keep_going


def _output_of(registry: Registry) -> OutputOf:
    """A version's outputs (classes or regression), read once per version: versions
    never change once registered."""

    @functools.lru_cache(maxsize=4096)
    def output_of(model: str, version: int) -> OutputSpec | None:
        try:
            return registry.get(model, version).output
        except NotFound:
            return None

    return output_of


async def _every(interval_s: float, work: Callable[[], object], *, at_start: bool = False) -> None:
    """Run blocking ``work`` in a thread every ``interval_s`` (and once at once with
    ``at_start``); a failure is logged and the next round tried."""
    first = at_start
    while True:
        if not first:
            await asyncio.sleep(interval_s)
        first = False
        try:
            await asyncio.to_thread(work)
        except Exception:
            logger.exception("background work %s failed; trying again", work)


# gc thresholds while serving: CPython's first two, and 100 instead of 10 for the third.
FULL_COLLECTIONS_RARER = (700, 10, 100)


@contextlib.asynccontextmanager
async def _background(work: Awaitable[None]) -> AsyncIterator[None]:
    """Run ``work`` as a task for the duration of the block; cancel and await it after."""
    task = asyncio.ensure_future(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
