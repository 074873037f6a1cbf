"""Keeping the log no longer than allowed, and forgetting one person's requests.

- :meth:`LogRetention.prune` deletes whole day folders of the prediction log older than
  ``log.retention`` (e.g. ``90d``) and the labels received before then, together with
  every other control-plane row that names a request id (detector events).
- :meth:`LogRetention.forget` erases the rows of some request ids from every file of the
  log (segments, merged files and segments a merged file already replaces), and every
  control-plane row that names them (labels, label history, detector events). Each file
  that held such rows is rewritten under a temporary name, fsynced and renamed over the
  old one (then its folder is fsynced), so a reader sees the old file or the new one,
  never half of one; a merged file keeps the list of files it replaces.

Both hold a day folder's ``.compact.lock`` (the one compaction takes) while they change
it, so a compaction cannot merge rows back from a file being rewritten. Deleted SQLite
rows are overwritten (``secure_delete``) and the write-ahead log is truncated, so an
erased label does not linger in free pages. Each run that changed something writes one
audit record naming the actor and the counts, never the erased values or ids.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Column, Table, delete, text

from modelport.errors import ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.files import fsync_folder, write_durably
from modelport.store.db import Database
from modelport.store.tables import (
    AuditRow,
    Base,
    FeedbackHistoryRow,
    FeedbackRow,
    MonitoringEventRow,
    RequestIndexRow,
)

logger = logging.getLogger(__name__)

LOCK_NAME = ".compact.lock"
MAX_FORGET_IDS = 10_000
# Bound on the ids of one ``IN (...)`` clause (SQLite allows 32,766 parameters).
_ID_CHUNK = 500


@dataclass
class PruneResult:
    cutoff: datetime
    days_removed: list[str] = field(default_factory=list)
    labels_removed: int = 0
    # Earlier labels a later one replaced (feedback_history).
    history_removed: int = 0
    events_removed: int = 0
    # Rows of the request index (request id -> endpoint and version).
    index_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["cutoff"] = self.cutoff.isoformat()
        return body


@dataclass
class ForgetResult:
    request_ids: int
    rows_removed: int = 0
    files_rewritten: int = 0
    records_removed: dict[str, int] = field(default_factory=dict)
    # Files that could not be read: rows of these ids may remain in them.
    unreadable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retention_cutoff(retention: str, now: datetime | None = None) -> datetime | None:
    """The moment before which logged data is deleted (None: keep everything).

    >>> retention_cutoff("90d", datetime(2026, 6, 1, tzinfo=UTC)).date().isoformat()
    '2026-03-03'
    >>> retention_cutoff("") is None
    True
    """
    if not retention:
        return None
    if not retention.endswith("d") or not retention[:-1].isdigit() or int(retention[:-1]) < 1:
        raise ValidationFailed(
            f"retention must be a number of days like 90d, got {retention!r}", field="retention"
        )
    now = now or datetime.now(UTC)
    return now - timedelta(days=int(retention[:-1]))


def parse_request_ids(values: Any, *, field: str = "request_ids") -> list[str]:
    """A non-empty list of distinct non-empty request ids (ValidationFailed otherwise)."""
    if not isinstance(values, list) or not values:
        raise ValidationFailed(f"{field} must be a non-empty list of request ids", field=field)
    if len(values) > MAX_FORGET_IDS:
        raise ValidationFailed(f"at most {MAX_FORGET_IDS} request ids per call", field=field)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value or len(value) > 200:
            raise ValidationFailed(
                f"{field}[{index}] must be a non-empty string of at most 200 characters",
                field=f"{field}[{index}]",
            )
    return list(dict.fromkeys(values))


class LogRetention:
    """Retention and erasure over one prediction log folder and its control plane."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self.db = db

    # -- retention ------------------------------------------------------------------------
    def prune(
        self, retention: str, *, actor: str = "retention", now: datetime | None = None
    ) -> PruneResult:
        """Delete day folders older than ``retention`` and labels received before it."""
        cutoff = retention_cutoff(retention, now)
        if cutoff is None:
            raise ValidationFailed("no retention is set (log.retention)", field="log.retention")
        result = PruneResult(cutoff)
        for endpoint_folder in self._endpoint_folders():
            for day_folder in sorted(p for p in endpoint_folder.iterdir() if p.is_dir()):
                day = _day_of(day_folder)
                # A folder holds rows of its day: all of them are older than the cutoff
                # once the day ended before it.
                if day is None or day >= cutoff.date():
                    continue
                with _locked(day_folder):
                    shutil.rmtree(day_folder, ignore_errors=True)
                fsync_folder(endpoint_folder)
                result.days_removed.append(f"{endpoint_folder.name}/{day_folder.name}")
        with self.db.session() as session:
            _secure_delete(session)
            labels = session.execute(delete(FeedbackRow).where(FeedbackRow.received_at < cutoff))
            earlier = session.execute(
                delete(FeedbackHistoryRow).where(FeedbackHistoryRow.received_at < cutoff)
            )
            events = session.execute(
                delete(MonitoringEventRow).where(MonitoringEventRow.predicted_at < cutoff)
            )
            indexed = session.execute(
                delete(RequestIndexRow).where(RequestIndexRow.logged_at < cutoff)
            )
            result.labels_removed = _count(labels)
            result.history_removed = _count(earlier)
            result.events_removed = _count(events)
            result.index_removed = _count(indexed)
            if (
                result.days_removed
                or result.labels_removed
                or result.history_removed
                or result.events_removed
            ):
                details = result.to_dict()
                details["days_removed"] = len(result.days_removed)
                session.add(AuditRow(actor=actor, subject="log", action="prune", details=details))
        self._truncate_wal()
        return result

    # -- erasure --------------------------------------------------------------------------
    def forget(self, request_ids: Collection[str], *, actor: str) -> ForgetResult:
        """Erase every logged row and stored record of these request ids."""
        ids = list(dict.fromkeys(request_ids))
        result = ForgetResult(request_ids=len(ids))
        if not ids:
            return result
        wanted = pa.array(ids, type=pa.string())
        for endpoint_folder in self._endpoint_folders():
            for day_folder in sorted(p for p in endpoint_folder.iterdir() if p.is_dir()):
                with _locked(day_folder):
                    for path in sorted(day_folder.glob("*.parquet")):
                        try:
                            removed = _rewrite_without(path, wanted)
                        except (pa.ArrowException, OSError) as exc:
                            logger.warning("cannot erase rows from %s: %s", path, exc)
                            result.unreadable.append(str(path.relative_to(self.root)))
                            continue
                        if removed:
                            result.rows_removed += removed
                            result.files_rewritten += 1
        with self.db.session() as session:
            _secure_delete(session)
            for table, column in _request_id_tables():
                removed = 0
                for start in range(0, len(ids), _ID_CHUNK):
                    chunk = ids[start : start + _ID_CHUNK]
                    outcome = session.execute(delete(table).where(column.in_(chunk)))
                    removed += _count(outcome)
                if removed:
                    result.records_removed[str(table.name)] = removed
            details = result.to_dict()
            details["unreadable"] = len(result.unreadable)
            session.add(AuditRow(actor=actor, subject="log", action="forget", details=details))
        self._truncate_wal()
        return result

    # -- helpers --------------------------------------------------------------------------
    def _endpoint_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir())

    def _truncate_wal(self) -> None:
        """Fold SQLite's write-ahead log into the database and empty it, so old page
        images of erased rows leave the disk (best effort: busy readers postpone it)."""
        if self.db.engine.dialect.name != "sqlite":
            return
        try:
            with self.db.engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        except Exception:
            logger.warning("could not truncate the SQLite write-ahead log", exc_info=True)


