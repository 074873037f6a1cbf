from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from modelport.batch import Batch, Prediction
from modelport.errors import Conflict, ValidationFailed
from modelport.predlog.compaction import compact_endpoint
from modelport.predlog.feedback import MAX_ITEMS, FeedbackItem, FeedbackStore, parse_items
from modelport.predlog.index import RequestIndex, Served
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord
from modelport.schema import OutputSpec
from modelport.store.db import Database
from modelport.store.tables import RequestIndexRow


def test_one_object_is_one_item() -> None:
    assert parse_items({"request_id": "r1", "label": 1}) == [FeedbackItem("r1", 1)]


def test_a_list_of_objects() -> None:
    items = parse_items(
        [
            {"request_id": "r1", "label": "yes"},
            {"request_id": "r1", "label": False, "row": 2, "endpoint": "churn"},
        ]
    )

    assert items == [FeedbackItem("r1", "yes"), FeedbackItem("r1", False, 2, "churn")]


def test_an_items_envelope() -> None:
    payload = {"items": [{"request_id": "r1", "label": 0.5}, {"request_id": "r2", "label": 0}]}

    assert [item.request_id for item in parse_items(payload)] == ["r1", "r2"]


GOOD = {"request_id": "ok", "label": 1}


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ([], "items", "non-empty list"),
        ({"items": []}, "items", "non-empty list"),
        ("r1,1", "items", "non-empty list"),
        (None, "items", "non-empty list"),
        ({"items": {"request_id": "r1"}}, "items[0].label", "missing"),
        ([GOOD, GOOD, "r3"], "items[2]", "must be an object"),
        ([GOOD, GOOD, {"label": 1}], "items[2].request_id", "non-empty string"),
        ([GOOD, GOOD, {"request_id": "", "label": 1}], "items[2].request_id", "non-empty"),
        ([GOOD, GOOD, {"request_id": 7, "label": 1}], "items[2].request_id", "string"),
        ([GOOD, GOOD, {"request_id": "x" * 201, "label": 1}], "items[2].request_id", "string"),
        ([GOOD, GOOD, {"request_id": "r3"}], "items[2].label", "missing"),
        ([GOOD, GOOD, {"request_id": "r3", "label": None}], "items[2].label", "string, number"),
        ([GOOD, GOOD, {"request_id": "r3", "label": [1]}], "items[2].label", "string, number"),
        ([GOOD, GOOD, {"request_id": "r3", "label": {"a": 1}}], "items[2].label", "string"),
        ([GOOD, GOOD, {"request_id": "r3", "label": float("nan")}], "items[2].label", "finite"),
        ([GOOD, GOOD, {"request_id": "r3", "label": float("inf")}], "items[2].label", "finite"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": -1}], "items[2].row", "from 0 to"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": "0"}], "items[2].row", "integer"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": True}], "items[2].row", "integer"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "row": 1.5}], "items[2].row", "integer"),
        ([GOOD, GOOD, {"request_id": "r", "label": 1, "endpoint": 3}], "items[2].endpoint", "str"),
        ([GOOD, GOOD, {"request_id": "r3", "label": 1, "lable": 2}], "items[2]", "lable"),
    ],
)
def test_malformed_feedback_is_refused_naming_the_field(
    payload: Any, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_items(payload)

    assert refused.value.field == field
    assert refused.value.code == "validation_error"
    assert message in refused.value.message


def test_too_many_items_are_refused() -> None:
    with pytest.raises(ValidationFailed, match=f"at most {MAX_ITEMS}"):
        parse_items([GOOD] * (MAX_ITEMS + 1))


def test_float_class_labels_join_integer_feedback() -> None:
    """A model trained on float classes predicts 1.0; a label sent as 1 must match it."""
    import numpy as np

    from modelport.batch import Batch, Prediction
    from modelport.predlog.records import PredictionRecord, records_to_table
    from modelport.schema import label_text

    record = PredictionRecord(
        request_id="r",
        endpoint="e",
        model="m",
        version=1,
        role="primary",
        ts=0.0,
        latency_ms=1.0,
        features=Batch({"x": np.array([1.0])}, 1),
        prediction=Prediction(np.array([1.0])),
        classes=["0", "1"],
    )
    assert records_to_table([record])["prediction"].to_pylist() == [label_text(1)] == ["1"]


# -- the store: request index, label fit, overwrite rules (real SQLite, real Parquet log) ----


OUTPUTS = {
    ("churn", 1): OutputSpec(kind="classification", classes=["0", "1"]),
    ("spend", 1): OutputSpec(kind="regression"),
}


def logged(
    request_id: str, *, endpoint: str = "churn", rows: int = 1, role: str = "primary", at: float = 0
) -> PredictionRecord:
    model = "spend" if endpoint == "spend" else "churn"
    return PredictionRecord(
        request_id=request_id,
        endpoint=endpoint,
        model=model,
        version=1,
        role=role,
        ts=time.time() - 60 + at,
        latency_ms=1.0,
        features=Batch({"tenure": np.arange(rows, dtype=np.float64)}, rows),
        prediction=Prediction(np.zeros(rows, dtype=np.int64)),
        classes=("0", "1"),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'modelport.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def log(tmp_path: Path) -> ParquetPredictionLog:
    return ParquetPredictionLog(tmp_path / "logs")


def store(db: Database, log: ParquetPredictionLog, **options: Any) -> FeedbackStore:
    return FeedbackStore(db, log, output_of=lambda m, v: OUTPUTS.get((m, v)), **options)


def indexed(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(RequestIndexRow)) or 0)


def test_a_label_for_a_logged_request_matches_through_the_index(
    db: Database, log: ParquetPredictionLog
) -> None:
    log.write([logged("a"), logged("b", rows=3), logged("s", endpoint="spend")])
    result = store(db, log).ingest(
        [FeedbackItem("a", 1), FeedbackItem("b", "0", row=2), FeedbackItem("s", 2.5)]
    )

    assert (result.accepted, result.matched, result.unmatched) == (3, 3, [])
    assert indexed(db) == 3
    assert set(label_map(store(db, log).labels())) == {("a", 0), ("b", 2), ("s", 0)}


def label_map(labels: Any) -> dict[tuple[str, int], str]:
    return {
        (r, w): lab
        for r, w, lab in zip(
            labels["request_id"].to_pylist(),
            labels["row"].to_pylist(),
            labels["label"].to_pylist(),
            strict=True,
        )
    }


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        (FeedbackItem("a", "banana"), "items[1].label", "classes 0, 1"),
        (FeedbackItem("a", 2), "items[1].label", "classes 0, 1"),
        (FeedbackItem("a", True), "items[1].label", "classes 0, 1"),
        (FeedbackItem("s", "lots"), "items[1].label", "numeric labels"),
        (FeedbackItem("s", True), "items[1].label", "numeric labels"),
        (FeedbackItem("a", 1, row=1), "items[1].row", "had 1 row"),
        (FeedbackItem("a", 1, endpoint="spend"), None, None),  # names another endpoint
    ],
)
def test_a_label_that_does_not_fit_the_answering_version_is_refused(
    db: Database, log: ParquetPredictionLog, item: FeedbackItem, field: str | None, message: str
) -> None:
    log.write([logged("a"), logged("s", endpoint="spend")])
    feedback = store(db, log)
    good = FeedbackItem("s", "2.5")
    if field is None:  # not the request it names: stored as pending, unchecked
        assert feedback.ingest([good, item]).unmatched == ["a"]
        return
    with pytest.raises(ValidationFailed) as refused:
        feedback.ingest([good, item])

    assert refused.value.field == field and message in refused.value.message
    assert feedback.labels().num_rows == 0  # nothing of the call is stored


