"""The predictions pages on the scenario server: the API's newest rows with inputs, output,
latency and labels; every filter changes the rows (and the URL), an endpoint is chosen
from a select, empty endpoints say so, and new predictions arrive without a reload."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from dashboard.conftest import OpenPage, PageView
from dashboard.figures import fmt_ms
from dashboard.scenario import Scenario, normal_rows, send

# An upper bound for "the page never refreshed" (it polls every 10 s), not a threshold.
REFRESH_TIMEOUT_MS = 45_000


def newest(scenario: Scenario, endpoint: str, **query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = scenario.api(
        f"/v1/endpoints/{endpoint}/predictions", "reader", **query
    )["predictions"]
    return rows


def shown(view: PageView) -> list[dict[str, str]]:
    """The table's rows as their data-* attributes."""
    rows: list[dict[str, str]] = view.page.locator("table.predictions tbody tr").evaluate_all(
        "rows => rows.map(row => ({...row.dataset}))"
    )
    return rows


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(r.get("requestId", r.get("request_id"))), str(r["row"])) for r in rows]


def test_the_newest_rows_with_inputs_output_latency_and_label(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.endpoint}/predictions")
    view.assert_clean()
    page_rows = shown(view)
    api_rows = newest(scenario, scenario.endpoint)
    assert len(page_rows) == len(api_rows) == 50
    assert keys(page_rows) == keys(api_rows)
    headers = view.page.locator("table.predictions thead th").all_inner_texts()
    features = scenario.api(f"/v1/endpoints/{scenario.endpoint}/predictions", "reader")["features"]
    assert headers == ["Time", "Request", "Version", "Role", "Status", "Latency"] + [
        *features,
        "Output",
        "Label",
    ]
    first, cells = api_rows[0], view.page.locator("table.predictions tbody tr").first
    texts = cells.locator("td").all_inner_texts()
    latency = fmt_ms(first["latency_ms"])
    assert texts[2:6] == [f"v{first['version']}", first["role"], first["status"], latency]
    assert texts[6 + features.index("plan")] == first["inputs"]["plan"]
    assert texts[-2].startswith(first["output"]["prediction"])
    # The newest rows (the canary's split traffic) have no label yet.
    assert first["label"] is None and texts[-1] == "—"


def test_has_a_label_shows_only_labelled_rows_and_their_labels(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.endpoint}/predictions")
    assert any(row["labelled"] == "0" for row in shown(view))
    view.page.get_by_label("Label", exact=True).select_option("true")
    table = view.page.locator("table.predictions tbody")
    expect(table.locator("tr[data-labelled='0']")).to_have_count(0)
    api_rows = newest(scenario, scenario.endpoint, labelled="true")
    assert api_rows and all(r["label"] is not None for r in api_rows)
    expect(table.locator("tr[data-labelled='1']")).to_have_count(len(api_rows))
    assert keys(shown(view)) == keys(api_rows)
    assert {r["request_id"] for r in api_rows} <= set(scenario.labelled_ids)
    labels = table.locator("tr td:last-child").all_inner_texts()
    assert [text.split()[0] for text in labels] == [str(r["label"]) for r in api_rows]
    assert "labelled=true" in view.page.url
    # And back: rows without a label only.
    view.page.get_by_label("Label", exact=True).select_option("false")
    expect(table.locator("tr[data-labelled='1']")).to_have_count(0)
    expect(table.locator("tr[data-labelled='0']")).to_have_count(50)
    view.assert_clean()


def test_version_and_status_filters_change_the_rows(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.endpoint}/predictions")
    candidate = str(scenario.candidate_version)
    assert {row["version"] for row in shown(view)} != {candidate}
    view.page.get_by_label("Version", exact=True).select_option(candidate)
    table = view.page.locator("table.predictions tbody")
    expect(table.locator(f"tr:not([data-version='{candidate}'])")).to_have_count(0)
    api_rows = newest(scenario, scenario.endpoint, version=candidate)
    assert api_rows and keys(shown(view)) == keys(api_rows)
    assert {row["role"] for row in shown(view)} == {"canary"}
    # No request failed: the error filter leaves nothing, and says so.
    view.page.get_by_label("Status", exact=True).select_option("error")
    expect(view.page.locator("#page [data-state='info']")).to_contain_text("match these filters")
    assert newest(scenario, scenario.endpoint, version=candidate, status="error") == []
    assert "status=error" in view.page.url and f"version={candidate}" in view.page.url
    view.assert_clean()


def test_filters_are_read_from_the_url(open_page: OpenPage, scenario: Scenario) -> None:
    path = f"/dashboard/endpoints/{scenario.endpoint}/predictions"
    view = open_page(f"{path}?labelled=false&limit=25")
    assert view.page.get_by_label("Label", exact=True).input_value() == "false"
    assert view.page.get_by_label("Rows", exact=True).input_value() == "25"
    rows = shown(view)
    assert len(rows) == 25 and {row["labelled"] for row in rows} == {"0"}
    assert keys(rows) == keys(newest(scenario, scenario.endpoint, labelled="false", limit=25))
    view.assert_clean()


def test_the_predictions_page_picks_an_endpoint_from_a_select(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard/predictions")
    names = [e["name"] for e in scenario.api("/v1/endpoints", "reader")["endpoints"]]
    select = view.page.get_by_label("Endpoint", exact=True)
    options = select.locator("option").all_inner_texts()
    assert options == names
    # The first endpoint is shown first; the broken one has logged nothing.
    assert names[0] == scenario.broken_endpoint
    expect(view.page.locator("#page [data-state='empty']")).to_contain_text(
        f"No predictions logged for {scenario.broken_endpoint} yet"
    )
    select.select_option(scenario.endpoint)
    table = view.page.locator("table.predictions tbody tr")
    expect(table).to_have_count(50)
    assert keys(shown(view)) == keys(newest(scenario, scenario.endpoint))
    assert f"endpoint={scenario.endpoint}" in view.page.url
    view.assert_clean()


def test_an_endpoint_without_traffic_says_so(open_page: OpenPage, scenario: Scenario) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.quiet_endpoint}/predictions")
    expect(view.page.locator("#page [data-state='empty']")).to_contain_text(
        f"No predictions logged for {scenario.quiet_endpoint} yet"
    )
    assert view.page.locator("table.predictions").count() == 0
    view.assert_clean()


def test_new_predictions_appear_without_a_reload(open_page: OpenPage, scenario: Scenario) -> None:
    name = "live-predictions"
    with scenario.client("admin") as client:
        created = client.post("/v1/endpoints", json={"name": name, "model": "churn:1"})
        assert created.status_code in (200, 201), created.text
    try:
        scenario.wait_ready(name)
        view = open_page(f"/dashboard/endpoints/{name}/predictions")
        expect(view.page.locator("#page [data-state='empty']")).to_be_visible()
        rows, _ = normal_rows(6, seed=8)
        with scenario.client("admin") as client:
            sent = send(client, name, rows, f"{name}-live", batch=2)
        table = view.page.locator("table.predictions tbody tr")
        expect(table).to_have_count(len(sent), timeout=REFRESH_TIMEOUT_MS)
        assert sorted(keys(shown(view))) == sorted((rid, str(row)) for rid, row in sent)
        view.assert_clean()
    finally:
        scenario.remove(endpoint=name)
