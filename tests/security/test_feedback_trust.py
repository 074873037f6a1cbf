"""Labels as an attacker would send them: guessed request ids, other callers' labels
rewritten, labels no model could have predicted. Against a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.conftest import make_churn_project
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.store.db import Database
from support import LiveServer, churn_instance

ALICE = {"Authorization": "Bearer alice-labels-token"}
MALLORY = {"Authorization": "Bearer mallory-labels-token"}


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """Client tokens configured: labels need one, and every label names who gave it."""
    folder = make_churn_project(tmp_path_factory.mktemp("trust"), churn_files)
    text = (folder / "modelport.toml").read_text()
    text = text.replace(
        "client_tokens = []", 'client_tokens = ["alice-labels-token", "mallory-labels-token"]'
    )
    (folder / "modelport.toml").write_text(text)
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield live
    finally:
        live.stop()


def history(server: LiveServer, request_id: str) -> list[dict[str, object]]:
    db = Database(f"sqlite:///{server.cwd / '.modelport' / 'modelport.db'}")
    try:
        store = FeedbackStore(db, ParquetPredictionLog(server.cwd / ".modelport" / "logs"))
        return store.history(request_id)
    finally:
        db.dispose()


def predict(server: LiveServer) -> str:
    with server.client() as client:
        answer = client.post(
            "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}, headers=ALICE
        )
    assert answer.status_code == 200, answer.text
    return str(answer.headers["x-request-id"])


def test_the_next_request_id_cannot_be_derived_from_ones_own(guarded: LiveServer) -> None:
    mine = predict(guarded)
    theirs = predict(guarded)
    # The old scheme: a per-process prefix and a counter, so "mine + 1" was the neighbour.
    guessed = f"{mine[:16]}{int(mine[16:], 16) + 1:016x}"
    with guarded.client() as client:
        forged = client.post(
            "/v1/feedback", json={"request_id": guessed, "label": 1}, headers=MALLORY
        )

    assert theirs != guessed and mine[:16] != theirs[:16]
    assert forged.status_code == 200 and forged.json()["matched"] == 0
    assert history(guarded, theirs) == []  # the neighbour's request has no label


def test_a_label_without_a_token_is_refused_and_not_stored(guarded: LiveServer) -> None:
    request_id = predict(guarded)
    with guarded.client() as client:
        anonymous = client.post("/v1/feedback", json={"request_id": request_id, "label": 1})

    assert anonymous.status_code == 401
    assert history(guarded, request_id) == []


def test_rewriting_another_callers_label_leaves_a_trail(guarded: LiveServer) -> None:
    request_id = predict(guarded)
    with guarded.client() as client:
        honest = client.post(
            "/v1/feedback", json={"request_id": request_id, "label": 0}, headers=ALICE
        )
        rewritten = client.post(
            "/v1/feedback", json={"request_id": request_id, "label": 1}, headers=MALLORY
        )

    assert honest.status_code == rewritten.status_code == 200
    assert rewritten.json()["replaced"] == 1
    trail = history(guarded, request_id)
    assert [(h["label"], h["current"]) for h in trail] == [(0, False), (1, True)]
    # Who labelled is the token's identity, never "anonymous" once tokens are configured.
    assert trail[0]["actor"] not in (None, "", "anonymous", "cli")
    assert trail[0]["replaced_by"] == trail[1]["actor"]


@pytest.mark.parametrize("label", ["banana", 7, -1, "0.5", True])
def test_a_label_no_version_could_predict_is_refused(guarded: LiveServer, label: object) -> None:
    request_id = predict(guarded)
    with guarded.client() as client:
        refused = client.post(
            "/v1/feedback", json={"request_id": request_id, "label": label}, headers=MALLORY
        )

    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "items[0].label"
    assert history(guarded, request_id) == []
