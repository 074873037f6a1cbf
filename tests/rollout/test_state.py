"""The rollout state machine on a real database: one transaction per transition, one
winner per revision, routing and audit changed together or not at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.errors import Conflict, VersionNotFound
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registration, Registry
from modelport.rollout.spec import build_spec
from modelport.rollout.state import (
    ACTIVE,
    PAUSED,
    PROMOTED,
    ROLLED_BACK,
    Change,
    Rollout,
    RolloutStore,
)
from modelport.schema import FeatureSpec, InputSchema
from modelport.serving.policies import CanarySpec, PrimarySpec
from modelport.store.db import Database

PREDICTOR = """
class Constant:
    classes = [0, 1]

    def predict(self, frame):
        return [0] * len(frame)
"""
PRIMARY, OTHER = 1, 2


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RolloutStore]:
    """The same state machine on every supported database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'modelport.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    registry = Registry(db, ArtifactStore(tmp_path / "artifacts"))
    (tmp_path / "constant.py").write_text(PREDICTOR)
    schema = InputSchema(features=[FeatureSpec(name="x", kind="float")])
    for _ in range(2):
        registry.register(
            Registration(
                name="churn",
                source=str(tmp_path / "constant.py") + ":Constant",
                flavor="python",
                trust_code=True,
                schema=schema,
            )
        )
    endpoints = EndpointStore(db, registry)
    endpoints.create("churn", "churn", PRIMARY)
    try:
        yield RolloutStore(db, endpoints)
    finally:
        db.dispose()


def _start(store: RolloutStore) -> Rollout:
    spec = build_spec({"strategy": "canary", "steps": "10,100"})
    return store.create(
        store.endpoints.get("churn"),
        OTHER,
        spec,
        phase="canary",
        change=Change(
            action="start",
            actor="test",
            weight=10.0,
            policy=CanarySpec(OTHER, 10.0, spec.salt, None),
        ),
    )


def test_start_routes_and_audits_in_one_go(store: RolloutStore) -> None:
    rollout = _start(store)
    endpoint = store.endpoints.get("churn")
    assert rollout.status == ACTIVE and rollout.baseline == PRIMARY
    assert endpoint.policy["strategy"] == "canary" and endpoint.policy["rollout"] == rollout.id
    assert [e["action"] for e in store.events("churn")] == ["start"]
    assert store.endpoints.history("churn")[0]["action"] == "rollout-start"
    with pytest.raises(Conflict, match="already has a rollout"):
        _start(store)


def test_a_stale_revision_loses(store: RolloutStore) -> None:
    rollout = _start(store)
    paused = store.transition(rollout, Change(action="pause", actor="a", status=PAUSED))
    assert paused.revision == rollout.revision + 1
    with pytest.raises(Conflict, match="changed meanwhile"):
        store.transition(rollout, Change(action="rollback", actor="b", status=ROLLED_BACK))
    assert store.active("churn").status == PAUSED


def test_an_ended_rollout_cannot_move_and_frees_the_endpoint(store: RolloutStore) -> None:
    rollout = _start(store)
    done = store.transition(
        rollout,
        Change(
            action="promote",
            actor="a",
            status=PROMOTED,
            policy=PrimarySpec(),
            primary_version=OTHER,
        ),
    )
    assert done.finished_at is not None and store.endpoints.get("churn").primary_version == OTHER
    with pytest.raises(Conflict):
        store.transition(done, Change(action="pause", actor="a", status=PAUSED))
    with pytest.raises(Conflict, match="no rollout in progress"):
        store.active("churn")
    assert _start(store).id != rollout.id  # the endpoint takes a new rollout


def test_a_failed_routing_change_leaves_the_rollout_as_it_was(store: RolloutStore) -> None:
    rollout = _start(store)
    revision = store.endpoints.get("churn").revision
    with pytest.raises(VersionNotFound):
        store.transition(
            rollout,
            Change(
                action="promote",
                actor="a",
                status=PROMOTED,
                policy=PrimarySpec(),
                primary_version=99,
            ),
        )
    assert store.get(rollout.id) == rollout
    assert store.endpoints.get("churn").revision == revision
    assert [e["action"] for e in store.events("churn")] == ["start"]


def test_analysis_is_stored_without_taking_the_revision(store: RolloutStore) -> None:
    rollout = _start(store)
    event = Change(action="verdict", actor="controller", reason="waiting")
    assert store.record_analysis(rollout, {"gates": []}, "waiting", event)
    again = store.get(rollout.id)
    assert again.revision == rollout.revision and again.note == "waiting"
    assert [e["action"] for e in store.events("churn")] == ["start", "verdict"]


def test_racing_transitions_have_exactly_one_winner(store: RolloutStore) -> None:
    rollout = _start(store)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def act(status: str) -> None:
        barrier.wait()
        try:
            store.transition(
                rollout, Change(action=status, actor="racer", status=status, policy=PrimarySpec())
            )
            outcomes.append("won")
        except Conflict:
            outcomes.append("409")

    racers = [
        threading.Thread(target=act, args=(status,))
        for status in (PROMOTED, ROLLED_BACK, PAUSED, ROLLED_BACK)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(outcomes) == ["409", "409", "409", "won"]
    assert len(store.events("churn")) == 2
    assert store.get(rollout.id).revision == rollout.revision + 1
