"""The models page shows the registry's curation: a model's aliases (where each points,
who moved it last, which endpoints follow it, kept up to date), archived versions marked
and hidden behind "Show archived", tags, and each version's lineage (parent link,
trainer, data window, rows and labels, holdout metrics against the parent's)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.conftest import OpenPage
from dashboard.scenario import Scenario
from modelport.config import Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.lineage import Lineage
from modelport.registry.service import Registration, Registry
from modelport.store.db import Database

MODEL = "scored"
FOLLOWER = "scored-follow"
LINEAGE = {
    "trainer": "retrain.churn:fit",
    "window": {"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-30T00:00:00+00:00"},
    "rows": 48210,
    "labels": 41002,
    "fingerprint": "sha256:9f2c0000000000000000000000000000",
    "holdout": {
        "rows": 9642,
        "split": "time",
        "metrics": {"accuracy": 0.91, "log_loss": 0.25},
        "parent_metrics": {"accuracy": 0.84, "log_loss": 0.31},
    },
}
LIVE_TIMEOUT_MS = 60_000  # the page re-reads every 10 s; an upper bound, not a target


@dataclass(frozen=True)
class Curated:
    model: str = MODEL
    follower: str = FOLLOWER


@pytest.fixture(scope="module")
def curated(scenario: Scenario, churn_files: tuple[Path, Path]) -> Iterator[Curated]:
    """scored:1; scored:2 trained from it (full lineage, tag team=risk); scored:3
    archived; scored@champion -> 2 and scored@challenger -> 1 set by the admin;
    endpoint scored-follow follows the champion."""
    model_file, reference = churn_files
    shutil.copy(model_file, scenario.project / "scored.skops")
    settings = Settings.load(scenario.project / "modelport.toml")
    settings.store.home = scenario.project / settings.store.home
    db = Database(settings.database_url)
    try:
        registry = Registry(db, ArtifactStore(settings.artifacts_dir))
        for parent, lineage in [(None, None), (f"{MODEL}:1", LINEAGE), (None, None)]:
            registry.register(
                Registration(
                    name=MODEL,
                    source=str(scenario.project / "scored.skops"),
                    flavor="sklearn",
                    reference=reference,
                    target="churned",
                    parent=parent,
                    lineage=None if lineage is None else Lineage.model_validate(lineage),
                )
            )
    finally:
        db.dispose()
    with scenario.client("admin") as client:
        for alias, version in [("champion", 2), ("challenger", 1)]:
            moved = client.put(f"/v1/models/{MODEL}/aliases/{alias}", json={"version": version})
            assert moved.status_code == 200, moved.text
        tagged = client.patch(f"/v1/models/{MODEL}/versions/2", json={"tags": {"team": "risk"}})
        assert tagged.status_code == 200, tagged.text
        archived = client.post(f"/v1/models/{MODEL}/versions/3/archive")
        assert archived.status_code == 200, archived.text
        created = client.post(
            "/v1/endpoints", json={"name": FOLLOWER, "model": f"{MODEL}@champion"}
        )
        assert created.status_code == 201, created.text
    try:
        yield Curated()
    finally:
        scenario.remove(endpoint=FOLLOWER)


def test_aliases_show_where_they_point_who_moved_them_and_follow_moves(
    open_page: OpenPage, scenario: Scenario, curated: Curated
) -> None:
    view = open_page(f"/dashboard/models/{curated.model}")
    view.assert_clean()
    aliases = view.page.locator(".card[data-card='aliases'] tbody tr")
    expect(aliases).to_have_count(2)
    champion = view.page.locator("[data-card='aliases'] tr[data-alias='champion']")
    cells = champion.locator("td")
    expect(cells.nth(0)).to_have_text(f"{curated.model}@champion")
    expect(cells.nth(1)).to_have_text("v2")
    expect(cells.nth(2)).to_have_text("ops-admin")
    expect(cells.nth(4)).to_have_text(curated.follower)
    challenger = view.page.locator("[data-card='aliases'] tr[data-alias='challenger'] td")
    expect(challenger.nth(1)).to_have_text("v1")
    expect(challenger.nth(4)).to_have_text("no endpoint")

    # Moved by a deployer meanwhile: the page shows the move and its author by itself.
    with scenario.client("deployer") as client:
        moved = client.put(f"/v1/models/{curated.model}/aliases/champion", json={"version": 1})
        assert moved.status_code == 200, moved.text
    try:
        expect(cells.nth(1)).to_have_text("v1", timeout=LIVE_TIMEOUT_MS)
        expect(cells.nth(2)).to_have_text("release-deployer")
        # The alias's link selects the version it points at.
        cells.nth(1).get_by_role("link").click()
        expect(view.page.locator("#version-panel .version-head")).to_have_attribute(
            "data-version", "1"
        )
    finally:
        with scenario.client("admin") as client:
            back = client.put(f"/v1/models/{curated.model}/aliases/champion", json={"version": 2})
            assert back.status_code == 200, back.text
    view.assert_clean()


def test_archived_versions_are_marked_and_hidden_until_asked_for(
    open_page: OpenPage, curated: Curated
) -> None:
    view = open_page(f"/dashboard/models/{curated.model}")
    versions = view.page.locator(".card", has_text="Versions").locator("tbody tr")
    expect(versions).to_have_count(2)
    assert versions.locator("td:first-child").all_inner_texts() == ["v2", "v1"]
    expect(view.page.get_by_role("tab")).to_have_count(2)
    # The newest version that is not archived is shown first.
    panel = view.page.locator("#version-panel")
    expect(panel.locator(".version-head")).to_have_attribute("data-version", "2")

    toggle = view.page.get_by_label(re.compile(r"Show archived \(1\)"))
    toggle.check()
    expect(versions).to_have_count(3)
    archived = view.page.locator("tr[data-version='3']")
    expect(archived).to_have_attribute("data-archived", "true")
    expect(archived.locator("td").first).to_contain_text("archived")
    view.page.get_by_role("tab", name="v3").click()
    expect(panel.locator(".version-head")).to_have_attribute("data-archived", "true")
    expect(panel.locator(".version-head")).to_contain_text("archived: never served")
    expect(panel.locator("[data-card='output']")).to_contain_text("by ops-admin")

    toggle.uncheck()
    expect(versions).to_have_count(2)
    expect(panel.locator(".version-head")).to_have_attribute("data-version", "2")
    view.assert_clean()


def test_each_version_shows_its_tags_and_lineage_against_its_parent(
    open_page: OpenPage, curated: Curated
) -> None:
    view = open_page(f"/dashboard/models/{curated.model}?version=2")
    view.assert_clean()
    row = view.page.locator(".card", has_text="Versions").locator("tr[data-version='2'] td")
    texts = row.all_inner_texts()
    assert "team=risk" in texts and "v1" in texts and "@champion" in texts, texts

    lineage = view.page.locator("#version-panel [data-card='lineage']")
    pairs = dict(
        zip(
            lineage.locator("dl.kv dt").all_inner_texts(),
            lineage.locator("dl.kv dd").all_inner_texts(),
            strict=True,
        )
    )
    assert pairs["Parent"] == "v1"
    assert pairs["Trainer"] == LINEAGE["trainer"]
    assert pairs["Rows"] == "48,210" and pairs["Labels"] == "41,002"
    assert pairs["Holdout"] == "9,642 rows, time split"
    # Shown in the browser's time zone: both ends, in order.
    assert re.fullmatch(
        r"2026-1[01]-\d\d \d\d:\d\d:\d\d → 2026-11-\d\d \d\d:\d\d:\d\d", pairs["Data window"]
    )
    accuracy = lineage.locator("tr[data-metric='accuracy'] td").all_inner_texts()
    assert accuracy == ["accuracy", "0.91", "0.84", "+0.07"]
    log_loss = lineage.locator("tr[data-metric='log_loss'] td").all_inner_texts()
    assert log_loss == ["log_loss", "0.25", "0.31", "-0.06"]

    # The parent link selects the parent, which has no lineage of its own.
    lineage.get_by_role("link", name="v1").click()
    expect(view.page.locator("#version-panel .version-head")).to_have_attribute("data-version", "1")
    assert view.page.url.endswith("?version=1")
    parent = view.page.locator("#version-panel [data-card='lineage']")
    expect(parent.locator("dl.kv dd").first).to_have_text("none recorded")
    expect(parent.locator("tr[data-metric]")).to_have_count(0)
    view.assert_clean()


def test_the_registry_lists_each_models_aliases(open_page: OpenPage, curated: Curated) -> None:
    view = open_page("/dashboard/models")
    view.assert_clean()
    row = view.page.locator("table.grid tbody tr").filter(
        has=view.page.get_by_role("link", name=curated.model, exact=True)
    )
    assert row.locator("a.alias").all_inner_texts() == ["challenger → v1", "champion → v2"]
    quiet = view.page.locator("table.grid tbody tr").filter(
        has=view.page.get_by_role("link", name="fragile", exact=True)
    )
    expect(quiet.locator("td").nth(3)).to_have_text("none")
