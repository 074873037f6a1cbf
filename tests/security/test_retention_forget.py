"""Log retention and erasure against real servers, the real CLI and real SQLite.

Retention deletes whole day folders and labels older than ``log.retention`` and keeps
the rest; forgetting a request id removes its rows from every file of the log (also
merged ones), its labels and detector events, and leaves one audit record of counts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from modelport.batch import Batch, Prediction
from modelport.config import DEFAULT_TOML
from modelport.predlog.compaction import compact_endpoint, replaced_segments
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from modelport.store.db import Database
from modelport.store.tables import (
    AuditRow,
    FeedbackHistoryRow,
    FeedbackRow,
    MonitoringEventRow,
    RequestIndexRow,
)
from support import LiveServer, register_churn, run_cli

ADMIN = "admin-" + uuid.uuid4().hex
CLIENT = "client-" + uuid.uuid4().hex
NOW = datetime.now(UTC)


def _record(request_id: str, at: datetime) -> PredictionRecord:
    features = Batch(
        {
            "tenure": np.array([3.0]),
            "charges": np.array([50.0]),
            "plan": np.array(["basic"], dtype=object),
        },
        1,
    )
    return PredictionRecord(
        request_id=request_id,
        endpoint="churn",
        model="churn",
        version=1,
        role="primary",
        ts=at.timestamp(),
        latency_ms=1.0,
        features=features,
        prediction=Prediction(np.array([0])),
        classes=("0", "1"),
    )


def _project(folder: Path, churn_files: tuple[Path, Path], toml: str = DEFAULT_TOML) -> Path:
    (folder / "modelport.toml").write_text(toml)
    register_churn(folder, churn_files)
    return folder


def _log(folder: Path) -> ParquetPredictionLog:
    return ParquetPredictionLog(folder / ".modelport" / "logs")


def _db(folder: Path) -> Database:
    return Database(f"sqlite:///{folder / '.modelport' / 'modelport.db'}")


def _add_label(folder: Path, request_id: str, received_at: datetime) -> None:
    db = _db(folder)
    try:
        with db.session() as session:
            session.add(
                FeedbackRow(
                    request_id=request_id,
                    row=0,
                    label="1",
                    label_value=1.0,
                    endpoint="churn",
                    received_at=received_at,
                )
            )
            # An earlier label it replaced, and the request's entry in the request index.
            session.add(
                FeedbackHistoryRow(
                    request_id=request_id,
                    label="0",
                    endpoint="churn",
                    received_at=received_at,
                    replaced_by="test",
                )
            )
            session.add(
                RequestIndexRow(
                    request_id=request_id,
                    endpoint="churn",
                    model="churn",
                    version=1,
                    logged_at=received_at,
                )
            )
    finally:
        db.dispose()


def _history_and_index(folder: Path) -> tuple[set[str], set[str]]:
    db = _db(folder)
    try:
        with db.session() as session:
            return (
                set(session.scalars(select(FeedbackHistoryRow.request_id))),
                set(session.scalars(select(RequestIndexRow.request_id))),
            )
    finally:
        db.dispose()


def _add_event(folder: Path, request_id: str, predicted_at: datetime) -> None:
    db = _db(folder)
    try:
        with db.session() as session:
            session.add(
                MonitoringEventRow(
                    endpoint="churn",
                    version=1,
                    detector="adwin",
                    position=0,
                    request_id=request_id,
                    row=0,
                    predicted_at=predicted_at,
                    process="test",
                )
            )
    finally:
        db.dispose()


def _labels(folder: Path) -> set[str]:
    db = _db(folder)
    try:
        with db.session() as session:
            return set(session.scalars(select(FeedbackRow.request_id)))
    finally:
        db.dispose()


def _events(folder: Path) -> set[str]:
    db = _db(folder)
    try:
        with db.session() as session:
            return set(session.scalars(select(MonitoringEventRow.request_id)))
    finally:
        db.dispose()


def _audit(folder: Path, action: str) -> list[AuditRow]:
    db = _db(folder)
    try:
        with db.session() as session:
            return list(session.scalars(select(AuditRow).where(AuditRow.action == action)))
    finally:
        db.dispose()


def _logged_ids(folder: Path) -> set[str]:
    table = _log(folder).read("churn", columns=["request_id"])
    return set(table["request_id"].to_pylist())


def _ids_in_every_file(folder: Path) -> set[str]:
    """Request ids in every Parquet file, also those a merged file hides from readers."""
    found: set[str] = set()
    for path in (folder / ".modelport" / "logs").rglob("*.parquet"):
        found.update(pq.read_table(path, columns=["request_id"])["request_id"].to_pylist())
    return found


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _seed_history(folder: Path) -> dict[str, datetime]:
    """Rows, labels and detector events 200 days old and 10 days old."""
    moments = {"old": NOW - timedelta(days=200), "recent": NOW - timedelta(days=10)}
    log = _log(folder)
    for name, at in moments.items():
        log.write([_record(f"{name}-request", at)])
        _add_label(folder, f"{name}-request", at)
        _add_event(folder, f"{name}-request", at)
    return moments


def test_a_server_prunes_old_days_and_labels_and_keeps_recent_ones(
    tmp_path: Path, churn_files: tuple[Path, Path]
) -> None:
    folder = _project(tmp_path, churn_files)
    moments = _seed_history(folder)
    days = folder / ".modelport" / "logs" / "churn"
    assert {p.name for p in days.iterdir()} == {_day(at) for at in moments.values()}
    server = LiveServer(folder, env={"MODELPORT_LOG__RETENTION": "90d"}).start()
    try:
        server.wait_for(lambda: not (days / _day(moments["old"])).exists(), timeout=30)
        server.wait_for(lambda: bool(_audit(folder, "prune")), timeout=30)
    finally:
        server.stop()
    assert (days / _day(moments["recent"])).is_dir()
    assert _logged_ids(folder) == {"recent-request"}
    assert _labels(folder) == {"recent-request"}
    assert _events(folder) == {"recent-request"}
    history, index = _history_and_index(folder)
    assert "old-request" not in history | index and "recent-request" in history
    (audit,) = _audit(folder, "prune")
    assert audit.actor == "retention"
    assert audit.details["days_removed"] == 1 and audit.details["labels_removed"] == 1


def test_the_cli_prunes_with_a_given_retention_and_refuses_a_bad_one(
    tmp_path: Path, churn_files: tuple[Path, Path]
) -> None:
    folder = _project(tmp_path, churn_files)
    _seed_history(folder)
    refused = run_cli("logs", "prune", "--retention", "ninety", cwd=folder, check=False)
    assert refused.returncode == 1 and "[retention]" in refused.stderr
    assert _logged_ids(folder) == {"old-request", "recent-request"}
    # Nothing configured and nothing given: nothing to go by.
    unset = run_cli("logs", "prune", cwd=folder, check=False)
    assert unset.returncode == 1 and "log.retention" in unset.stderr
    result = run_cli("logs", "prune", "--retention", "5d", "--json", cwd=folder)
    body = json.loads(result.stdout)
    assert sorted(body["days_removed"]) == sorted(
        f"churn/{_day(NOW - timedelta(days=d))}" for d in (200, 10)
    )
    assert body["labels_removed"] == 2
    assert _labels(folder) == set() and _logged_ids(folder) == set()


@pytest.fixture
def served(tmp_path: Path, churn_files: tuple[Path, Path]) -> Iterator[LiveServer]:
    """A server with tokens, and yesterday's rows merged into one file by compaction."""
    toml = DEFAULT_TOML.replace("admin_tokens = []", f'admin_tokens = ["{ADMIN}"]')
    toml = toml.replace("client_tokens = []", f'client_tokens = ["{CLIENT}"]')
    assert ADMIN in toml and CLIENT in toml
    folder = _project(tmp_path, churn_files, toml)
    yesterday = NOW - timedelta(days=1)
    log = _log(folder)
    log.write([_record("y-keep", yesterday)])
    log.write([_record("y-forget", yesterday + timedelta(seconds=1))])
    (merged,) = compact_endpoint(log.root, "churn")
    assert merged.replaced == 2
    server = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield server
    finally:
        server.stop()