def test_a_label_for_an_unknown_request_is_kept_and_joins_later(
    db: Database, log: ParquetPredictionLog
) -> None:
    feedback = store(db, log)
    early = feedback.ingest([FeedbackItem("late", 1)])
    log.write([logged("late")])
    again = feedback.ingest([FeedbackItem("late", 1)])

    assert (early.matched, early.unmatched) == (0, ["late"])
    assert (again.matched, again.replaced) == (1, 0)
    assert label_map(feedback.labels()) == {("late", 0): "1"}


def test_a_pending_label_that_does_not_fit_is_withdrawn_when_its_request_is_indexed(
    db: Database, log: ParquetPredictionLog
) -> None:
    feedback = store(db, log)
    feedback.ingest([FeedbackItem("p1", "banana"), FeedbackItem("p2", 1)], actor="mallory")
    log.write([logged("p1"), logged("p2")])

    feedback.index.catch_up()

    assert label_map(feedback.labels()) == {("p2", 0): "1"}
    (withdrawn,) = feedback.history("p1")
    assert withdrawn["label"] == "banana" and withdrawn["actor"] == "mallory"
    assert str(withdrawn["replaced_by"]).startswith("refused: churn:1 knows the classes 0, 1")
    assert feedback.labels()["label_endpoint"].to_pylist() == ["churn"]  # p2's, learnt


