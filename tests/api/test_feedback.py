"""Labels through POST /v1/feedback: matched, unmatched kept, joined on export."""

from __future__ import annotations

import csv

from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.store.db import Database
from support import LiveServer, churn_instance, run_cli

from .helpers import logged_ids


def test_feedback_matches_logged_predictions_and_keeps_unknown_ids(server: LiveServer) -> None:
    with server.client() as client:
        for index in range(3):
            client.post(
                "/v1/endpoints/churn/predict",
                json={"instances": [churn_instance(tenure=index)]},
                headers={"X-Request-ID": f"fb-{index}"},
            )
        one = client.post("/v1/feedback", json={"request_id": "fb-0", "label": 1})
        many = client.post(
            "/v1/feedback",
            json=[
                {"request_id": "fb-1", "label": 0},
                {"request_id": "fb-2", "label": "1"},
                {"request_id": "not-yet-known", "label": 1},
            ],
        )
    assert one.status_code == 200 and one.json()["matched"] == 1
    body = many.json()
    assert body["accepted"] == 3 and body["matched"] == 2 and body["unmatched"] == 1
    assert body["unmatched_ids"] == ["not-yet-known"]
    db = Database(f"sqlite:///{server.cwd / '.modelport' / 'modelport.db'}")
    labels = FeedbackStore(db, ParquetPredictionLog(server.cwd / ".modelport/logs")).labels()
    stored = dict(zip(labels["request_id"].to_pylist(), labels["label"].to_pylist(), strict=True))
    assert stored["not-yet-known"] == "1" and stored["fb-0"] == "1" and stored["fb-1"] == "0"
    db.dispose()


def test_feedback_bad_input_names_the_field(server: LiveServer) -> None:
    with server.client() as client:
        no_label = client.post(
            "/v1/feedback", json=[{"request_id": "a", "label": 1}, {"request_id": "b"}]
        )
        bad_id = client.post("/v1/feedback", json={"request_id": 5, "label": 1})
        empty = client.post("/v1/feedback", json=[])
    assert no_label.status_code == 422 and no_label.json()["field"] == "items[1].label"
    assert bad_id.status_code == 422 and bad_id.json()["field"] == "items[0].request_id"
    assert empty.status_code == 422


def test_export_with_labels_and_cli_ingest(server: LiveServer) -> None:
    with server.client() as client:
        for request_id in ("csv-req", "csv-unlabelled"):
            answer = client.post(
                "/v1/endpoints/churn/predict",
                json={"instances": [churn_instance(), churn_instance(50, 10.0, "pro")]},
                headers={"X-Request-ID": request_id},
            )
            assert answer.status_code == 200
    # Labels that differ from each other per row, so a join on request id alone (or on
    # the wrong row) shows.
    (server.cwd / "labels.csv").write_text("request_id,row,label\ncsv-req,0,1\ncsv-req,1,0\n")
    server.wait_for(lambda: {"csv-req", "csv-unlabelled"} <= logged_ids(server, "churn"))
    ingested = run_cli("feedback", "ingest", "labels.csv", cwd=server.cwd)
    assert "accepted 2 labels: 2 matched" in ingested.stdout
    run_cli(
        "logs", "export", "churn", "--since", "1h", "-o", "out.csv", "--with-labels", cwd=server.cwd
    )
    with (server.cwd / "out.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ours = [r for r in rows if r["request_id"] in ("csv-req", "csv-unlabelled")]
    assert len(ours) == 4, ours  # one line per predicted row: the join adds no rows
    labels = {(r["request_id"], int(r["row"])): r["label"] for r in ours}
    assert labels == {
        ("csv-req", 0): "1",
        ("csv-req", 1): "0",
        ("csv-unlabelled", 0): "",
        ("csv-unlabelled", 1): "",
    }


def test_cli_ingest_refuses_a_file_without_label_column(server: LiveServer) -> None:
    (server.cwd / "bad.csv").write_text("request_id,answer\nx,1\n")
    result = run_cli("feedback", "ingest", "bad.csv", cwd=server.cwd, check=False)
    assert result.returncode == 1
    assert "lacks column(s): label" in result.stderr
