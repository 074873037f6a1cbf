"""The overview page on the scenario server: one card per endpoint whose figures, traffic
split, rollout gates, drift count, firing alerts and 24 h sparklines are the API's; the
broken and the quiet endpoint say so; a new endpoint appears and fills in without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from dashboard.conftest import SCREENSHOTS, VIEWPORT, OpenPage, PageView
from dashboard.figures import fmt_int, fmt_ms, fmt_pct
from dashboard.scenario import Scenario, normal_rows, send
from modelport.config import DEFAULT_TOML
from support import LiveServer

SPARKS = ("rate", "error_rate", "p99_ms")
# An upper bound for "the page never refreshed" (it polls every 10 s), not a threshold.
REFRESH_TIMEOUT_MS = 45_000


def card(view: PageView, endpoint: str) -> Any:
    return view.page.locator(f"article.endpoint-card[data-endpoint='{endpoint}']")


def service(scenario: Scenario, endpoint: str) -> dict[str, Any]:
    body: dict[str, Any] = scenario.api(f"/v1/endpoints/{endpoint}/service", "reader", since="24h")
    return body


def test_one_card_per_endpoint_in_the_apis_order(open_page: OpenPage, scenario: Scenario) -> None:
    view = open_page("/dashboard")
    view.assert_clean()
    names = [e["name"] for e in scenario.api("/v1/endpoints", "reader")["endpoints"]]
    shown = view.page.locator("article.endpoint-card").evaluate_all(
        "cards => cards.map(card => card.dataset.endpoint)"
    )
    assert shown == names
    assert {scenario.endpoint, scenario.quiet_endpoint, scenario.broken_endpoint} <= set(names)
    assert view.page.locator("#overview-summary").inner_text().startswith(f"{len(names)} endpoint")
    # Each card links to its endpoint page.
    link = card(view, scenario.endpoint).get_by_role("link", name=scenario.endpoint, exact=True)
    with view.page.expect_navigation():
        link.click()
    assert view.page.url.endswith(f"/dashboard/endpoints/{scenario.endpoint}")


def test_sparklines_draw_one_point_per_service_bucket(
    open_page: OpenPage, scenario: Scenario
) -> None:
    before = len(service(scenario, scenario.endpoint)["buckets"])
    view = open_page("/dashboard")
    churn = card(view, scenario.endpoint)
    drawn = {
        key: churn.locator(f"[data-spark='{key}']").get_attribute("data-points") for key in SPARKS
    }
    after = len(service(scenario, scenario.endpoint)["buckets"])
    # 24 h in 30-minute buckets (49 with the partial ones at both ends); the API is asked
    # before and after, in case the clock crossed a bucket edge meanwhile.
    assert before >= 48
    for key, points in drawn.items():
        assert points is not None and int(points) in {before, after}, (key, points)
        assert churn.locator(f"[data-spark='{key}']").get_attribute("data-series") == "1"
    view.assert_clean()


def test_figures_split_rollout_and_alerts_are_the_apis(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard")
    churn = card(view, scenario.endpoint)
    figures = {
        key: churn.locator(f"[data-figure='{key}'] .value").inner_text()
        for key in ("requests", "error-rate", "p99", "drifted", "alerts")
    }
    gates = churn.locator(".ep-gates li").evaluate_all(
        "items => items.map(li => [li.dataset.gate, li.dataset.verdict])"
    )
    split = churn.locator(".ep-split").inner_text()
    rollout_line = churn.locator(".ep-rollout-line").inner_text()
    heading = churn.locator("h2").inner_text()
    totals = service(scenario, scenario.endpoint)["totals"]
    rollout = scenario.api(f"/v1/endpoints/{scenario.endpoint}/rollout", "reader")["rollout"]
    live = scenario.api(f"/v1/endpoints/{scenario.endpoint}/monitoring/live", "reader")
    firing = [
        a
        for a in scenario.api("/v1/alerts/active", "reader")["alerts"]
        if a["state"] == "firing" and a["labels"].get("endpoint") == scenario.endpoint
    ]
    assert figures["requests"] == fmt_int(totals["requests"]) and totals["requests"] > 0
    assert figures["error-rate"] == fmt_pct(totals["error_rate"])
    assert figures["p99"] == fmt_ms(totals["p99_ms"])
    primary = next(w for w in live["windows"] if w["version"] == 1)["summary"]
    judged = primary["judged"] if primary["not_enough_data"] else primary["features"]
    assert figures["drifted"] == (f"{primary['drifted']} of {judged}" if judged else "—")
    assert figures["alerts"] == str(len(firing)) and firing
    assert f"{len(firing)} firing" in heading
    # The canary's split, its step and every gate with a verdict.
    weight = rollout["weight"]
    assert split == f"churn · v1 {100 - weight:g}% · v2 {weight:g}% (canary)"
    assert f"Rollout #{rollout['id']}" in rollout_line
    assert f"step {rollout['step'] + 1} of {len(rollout['steps'])}" in rollout_line
    assert [gate for gate, _ in gates] == [g["gate"] for g in rollout["verdicts"]["gates"]]
    assert {verdict for _, verdict in gates} <= {"pass", "fail", "inconclusive", "skipped"}
    # The firing alert is listed above the cards, linked to its endpoint.
    listed = view.page.locator("#firing li", has_text=scenario.alert_rule)
    expect(listed.get_by_role("link", name=scenario.endpoint)).to_be_visible()
    view.assert_clean()


def test_a_model_that_failed_to_load_is_said_so(open_page: OpenPage, scenario: Scenario) -> None:
    view = open_page("/dashboard")
    broken = card(view, scenario.broken_endpoint)
    endpoint = next(
        e
        for e in scenario.api("/v1/endpoints", "reader")["endpoints"]
        if e["name"] == scenario.broken_endpoint
    )
    assert endpoint["ready"] is False and endpoint["error"]
    state = broken.locator(".ep-status [data-state='broken']")
    expect(state).to_contain_text("The model failed to load")
    expect(state).to_contain_text(endpoint["error"][:40])
    expect(broken.locator("h2")).to_contain_text("not serving")
    view.assert_clean()


def test_an_endpoint_without_traffic_shows_empty_states_not_empty_charts(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard")
    quiet = card(view, scenario.quiet_endpoint)
    expect(quiet.locator(".ep-spark-area [data-state='empty']")).to_contain_text(
        "No requests in the last 24 h"
    )
    assert quiet.locator("[data-points]").count() == 0
    assert quiet.locator("canvas").count() == 0
    assert quiet.locator("[data-figure='requests'] .value").inner_text() == "0"
    assert quiet.locator("[data-figure='drifted'] .value").inner_text() == "—"
    view.assert_clean()


def test_a_new_endpoint_appears_and_fills_in_without_a_reload(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard")
    churn = card(view, scenario.endpoint)
    # Marks that a re-created card or chart would not carry.
    churn.evaluate("el => { el.dataset.marker = 'kept'; }")
    churn.locator("[data-spark='rate'] canvas").evaluate("el => { el.dataset.marker = 'kept'; }")
    name = scenario.fresh_rollout()
    try:
        fresh = card(view, name)
        expect(fresh.locator(".ep-spark-area [data-state='empty']")).to_be_visible(
            timeout=REFRESH_TIMEOUT_MS
        )
        rows, _ = normal_rows(20, seed=5)
        with scenario.client("admin") as client:
            send(client, name, rows, f"{name}-overview", batch=5)
        requests = service(scenario, name)["totals"]["requests"]
        expect(fresh.locator("[data-figure='requests'] .value")).to_have_text(
            fmt_int(requests), timeout=REFRESH_TIMEOUT_MS
        )
        expect(fresh.locator("[data-spark='rate'] canvas")).to_have_count(1)
        expect(fresh.locator(".ep-rollout-line")).to_contain_text("canary")
    finally:
        scenario.remove(endpoint=name)
    assert churn.get_attribute("data-marker") == "kept"
    assert churn.locator("[data-spark='rate'] canvas[data-marker='kept']").count() == 1
    view.assert_clean()


# --- a server with nothing registered ----------------------------------------------------


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with no model and no endpoint (and no token: open on loopback)."""
    folder = tmp_path_factory.mktemp("empty-dashboard")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    server = LiveServer(folder).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("path", "message", "command"),
    [
        ("/dashboard", "No endpoints yet", "modelport endpoints create"),
        ("/dashboard/predictions", "No endpoints yet", "modelport endpoints create"),
        ("/dashboard/models", "No models registered yet", "modelport models register"),
    ],
)
def test_with_nothing_registered_pages_say_what_to_run(
    browser: Any, empty_server: LiveServer, path: str, message: str, command: str
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        view = PageView(page=context.new_page(), context=context, base_url=empty_server.url)
        view.watch()
        view.goto(path)
        state = view.page.locator("#page [data-state='empty']")
        expect(state).to_contain_text(message)
        expect(state.locator("code")).to_contain_text(command)
        assert view.page.locator("canvas").count() == 0
        if path == "/dashboard/predictions":
            expect(view.page.locator("#filters")).to_be_hidden()
        view.assert_clean()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        stem = "empty-server" + path.replace("/", "-")
        view.page.screenshot(path=str(SCREENSHOTS / f"{stem}.png"), full_page=True)
    finally:
        context.close()