def _predict(client: httpx.Client, request_id: str) -> None:
    response = client.post(
        "/v1/endpoints/churn/predict",
        json={"instances": [{"tenure": 5, "charges": 40.0, "plan": "plus"}]},
        headers={"X-Request-ID": request_id, "Authorization": f"Bearer {CLIENT}"},
    )
    assert response.status_code == 200, response.text


def test_forget_over_http_erases_rows_labels_and_events_everywhere(served: LiveServer) -> None:
    folder = served.cwd
    forget_me = f"forget-me-{uuid.uuid4().hex}"
    keep_me = f"keep-me-{uuid.uuid4().hex}"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with served.client() as client:
        for request_id in (forget_me, keep_me):
            _predict(client, request_id)
            response = client.post(
                "/v1/feedback",
                json={"request_id": request_id, "label": 1},
                headers={"Authorization": f"Bearer {CLIENT}"},
            )
            assert response.status_code == 200, response.text
        _add_event(folder, forget_me, NOW)
        body = {"request_ids": [forget_me, "y-forget"]}
        assert client.post("/v1/logs/forget", json=body).status_code == 401
        client_call = client.post(
            "/v1/logs/forget", json=body, headers={"Authorization": f"Bearer {CLIENT}"}
        )
        assert client_call.status_code == 403
        # Not flushed yet or already written: the server writes its queue first.
        response = client.post("/v1/logs/forget", json=body, headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["request_ids"] == 2
    # y-forget sits in the merged file and in the segment it replaces (kept for the
    # compaction grace period): every physical copy is erased.
    assert result["rows_removed"] == 3
    # The request index learnt forget_me as it was answered: it goes too.
    assert result["records_removed"] == {
        "feedback": 1,
        "monitoring_events": 1,
        "request_index": 1,
    }
    assert result["unreadable"] == []

    assert {forget_me, "y-forget"}.isdisjoint(_ids_in_every_file(folder))
    assert _logged_ids(folder) == {"y-keep", keep_me}
    assert forget_me not in _labels(folder) and keep_me in _labels(folder)
    assert forget_me not in _events(folder)
    # The merged file still hides the segments it replaced.
    merged = [p for p in (folder / ".modelport" / "logs").rglob("*-compacted-*.parquet")]
    assert len(merged) == 1 and len(replaced_segments(merged[0])) == 2

    (audit,) = _audit(folder, "forget")
    assert "admin" in audit.actor
    assert audit.details["rows_removed"] == 3 and audit.details["request_ids"] == 2
    assert forget_me not in json.dumps(audit.details)

    served.stop()
    raw = [path.read_bytes() for path in (folder / ".modelport").rglob("*") if path.is_file()]
    assert not any(forget_me.encode() in content for content in raw)
    # The same search finds the request that was kept (its label row in SQLite).
    assert any(keep_me.encode() in content for content in raw)


BAD_BODIES: list[tuple[object, str]] = [
    ({}, "request_ids"),
    ({"request_ids": []}, "request_ids"),
    ({"request_ids": "abc"}, "request_ids"),
    ({"request_ids": ["ok", ""]}, "request_ids[1]"),
    ({"request_ids": [7]}, "request_ids[0]"),
    ({"request_ids": ["ok"], "extra": 1}, "extra"),
    (["ok"], "body"),
]


def test_forget_refuses_bad_bodies_and_changes_nothing(served: LiveServer) -> None:
    before = _ids_in_every_file(served.cwd)
    assert before == {"y-keep", "y-forget"}
    with served.client() as client:
        for body, field in BAD_BODIES:
            response = client.post(
                "/v1/logs/forget", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
            )
            assert response.status_code == 422, (body, response.text)
            assert response.json()["field"] == field, body
    assert _ids_in_every_file(served.cwd) == before
    assert _audit(served.cwd, "forget") == []


def test_the_cli_forgets_repeated_request_ids(
    tmp_path: Path, churn_files: tuple[Path, Path]
) -> None:
    folder = _project(tmp_path, churn_files)
    at = NOW - timedelta(hours=1)
    _log(folder).write([_record("a", at), _record("b", at), _record("c", at)])
    for request_id in ("a", "b", "c"):
        _add_label(folder, request_id, at)
    result = run_cli(
        "logs", "forget", "--request-id", "a", "--request-id", "c", "--json", cwd=folder
    )
    body = json.loads(result.stdout)
    assert body["rows_removed"] == 2 and body["files_rewritten"] == 1
    assert body["records_removed"] == {"feedback": 2, "feedback_history": 2, "request_index": 2}
    assert _ids_in_every_file(folder) == {"b"}
    assert _labels(folder) == {"b"}
    (audit,) = _audit(folder, "forget")
    assert audit.actor.startswith("cli")
    # Nothing left to erase: an honest zero, still audited.
    again = json.loads(run_cli("logs", "forget", "--request-id", "a", "--json", cwd=folder).stdout)
    assert again["rows_removed"] == 0 and again["records_removed"] == {}
    assert len(_audit(folder, "forget")) == 2