def _request_id_tables() -> list[tuple[Table, Column[Any]]]:
    """Every control-plane table with a ``request_id`` column (labels, their history,
    detector events, indexes of the log)."""
    found = []
    for table in Base.metadata.sorted_tables:
        column = table.columns.get("request_id")
        if column is not None:
            found.append((table, column))
    return found


def _secure_delete(session: Any) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete = ON"))


def _rewrite_without(path: Path, wanted: pa.Array) -> int:
    """Rewrite ``path`` without the rows whose request id is in ``wanted``; rows removed."""
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    if col.REQUEST_ID not in names:
        return 0
    ids = parquet.read(columns=[col.REQUEST_ID])[col.REQUEST_ID]
    hit = pc.is_in(ids, value_set=wanted)
    removed = int(pc.sum(hit).as_py() or 0)
    if not removed:
        return 0
    table = parquet.read()
    kept = table.filter(pc.invert(pc.fill_null(hit, False)))
    metadata = parquet.metadata
    row_group_rows = max(
        (metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)), default=1
    )
    # The schema keeps its metadata (a merged file's list of the files it replaces).
    write_durably(
        path,
        lambda handle: pq.write_table(
            kept, handle, compression="zstd", row_group_size=max(row_group_rows, 1)
        ),
    )
    return removed


def _day_of(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name)
    except ValueError:
        return None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's compaction lock (waiting for a running compaction to end)."""
    with (folder / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _count(result: object) -> int:
    """Rows a bulk DELETE removed (drivers that cannot tell say 0)."""
    return int(getattr(result, "rowcount", 0) or 0)
