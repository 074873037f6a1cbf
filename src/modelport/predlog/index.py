"""Which endpoint and version answered a request: found by key, never by scanning the log.

A label names a request id. Matching it used to flush the log and read the
``request_id`` column of every segment of every endpoint, so each label cost more as
the log grew. :class:`RequestIndex` answers "who served this request" from two places,
neither of which grows with the log for a lookup:

* **recent**: the requests this process answered lately, remembered as the data plane
  hands them to its listeners (O(1) per request, bounded by ``recent`` requests) — a
  label sent a millisecond after its answer matches before the log is even written;
* **the ``request_index`` table** in the control-plane database (primary key
  ``(request_id, endpoint)``): filled off the request path by :meth:`catch_up`, which
  follows each endpoint's log segments, reads only new ones (five small columns of the
  rows that answered a caller: ``primary`` and ``canary``) and inserts one row per
  request in batches. Inserts ignore keys already there, so a segment read twice (by two
  servers, after a restart, or as part of a merged file) indexes nothing twice.

The server runs :meth:`catch_up` every ``log.flush_interval_s`` (at least every second)
in the background; a process without that loop (a CLI command) calls it before it
matches, which reads only what was written since its index last saw the log.

Where a catch-up starts: the newest indexed time of the endpoint minus
:data:`RESTART_SLACK` (its UTC day and the one before are listed); an endpoint never
indexed is read whole, once. A lookup that finds nothing means "not logged yet, or by a
process whose segments are not indexed yet": the label is stored anyway and joins at
read time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from modelport.predlog import columns as col
from modelport.predlog.compaction import replaced_segments
from modelport.store.db import Database
from modelport.store.tables import RequestIndexRow
from modelport.vocabulary import SERVED_ROLES, PredictionEvent

logger = logging.getLogger(__name__)

# A restarted index re-reads from this long before the newest request it holds: rows
# logged late (a slow flush) are then still indexed.
RESTART_SLACK = timedelta(hours=1)
# After each round, only day folders from the day before this long ago are listed again.
FOLLOW_WINDOW = timedelta(hours=2)
_INSERT_CHUNK = 5_000
_LOOKUP_CHUNK = 500
_READ_COLUMNS = [col.REQUEST_ID, col.ROW, col.MODEL, col.VERSION, col.ROLE, col.TS]
# A list, not a pyarrow array: building an array from Python objects at import makes
# pyarrow import pandas, a third of a second for every command that imports this module.
_SERVED = [str(role) for role in SERVED_ROLES]


@dataclass(frozen=True, slots=True)
class Served:
    """One request as its answer was logged: who answered, with how many rows, when."""

    request_id: str
    endpoint: str
    model: str
    version: int
    rows: int
    logged_at: datetime
    # The request's rows the endpoint answered when not all of them (a pipeline step
    # some rows skipped), as far as known: only answers remembered in memory say so.
    ran: frozenset[int] | None = None


# A remembered answer: endpoint, model, version, rows, logged at, the rows it ran (sorted)
# or None. A tuple of values CPython's cyclic collector does not track is itself untracked
# after the first collection it survives: the tens of thousands of remembered requests
# cost a full collection nothing (as Served instances and dicts they were walked on every
# one, pauses of 100+ ms under load).
_Answer = tuple[str, str, int, int, datetime, tuple[int, ...] | None]


def _served(request_id: str, answer: _Answer) -> Served:
    endpoint, model, version, rows, logged_at, ran = answer
    return Served(
        request_id,
        endpoint,
        model,
        version,
        rows,
        logged_at,
        None if ran is None else frozenset(ran),
    )


@runtime_checkable
class SegmentedLog(Protocol):
    """A log stored as files per endpoint (the Parquet log)."""

    def endpoints(self) -> list[str]: ...

    def segments(
        self, endpoint: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Path]: ...


@dataclass
class _Follow:
    """How far the index has read one endpoint's log."""

    since: datetime | None
    consumed: set[Path] = field(default_factory=set)