def test_an_overwrite_keeps_the_earlier_label_its_time_and_who_gave_it(
    db: Database, log: ParquetPredictionLog
) -> None:
    log.write([logged("a")])
    feedback = store(db, log)
    feedback.ingest([FeedbackItem("a", 0)], actor="alice")
    first = feedback.history("a")[0]["received_at"]
    same = feedback.ingest([FeedbackItem("a", 0)], actor="mallory")  # no change: no history
    changed = feedback.ingest([FeedbackItem("a", 1)], actor="bob")

    history = feedback.history("a")
    assert (same.replaced, changed.replaced) == (0, 1)
    assert [(h["label"], h["actor"], h["current"]) for h in history] == [
        (0, "alice", False),
        (1, "bob", True),
    ]
    assert history[0]["received_at"] == first
    assert history[0]["replaced_by"] == "bob" and history[0]["replaced_at"] is not None
    assert label_map(feedback.labels()) == {("a", 0): "1"}


def test_refuse_mode_refuses_a_different_label_and_stores_nothing_of_the_call(
    db: Database, log: ParquetPredictionLog
) -> None:
    log.write([logged("a"), logged("b")])
    feedback = store(db, log, overwrite="refuse")
    feedback.ingest([FeedbackItem("a", 0)], actor="alice")
    again = feedback.ingest([FeedbackItem("a", 0)], actor="alice")  # the same: fine

    with pytest.raises(Conflict) as refused:
        feedback.ingest([FeedbackItem("b", 1), FeedbackItem("a", 1)], actor="mallory")

    assert again.accepted == 1 and refused.value.status == 409
    assert refused.value.field == "items[1].label"
    assert label_map(feedback.labels()) == {("a", 0): "0"}
    assert [h["actor"] for h in feedback.history("a")] == ["alice"]


def test_the_index_reads_each_segment_once_and_survives_compaction_and_restart(
    db: Database, log: ParquetPredictionLog
) -> None:
    yesterday = time.time() - 86_400
    old = [logged(f"old-{i}", at=-86_400 + 60) for i in range(3)]
    log.write(old[:2])
    log.write(old[2:])
    log.write([logged("new"), logged("new", role="shadow")])
    index = RequestIndex(db, log)
    first = index.catch_up()
    assert (first, index.catch_up()) == (4, 0)  # a second round reads nothing
    compact_endpoint(log.root, "churn", before=date.today() + timedelta(days=1))
    assert index.catch_up() == 0  # a merged file of segments already read: skipped
    restarted = RequestIndex(db, log)
    restarted.catch_up()
    assert indexed(db) == 4  # re-read rows index nothing twice
    served = restarted.lookup(["new", "old-0", "nobody"])
    assert set(served) == {"new", "old-0"} and served["new"][0].version == 1
    assert served["old-0"][0].logged_at < datetime.fromtimestamp(yesterday + 120, UTC)


def test_a_following_index_answers_from_memory_and_sql_without_reading_the_log(
    db: Database, log: ParquetPredictionLog
) -> None:
    index = RequestIndex(db, log, recent=2)
    index.following = True  # the server's background loop reads the log, lookups do not
    log.write([logged("on-disk")])
    moment = datetime.now(UTC)
    for name in ("r1", "r2", "r3"):
        index.remember(Served(name, "churn", "churn", 1, 1, moment))

    before = index.lookup(["on-disk", "r1", "r2", "r3"])
    index.catch_up()
    after = index.lookup(["on-disk"])

    assert set(before) == {"r2", "r3"}  # r1 fell out of memory; on-disk not indexed yet
    assert set(after) == {"on-disk"}


def test_an_unreadable_segment_is_skipped_and_reported(
    db: Database, log: ParquetPredictionLog
) -> None:
    log.write([logged("fine")])
    folder = next((log.root / "churn").iterdir())
    (folder / "0000000000000-1-999999.parquet").write_bytes(b"not parquet")
    index = RequestIndex(db, log)

    assert index.catch_up() == 1
    assert [Path(p).name for p, _ in index.skipped] == ["0000000000000-1-999999.parquet"]


def test_remembered_requests_are_not_walked_by_the_garbage_collector(
    db: Database, log: ParquetPredictionLog
) -> None:
    """Tens of thousands of remembered requests must cost a full collection nothing: they
    are stored as values CPython's cyclic collector stops tracking."""
    import gc

    index = RequestIndex(db, log, recent=5_000)
    index.following = True
    moment = datetime.now(UTC)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(2_000):
        ran = frozenset({0, 2}) if i % 2 else None
        index.remember(Served(f"r{i}", "churn", "churn", 1, 3, moment, ran))
    index.remember(Served("r1", "step-2", "other", 4, 1, moment))  # a pipeline's second step
    gc.collect()  # a tuple is untracked once the collector has seen its items untracked
    gc.collect()

    assert len(gc.get_objects()) - before < 200
    served = index.lookup(["r1", "r2"])
    assert sorted((s.endpoint, s.version, s.ran) for s in served["r1"]) == [
        ("churn", 1, frozenset({0, 2})),
        ("step-2", 4, None),
    ]
    assert served["r2"][0] == Served("r2", "churn", "churn", 1, 3, moment)
