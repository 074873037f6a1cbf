"""EndpointStore over every backend: revisions, audit, conflicts."""

from __future__ import annotations

import threading
from datetime import UTC

import pytest

from modelport.errors import Conflict, EndpointNotFound, ModelNotFound, VersionNotFound
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registration, Registry


@pytest.fixture
def two_versions(registry: Registry, halver: Registration) -> None:
    registry.register(halver)
    registry.register(halver)


@pytest.mark.usefixtures("two_versions")
def test_create_get_and_list(endpoints: EndpointStore) -> None:
    created = endpoints.create("pricing", "halver", 1, actor="alice")
    endpoints.create("audit-copy", "halver", None)

    assert (created.model, created.primary_version, created.revision) == ("halver", 1, 1)
    assert created.policy == {}
    assert endpoints.get("pricing") == created
    # Without a version, an endpoint serves the latest one.
    assert endpoints.get("audit-copy").primary_version == 2
    assert [e.name for e in endpoints.all()] == ["audit-copy", "pricing"]
    assert endpoints.revisions() == {"audit-copy": 1, "pricing": 1}
    assert created.created_at.tzinfo is not None
    assert created.created_at.utcoffset() == UTC.utcoffset(None)


@pytest.mark.usefixtures("two_versions")
def test_every_update_bumps_the_revision_and_is_audited(endpoints: EndpointStore) -> None:
    endpoints.create("pricing", "halver", 1, actor="alice")

    moved = endpoints.update("pricing", primary_version=2, actor="bob")
    shadowed = endpoints.update(
        "pricing", policy={"shadow": {"version": 1}}, actor="carol", action="set-policy"
    )

    assert (moved.primary_version, moved.revision) == (2, 2)
    assert (shadowed.primary_version, shadowed.revision) == (2, 3)
    assert endpoints.get("pricing").policy == {"shadow": {"version": 1}}
    assert shadowed.updated_at >= moved.updated_at >= moved.created_at
    history = endpoints.history("pricing")
    assert [(h["action"], h["actor"]) for h in history] == [
        ("set-policy", "carol"),
        ("update", "bob"),
        ("create", "alice"),
    ]
    assert history[0]["revision"] == 3 and history[1]["version"] == 2
    assert history[2]["model"] == "halver:1"


@pytest.mark.usefixtures("two_versions")
def test_stale_expected_revision_is_a_conflict(endpoints: EndpointStore) -> None:
    endpoints.create("pricing", "halver", 1)
    endpoints.update("pricing", primary_version=2, expected_revision=1)

    with pytest.raises(Conflict) as stale:
        endpoints.update("pricing", primary_version=1, expected_revision=1)
    assert stale.value.status == 409
    assert "revision 2, expected 1" in stale.value.message
    unchanged = endpoints.get("pricing")
    assert (unchanged.primary_version, unchanged.revision) == (2, 2)
    assert len(endpoints.history("pricing")) == 2


@pytest.mark.usefixtures("two_versions")
def test_concurrent_writers_with_the_same_revision_let_exactly_one_win(
    endpoints: EndpointStore,
) -> None:
    endpoints.create("pricing", "halver", 1)
    writers = 6
    start = threading.Barrier(writers)
    outcomes: list[str] = []

    def write(writer: int) -> None:
        start.wait()
        try:
            endpoints.update("pricing", policy={"writer": writer}, expected_revision=1)
            outcomes.append("updated")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict"] * (writers - 1) + ["updated"]
    assert endpoints.get("pricing").revision == 2
    assert len(endpoints.history("pricing")) == 2


@pytest.mark.usefixtures("two_versions")
def test_concurrent_writers_without_a_revision_all_count(endpoints: EndpointStore) -> None:
    endpoints.create("pricing", "halver", 1)
    writers = 6
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        start.wait()
        endpoints.update("pricing", policy={"writer": writer})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert endpoints.get("pricing").revision == 1 + writers
    revisions = [h["revision"] for h in endpoints.history("pricing") if h["action"] == "update"]
    assert sorted(revisions) == list(range(2, 2 + writers))


@pytest.mark.usefixtures("two_versions")
def test_delete_removes_the_endpoint_and_keeps_its_history(endpoints: EndpointStore) -> None:
    endpoints.create("pricing", "halver", 1)
    endpoints.delete("pricing", actor="dave")

    with pytest.raises(EndpointNotFound):
        endpoints.get("pricing")
    assert endpoints.all() == []
    assert [h["action"] for h in endpoints.history("pricing")] == ["delete", "create"]
    # The name is free again.
    assert endpoints.create("pricing", "halver", 2).revision == 1


@pytest.mark.usefixtures("two_versions")
def test_unknown_endpoints_are_not_found(endpoints: EndpointStore) -> None:
    for operation in (
        lambda: endpoints.get("ghost"),
        lambda: endpoints.update("ghost", primary_version=1),
        lambda: endpoints.delete("ghost"),
    ):
        with pytest.raises(EndpointNotFound) as missing:
            operation()
        assert (missing.value.code, missing.value.field) == ("endpoint_not_found", "endpoint")


@pytest.mark.usefixtures("two_versions")
def test_duplicate_create_is_a_conflict(endpoints: EndpointStore) -> None:
    endpoints.create("pricing", "halver", 1)

    with pytest.raises(Conflict) as duplicate:
        endpoints.create("pricing", "halver", 2)
    assert duplicate.value.field == "name"
    assert endpoints.get("pricing").primary_version == 1


@pytest.mark.usefixtures("two_versions")
def test_endpoints_only_point_at_registered_versions(endpoints: EndpointStore) -> None:
    with pytest.raises(ModelNotFound):
        endpoints.create("pricing", "nope", None)
    with pytest.raises(VersionNotFound):
        endpoints.create("pricing", "halver", 3)
    endpoints.create("pricing", "halver", 1)
    with pytest.raises(VersionNotFound):
        endpoints.update("pricing", primary_version=7)
    assert endpoints.get("pricing").revision == 1
