"""A batch run: score a file through an endpoint's version in chunks, exactly once.

:meth:`BatchScorer.prepare` does everything that can refuse a run before any row is
scored: the endpoint and version exist, the paths have a known format, the input's
columns match the version's schema (one message naming every problem), and an earlier
run of the same output is either finished or resumed on purpose with the same input.
:meth:`BatchScorer.run` then scores chunk after chunk.

One chunk is committed in this order::

    decode (the data plane's validation) -> model -> output part + rejects part
    -> prediction log segment (role ``batch``) -> checkpoint (chunks_done + 1)

The log segment is the commit point. Its name is derived from the job and the chunk
(``batch-<job>-<chunk>``), and the log replaces a segment written again under the same
name, so a chunk redone after a crash never logs a row twice: a resumed run first asks
whether the segment of the chunk after the last checkpoint exists (the crash came
between the log write and the checkpoint) and counts that chunk done, else it scores
the chunk again, replacing its parts. Rows are logged in bulk, one record per chunk,
whose request id is ``<job>-<chunk>`` and row the position among the chunk's scored
rows; the endpoint's privacy rules apply to what is logged, as on the request path.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modelport.batch import Batch, Prediction
from modelport.errors import Conflict, ModelportError, PredictionFailed, ValidationFailed
from modelport.names import inside
from modelport.predlog.compaction import COMPACTED_MARK, replaced_segments
from modelport.predlog.files import make_folder
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.privacy import FieldRules
from modelport.predlog.records import PredictionRecord
from modelport.registry.endpoints import EndpointStore
from modelport.registry.flavors import Predictor
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.schema import InputSchema
from modelport.scoring.decode import decode_chunk
from modelport.scoring.manifest import Manifest, RunState, manifest_path, now_text, parts_folder
from modelport.scoring.output import Parts, check_output_path, rejects_table, scored_table
from modelport.scoring.source import Source, open_source
from modelport.vocabulary import Role

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 50_000
MAX_CHUNK = 1_000_000
REJECTS_SUFFIX = ".rejects.parquet"

Progress = Callable[[Manifest], None]
# Chunks scored and waiting for the writer thread (bounds memory to a few chunks).
PENDING_COMMITS = 2


@dataclass(frozen=True)
class Commit:
    """A scored chunk, ready to be written (``write``) and counted in the checkpoint."""

    number: int
    rows: int
    scored: int
    rejected: int
    write: Callable[[], None]


@dataclass(frozen=True)
class BatchRequest:
    endpoint: str
    input: Path
    output: Path
    chunk: int | None = None  # None: DEFAULT_CHUNK, or the interrupted run's
    version: int | None = None  # None: the endpoint's primary (or the interrupted run's)
    resume: bool = False
    rejects: Path | None = None  # None: <output>.rejects.parquet
    id_column: str | None = None  # None: the first of id, request_id the input has


@dataclass
class PreparedRun:
    manifest: Manifest
    source: Source
    version: ModelVersion
    predictor: Predictor
    # True when the checkpoint says the run already finished: nothing is scored again.
    finished: bool = False


def default_rejects(output: Path) -> Path:
    return output.with_name(output.name + REJECTS_SUFFIX)


def segment_name(job: str, chunk: int) -> str:
    return f"batch-{job}-{chunk:06d}"


class BatchScorer:
    def __init__(
        self,
        registry: Registry,
        endpoints: EndpointStore,
        log: ParquetPredictionLog,
        *,
        privacy: FieldRules | None = None,
        max_string_bytes: int = 4096,
    ) -> None:
        self.registry = registry
        self.endpoints = endpoints
        self.log = log
        self.privacy = privacy
        self.max_string_bytes = max_string_bytes

    # -- before any row is scored -----------------------------------------------------
    def prepare(self, request: BatchRequest) -> PreparedRun:
        chunk = request.chunk
        if chunk is not None and not 1 <= chunk <= MAX_CHUNK:
            raise ValidationFailed(f"chunk must be from 1 to {MAX_CHUNK} rows", field="chunk")
        endpoint = self.endpoints.get(request.endpoint)
        output = request.output
        rejects = request.rejects or default_rejects(output)
        check_output_path(output, "output")
        check_output_path(rejects, "rejects")
        if output.resolve() == rejects.resolve():
            raise ValidationFailed("rejects must be another file than output", field="rejects")
        if request.input.resolve() in (output.resolve(), rejects.resolve()):
            raise ValidationFailed("output must not overwrite the input", field="output")
        previous = self._previous(output, request.resume)
        if previous is not None and previous.state != RunState.DONE:
            self._same_run(previous, request, endpoint.name, rejects)
            version = self.registry.get(previous.model, previous.version)
            source = open_source(request.input, version.input_schema, id_column=previous.id_column)
            if source.fingerprint() != previous.fingerprint:
                raise Conflict(
                    f"the input changed since run {previous.job} started (files, sizes or "
                    "modification times differ); it cannot be resumed: delete "
                    f"{previous.path} to score the input afresh",
                    field="input",
                )
            manifest = replace(
                previous, state=RunState.RUNNING, error=None, resumed=previous.resumed + 1
            )
            return PreparedRun(manifest, source, version, self.registry.load(version))
        if previous is not None and request.resume:
            # Finished already: --resume again does nothing.
            version = self.registry.get(previous.model, previous.version)
            source = open_source(request.input, version.input_schema, id_column=previous.id_column)
            return PreparedRun(previous, source, version, self.registry.load(version), True)
        version = self.registry.get(endpoint.model, request.version or endpoint.primary_version)
        source = open_source(request.input, version.input_schema, id_column=request.id_column)
        if source.rows == 0:
            raise ValidationFailed(f"input {request.input} holds no rows", field="input")
        manifest = Manifest(
            job=secrets.token_hex(16),
            endpoint=endpoint.name,
            model=version.name,
            version=version.version,
            input=str(request.input),
            fingerprint=source.fingerprint(),
            chunk=chunk or DEFAULT_CHUNK,
            output=str(output),
            rejects=str(rejects),
            id_column=source.id_column,
            rows_total=source.rows,
            rows_exact=source.exact_rows,
        )
        return PreparedRun(manifest, source, version, self.registry.load(version))

    @staticmethod
    def _previous(output: Path, resume: bool) -> Manifest | None:
        path = manifest_path(output)
        if not path.exists():
            return None
        previous = Manifest.load(path)
        if previous.state != RunState.DONE and not resume:
            raise Conflict(
                f"run {previous.job} of this output stopped after {previous.rows_read} of "
                f"about {previous.rows_total} rows; pass resume (--resume) to finish it, or "
                f"delete {path} to start over (its rows already logged would be logged again)",
                field="resume",
            )
        return previous

    @staticmethod
    def _same_run(previous: Manifest, request: BatchRequest, endpoint: str, rejects: Path) -> None:
        differences: list[tuple[str, object, object]] = []
        if previous.endpoint != endpoint:
            differences.append(("endpoint", previous.endpoint, endpoint))
        if request.version is not None and request.version != previous.version:
            differences.append(("version", previous.version, request.version))
        if request.chunk is not None and request.chunk != previous.chunk:
            differences.append(("chunk", previous.chunk, request.chunk))
        if Path(previous.rejects).resolve() != rejects.resolve():
            differences.append(("rejects", previous.rejects, str(rejects)))
        if request.id_column is not None and request.id_column != previous.id_column:
            differences.append(("id_column", previous.id_column, request.id_column))
        if differences:
            name, before, now = differences[0]
            raise Conflict(
                f"run {previous.job} used {name} {before}, not {now}; a resumed run keeps "
                "its settings",
                field=name,
            )

    # -- scoring ----------------------------------------------------------------------
    def run(
        self,
        prepared: PreparedRun,
        *,
        on_progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Manifest:
        """Score every chunk not yet committed, then write the output files.

        Stops between chunks when ``should_stop()`` says so (state ``interrupted``). A
        failure is recorded in the checkpoint (state ``failed``, resumable) and raised."""
        manifest = prepared.manifest
        if prepared.finished:
            return manifest
        make_folder(Path(manifest.output).parent)
        make_folder(Path(manifest.rejects).parent)
        manifest.save()
        parts = Parts(parts_folder(Path(manifest.output)))
        try:
            stopped = self._chunks(prepared, parts, on_progress, should_stop)
            if stopped:
                manifest.state = RunState.INTERRUPTED
                manifest.save()
                return manifest
            rejects = Path(manifest.rejects)
            if not parts.finish(manifest.chunks_done, Path(manifest.output), rejects):
                # No row refused: no rejects file (not even one from an earlier run).
                rejects.unlink(missing_ok=True)
            manifest.rows_total, manifest.rows_exact = manifest.rows_read, True
            manifest.state = RunState.DONE
            manifest.finished_at = now_text()
            manifest.save()
            parts.remove()
        except Exception as exc:
            manifest.state = RunState.FAILED
            manifest.error = exc.message if isinstance(exc, ModelportError) else repr(exc)
            manifest.save()
            raise
        if on_progress is not None:
            on_progress(manifest)
        return manifest

    def _chunks(
        self,
        prepared: PreparedRun,
        parts: Parts,
        on_progress: Progress | None,
        should_stop: Callable[[], bool] | None,
    ) -> bool:
        """Score chunks on this thread and commit them, in order, on one writer thread,
        so encoding and disk waits of chunk k overlap the scoring of chunk k + 1."""
        manifest = prepared.manifest
        size = manifest.chunk
        text = prepared.source.files[0].kind == "csv"
        first_chunk = manifest.chunks_done
        # Chunks logged after the last checkpoint (a crash between the log write and the
        # checkpoint, or checkpoints lost with the page cache): committed, not redone.
        logged = self._logged_chunks(manifest.endpoint, manifest.job, first_chunk)
        pending: deque[Future[None]] = deque()
        stopped = False
        with ThreadPoolExecutor(1, thread_name_prefix="modelport-batch-writer") as writer:
            try:
                for number, table in enumerate(
                    prepared.source.chunks(size, start_row=first_chunk * size),
                    start=first_chunk,
                ):
                    if should_stop is not None and should_stop():
                        stopped = True
                        break
                    if number in logged:
                        commit = self._recount(parts, number, table.num_rows)
                    else:
                        commit = self._score(prepared, parts, number, table, text)
                    while len(pending) >= PENDING_COMMITS:
                        pending.popleft().result()
                    pending.append(writer.submit(self._commit, manifest, commit, on_progress))
            finally:
                # Chunks scored before a failure are still committed (or fail themselves).
                while pending:
                    pending.popleft().result()
        return stopped

    @staticmethod
    def _recount(parts: Parts, number: int, rows: int) -> Commit:
        scored, rejected = parts.counts(number)
        return Commit(number, rows, scored, rejected, lambda: None)

    @staticmethod
    def _commit(manifest: Manifest, commit: Commit, on_progress: Progress | None) -> None:
        if manifest.chunks_done != commit.number:
            # An earlier chunk's commit failed: a later one must not move the checkpoint
            # past it (its rows would be missing after a resume).
            raise RuntimeError(
                f"chunk {commit.number} not committed: chunk {manifest.chunks_done} failed"
            )
        commit.write()
        manifest.chunks_done = commit.number + 1
        manifest.rows_read += commit.rows
        manifest.rows_scored += commit.scored
        manifest.rows_rejected += commit.rejected
        manifest.save()
        if on_progress is not None:
            on_progress(manifest)

    def _score(
        self, prepared: PreparedRun, parts: Parts, number: int, table: pa.Table, text: bool
    ) -> Commit:
        manifest, version = prepared.manifest, prepared.version
        first_row = number * manifest.chunk
        decoded = decode_chunk(
            table,
            version.input_schema,
            first_row=first_row,
            text=text,
            max_string_bytes=self.max_string_bytes,
        )
        prediction: Prediction | None = None
        arrived = time.time()
        started = time.perf_counter()
        if decoded.batch.n_rows:
            prediction = _predict(prepared.predictor, version, decoded.batch)
        latency_ms = (time.perf_counter() - started) * 1000.0
        kept = table.take(pa.array(decoded.kept)) if decoded.rejects else table
        if text:
            kept = _typed(kept, decoded.columns, version.input_schema)
        refused = None
        if decoded.rejects:
            indices = pa.array([r.index for r in decoded.rejects], type=pa.int64())
            refused = rejects_table(table.take(indices), decoded.rejects, first_row)
        scored = scored_table(kept, prediction, version.output)
        record = None
        if prediction is not None:
            # The log gets the feature columns themselves (contiguous), not the model's
            # row-major matrix.
            features = Batch(decoded.columns, decoded.batch.n_rows)
            record = self._record(
                manifest, version, number, features, prediction, arrived, latency_ms
            )
        segment = segment_name(manifest.job, number)

        def write() -> None:
            # Parts first, the log segment last: the segment is the commit point.
            parts.write(number, scored, refused)
            if record is not None:
                self.log.write([record], segment=segment)

        return Commit(number, table.num_rows, decoded.batch.n_rows, len(decoded.rejects), write)

    def _record(
        self,
        manifest: Manifest,
        version: ModelVersion,
        number: int,
        batch: Batch,
        prediction: Prediction,
        arrived: float,
        latency_ms: float,
    ) -> PredictionRecord:
        logged = batch
        if self.privacy is not None:
            logged = self.privacy.apply(manifest.endpoint, manifest.model, batch).logged
        return PredictionRecord(
            request_id=f"{manifest.job}-{number:06d}",
            endpoint=manifest.endpoint,
            model=version.name,
            version=version.version,
            role=Role.BATCH,
            ts=arrived,
            latency_ms=latency_ms,
            features=logged,
            prediction=prediction,
            classes=version.output.classes,
            kind=version.output.kind,
        )

    def _logged_chunks(self, endpoint: str, job: str, first: int) -> set[int]:
        """Chunks from ``first`` on whose log segment exists (any day folder), also when
        log compaction has merged it into a day's file (which lists what it replaces)."""
        folder = inside(self.log.root, endpoint)
        if not folder.is_dir():
            return set()
        prefix = segment_name(job, 0)[:-6]
        names = [path.name for path in folder.glob(f"*/*-{prefix}*.parquet")]
        for merged in folder.glob(f"*/*{COMPACTED_MARK}*.parquet"):
            names += [path.name for path in replaced_segments(merged)]
        found = set()
        for name in names:
            if prefix not in name:
                continue
            number = name.removesuffix(".parquet").rsplit("-", 1)[-1]
            if number.isdigit() and int(number) >= first:
                found.add(int(number))
        return found


def _typed(
    rows: pa.Table, columns: dict[str, np.ndarray[Any, Any]], schema: InputSchema
) -> pa.Table:
    """CSV rows with their feature columns as the decoded values (numbers, booleans,
    text; empty cells null) instead of the text they were read as."""
    for feature in schema.features:
        array = pa.array(columns[feature.name], from_pandas=True)
        if feature.kind == "int":
            array = array.cast(pa.int64())
        elif feature.kind == "bool":
            array = array.cast(pa.bool_())
        elif not feature.numeric:
            array = array.cast(pa.string())
        rows = rows.set_column(rows.schema.get_field_index(feature.name), feature.name, array)
    return rows


def _predict(predictor: Predictor, version: ModelVersion, batch: Batch) -> Prediction:
    """The model call with the checks a runner makes (errors and row count)."""
    try:
        prediction = predictor.predict(batch)
    except Exception as exc:
        raise PredictionFailed(f"model {version.ref} raised {type(exc).__name__}: {exc}") from exc
    if len(prediction.outputs) != batch.n_rows:
        raise PredictionFailed(
            f"model {version.ref} answered {len(prediction.outputs)} rows for {batch.n_rows}"
        )
    return prediction
