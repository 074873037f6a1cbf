"""The models pages on the scenario server: the registry with the endpoints serving each
model, one model's versions with schema, reference profile, lineage and serving endpoints,
a version without a reference profile, and a model that does not exist."""

from __future__ import annotations

from playwright.sync_api import expect

from dashboard.conftest import OpenPage
from dashboard.figures import fmt_int
from dashboard.scenario import Scenario


def test_the_registry_lists_every_model_with_what_serves_it(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard/models")
    view.assert_clean()
    models = scenario.api("/v1/models", "reader")["models"]
    rows = view.page.locator("table.grid tbody tr")
    assert rows.count() == len(models)
    for index, model in enumerate(models):
        row = rows.nth(index)
        expect(row.get_by_role("link", name=model["name"], exact=True)).to_be_visible()
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == str(model["versions"]) and cells[2] == f"v{model['latest']}"
    churn = rows.filter(has=view.page.get_by_role("link", name="churn", exact=True))
    served = churn.locator("a.served").all_inner_texts()
    weight = scenario.api(f"/v1/endpoints/{scenario.endpoint}/rollout", "reader")["rollout"]
    assert f"churn · v1 primary {100 - weight['weight']:g}%" in served
    assert f"churn · v2 canary {weight['weight']:g}%" in served
    assert "quiet · v1 primary" in served
    fragile = rows.filter(has=view.page.get_by_role("link", name="fragile", exact=True))
    assert fragile.locator("a.served").all_inner_texts() == ["broken · v1 primary"]
    with view.page.expect_navigation():
        churn.get_by_role("link", name="churn", exact=True).click()
    assert view.page.url.endswith("/dashboard/models/churn")


def test_a_models_versions_schema_profile_and_serving_endpoints(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/models/{scenario.model}")
    view.assert_clean()
    detail = scenario.api(f"/v1/models/{scenario.model}", "reader")
    versions = sorted(detail["versions"], key=lambda v: -v["version"])
    table = view.page.locator(".card", has_text="Versions").locator("tbody tr")
    assert table.locator("td:first-child").all_inner_texts() == [
        f"v{v['version']}" for v in versions
    ]
    # The newest version is shown first: the canary candidate of churn.
    newest = versions[0]
    panel = view.page.locator("#version-panel")
    expect(panel.locator(".version-head")).to_have_attribute("data-version", str(newest["version"]))
    expect(view.page.get_by_role("tab", name=f"v{newest['version']}")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(panel.locator(".version-head a.served")).to_have_text("churn · canary 25%")
    schema = panel.locator(".card", has_text="Input schema").locator("tbody tr")
    assert [schema.nth(i).locator("td").all_inner_texts()[:2] for i in range(schema.count())] == [
        [f["name"], f["kind"]] for f in newest["input_schema"]["features"]
    ]
    profile = panel.locator(".card", has_text="Reference profile")
    expect(profile.locator("dl.kv dd").first).to_have_text(fmt_int(newest["reference_rows"]))
    profiled = scenario.api(
        f"/v1/models/{scenario.model}/versions/{newest['version']}", "reader", profile="true"
    )["profile"]
    assert profile.locator("tbody tr td:first-child").all_inner_texts() == list(
        profiled["features"]
    )
    lineage = panel.locator(".card[data-card='output']")
    expect(lineage).to_contain_text(newest["sha256"][:16])
    expect(lineage).to_contain_text(", ".join(newest["output"]["classes"]))

    # Another version: chosen from its tab, kept in the URL, with its own serving endpoints.
    view.page.get_by_role("tab", name="v1").click()
    expect(panel.locator(".version-head")).to_have_attribute("data-version", "1")
    assert view.page.url.endswith("?version=1")
    served = panel.locator(".version-head a.served").all_inner_texts()
    assert "churn · primary 75%" in served and "quiet · primary" in served
    view.assert_clean()


def test_a_version_without_a_reference_profile_says_so(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard/models/fragile")
    view.assert_clean()
    version = scenario.api("/v1/models/fragile", "reader")["versions"][0]
    assert version["has_profile"] is False
    panel = view.page.locator("#version-panel")
    expect(panel.locator("[data-state='broken']")).to_contain_text("No reference profile")
    expect(panel.locator(".version-head")).to_contain_text(version["flavor"])
    expect(panel.locator(".version-head a.served")).to_have_text("broken · primary")
    versions = view.page.locator(".card", has_text="Versions")
    expect(versions.locator("tbody tr").first).to_contain_text("no profile")


def test_a_model_that_does_not_exist_is_an_error_message(open_page: OpenPage) -> None:
    view = open_page("/dashboard/models/nobody")
    state = view.page.locator("#page [data-state='error']")
    expect(state).to_contain_text("model 'nobody' is not registered")
    assert view.page_errors == []
    assert view.page.locator("#version-panel").count() == 0
