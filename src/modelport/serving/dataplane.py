"""The data plane: endpoints' runners, their traffic policies, and the path of one request.

decode (caller) -> policy.assign -> runner.predict -> recorder.record (non-blocking)
                                 +-> mirrors in the background (bounded, never awaited)
                                 +-> listeners (O(1) each: the monitoring collector)

Each endpoint's stored policy JSON is read as a typed spec
(:func:`~modelport.serving.policies.policy_from_dict`) and built into a policy here;
adapters see an endpoint only through :meth:`DataPlane.status`.

Endpoints are (re)loaded from the control plane at start and whenever their revision
changes, so policy changes made by any process take effect without a restart. A model
that fails to load makes its endpoint not-ready; every other endpoint keeps serving.
An endpoint that follows an alias keeps the versions it may be switched to loaded
(``serving/warm.py``), so an alias move is served as soon as its revision is seen.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelport.batch import Batch, Prediction
from modelport.config import ServingSettings
from modelport.errors import (
    EndpointNotFound,
    ModelportError,
    NotReady,
    PipelineStepEndpoint,
    StepFailed,
)
from modelport.pipelines.serve import final_prediction, run_pipeline
from modelport.pipelines.spec import PipelineSpec, Wiring, parse_pipeline, step_endpoint, wire
from modelport.predlog.privacy import FieldRules, PrivateBatch
from modelport.predlog.recorder import Recorder
from modelport.predlog.records import PredictionRecord
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.schema import InputSchema
from modelport.serving.policies import (
    PrimaryOnly,
    RequestContext,
    Route,
    TrafficPolicy,
    build_policy,
    policy_from_dict,
)
from modelport.serving.runner import Runner, RunnerKind
from modelport.serving.warm import carry_warm, keep_warm
from modelport.telemetry import Telemetry
from modelport.vocabulary import MIRROR_ROLES, PredictionEvent, Role

logger = logging.getLogger(__name__)

MAX_MIRRORS_IN_FLIGHT = 256
# From this many copies in flight on, each new copy is dropped with a probability rising
# linearly to 1 at MAX_MIRRORS_IN_FLIGHT (random early detection, Floyd & Jacobson 1993):
# which copies are dropped depends on a coin, not on the request or its role, so the
# copies kept are a uniformly random subset and comparisons on them stay unbiased.
MIRRORS_DROP_FROM = MAX_MIRRORS_IN_FLIGHT // 2
# Shadow copies wait up to this long for company before their model call, so that under
# light load many one-row calls become one batched call (a shadow's CPU cost is mostly
# per call); they are off the request path, so no caller waits for it.
MIRROR_BATCH_WAIT_MS = 20.0
Listener = Callable[[PredictionEvent], None]


@dataclass
class EndpointRuntime:
    endpoint: Endpoint
    primary: ModelVersion
    policy: TrafficPolicy | None = None
    error: str | None = None
    # Set when the endpoint's policy (e.g. a rollout candidate) could not be built and
    # the primary serves alone.
    policy_error: str | None = None
    runners: dict[tuple[int, RunnerKind], Runner] = field(default_factory=dict)
    # Loaded primaries of versions not served now that the endpoint may switch to at
    # once (``serving/warm.py``); the primary it served before this one.
    warm: dict[tuple[int, RunnerKind], Runner] = field(default_factory=dict)
    previous_primary: int | None = None
    # Versions that failed to load warm; not retried until the endpoint changes.
    warm_failed: set[int] = field(default_factory=set)
    mirrors_in_flight: int = 0
    mirrors_dropped: int = 0
    # A pipeline endpoint's steps (each served by its own endpoint), and its wiring per
    # tuple of the steps' primary versions (a step's promotion re-checks it once).
    pipeline: PipelineSpec | None = None
    wirings: dict[tuple[int, ...], Wiring] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        if self.pipeline is not None:
            return self.error is None
        return self.policy is not None and self.error is None

    @property
    def schema(self) -> InputSchema:
        return self.primary.input_schema

    def status(self) -> EndpointStatus:
        return EndpointStatus(
            name=self.endpoint.name,
            ready=self.ready,
            error=self.error,
            primary=self.primary,
            routing=self.policy.describe() if self.policy is not None else None,
            routing_error=self.policy_error or self.error,
            policy_rollout=_rollout_of(self.endpoint.policy),
            served_versions=tuple(sorted({version for version, _ in self.runners})),
            mirrors_in_flight=self.mirrors_in_flight,
            mirrors_dropped=self.mirrors_dropped,
            runtimes={v: getattr(r.predictor, "runtime", "") for (v, _), r in self.runners.items()},
        )


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """What adapters may know about a served endpoint."""

    name: str
    ready: bool
    # Why the endpoint is not ready (its primary could not load).
    error: str | None
    primary: ModelVersion
    # The policy routing its requests (``describe()``), None while not ready.
    routing: dict[str, Any] | None
    # Why the stored policy could not be served (the primary then serves alone).
    routing_error: str | None
    # The rollout the stored policy names, if any.
    policy_rollout: int | None
    served_versions: tuple[int, ...]
    mirrors_in_flight: int
    mirrors_dropped: int
    # What answers for each served version: sklearn, onnx (a converted scikit-learn model
    # or an ONNX one) or python.
    runtimes: Mapping[int, str] = field(default_factory=dict)

    @property
    def schema(self) -> InputSchema:
        return self.primary.input_schema


def _rollout_of(policy: Mapping[str, Any]) -> int | None:
    rollout = policy.get("rollout")
    return rollout if isinstance(rollout, int) and not isinstance(rollout, bool) else None


class _RequestIds:
    """Request ids cut from a pool of the OS's cryptographic randomness.

    One ``os.urandom`` call per request was a system call on the request path; taking
    256 ids' worth at a time costs one call per 256 requests and keeps every bit from the
    same source. Bytes handed out are dropped from the pool, so no id repeats. The lock
    makes ids taken from several threads (batch jobs, the event loop) distinct.
    """

    IDS_PER_REFILL = 256

    def __init__(self) -> None:
        self._pool = b""
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._next >= len(self._pool):
                self._pool = secrets.token_bytes(16 * self.IDS_PER_REFILL)
                self._next = 0
            pool, start = self._pool, self._next
            self._next = start + 16
        return pool[start : start + 16].hex()


_request_ids = _RequestIds()


def new_request_id() -> str:
    """32 hex digits, all 128 bits from the OS's cryptographic source: a request id is
    what a label names, so nobody may guess another caller's (a prefix and a counter
    would let anyone relabel every neighbour's predictions)."""
    return _request_ids()


