"""The monitoring time series in SQL: points, per-process window states, detector events,
bootstrap baselines (tables in :mod:`modelport.store.tables`).

Points are upserted on ``(endpoint, version, window, window_start, feature, statistic)``,
so an open window's figures are simply overwritten as it fills and a recomputation
(``monitor backfill``) replaces what was there. Each server process upserts its own
state row per window; readers merge every process's row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import String, delete, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from modelport.store.db import Database
from modelport.store.tables import (
    MonitoringBaselineRow,
    MonitoringEventRow,
    MonitoringPointRow,
    MonitoringStateRow,
    utcnow,
)

_CHUNK = 500


class PointRow(NamedTuple):
    """One stored figure, as :meth:`SeriesStore.point_rows` reads it."""

    window_start: datetime
    feature: str
    statistic: str
    status: str
    value: float | None
    threshold: float | None
    drifted: bool | None
    rows: int


@dataclass(frozen=True)
class WindowKey:
    endpoint: str
    version: int
    window: str
    start: datetime
    end: datetime


class SeriesStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self) -> Any:
        return postgresql.insert if self.db.engine.dialect.name == "postgresql" else sqlite.insert

    # -- points ------------------------------------------------------------------------------
    def upsert_points(self, key: WindowKey, points: Sequence[dict[str, Any]], final: bool) -> None:
        now = utcnow()
        rows = [
            {
                "endpoint": key.endpoint,
                "version": key.version,
                "window": key.window,
                "window_start": key.start,
                "window_end": key.end,
                "final": final,
                "updated_at": now,
                **point,
            }
            for point in points
        ]
        insert = self._insert()
        with self.db.session() as session:
            for start in range(0, len(rows), _CHUNK):
                statement = insert(MonitoringPointRow).values(rows[start : start + _CHUNK])
                updated = {
                    name: getattr(statement.excluded, name)
                    for name in (
                        "window_end",
                        "status",
                        "value",
                        "p_value",
                        "threshold",
                        "drifted",
                        "rows",
                        "baseline",
                        "final",
                        "updated_at",
                    )
                }
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[
                            "endpoint",
                            "version",
                            "window",
                            "window_start",
                            "feature",
                            "statistic",
                        ],
                        set_=updated,
                    )
                )

    def points(
        self,
        endpoint: str,
        *,
        feature: str | None = None,
        statistic: str | None = None,
        version: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10_000,
    ) -> list[dict[str, Any]]:
        query = select(MonitoringPointRow).where(MonitoringPointRow.endpoint == endpoint)
        if feature is not None:
            query = query.where(MonitoringPointRow.feature == feature)
        if statistic is not None:
            query = query.where(MonitoringPointRow.statistic == statistic)
        if version is not None:
            query = query.where(MonitoringPointRow.version == version)
        if since is not None:
            query = query.where(MonitoringPointRow.window_end > since)
        if until is not None:
            query = query.where(MonitoringPointRow.window_start < until)
        query = query.order_by(
            MonitoringPointRow.window_start,
            MonitoringPointRow.feature,
            MonitoringPointRow.statistic,
        ).limit(limit)
        with self.db.session() as session:
            return [_point(row) for row in session.scalars(query)]

    def point_rows(
        self,
        endpoint: str,
        *,
        version: int,
        window: str,
        since: datetime | None = None,
        until: datetime | None = None,
        features: Collection[str] | None = None,
        statistics: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[PointRow]:
        """The figures of one version's windows of one size, in no particular order, as
        plain tuples: read through the Core table, not the ORM, so a month of hourly
        windows for 50 features (36,000 figures per statistic) is read in one go."""
        found, starts = self.point_tuples(
            endpoint,
            version=version,
            window=window,
            since=since,
            until=until,
            features=features,
            statistics=statistics,
            limit=limit,
        )
        return [
            PointRow(
                starts[row[0]], row[1], row[2], row[3], row[4], row[5], _verdict(row[6]), row[7]
            )
            for row in found
        ]

    def point_tuples(
        self,
        endpoint: str,
        *,
        version: int,
        window: str,
        since: datetime | None = None,
        until: datetime | None = None,
        features: Collection[str] | None = None,
        statistics: Collection[str] | None = None,
        limit: int | None = None,
    ) -> tuple[Sequence[Any], dict[Any, datetime]]:
        """:meth:`point_rows` as the driver answers them: tuples of (start as stored,
        feature, statistic, status, value, threshold, verdict as stored, rows), and each
        stored start as an aware datetime (for callers that cannot afford an object per
        figure)."""
        table = MonitoringPointRow.__table__.c
        query = select(
            # Read as stored: 720 distinct starts are parsed once each, not once per row.
            type_coerce(table.window_start, String),
            table.feature,
            table.statistic,
            table.status,
            table.value,
            table.threshold,
            table.drifted,
            table.rows,
        ).where(table.endpoint == endpoint, table.version == version, table.window == window)
        if since is not None:
            query = query.where(table.window_end > since)
        if until is not None:
            query = query.where(table.window_start < until)
        if features is not None:
            query = query.where(table.feature.in_(list(features)))
        if statistics is not None:
            query = query.where(table.statistic.in_(list(statistics)))
        if limit is not None:
            query = query.limit(limit)
        with self.db.engine.connect() as connection:
            # The driver's own tuples: building SQLAlchemy rows for 36,000 figures costs
            # more than reading them. Only the verdict needs converting (SQLite: 0/1).
            found = connection.execute(query).cursor.fetchall()
        return found, {start: _utc(start) for start in {row[0] for row in found}}

    # -- states ------------------------------------------------------------------------------
    def save_state(self, key: WindowKey, process: str, rows: int, state: dict[str, Any]) -> None:
        insert = self._insert()
        statement = insert(MonitoringStateRow).values(
            endpoint=key.endpoint,
            version=key.version,
            window=key.window,
            window_start=key.start,
            window_end=key.end,
            process=process,
            rows=rows,
            state=state,
            updated_at=utcnow(),
        )
        with self.db.session() as session:
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["endpoint", "version", "window", "window_start", "process"],
                    set_={
                        "rows": statement.excluded.rows,
                        "state": statement.excluded.state,
                        "window_end": statement.excluded.window_end,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )

    def delete_states(self, key: WindowKey) -> None:
        """Forget every process's counts of one window (before a recomputation)."""
        with self.db.session() as session:
            session.execute(
                delete(MonitoringStateRow).where(
                    MonitoringStateRow.endpoint == key.endpoint,
                    MonitoringStateRow.version == key.version,
                    MonitoringStateRow.window == key.window,
                    MonitoringStateRow.window_start == key.start,
                )
            )

    def states(
        self,
        endpoint: str,
        version: int | None = None,
        window: str | None = None,
        start: datetime | None = None,
        overlapping: tuple[datetime | None, datetime | None] | None = None,
    ) -> list[MonitoringStateRow]:
        query = select(MonitoringStateRow).where(MonitoringStateRow.endpoint == endpoint)
        if version is not None:
            query = query.where(MonitoringStateRow.version == version)
        if window is not None:
            query = query.where(MonitoringStateRow.window == window)
        if start is not None:
            query = query.where(MonitoringStateRow.window_start == start)
        if overlapping is not None:
            since, until = overlapping
            if since is not None:
                query = query.where(MonitoringStateRow.window_end > since)
            if until is not None:
                query = query.where(MonitoringStateRow.window_start < until)
        with self.db.session() as session:
            return list(session.scalars(query.order_by(MonitoringStateRow.window_start)))

    def window_spans(
        self, endpoint: str, version: int | None = None, window: str | None = None
    ) -> list[tuple[int, str, datetime, datetime]]:
        """``(version, window, start, end)`` of every stored window state, without reading
        the states themselves (a month of hourly windows is 720 JSON documents)."""
        table = MonitoringStateRow.__table__.c
        query = (
            select(table.version, table.window, table.window_start, table.window_end)
            .where(table.endpoint == endpoint)
            .distinct()
        )
        if version is not None:
            query = query.where(table.version == version)
        if window is not None:
            query = query.where(table.window == window)
        with self.db.session() as session:
            return [
                (int(row[0]), str(row[1]), _utc(row[2]), _utc(row[3]))
                for row in session.execute(query)
            ]

    def latest_start(
        self, endpoint: str, version: int, window: str, before: datetime
    ) -> datetime | None:
        query = (
            select(MonitoringStateRow.window_start)
            .where(
                MonitoringStateRow.endpoint == endpoint,
                MonitoringStateRow.version == version,
                MonitoringStateRow.window == window,
                MonitoringStateRow.window_start < before,
            )
            .order_by(MonitoringStateRow.window_start.desc())
            .limit(1)
        )
        with self.db.session() as session:
            return session.scalar(query)

    # -- events ------------------------------------------------------------------------------
    def add_events(self, events: Iterable[dict[str, Any]]) -> None:
        rows = [MonitoringEventRow(**event) for event in events]
        if rows:
            with self.db.session() as session:
                session.add_all(rows)

    def events(self, endpoint: str, since: datetime | None = None) -> list[dict[str, Any]]:
        query = select(MonitoringEventRow).where(MonitoringEventRow.endpoint == endpoint)
        if since is not None:
            query = query.where(MonitoringEventRow.detected_at >= since)
        with self.db.session() as session:
            rows = session.scalars(query.order_by(MonitoringEventRow.id)).all()
            return [
                {
                    "endpoint": row.endpoint,
                    "version": row.version,
                    "detector": row.detector,
                    "position": row.position,
                    "request_id": row.request_id,
                    "row": row.row,
                    "predicted_at": row.predicted_at.isoformat(),
                    "label_received_at": None
                    if row.label_received_at is None
                    else row.label_received_at.isoformat(),
                    "process": row.process,
                    "detected_at": row.detected_at.isoformat(),
                }
                for row in rows
            ]

    # -- bootstrap baselines --------------------------------------------------------------
    def baseline(self, endpoint: str, version: int) -> MonitoringBaselineRow | None:
        query = select(MonitoringBaselineRow).where(
            MonitoringBaselineRow.endpoint == endpoint, MonitoringBaselineRow.version == version
        )
        with self.db.session() as session:
            return session.scalar(query)

    def claim_baseline(
        self, endpoint: str, version: int, source: str, rows: int, profile: dict[str, Any]
    ) -> MonitoringBaselineRow:
        """Store this profile unless another process stored one first; return the winner."""
        try:
            with self.db.session() as session:
                session.add(
                    MonitoringBaselineRow(
                        endpoint=endpoint,
                        version=version,
                        source=source,
                        rows=rows,
                        profile=profile,
                    )
                )
        except IntegrityError:
            pass  # another process stored this version's baseline first: use theirs
        found = self.baseline(endpoint, version)
        assert found is not None
        return found


def _verdict(value: object) -> bool | None:
    """A stored verdict as the driver answers it (SQLite: 0/1)."""
    return None if value is None else bool(value)


def _utc(value: str | datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite answers text, PostgreSQL datetimes)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _point(row: MonitoringPointRow) -> dict[str, Any]:
    return {
        "endpoint": row.endpoint,
        "version": row.version,
        "window": row.window,
        "window_start": row.window_start.isoformat(),
        "window_end": row.window_end.isoformat(),
        "feature": row.feature,
        "statistic": row.statistic,
        "status": row.status,
        "value": row.value,
        "p_value": row.p_value,
        "threshold": row.threshold,
        "drifted": row.drifted,
        "rows": row.rows,
        "baseline": row.baseline,
        "final": row.final,
        "updated_at": row.updated_at.isoformat(),
    }
