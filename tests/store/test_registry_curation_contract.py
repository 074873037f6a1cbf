"""Aliases, endpoints following them, archived versions, tags and lineage over every
backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from sqlalchemy import select

from modelport.errors import (
    AliasNotFound,
    Conflict,
    InvalidName,
    ModelNotFound,
    RolloutInProgress,
    ValidationFailed,
    VersionArchived,
    VersionInUse,
    VersionNotFound,
)
from modelport.registry.aliases import AliasStore
from modelport.registry.catalog import Catalog
from modelport.registry.endpoints import EndpointStore
from modelport.registry.lineage import Lineage
from modelport.registry.records import parse_model_ref
from modelport.registry.service import Registration, Registry
from modelport.rollout.spec import build_spec
from modelport.rollout.state import ROLLED_BACK, Change, RolloutStore
from modelport.serving.policies import CanarySpec, PrimarySpec
from modelport.store.tables import AuditRow


@pytest.fixture
def three_versions(registry: Registry, halver: Registration) -> None:
    for _ in range(3):
        registry.register(halver)


@pytest.fixture
def aliases(endpoints: EndpointStore) -> AliasStore:
    return AliasStore(endpoints)


@pytest.fixture
def catalog(registry: Registry) -> Catalog:
    return Catalog(registry)


def audit(registry: Registry, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    with registry.db.session() as session:
        rows = session.scalars(
            select(AuditRow).where(AuditRow.subject == subject).order_by(AuditRow.id)
        ).all()
        return [(r.actor, r.action, dict(r.details)) for r in rows]


def start_canary(endpoints: EndpointStore, candidate: int) -> int:
    store = RolloutStore(endpoints.db, endpoints)
    spec = build_spec({"strategy": "canary", "steps": "10,100"})
    rollout = store.create(
        endpoints.get("churn"),
        candidate,
        spec,
        phase="canary",
        change=Change(
            action="start",
            actor="test",
            weight=10.0,
            policy=CanarySpec(candidate, 10.0, spec.salt, None),
        ),
    )
    return rollout.id


# -- aliases ----------------------------------------------------------------------------


@pytest.mark.usefixtures("three_versions")
def test_an_alias_is_set_moved_listed_and_audited(aliases: AliasStore, registry: Registry) -> None:
    first = aliases.set("halver", "champion", 1, actor="alice")
    moved = aliases.set("halver", "champion", 3, actor="bob")
    aliases.set("halver", "challenger", 2, actor="bob")

    assert (first.previous, first.alias.version) == (None, 1)
    assert (moved.previous, moved.alias.version, moved.alias.updated_by) == (1, 3, "bob")
    assert registry.aliases("halver") == {"challenger": 2, "champion": 3}
    assert [(a.alias, a.version) for a in aliases.list("halver")] == [
        ("challenger", 2),
        ("champion", 3),
    ]
    assert registry.get("halver", 3).aliases == ("champion",)
    assert registry.resolve(parse_model_ref("halver@champion")).version == 3
    trail = [(actor, action, d) for actor, action, d in audit(registry, "model:halver")]
    alias_moves = [(a, d["alias"], d["from"], d["to"]) for a, act, d in trail if act == "alias-set"]
    assert alias_moves == [
        ("alice", "champion", None, 1),
        ("bob", "champion", 1, 3),
        ("bob", "challenger", None, 2),
    ]


@pytest.mark.usefixtures("three_versions")
def test_alias_bad_input_is_refused_and_changes_nothing(
    aliases: AliasStore, registry: Registry
) -> None:
    aliases.set("halver", "champion", 1)
    with pytest.raises(VersionNotFound) as missing:
        aliases.set("halver", "champion", 9)
    assert missing.value.field == "version"
    with pytest.raises(ModelNotFound):
        aliases.set("nope", "champion", 1)
    with pytest.raises(InvalidName) as bad:
        aliases.set("halver", "Champion!", 1)
    assert bad.value.field == "alias"
    with pytest.raises(AliasNotFound):
        aliases.delete("halver", "nobody")
    with pytest.raises(AliasNotFound):
        registry.resolve(parse_model_ref("halver@nobody"))
    assert registry.aliases("halver") == {"champion": 1}


@pytest.mark.usefixtures("three_versions")
def test_an_endpoint_follows_its_alias(
    aliases: AliasStore, endpoints: EndpointStore, registry: Registry
) -> None:
    aliases.set("halver", "champion", 1)
    created = endpoints.create("churn", "halver", None, alias="champion")
    endpoints.create("pinned", "halver", 1)
    assert (created.primary_version, created.alias, created.follows) == (
        1,
        "champion",
        "halver@champion",
    )

    move = aliases.set("halver", "champion", 2, actor="carol")

    assert move.moved == ("churn",)
    following = endpoints.get("churn")
    assert (following.primary_version, following.revision) == (2, created.revision + 1)
    assert endpoints.get("pinned").primary_version == 1  # not following: untouched
    last = endpoints.history("churn")[0]
    assert (last["action"], last["actor"], last["alias"], last["from"], last["version"]) == (
        "alias-move",
        "carol",
        "halver@champion",
        1,
        2,
    )
    # A version given by number stops the following.
    endpoints.update("churn", primary_version=2, unfollow=True)
    aliases.set("halver", "champion", 3)
    assert endpoints.get("churn").primary_version == 2
    assert endpoints.get("churn").alias is None
    assert endpoints.history("churn")[0]["unfollowed"] == "halver@champion"
    # ... and following again takes the alias's version at once.
    again = endpoints.update("churn", follow="champion")
    assert (again.primary_version, again.alias) == (3, "champion")


@pytest.mark.usefixtures("three_versions")
def test_a_followed_alias_cannot_be_deleted(aliases: AliasStore, endpoints: EndpointStore) -> None:
    aliases.set("halver", "champion", 1)
    endpoints.create("churn", "halver", None, alias="champion")
    with pytest.raises(Conflict, match="followed by endpoint") as refused:
        aliases.delete("halver", "champion")
    assert refused.value.details["endpoints"] == ["churn"]
    endpoints.update("churn", primary_version=1, unfollow=True)
    assert aliases.delete("halver", "champion").version == 1
    assert aliases.list("halver") == []


@pytest.mark.usefixtures("three_versions")
def test_moving_an_alias_during_a_rollout_is_refused_unless_forced(
    aliases: AliasStore, endpoints: EndpointStore
) -> None:
    aliases.set("halver", "champion", 1)
    endpoints.create("churn", "halver", None, alias="champion")
    rollout = start_canary(endpoints, 2)
    before = endpoints.get("churn")

    with pytest.raises(RolloutInProgress, match="force the move") as refused:
        aliases.set("halver", "champion", 3)
    assert refused.value.field == "alias"
    assert refused.value.details["endpoint"] == "churn"
    assert aliases.get("halver", "champion").version == 1  # nothing moved
    assert endpoints.get("churn") == before

    store = RolloutStore(endpoints.db, endpoints)

    def end_rollout(name: str) -> int | None:
        live = store.active(name)
        store.transition(
            live,
            Change(
                action="rollback",
                actor="test",
                status=ROLLED_BACK,
                policy=PrimarySpec(),
                primary_version=live.baseline,
            ),
        )
        return live.id

    move = aliases.set("halver", "champion", 3, end_rollout=end_rollout)
    assert move.ended_rollouts == {"churn": rollout}
    after = endpoints.get("churn")
    assert (after.primary_version, after.policy, after.alias) == (3, {}, "champion")
    assert endpoints.history("churn")[0]["ended_rollout"] == rollout


@pytest.mark.usefixtures("three_versions")
def test_a_promoted_rollout_stops_the_following(
    aliases: AliasStore, endpoints: EndpointStore
) -> None:
    aliases.set("halver", "champion", 1)
    endpoints.create("churn", "halver", None, alias="champion")
    start_canary(endpoints, 2)
    store = RolloutStore(endpoints.db, endpoints)
    store.transition(
        store.active("churn"),
        Change(
            action="promote", actor="t", status="promoted", policy=PrimarySpec(), primary_version=2
        ),
    )
    promoted = endpoints.get("churn")
    assert (promoted.primary_version, promoted.alias) == (2, None)
    assert endpoints.history("churn")[0]["unfollowed"] == "halver@champion"


@pytest.mark.usefixtures("three_versions")
def test_concurrent_alias_moves_leave_followers_where_the_alias_points(
    aliases: AliasStore, endpoints: EndpointStore
) -> None:
    aliases.set("halver", "champion", 1)
    for name in ("a", "b", "c"):
        endpoints.create(name, "halver", None, alias="champion")
    errors: list[BaseException] = []

    def move(version: int) -> None:
        try:
            for _ in range(5):
                aliases.set("halver", "champion", version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(v,)) for v in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    target = aliases.get("halver", "champion").version
    assert {endpoints.get(n).primary_version for n in ("a", "b", "c")} == {target}


# -- archived versions ------------------------------------------------------------------


@pytest.mark.usefixtures("three_versions")
def test_archived_versions_cannot_be_served(
    catalog: Catalog, aliases: AliasStore, endpoints: EndpointStore, registry: Registry
) -> None:
    archived = catalog.archive("halver", 3, actor="dave")
    assert archived.archived and archived.archived_by == "dave"

    with pytest.raises(VersionArchived, match="halver:3") as refused:
        endpoints.create("churn", "halver", 3)
    assert refused.value.field == "version"
    with pytest.raises(VersionArchived):
        aliases.set("halver", "champion", 3)
    # The newest version that is not archived is "latest".
    assert endpoints.create("churn", "halver", None).primary_version == 2
    with pytest.raises(VersionArchived):
        endpoints.update("churn", primary_version=3)
    with pytest.raises(VersionArchived):
        start_canary(endpoints, 3)
    assert registry.get("halver").version == 2
    assert endpoints.get("churn").revision == 1

    catalog.unarchive("halver", 3, actor="erin")
    assert endpoints.update("churn", primary_version=3).primary_version == 3
    actions = [(a, act) for a, act, _ in audit(registry, "model:halver")]
    assert ("dave", "archive") in actions and ("erin", "unarchive") in actions


@pytest.mark.usefixtures("three_versions")
def test_a_referenced_version_cannot_be_archived(
    catalog: Catalog, aliases: AliasStore, endpoints: EndpointStore
) -> None:
    endpoints.create("churn", "halver", 1)
    aliases.set("halver", "champion", 2)
    start_canary(endpoints, 3)

    for version, referrer in ((1, "endpoint churn (primary)"), (2, "alias halver@champion")):
        with pytest.raises(VersionInUse, match=referrer.replace("(", r"\(").replace(")", r"\)")):
            catalog.archive("halver", version)
    with pytest.raises(VersionInUse) as candidate:
        catalog.archive("halver", 3)
    assert "endpoint churn (canary)" in candidate.value.details["referrers"]
    assert any(r.startswith("rollout ") for r in candidate.value.details["referrers"])
    assert not any(v.archived for v in catalog.registry.versions("halver"))
    with pytest.raises(VersionNotFound):
        catalog.archive("halver", 9)


@pytest.mark.usefixtures("three_versions")
def test_archiving_and_pointing_never_both_win(catalog: Catalog, endpoints: EndpointStore) -> None:
    """Archive v2 while another thread points an endpoint at v2: one of them loses."""
    endpoints.create("churn", "halver", 1)
    outcomes: dict[str, str] = {}

    def archive() -> None:
        try:
            catalog.archive("halver", 2)
            outcomes["archive"] = "won"
        except VersionInUse:
            outcomes["archive"] = "lost"

    def point() -> None:
        try:
            endpoints.update("churn", primary_version=2)
            outcomes["point"] = "won"
        except VersionArchived:
            outcomes["point"] = "lost"

    threads = [threading.Thread(target=archive), threading.Thread(target=point)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["lost", "won"]
    archived = catalog.registry.get("halver", 2).archived
    assert archived == (endpoints.get("churn").primary_version == 1)


# -- tags -------------------------------------------------------------------------------


@pytest.mark.usefixtures("three_versions")
def test_tags_are_set_removed_and_audited(catalog: Catalog, registry: Registry) -> None:
    catalog.tag("halver", 2, set_tags={"team": "risk", "stage": "prod"}, actor="fay")
    edited = catalog.tag("halver", 2, set_tags={"team": "growth"}, remove=["stage"], actor="gus")

    assert edited.tags == {"team": "growth"}
    assert registry.get("halver", 1).tags == {}
    tagged = [(a, d) for a, act, d in audit(registry, "model:halver") if act == "tag"]
    assert tagged[-1] == (
        "gus",
        {
            "version": 2,
            "set": {"team": "growth"},
            "removed": ["stage"],
            "before": {"team": "risk", "stage": "prod"},
        },
    )
    # Nothing to change: no audit record.
    catalog.tag("halver", 2, remove=["absent"])
    assert len([1 for _, act, _ in audit(registry, "model:halver") if act == "tag"]) == 2


@pytest.mark.usefixtures("three_versions")
def test_bad_tags_are_refused(catalog: Catalog) -> None:
    with pytest.raises(ValidationFailed) as empty:
        catalog.tag("halver", 1, set_tags={" ": "x"})
    assert empty.value.field == "tags"
    with pytest.raises(ValidationFailed, match="both set and removed"):
        catalog.tag("halver", 1, set_tags={"a": "1"}, remove=["a"])
    with pytest.raises(ValidationFailed) as long_value:
        catalog.tag("halver", 1, set_tags={"a": "x" * 2000})
    assert long_value.value.field == "tags.a"
    with pytest.raises(VersionNotFound):
        catalog.tag("halver", 9, set_tags={"a": "1"})
    assert catalog.registry.get("halver", 1).tags == {}


# -- lineage ----------------------------------------------------------------------------


def test_lineage_is_stored_and_walked_child_first(
    registry: Registry, catalog: Catalog, halver: Registration
) -> None:
    registry.register(halver)
    registry.register(dataclasses.replace(halver, parent="halver:1"))
    trained = Lineage.model_validate(
        {
            "trainer": "mypkg.train:fit",
            "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "rows": 1000,
            "labels": 990,
            "fingerprint": "sha256:abc",
            "holdout": {
                "rows": 200,
                "split": "time",
                "metrics": {"accuracy": 0.91},
                "parent_metrics": {"accuracy": 0.84},
            },
            "attempt": 1,
        }
    )
    third = registry.register(dataclasses.replace(halver, parent="halver:2", lineage=trained))

    assert third.lineage is not None and third.lineage["parent"] == "halver:2"
    assert third.lineage["attempt"] == 1  # keys the retraining adds are kept
    chain = catalog.lineage("halver", 3)
    assert [(e["ref"], e["parent"]) for e in chain] == [
        ("halver:3", "halver:2"),
        ("halver:2", "halver:1"),
        ("halver:1", None),
    ]
    assert chain[0]["holdout"]["parent_metrics"] == {"accuracy": 0.84}
    assert chain[0]["window"]["start"].startswith("2026-11-01")
    # The audit record of the registration names the parent.
    registered = [d for _, act, d in audit(registry, "model:halver") if act == "register"]
    assert registered[-1]["parent"] == "halver:2"


def test_a_parent_must_exist(registry: Registry, halver: Registration) -> None:
    registry.register(halver)
    for parent, error in (("halver:7", VersionNotFound), ("ghost:1", ModelNotFound)):
        with pytest.raises(error) as refused:
            registry.register(dataclasses.replace(halver, parent=parent))
        assert refused.value.field == "parent"
    with pytest.raises(AliasNotFound):
        registry.register(dataclasses.replace(halver, parent="halver@nobody"))
    assert [v.version for v in registry.versions("halver")] == [1]
    # An alias names the parent's version at registration.
    AliasStore(EndpointStore(registry.db, registry)).set("halver", "champion", 1)
    child = registry.register(dataclasses.replace(halver, parent="halver@champion"))
    assert child.lineage == {"parent": "halver:1"}