class DataPlane:
    def __init__(
        self,
        registry: Registry,
        endpoints: EndpointStore,
        recorder: Recorder,
        telemetry: Telemetry,
        settings: ServingSettings | None = None,
        refresh_s: float = 0.25,
        privacy: FieldRules | None = None,
    ) -> None:
        self.registry = registry
        # Applied to every request before anything of it is logged or handed to listeners.
        self.privacy = privacy
        self.endpoints = endpoints
        self.recorder = recorder
        self.telemetry = telemetry
        self.settings = settings or ServingSettings()
        self.refresh_s = refresh_s
        self.runtimes: dict[str, EndpointRuntime] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # Run after each answered request, in the request's task: each must be O(1) and
        # hand real work to the background (the monitoring collector queues the event).
        self.listeners: list[Listener] = []
        # The coin that decides which background copies to drop when behind.
        self.mirror_coin = random.Random()
        # One refresh at a time: a poll that read the endpoints before a change must not
        # put back, after it, what the change's own refresh has just removed or replaced.
        self._refreshing = asyncio.Lock()
        # Names asked for but not served here, and when the control plane was last asked
        # about each (see ``load_missing``).
        self._missing: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            try:
                await self._refresher
            except asyncio.CancelledError:
                pass
        if self._background:
            await asyncio.wait(self._background, timeout=10)
        for runtime in self.runtimes.values():
            for runner in (*runtime.runners.values(), *runtime.warm.values()):
                runner.close()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:
                logger.exception("refreshing endpoints failed; keeping the current ones")
            try:
                await keep_warm(self)
            except Exception:
                logger.exception("loading alias versions ahead failed; they load when served")

    async def refresh(self, only: str | None = None) -> None:
        """Reload endpoints whose revision changed (or ``only`` that one)."""
        async with self._refreshing:
            await self._refresh(only)

    async def _refresh(self, only: str | None) -> None:
        revisions = await asyncio.to_thread(self.endpoints.revisions)
        for name in list(self.runtimes):
            if name not in revisions:
                removed = self.runtimes.pop(name)
                self.telemetry.endpoint_ready.labels(name).set(0)
                for runner in (*removed.runners.values(), *removed.warm.values()):
                    runner.close()
        for name, revision in revisions.items():
            if only is not None and name != only:
                continue
            current = self.runtimes.get(name)
            if current is not None and current.endpoint.revision == revision and current.ready:
                continue
            if current is not None and current.endpoint.revision == revision and current.error:
                continue  # a broken version stays broken until the endpoint changes
            try:
                runtime = await asyncio.to_thread(self._build, name, current)
            except EndpointNotFound:
                continue  # deleted (by another process) since the revisions were read
            if current is not None:
                carry_warm(current, runtime)
            self.runtimes[name] = runtime
            self.telemetry.endpoint_ready.labels(name).set(1 if runtime.ready else 0)
            if runtime.error:
                logger.error("endpoint %s is not ready: %s", name, runtime.error)
            else:
                logger.info(
                    "endpoint %s serving %s", name, runtime.policy and runtime.policy.describe()
                )

    async def load_missing(self, name: str) -> None:
        """Load ``name`` now if the control plane has it and this process does not serve it
        yet: an endpoint created through another process (another worker behind the same
        port) answers its first request here instead of a 404 until the next poll. An
        unknown name asks the database at most once per ``refresh_s``, however often it
        is requested."""
        if name in self.runtimes:
            return
        now = time.monotonic()
        if now - self._missing.get(name, -math.inf) < self.refresh_s:
            return
        if len(self._missing) >= 10_000:
            self._missing.clear()
        self._missing[name] = now
        await self.refresh(only=name)

    def _build(self, name: str, previous: EndpointRuntime | None) -> EndpointRuntime:
        endpoint = self.endpoints.get(name)
        if endpoint.pipeline is not None:
            return self._build_pipeline(endpoint)
        try:
            primary_version = self.registry.get(endpoint.model, endpoint.primary_version)
        except ModelportError as exc:
            return EndpointRuntime(endpoint, _placeholder(endpoint), error=exc.message)
        runtime = EndpointRuntime(endpoint, primary_version)
        reusable = previous.runners if previous is not None else {}
        # Read, never iterated, here: the event loop may add to it meanwhile.
        warm = previous.warm if previous is not None else {}

        def load(version: int, role: Role) -> Runner:
            threaded = role != Role.PRIMARY
            mirror = role in MIRROR_ROLES
            kind = "mirror" if mirror else "threaded" if threaded else "any"
            key = (version, kind)
            runner = runtime.runners.get(key) or reusable.get(key) or warm.get(key)
            if runner is not None and key not in runtime.runners:
                # Loaded before its fast path was switched: load it on the new runtime.
                runner = None if self.registry.runtime_changed(runner.version) else runner
            if runner is None:
                runner = self.load_runner(endpoint, version, kind)
            runtime.runners[key] = runner
            return runner

        try:
            primary = load(endpoint.primary_version, Role.PRIMARY)
        except Exception as exc:
            runtime.error = _describe(exc)
            return runtime
        try:
            runtime.policy = build_policy(policy_from_dict(endpoint.policy), primary, load)
        except Exception as exc:
            # A candidate that cannot load must not take the primary down with it: serve
            # the primary alone and say why (the rollout controller aborts on this).
            runtime.policy = PrimaryOnly(primary)
            runtime.policy_error = _describe(exc)
            logger.error("endpoint %s: policy %s failed: %s", name, endpoint.policy, exc)
        return runtime

    def _build_pipeline(self, endpoint: Endpoint) -> EndpointRuntime:
        """A pipeline holds no runner: its steps are endpoints of their own."""
        assert endpoint.pipeline is not None
        runtime = EndpointRuntime(endpoint, _placeholder(endpoint))
        try:
            runtime.pipeline = parse_pipeline(endpoint.pipeline)
        except ModelportError as exc:
            runtime.error = f"the stored pipeline is not valid: {exc.message}"
        return runtime

    def _wiring(self, runtime: EndpointRuntime) -> tuple[Wiring, list[ModelVersion]]:
        """The pipeline wired to the versions its steps serve now; NotReady (naming the
        step) while a step is not served or not ready here."""
        spec = runtime.pipeline
        assert spec is not None
        name = runtime.endpoint.name
        primaries = []
        for step in spec.steps:
            served = self.runtimes.get(step_endpoint(name, step.name))
            if served is None or not served.ready:
                why = "is not served here" if served is None else f"is not ready: {served.error}"
                raise NotReady(
                    f"pipeline {name!r}: step {step.name!r} {why}", field="step", step=step.name
                )
            primaries.append(served.primary)
        key = tuple(version.version for version in primaries)
        wiring = runtime.wirings.get(key)
        if wiring is None:
            try:
                wiring = wire(spec, primaries)
            except ModelportError as exc:
                raise NotReady(
                    f"pipeline {name!r} does not fit its steps' versions: {exc.message}",
                    field="pipeline",
                ) from None
            runtime.wirings = {key: wiring}
        return wiring, primaries

    def _pipeline_status(self, runtime: EndpointRuntime) -> EndpointStatus:
        """A pipeline as adapters see it: the request it takes, the final step's outputs."""
        try:
            wiring, primaries = self._wiring(runtime)
        except ModelportError as exc:
            return EndpointStatus(
                name=runtime.endpoint.name, ready=False, error=runtime.error or exc.message,
                primary=runtime.primary, routing=None, routing_error=exc.message,
                policy_rollout=None, served_versions=(), mirrors_in_flight=0, mirrors_dropped=0,
            )  # fmt: skip
        final = primaries[-1]
        version = ModelVersion(
            name=runtime.endpoint.name,
            version=final.version,
            flavor="pipeline",
            artifact_path="",
            artifact_sha256="",
            input_schema=wiring.request,
            output=final.output,
            created_at=final.created_at,
        )
        routing = {
            "pipeline": [
                {"step": step.name, "endpoint": step_endpoint(runtime.endpoint.name, step.name),
                 "model": primary.ref}
                for step, primary in zip(wiring.spec.steps, primaries, strict=True)
            ]
        }  # fmt: skip
        return EndpointStatus(
            name=runtime.endpoint.name, ready=runtime.ready, error=runtime.error,
            primary=version, routing=routing, routing_error=None, policy_rollout=None,
            served_versions=(final.version,), mirrors_in_flight=0, mirrors_dropped=0,
        )  # fmt: skip

    def load_runner(
        self, endpoint: Endpoint, version: int, kind: RunnerKind, *, servable: bool = False
    ) -> Runner:
        """Load and warm up ``version`` of the endpoint's model as a runner of ``kind``
        (blocking: call it in a worker thread)."""
        mirror = kind == "mirror"
        model_version = self.registry.get(endpoint.model, version, servable=servable)
        runner = Runner(
            model_version,
            self.registry.load(model_version),
            endpoint=endpoint.name,
            telemetry=self.telemetry,
            max_batch_size=self.settings.max_batch_size,
            max_batch_wait_ms=max(
                self.settings.max_batch_wait_ms, MIRROR_BATCH_WAIT_MS if mirror else 0.0
            ),
            threaded=True if kind != "any" else None,
        )
        runner.warm_up()
        return runner

    # -- what adapters may read -----------------------------------------------------------
    def status(self, name: str) -> EndpointStatus:
        """The served state of ``name``; EndpointNotFound if this server does not serve it."""
        return self._status(self._runtime(name))

    def find(self, name: str) -> EndpointStatus | None:
        runtime = self.runtimes.get(name)
        return None if runtime is None else self._status(runtime)

    def statuses(self) -> list[EndpointStatus]:
        return [self._status(runtime) for runtime in list(self.runtimes.values())]

    def _status(self, runtime: EndpointRuntime) -> EndpointStatus:
        if runtime.pipeline is not None:
            return self._pipeline_status(runtime)
        return runtime.status()

    def schema_of(self, name: str) -> InputSchema:
        """What a request to ``name`` must hold; 409 for a pipeline step's own endpoint."""
        runtime = self._runtime(name)
        self._refuse_step(runtime)
        if runtime.pipeline is not None:
            return self._wiring(runtime)[0].request
        return runtime.schema

    def serves(self, name: str, version: int) -> bool:
        """Whether ``version`` of the model behind ``name`` is loaded here (in any role)."""
        runtime = self._runtime(name)
        return version == runtime.endpoint.primary_version or any(
            loaded == version for loaded, _ in runtime.runners
        )

    @property
    def ready(self) -> bool:
        return all(status.ready for status in self.statuses())

    # -- requests -----------------------------------------------------------------------
    def _runtime(self, name: str) -> EndpointRuntime:
        runtime = self.runtimes.get(name)
        if runtime is None:
            raise EndpointNotFound(f"endpoint {name!r} does not exist", field="endpoint")
        return runtime

    async def predict(
        self,
        name: str,
        batch: Batch,
        *,
        request_id: str,
        started: float,
        headers: Mapping[str, str] | None = None,
    ) -> PredictionEvent:
        runtime = self._runtime(name)
        self._refuse_step(runtime)
        if runtime.pipeline is not None:
            return await self._predict_pipeline(
                runtime, batch, request_id=request_id, started=started, headers=headers or {}
            )
        return await self._predict(runtime, batch, request_id, started, headers or {})

    @staticmethod
    def _refuse_step(runtime: EndpointRuntime) -> None:
        pipeline = runtime.endpoint.part_of
        if pipeline is not None:
            raise PipelineStepEndpoint(
                f"endpoint {runtime.endpoint.name!r} serves a step of pipeline {pipeline!r}; "
                f"send requests to {pipeline!r}",
                field="endpoint",
            )

    async def _predict_pipeline(
        self,
        runtime: EndpointRuntime,
        batch: Batch,
        *,
        request_id: str,
        started: float,
        headers: Mapping[str, str],
    ) -> PredictionEvent:
        name = runtime.endpoint.name
        wiring, primaries = self._wiring(runtime)

        async def call(
            endpoint: str, step_batch: Batch, rows: Any, step_started: float
        ) -> PredictionEvent:
            step = self._runtime(endpoint)
            return await self._predict(step, step_batch, request_id, step_started, headers, rows)

        try:
            results = await run_pipeline(name, wiring, batch, primaries, call)
        except StepFailed as exc:
            exc.details["request_id"] = request_id
            self.telemetry.pipeline_failed(name, str(exc.details.get("step")))
            logger.warning("request %s on pipeline %s: %s", request_id, name, exc.message)
            raise
        latency = (time.perf_counter() - started) * 1000.0
        self.telemetry.pipeline_answered(
            name,
            latency / 1000.0,
            [
                (r.name, r.latency_ms / 1000.0, r.rows_run, batch.n_rows - r.rows_run)
                for r in results
            ],
        )
        final = results[-1]
        return PredictionEvent(
            request_id=request_id,
            endpoint=name,
            version=final.version,
            role=Role(final.role),
            batch=batch,
            prediction=final_prediction(results),
            latency_ms=latency,
            arrived=time.time() - (time.perf_counter() - started),
            headers=headers,
            steps=results,
        )

    async def _predict(
        self,
        runtime: EndpointRuntime,
        batch: Batch,
        request_id: str,
        started: float,
        headers: Mapping[str, str],
        rows: Any = None,
    ) -> PredictionEvent:
        name = runtime.endpoint.name
        if runtime.policy is None:
            raise NotReady(f"endpoint {name!r} is not ready: {runtime.error}", field="endpoint")
        context = RequestContext(request_id, batch, headers)
        assignment = runtime.policy.assign(context)
        route = assignment.answer
        arrived = time.time() - (time.perf_counter() - started)
        private = self._private(runtime, batch)
        try:
            prediction = await route.runner.predict(batch)
        except ModelportError as exc:
            latency = (time.perf_counter() - started) * 1000.0
            self._record(route, name, request_id, arrived, latency, private, None, exc, rows)
            self.telemetry.error(name, route.runner.version.version, route.role, exc.code)
            reason = exc.code if private.protected else exc.message
            logger.warning("request %s on %s failed: %s", request_id, name, reason)
            raise
        latency = (time.perf_counter() - started) * 1000.0
        self._record(route, name, request_id, arrived, latency, private, prediction, None, rows)
        self.telemetry.observe(
            name, route.runner.version.version, route.role, latency / 1000.0, batch.n_rows
        )
        event = PredictionEvent(
            request_id=request_id,
            endpoint=name,
            version=route.runner.version,
            role=route.role,
            batch=private.monitored,
            prediction=prediction,
            latency_ms=latency,
            arrived=arrived,
            headers=headers,
            row_index=rows,
        )
        for mirror in assignment.mirrors:
            self._mirror(runtime, mirror, batch, private, request_id, arrived, rows)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("a request listener failed; the response is unaffected")
        return event

    def _record(
        self,
        route: Route,
        endpoint: str,
        request_id: str,
        arrived: float,
        latency_ms: float,
        private: PrivateBatch,
        prediction: Prediction | None,
        error: ModelportError | None,
        rows: Any = None,
    ) -> None:
        version = route.runner.version
        # A model's error message may quote the values it choked on.
        error_text = None
        if error is not None:
            error_text = error.code if private.protected else f"{error.code}: {error.message}"

        self.recorder.record(
            PredictionRecord(
                request_id=request_id,
                endpoint=endpoint,
                model=version.name,
                version=version.version,
                role=route.role,
                ts=arrived,
                latency_ms=latency_ms,
                features=private.logged,
                prediction=prediction,
                classes=version.output.classes,
                kind=version.output.kind,
                status="ok" if error is None else "error",
                error=None if error_text is None else error_text[:500],
                rows=rows,
            )
        )

    def _private(self, runtime: EndpointRuntime, batch: Batch) -> PrivateBatch:
        if self.privacy is None:
            return PrivateBatch(batch, batch)
        return self.privacy.apply(runtime.endpoint.name, runtime.endpoint.model, batch)

    def _mirror(
        self,
        runtime: EndpointRuntime,
        route: Route,
        batch: Batch,
        private: PrivateBatch,
        request_id: str,
        arrived: float,
        rows: Any = None,
    ) -> None:
        """Run a copy in the background; when behind, drop (and count) copies at random."""
        if not keep_mirror(runtime.mirrors_in_flight, self.mirror_coin.random()):
            runtime.mirrors_dropped += 1
            self.telemetry.error(
                runtime.endpoint.name, route.runner.version.version, route.role, "mirror_dropped"
            )
            return
        runtime.mirrors_in_flight += 1

        async def run() -> None:
            started = time.perf_counter()
            try:
                prediction = await route.runner.predict(batch)
            except ModelportError as exc:
                latency = (time.perf_counter() - started) * 1000.0
                self._record(
                    route,
                    runtime.endpoint.name,
                    request_id,
                    arrived,
                    latency,
                    private,
                    None,
                    exc,
                    rows,
                )
                self.telemetry.error(
                    runtime.endpoint.name, route.runner.version.version, route.role, exc.code
                )
            else:
                latency = (time.perf_counter() - started) * 1000.0
                self._record(
                    route,
                    runtime.endpoint.name,
                    request_id,
                    arrived,
                    latency,
                    private,
                    prediction,
                    None,
                    rows,
                )
                self.telemetry.observe(
                    runtime.endpoint.name,
                    route.runner.version.version,
                    route.role,
                    latency / 1000.0,
                    batch.n_rows,
                )
            finally:
                runtime.mirrors_in_flight -= 1

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _describe(exc: Exception) -> str:
    message = exc.message if isinstance(exc, ModelportError) else str(exc)
    return f"{type(exc).__name__}: {message}"


