"""Labels through POST /v1/feedback: matched, unmatched kept, joined on export."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.store.db import Database
from support import LiveServer, churn_instance, make_churn_data, run_cli

from .conftest import make_churn_project
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
        # Rows are 32-bit in storage: a larger one would poison every later label read.
        huge_row = client.post("/v1/feedback", json={"request_id": "a", "label": 1, "row": 2**31})
        after = client.get("/v1/endpoints/churn/monitoring", params={"sections": "performance"})
    assert no_label.status_code == 422 and no_label.json()["field"] == "items[1].label"
    assert bad_id.status_code == 422 and bad_id.json()["field"] == "items[0].request_id"
    assert empty.status_code == 422
    assert huge_row.status_code == 422 and huge_row.json()["field"] == "items[0].row"
    assert after.status_code == 200, after.text


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


# -- labels that cannot be forged, and cost nothing in log size ------------------------------


def register_spend(folder: Path) -> None:
    """A scikit-learn regressor ``spend``:1 on the churn features, endpoint ``spend``."""
    import skops.io as sio
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry

    data = make_churn_data(300)
    data["spend"] = data["tenure"] * data["charges"]
    features = data.drop(columns=["churned", "spend"])
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
        ),
        LinearRegression(),
    ).fit(features, data["spend"])
    sio.dump(model, folder / "spend.skops")
    data.drop(columns=["churned"]).to_parquet(folder / "spend.parquet")
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
        version = registry.register(
            Registration(
                name="spend",
                source=str(folder / "spend.skops"),
                flavor="sklearn",
                reference=folder / "spend.parquet",
                target="spend",
            )
        )
        EndpointStore(db, registry).create("spend", "spend", version.version)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def quiet(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """A server whose log is written once a minute: whatever a label matches within a
    test was never flushed, unless the label forced it."""
    folder = make_churn_project(tmp_path_factory.mktemp("quiet"), churn_files)
    register_spend(folder)
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "60"}).start()
    try:
        yield live
    finally:
        live.stop()


def segments(server: LiveServer) -> list[Path]:
    return sorted((server.cwd / ".modelport" / "logs").rglob("*.parquet"))


def stored_feedback(server: LiveServer) -> FeedbackStore:
    db = Database(f"sqlite:///{server.cwd / '.modelport' / 'modelport.db'}")
    return FeedbackStore(db, ParquetPredictionLog(server.cwd / ".modelport/logs"))


def predict(client: Any, endpoint: str = "churn", **headers: str) -> str:
    answer = client.post(
        f"/v1/endpoints/{endpoint}/predict",
        json={"instances": [churn_instance(tenure=7)]},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.headers["x-request-id"])


def test_labels_match_at_once_without_flushing_the_log(quiet: LiveServer) -> None:
    before = set(segments(quiet))
    with quiet.client() as client:
        ids = [predict(client) for _ in range(5)]
        answers = [client.post("/v1/feedback", json={"request_id": i, "label": 1}) for i in ids]

    assert [a.json()["matched"] for a in answers] == [1] * 5
    # The log is written once a minute and no label made it write: at most the one timed
    # flush that may fall inside the test (the module's server runs for minutes), never
    # one segment per label.
    assert len(set(segments(quiet)) - before) <= 1


def test_a_label_outside_the_classes_is_refused_and_nothing_is_stored(quiet: LiveServer) -> None:
    with quiet.client() as client:
        request_id = predict(client)
        banana = client.post(
            "/v1/feedback",
            json=[
                {"request_id": request_id, "label": 0},
                {"request_id": request_id, "label": "banana", "row": 0},
            ],
        )
        three = client.post("/v1/feedback", json={"request_id": request_id, "label": 3})

    assert banana.status_code == 422 and banana.json()["field"] == "items[1].label"
    assert "0, 1" in banana.json()["message"]
    assert three.status_code == 422 and three.json()["field"] == "items[0].label"
    feedback = stored_feedback(quiet)
    try:
        assert feedback.history(request_id) == []
    finally:
        feedback.db.dispose()


def test_a_regressor_takes_numbers_only(quiet: LiveServer) -> None:
    with quiet.client() as client:
        request_id = predict(client, "spend")
        word = client.post("/v1/feedback", json={"request_id": request_id, "label": "high"})
        number = client.post("/v1/feedback", json={"request_id": request_id, "label": 412.5})

    assert word.status_code == 422 and word.json()["field"] == "items[0].label"
    assert "numeric" in word.json()["message"]
    assert number.status_code == 200 and number.json()["matched"] == 1


def test_an_overwrite_keeps_the_earlier_label_with_its_time_and_actor(quiet: LiveServer) -> None:
    with quiet.client() as client:
        request_id = predict(client)
        first = client.post("/v1/feedback", json={"request_id": request_id, "label": 0})
        second = client.post("/v1/feedback", json={"request_id": request_id, "label": 1})

    assert (first.json()["replaced"], second.json()["replaced"]) == (0, 1)
    feedback = stored_feedback(quiet)
    try:
        history = feedback.history(request_id)
    finally:
        feedback.db.dispose()
    assert [(h["label"], h["current"], h["actor"]) for h in history] == [
        (0, False, "anonymous"),
        (1, True, "anonymous"),
    ]
    assert history[0]["received_at"] < history[1]["received_at"] == history[0]["replaced_at"]


def test_generated_request_ids_are_128_random_bits(quiet: LiveServer) -> None:
    with quiet.client() as client:
        ids = [predict(client) for _ in range(200)]

    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 200
    # No shared prefix or counter: even the first 8 hex digits differ between requests,
    # and two consecutive ids differ in about half their 128 bits.
    assert len({i[:8] for i in ids}) == 200
    distances = [bin(int(a, 16) ^ int(b, 16)).count("1") for a, b in itertools.pairwise(ids)]
    assert 48 < sum(distances) / len(distances) < 80


def test_a_restarted_server_matches_labels_from_the_index(quiet: LiveServer) -> None:
    with quiet.client() as client:
        request_id = predict(client)
    quiet.stop()  # writes the log; the new process remembers nothing in memory
    quiet.start()
    label = {"request_id": request_id, "label": 1}

    def matched() -> bool:
        with quiet.client() as client:
            return bool(client.post("/v1/feedback", json=label).json()["matched"] == 1)

    quiet.wait_for(matched)
    with quiet.client() as client:
        unknown = client.post("/v1/feedback", json={"request_id": "f" * 32, "label": 1}).json()
    assert unknown["matched"] == 0 and unknown["unmatched_ids"] == ["f" * 32]


@pytest.fixture(scope="module")
def refusing(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = make_churn_project(
        tmp_path_factory.mktemp("refusing"), churn_files, '\n[feedback]\noverwrite = "refuse"\n'
    )
    live = LiveServer(folder).start()
    try:
        yield live
    finally:
        live.stop()


def test_refuse_mode_answers_409_and_keeps_the_first_label(refusing: LiveServer) -> None:
    with refusing.client() as client:
        request_id = predict(client)
        first = client.post("/v1/feedback", json={"request_id": request_id, "label": 0})
        same = client.post("/v1/feedback", json={"request_id": request_id, "label": 0})
        other = client.post("/v1/feedback", json={"request_id": request_id, "label": 1})

    assert first.status_code == same.status_code == 200
    assert other.status_code == 409 and other.json()["code"] == "conflict"
    assert other.json()["field"] == "items[0].label"
    feedback = stored_feedback(refusing)
    try:
        assert [h["label"] for h in feedback.history(request_id)] == [0]
    finally:
        feedback.db.dispose()
