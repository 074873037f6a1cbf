"""``modelport retrain`` through the real command, on traffic a real server logged."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from modelport.config import Settings
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.store.audit import audit_trail
from modelport.store.db import Database
from support import LiveServer, churn_instance, run_cli

from .conftest import TRAFFIC_ROWS, python_path

EXAMPLE = "modelport.retraining.examples:logistic"


def retrain(server: LiveServer, *args: str, check: bool = True) -> tuple[int, str, str]:
    result = run_cli(
        "retrain",
        "churn",
        *args,
        cwd=server.cwd,
        env={"PYTHONPATH": python_path(server.cwd / "trainers")},
        check=check,
    )
    return result.returncode, result.stdout, result.stderr


def versions(server: LiveServer) -> list[int]:
    with server.client() as client:
        answer = client.get("/v1/models/churn")
    assert answer.status_code == 200, answer.text
    return [v["version"] for v in answer.json()["versions"]]


def client_schema(server: LiveServer, version: int) -> object:
    with server.client() as client:
        return client.get(f"/v1/models/churn/versions/{version}").json()["input_schema"]


def endpoint_audit(server: LiveServer) -> list[dict[str, object]]:
    settings = Settings.load(server.cwd / "modelport.toml")
    db = Database(f"sqlite:///{server.cwd / settings.store.home / 'modelport.db'}")
    try:
        return audit_trail(db, "endpoint:churn")
    finally:
        db.dispose()


def test_retrain_on_drifted_traffic_beats_its_parent_with_lineage_and_enters_shadow(
    drifted_server: LiveServer,
) -> None:
    before = datetime.now().astimezone()
    _, stdout, _ = retrain(drifted_server, "--trainer", EXAMPLE, "--reason", "drift", "--json")
    outcome = json.loads(stdout)

    assert (outcome["model"], outcome["version"], outcome["parent"]) == ("churn", 2, 1)
    lineage = outcome["lineage"]
    assert lineage["parent"] == "churn:1" and lineage["trainer"] == EXAMPLE
    assert lineage["rows"] == TRAFFIC_ROWS and lineage["labels"] == TRAFFIC_ROWS
    assert lineage["fingerprint"].startswith("sha256:") and len(lineage["fingerprint"]) == 71
    start = datetime.fromisoformat(lineage["window"]["start"])
    end = datetime.fromisoformat(lineage["window"]["end"])
    assert end - start == timedelta(days=30) and end >= before
    holdout = lineage["holdout"]
    assert holdout["rows"] == TRAFFIC_ROWS // 5 and holdout["split"] == "time"
    # Charges alone decide churn now: the retrained version learns it, its parent cannot.
    assert holdout["metrics"]["accuracy"] > 0.9
    assert holdout["metrics"]["accuracy"] > holdout["parent_metrics"]["accuracy"] + 0.2
    assert set(holdout["metrics"]) >= {"accuracy", "macro_f1"}
    assert lineage["reason"] == "drift"

    # Registered with that lineage, beside its parent; the endpoint still serves churn:1.
    with drifted_server.client() as client:
        stored = client.get("/v1/models/churn/versions/2").json()
        rollout = client.get("/v1/endpoints/churn/rollout").json()["rollout"]
        endpoint = client.get("/v1/endpoints/churn").json()
    assert stored["lineage"] == lineage
    # A reference profile of the training rows, as a registration builds one.
    assert stored["has_profile"] and stored["reference_rows"] == TRAFFIC_ROWS - TRAFFIC_ROWS // 5
    assert stored["input_schema"] == client_schema(drifted_server, 1)
    assert endpoint["version"] == 1
    assert rollout["id"] == outcome["rollout_id"]
    assert rollout["strategy"] == "shadow-then-canary" and rollout["phase"] == "shadow"
    assert rollout["candidate"] == 2
    chain = run_cli("models", "lineage", "churn:2", "--json", cwd=drifted_server.cwd).stdout
    assert lineage["fingerprint"] in chain and "churn:1" in chain
    entry = endpoint_audit(drifted_server)[0]
    assert entry["action"] == "retrain" and entry["version"] == "churn:2"

    # The running server picks the rollout up: churn:1 answers, churn:2 shadows.
    log = ParquetPredictionLog(drifted_server.cwd / ".modelport" / "logs")

    def shadowed() -> bool:
        with drifted_server.client() as client:
            answer = client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}
            )
        assert answer.status_code == 200, answer.text
        return log.read("churn", columns=["row"], version=2, role="shadow").num_rows > 0

    drifted_server.wait_for(shadowed, timeout=30)


def test_retrain_shows_its_stages_and_results(drifted_server: LiveServer) -> None:
    _, stdout, _ = retrain(drifted_server, "--trainer", "mytrainers:sees", "--no-rollout")
    for stage in ("gathering", "training", "evaluating", "registering"):
        assert stage in stdout
    assert "rolling out" not in stdout
    assert "churn:2 trained from churn:1 on 600 rows" in stdout
    assert "holdout accuracy" in stdout and "no rollout started" in stdout
    with drifted_server.client() as client:
        assert client.get("/v1/endpoints/churn/rollout").json()["rollout"] is None


def test_with_reference_adds_the_parents_labelled_sample(drifted_server: LiveServer) -> None:
    _, stdout, _ = retrain(
        drifted_server,
        *("--trainer", EXAMPLE, "--with-reference", "--no-rollout", "--split", "random"),
        *("--holdout", "0.25", "--json"),
    )
    outcome = json.loads(stdout)
    lineage = outcome["lineage"]
    assert outcome["rollout_id"] is None
    assert lineage["reference_rows"] == 2000
    assert lineage["labels"] == TRAFFIC_ROWS + 2000 == lineage["rows"]
    assert lineage["holdout"]["rows"] == TRAFFIC_ROWS // 4
    assert lineage["holdout"]["split"] == "random"


BAD_TRAINERS = [
    ("nowhere.to.be:found", "cannot import trainer module 'nowhere.to.be'"),
    ("mytrainers:missing", "trainer module 'mytrainers' has no function 'missing'"),
    ("mytrainers:raises", "raised RuntimeError: the data looks wrong to me"),
    ("mytrainers:not_a_model", "returned str, which has no predict()"),
]


def test_a_bad_trainer_leaves_the_registry_unchanged_and_is_audited(
    drifted_server: LiveServer,
) -> None:
    for trainer, message in BAD_TRAINERS:
        code, stdout, stderr = retrain(drifted_server, "--trainer", trainer, "--json", check=False)
        assert code == 1, stdout + stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "trainer_failed [trainer]" in lines[0], stderr
        assert message in lines[0], stderr
        assert stdout == ""
        assert versions(drifted_server) == [1]
        entry = endpoint_audit(drifted_server)[0]
        assert entry["action"] == "retrain_failed" and entry["trainer"] == trainer
        assert entry["code"] == "trainer_failed" and message in str(entry["error"])
    with drifted_server.client() as client:
        assert client.get("/v1/endpoints/churn/rollout").json()["rollout"] is None


def test_too_few_labels_says_how_many_it_has_and_needs(drifted_server: LiveServer) -> None:
    code, _, stderr = retrain(
        drifted_server, "--trainer", EXAMPLE, "--min-labels", "5000", check=False
    )
    assert code == 1
    assert "endpoint churn has 600 labelled rows in the last 30d; --min-labels is 5000" in stderr
    assert versions(drifted_server) == [1]
    code, _, stderr = retrain(drifted_server, "--trainer", EXAMPLE, "--since", "1s", check=False)
    assert code == 1 and "has 0 labelled rows in the last 1s" in stderr


BAD_OPTIONS = [
    (("--trainer", "no colon"), "trainer"),
    (("--trainer", EXAMPLE, "--holdout", "1.5"), "holdout"),
    (("--trainer", EXAMPLE, "--split", "sideways"), "split"),
    (("--trainer", EXAMPLE, "--since", "soon"), "since"),
    (("--trainer", EXAMPLE, "--min-labels", "0"), "min_labels"),
    (("--trainer", EXAMPLE, "--lineage-json", "[1]"), "lineage"),
]


def test_bad_options_name_the_field(drifted_server: LiveServer) -> None:
    for args, field in BAD_OPTIONS:
        code, _, stderr = retrain(drifted_server, *args, check=False)
        assert code == 1 and f"[{field}]" in stderr, stderr
    assert versions(drifted_server) == [1]