class RequestIndex:
    def __init__(self, db: Database, log: object, *, recent: int = 50_000) -> None:
        self.db = db
        self.log = log if isinstance(log, SegmentedLog) else None
        self.capacity = recent
        # True while a background loop calls catch_up (the server); otherwise lookups
        # of a caller that needs fresh results catch up first.
        self.following = False
        # request id -> its answers (the steps of a pipeline share a request id), each as
        # a plain tuple of untracked values (see _Answer).
        self._recent: OrderedDict[str, tuple[_Answer, ...]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._follow: dict[str, _Follow] = {}
        self._catch_up_lock = threading.Lock()
        self.indexed_rows = 0
        self.skipped: list[tuple[str, str]] = []
        # Called with each batch of newly indexed requests (labels stored while their
        # request was unknown are checked then).
        self.on_indexed: list[Callable[[list[Served]], object]] = []

    # -- the request path ---------------------------------------------------------------
    def listen(self, event: PredictionEvent) -> None:
        """Data-plane listener: remember who answered (O(1), never raises for a good event)."""
        if self.capacity <= 0:
            return
        ran = None if event.row_index is None else tuple(sorted(int(i) for i in event.row_index))
        version = event.version
        logged_at = datetime.fromtimestamp(event.arrived, UTC)
        answer = (event.endpoint, version.name, version.version, event.span, logged_at, ran)
        self._remember(event.request_id, answer)

    def remember(self, served: Served) -> None:
        if self.capacity <= 0:
            return
        ran = None if served.ran is None else tuple(sorted(served.ran))
        self._remember(
            served.request_id,
            (served.endpoint, served.model, served.version, served.rows, served.logged_at, ran),
        )

    def _remember(self, request_id: str, answer: _Answer) -> None:
        with self._recent_lock:
            answers = self._recent.pop(request_id, ())
            others = tuple(a for a in answers if a[0] != answer[0])
            self._recent[request_id] = (*others, answer)
            while len(self._recent) > self.capacity:
                self._recent.popitem(last=False)

    # -- lookups ------------------------------------------------------------------------
    def lookup(self, request_ids: Iterable[str]) -> dict[str, list[Served]]:
        """Who answered each of these requests (ids not found are absent). Costs one key
        lookup per id, whatever the size of the log."""
        wanted = set(request_ids)
        if not self.following:
            self.catch_up()
        found: dict[str, list[Served]] = {}
        with self._recent_lock:
            for request_id in wanted:
                answers = self._recent.get(request_id)
                if answers is not None:
                    found[request_id] = [_served(request_id, answer) for answer in answers]
        missing = sorted(wanted - set(found))
        if missing:
            with self.db.session() as session:
                for start in range(0, len(missing), _LOOKUP_CHUNK):
                    chunk = missing[start : start + _LOOKUP_CHUNK]
                    query = select(RequestIndexRow).where(RequestIndexRow.request_id.in_(chunk))
                    for row in session.scalars(query):
                        found.setdefault(row.request_id, []).append(
                            Served(
                                row.request_id,
                                row.endpoint,
                                row.model,
                                row.version,
                                row.rows,
                                row.logged_at,
                            )
                        )
        return found

    # -- following the log --------------------------------------------------------------
    def catch_up(self) -> int:
        """Index the segments written since the last round; returns requests read."""
        if self.log is None:
            return 0
        with self._catch_up_lock:
            read = 0
            for endpoint in self.log.endpoints():
                try:
                    read += self._catch_up_endpoint(endpoint)
                except Exception:
                    logger.exception("indexing the log of %s failed; next round retries", endpoint)
            return read

    def _catch_up_endpoint(self, endpoint: str) -> int:
        assert self.log is not None
        follow = self._follow.get(endpoint)
        if follow is None:
            follow = _Follow(self._restart_point(endpoint))
            self._follow[endpoint] = follow
        started = datetime.now(UTC)
        listed = self.log.segments(endpoint, follow.since)
        read = 0
        for path in listed:
            if path in follow.consumed:
                continue
            replaced = replaced_segments(path)
            if replaced and replaced <= follow.consumed:
                follow.consumed.add(path)  # a merge of segments already indexed
                continue
            try:
                served = self._read_segment(endpoint, path)
            except FileNotFoundError:
                continue  # merged meanwhile: the merged file comes in a later round
            self._insert(served)
            for callback in self.on_indexed:
                if served:
                    callback(served)
            read += len(served)
            follow.consumed.add(path)
            follow.consumed.update(replaced)
        # Forget files no longer listed, and list fewer day folders from now on.
        keep = set(listed)
        for path in listed:
            keep.update(replaced_segments(path))
        follow.consumed &= keep
        moved = started - FOLLOW_WINDOW
        follow.since = moved if follow.since is None else max(follow.since, moved)
        self.indexed_rows += read
        return read

    def _restart_point(self, endpoint: str) -> datetime | None:
        with self.db.session() as session:
            newest = session.scalar(
                select(func.max(RequestIndexRow.logged_at)).where(
                    RequestIndexRow.endpoint == endpoint
                )
            )
        return None if newest is None else newest - RESTART_SLACK

    def _read_segment(self, endpoint: str, path: Path) -> list[Served]:
        try:
            available = set(pq.read_schema(path).names)
            table = pq.read_table(path, columns=[c for c in _READ_COLUMNS if c in available])
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as exc:
            logger.warning("the request index skips unreadable log segment %s: %s", path, exc)
            self.skipped.append((str(path), str(exc)))
            return []
        if not set(_READ_COLUMNS) <= set(table.column_names) or table.num_rows == 0:
            return []
        table = table.filter(pc.is_in(table[col.ROLE], value_set=pa.array(_SERVED, pa.string())))
        if table.num_rows == 0:
            return []
        grouped = table.group_by(col.REQUEST_ID).aggregate(
            [
                (col.MODEL, "min"),
                (col.VERSION, "min"),
                (col.ROW, "max"),
                (col.TS, "min"),
            ]
        )
        return [
            Served(request_id, endpoint, model, version, last_row + 1, logged_at)
            for request_id, model, version, last_row, logged_at in zip(
                grouped[col.REQUEST_ID].to_pylist(),
                grouped[f"{col.MODEL}_min"].to_pylist(),
                grouped[f"{col.VERSION}_min"].to_pylist(),
                grouped[f"{col.ROW}_max"].to_pylist(),
                grouped[f"{col.TS}_min"].to_pylist(),
                strict=True,
            )
        ]

    def _insert(self, served: Collection[Served]) -> None:
        if not served:
            return
        rows: list[dict[str, Any]] = [
            {
                "request_id": s.request_id,
                "endpoint": s.endpoint,
                "model": s.model,
                "version": s.version,
                "rows": s.rows,
                "logged_at": s.logged_at,
            }
            for s in served
        ]
        insert_rows(self.db, rows)


def insert_rows(db: Database, rows: list[dict[str, Any]]) -> None:
    """Add index rows, ignoring keys already indexed (so re-reading is harmless)."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    # On the table, not the mapped class: a Core executemany, without the ORM's per-row
    # bulk bookkeeping (most of the time this background job held the interpreter).
    table = cast(Table, RequestIndexRow.__table__)
    statement = insert(table).on_conflict_do_nothing(index_elements=["request_id", "endpoint"])
    with db.engine.begin() as connection:
        for start in range(0, len(rows), _INSERT_CHUNK):
            connection.execute(statement, rows[start : start + _INSERT_CHUNK])
