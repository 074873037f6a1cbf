"""FeedbackStore over every backend: upserts, matching against the log, late joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from modelport.batch import Batch, Prediction
from modelport.predlog.feedback import FeedbackItem, FeedbackStore
from modelport.predlog.index import Served
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import PredictionRecord


def logged(request_id: str, labels: list[object], endpoint: str = "churn") -> PredictionRecord:
    rows = len(labels)
    return PredictionRecord(
        request_id=request_id,
        endpoint=endpoint,
        model="churn",
        version=1,
        role="primary",
        ts=datetime.now(UTC).timestamp(),
        latency_ms=1.0,
        features=Batch({"tenure": np.arange(rows, dtype=np.float64)}, rows),
        prediction=Prediction(np.array(labels)),
        classes=tuple(sorted({str(label) for label in labels})),
    )


def label_map(table: pa.Table) -> dict[tuple[str, int], str]:
    return {
        (r["request_id"], r["row"]): r["label"]
        for r in table.select(["request_id", "row", "label"]).to_pylist()
    }


def test_ingest_reports_matched_and_unmatched_labels(
    feedback: FeedbackStore, prediction_log: ParquetPredictionLog
) -> None:
    prediction_log.write([logged("req-1", [1, 0])])

    result = feedback.ingest(
        [
            FeedbackItem("req-1", 1, row=0),
            FeedbackItem("req-1", 1, row=1),
            FeedbackItem("req-9", 0),
        ]
    )

    assert (result.accepted, result.matched, result.unmatched) == (3, 2, ["req-9"])
    assert result.to_dict()["unmatched"] == 1
    labels = feedback.labels()
    assert label_map(labels) == {("req-1", 0): "1", ("req-1", 1): "1", ("req-9", 0): "0"}
    endpoints = dict(
        zip(labels["request_id"].to_pylist(), labels["label_endpoint"].to_pylist(), strict=True)
    )
    assert endpoints == {"req-1": "churn", "req-9": None}


def test_a_repeated_label_replaces_the_earlier_one(feedback: FeedbackStore) -> None:
    feedback.ingest([FeedbackItem("req-1", "yes"), FeedbackItem("req-2", "no")])
    feedback.ingest([FeedbackItem("req-1", "no")])

    assert label_map(feedback.labels()) == {("req-1", 0): "no", ("req-2", 0): "no"}


def test_the_last_of_duplicate_labels_in_one_call_wins(feedback: FeedbackStore) -> None:
    result = feedback.ingest([FeedbackItem("req-1", "yes"), FeedbackItem("req-1", "no")])

    assert result.accepted == 2
    assert label_map(feedback.labels()) == {("req-1", 0): "no"}


def test_an_unmatched_label_joins_once_its_prediction_is_logged(
    feedback: FeedbackStore, prediction_log: ParquetPredictionLog
) -> None:
    early = feedback.ingest([FeedbackItem("late-req", 1)])
    assert early.unmatched == ["late-req"]

    prediction_log.write([logged("late-req", [1])])
    joined = prediction_log.read("churn").join(
        feedback.labels(endpoint="churn").select(["request_id", "row", "label"]),
        keys=["request_id", "row"],
        join_type="left outer",
    )

    assert joined.select(["request_id", "prediction", "label"]).to_pylist() == [
        {"request_id": "late-req", "prediction": "1", "label": "1"}
    ]


def test_label_text_matches_how_predictions_are_logged(
    feedback: FeedbackStore, prediction_log: ParquetPredictionLog
) -> None:
    prediction_log.write(
        [logged("ints", [1, 1, 1, 0]), logged("bools", [True]), logged("words", ["yes"])]
    )
    feedback.ingest(
        [
            FeedbackItem("ints", 1, row=0),
            FeedbackItem("ints", 1.0, row=1),
            FeedbackItem("ints", "1", row=2),
            FeedbackItem("ints", 0, row=3),
            FeedbackItem("bools", True),
            FeedbackItem("words", "yes"),
        ]
    )

    joined = prediction_log.read("churn").join(
        feedback.labels(endpoint="churn"), keys=["request_id", "row"]
    )

    assert joined.num_rows == 6
    assert joined["label"].to_pylist() == joined["prediction"].to_pylist()
    values = dict(
        zip(joined["prediction"].to_pylist(), joined["label_value"].to_pylist(), strict=True)
    )
    assert values["1"] == 1.0 and values["True"] == 1.0 and values["yes"] is None


def test_labels_filter_by_endpoint_and_arrival(
    feedback: FeedbackStore, prediction_log: ParquetPredictionLog
) -> None:
    prediction_log.write([logged("c", [1]), logged("p", [1], endpoint="pricing")])
    before = datetime.now(UTC)
    feedback.ingest([FeedbackItem("c", 1), FeedbackItem("p", 1), FeedbackItem("x", 1)])

    by_endpoint = feedback.labels(endpoint="pricing")["request_id"].to_pylist()
    assert sorted(by_endpoint) == ["p", "x"]  # unattributed labels go with every endpoint
    tokyo = timezone(timedelta(hours=9))
    assert feedback.labels(since=before.astimezone(tokyo)).num_rows == 3
    later = (before + timedelta(minutes=5)).astimezone(tokyo)
    assert feedback.labels(since=later).num_rows == 0
    received = feedback.labels()["label_received_at"].to_pylist()
    assert all(at >= before for at in received)


def test_many_labels_in_one_call(feedback: FeedbackStore) -> None:
    items = [FeedbackItem(f"req-{n}", n % 3, row=n % 2) for n in range(6_000)]

    result = feedback.ingest(items)

    assert result.accepted == 6_000 and result.matched == 0
    assert len(result.to_dict()["unmatched_ids"]) == 100
    assert feedback.labels().num_rows == 6_000


def test_each_endpoint_keeps_its_own_label_for_a_shared_request_row(
    feedback: FeedbackStore, prediction_log: ParquetPredictionLog
) -> None:
    feedback.ingest([FeedbackItem("pending", 0)])  # its request unknown yet
    prediction_log.write(
        [logged("shared", [1]), logged("shared", [0], endpoint="pricing"), logged("pending", [1])]
    )
    feedback.ingest(
        [FeedbackItem("shared", 1, endpoint="churn"), FeedbackItem("shared", 0, endpoint="pricing")]
    )
    again = feedback.ingest([FeedbackItem("shared", 0, endpoint="churn")], actor="bob")

    assert again.replaced == 1  # churn's label only
    # The pending label learnt its endpoint when the index read the log.
    assert label_map(feedback.labels(endpoint="churn")) == {("shared", 0): "0", ("pending", 0): "0"}
    assert label_map(feedback.labels(endpoint="pricing")) == {("shared", 0): "0"}
    assert feedback.labels().num_rows == 3
    assert [(h["endpoint"], h["label"], h["current"]) for h in feedback.history("shared")] == [
        ("churn", 1, False),
        ("churn", 0, True),
        ("pricing", 0, True),
    ]


def test_a_label_for_a_known_request_takes_the_place_of_its_pending_one(
    feedback: FeedbackStore,
) -> None:
    feedback.ingest([FeedbackItem("early", 1)], actor="alice")  # endpoint not known: ""
    # As in the server: answers are remembered at once, the log indexed later.
    feedback.index.following = True
    feedback.index.remember(Served("early", "churn", "churn", 1, 1, datetime.now(UTC)))

    result = feedback.ingest([FeedbackItem("early", 0)], actor="bob")

    assert (result.matched, result.replaced) == (1, 1)
    assert label_map(feedback.labels(endpoint="churn")) == {("early", 0): "0"}
    assert feedback.labels()["label_endpoint"].to_pylist() == ["churn"]
    assert [(h["endpoint"], h["actor"], h["current"]) for h in feedback.history("early")] == [
        (None, "alice", False),
        ("churn", "bob", True),
    ]


def test_a_pending_label_and_its_endpoints_own_label_settle_on_the_later_one(
    feedback: FeedbackStore, prediction_log: ParquetPredictionLog
) -> None:
    feedback.ingest([FeedbackItem("r", 1, endpoint="churn")], actor="alice")
    feedback.ingest([FeedbackItem("r", 0)], actor="bob")  # later, its endpoint not known
    feedback.ingest([FeedbackItem("s", 1, endpoint="churn")], actor="carol")
    prediction_log.write([logged("r", [1]), logged("s", [1])])
    feedback.ingest([FeedbackItem("s", 0)], actor="dave")  # known now: replaces carol's

    feedback.index.catch_up()  # the index learns r: bob's label is churn's, and later

    assert label_map(feedback.labels(endpoint="churn")) == {("r", 0): "0", ("s", 0): "0"}
    assert feedback.labels().num_rows == 2
    assert [(h["actor"], h["current"]) for h in feedback.history("r")] == [
        ("alice", False),
        ("bob", True),
    ]