def _placeholder(endpoint: Endpoint) -> ModelVersion:
    """Stand-in version for an endpoint whose model cannot be found (so it can say why)."""
    from datetime import UTC, datetime

    from modelport.schema import OutputSpec

    return ModelVersion(
        name=endpoint.model,
        version=endpoint.primary_version,
        flavor="missing",
        artifact_path="",
        artifact_sha256="",
        input_schema=InputSchema(features=[]),
        output=OutputSpec(kind="regression"),
        created_at=datetime.now(UTC),
    )


def keep_mirror(in_flight: int, draw: float) -> bool:
    """Whether a new background copy runs, given the copies in flight and a uniform
    ``draw`` in [0, 1): always below MIRRORS_DROP_FROM, never at MAX_MIRRORS_IN_FLIGHT,
    with a probability falling linearly in between.

    >>> keep_mirror(0, 0.99), keep_mirror(MAX_MIRRORS_IN_FLIGHT, 0.0)
    (True, False)
    >>> keep_mirror(192, 0.49), keep_mirror(192, 0.51)  # half-way: a fair coin
    (True, False)
    """
    if in_flight < MIRRORS_DROP_FROM:
        return True
    room = MAX_MIRRORS_IN_FLIGHT - MIRRORS_DROP_FROM
    return draw < (MAX_MIRRORS_IN_FLIGHT - in_flight) / room
