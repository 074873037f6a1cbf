"""The endpoint page on the scenario server: service charts, the drift heat map, a
feature's statistic and histogram, quality, predictions and performance, each drawn from
the same API answers the page asked for; empty and broken endpoints; the range picker
and the version selector drive the queries; refreshes update the charts in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dashboard.conftest import OpenPage, PageView
from dashboard.scenario import Scenario

PAGE = "/dashboard/endpoints/churn"


def asked(view: PageView, path: str, **having: str) -> str:
    """The newest URL (path and query) the page asked for under ``path`` whose query holds
    ``having``."""
    for url in reversed(view.requests):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.path == path and all(query.get(k) == [v] for k, v in having.items()):
            return f"{parts.path}?{parts.query}"
    raise AssertionError(f"the page never asked for {path} with {having}: {view.requests}")


def answer(scenario: Scenario, url: str) -> Any:
    """What the API answers a reader for ``url`` (path and query, as the page sent it)."""
    with scenario.client("reader") as client:
        response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def points(view: PageView, selector: str) -> int:
    chart = view.page.locator(selector)
    found = chart.get_attribute("data-points")
    assert found is not None, f"{selector} drew no chart: {chart.inner_text()}"
    return int(found)


def test_the_page_loads_clean_and_the_service_charts_hold_the_apis_buckets(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"{PAGE}?range=1h")
    view.assert_clean()
    service = answer(scenario, asked(view, "/v1/endpoints/churn/service"))
    buckets = len(service["buckets"])
    assert service["totals"]["requests"] > 0
    assert points(view, "#chart-rate") == buckets
    assert points(view, "#chart-errors") == buckets
    assert points(view, "#chart-latency") == 2 * buckets
    assert view.page.locator("#chart-latency").get_attribute("data-series") == "2"
    figures = view.page.locator("#service-figures").inner_text()
    assert f"{service['totals']['requests']:,}" in figures
    # The header: the rollout in progress and where its own pages are.
    assert "canary" in view.page.locator("#ep-serving").inner_text()
    assert view.page.get_by_role("link", name="Rollout of churn").get_attribute("href") == (
        "/dashboard/endpoints/churn/rollout"
    )


def test_the_heat_map_marks_the_drifted_features_and_draws_every_judged_window(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"{PAGE}?range=24h")
    view.assert_clean()
    heat = view.page.locator("#drift-heatmap")
    marked = set((heat.get_attribute("data-drifted-rows") or "").split(","))
    assert set(scenario.drifted_features) <= marked
    assert not marked & set(scenario.stable_features)
    drift = answer(scenario, asked(view, "/v1/endpoints/churn/monitoring/history", decision="1"))
    judged = sum(value is not None for s in drift["series"] for value in s["values"])
    assert len(drift["times"]) <= 96  # one window per column: nothing grouped here
    assert points(view, "#drift-heatmap") == judged
    assert {s["feature"] for s in drift["series"]} == {"tenure", "charges", "plan"}


def test_choosing_a_feature_draws_its_statistic_histogram_and_quality(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"{PAGE}?range=24h")
    with view.page.expect_response(lambda r: "feature=plan" in r.url):
        view.page.get_by_label("Feature").select_option("plan")
    view.page.locator("#chart-feature[data-points]").wait_for(state="attached")
    view.page.get_by_text("plan: Cramér's V over time").wait_for()
    series = answer(
        scenario,
        asked(view, "/v1/endpoints/churn/monitoring/history", feature="plan", format="columns"),
    )
    deciding = next(s for s in series["series"] if s["statistic"] == "cramers_v")
    assert points(view, "#chart-feature") == len(deciding["values"])
    # Reference vs current: two bars per category (basic, plus, pro; no unseen, no missing).
    assert view.page.locator("#chart-histogram").get_attribute("data-series") == "2"
    assert points(view, "#chart-histogram") == 2 * 3
    assert points(view, "#chart-quality") == 3 * len(series["times"])
    assert "feature=plan" in view.page.url
    view.assert_clean()


def test_predictions_and_performance_follow_the_labels(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"{PAGE}?range=24h")
    view.assert_clean()
    service = answer(scenario, asked(view, "/v1/endpoints/churn/service", predictions="1"))
    classes = service["predictions"]["classes"]
    assert view.page.locator("#chart-predictions").get_attribute("data-series") == str(len(classes))
    assert points(view, "#chart-predictions") == len(classes) * len(service["buckets"])
    scores = answer(
        scenario,
        asked(view, "/v1/endpoints/churn/monitoring/history", feature="__performance__"),
    )
    accuracy = next(s for s in scores["series"] if s["statistic"] == "accuracy")
    shown = 1 + any(s["statistic"] == "f1" for s in scores["series"])  # accuracy and F1
    assert points(view, "#chart-performance") == shown * len(accuracy["values"])
    assert points(view, "#chart-labelled") == len(scores["times"])
    assert "accuracy" in view.page.locator("#performance-figures").inner_text()


def test_an_endpoint_without_traffic_says_no_data_yet(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.quiet_endpoint}")
    view.assert_clean()
    for chart in ("#chart-rate", "#drift-heatmap", "#chart-predictions", "#chart-performance"):
        box = view.page.locator(f"{chart} [data-state]")
        assert box.get_attribute("data-state") == "empty", chart
        assert "No data yet" in box.inner_text()
        assert view.page.locator(chart).get_attribute("data-points") is None
    assert "No labels yet" in view.page.locator("#chart-performance").inner_text()


def test_an_endpoint_whose_model_failed_to_load_says_so(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.broken_endpoint}")
    view.assert_clean()
    assert view.page.locator("#ep-health").inner_text() == "not ready"
    box = view.page.locator("#ep-serving [data-state='broken']")
    assert "failed to load" in box.inner_text()
    assert view.page.locator("#content [data-state='error']").count() == 0


def test_the_range_picker_and_the_version_selector_change_the_queries(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"{PAGE}?range=1h")
    page = view.page
    with page.expect_request(lambda r: "/service?" in r.url and "step=900s" in r.url) as found:
        page.get_by_role("button", name="24h").click()
    query = parse_qs(urlsplit(found.value.url).query)
    since = datetime.fromisoformat(query["since"][0].replace("Z", "+00:00"))
    until = datetime.fromisoformat(query["until"][0].replace("Z", "+00:00"))
    assert until - since == timedelta(hours=24)
    assert abs(datetime.now(UTC) - until) < timedelta(hours=1)
    assert "range=24h" in page.url
    with page.expect_request(lambda r: "/service?" in r.url and "version=2" in r.url):
        page.get_by_label("Version").select_option("2")
    # The drift section now speaks of the canary's own windows (drawn, or a state box).
    page.locator("#drift").get_by_text("churn v2").first.wait_for()
    history = asked(view, "/v1/endpoints/churn/monitoring/history", decision="1", version="2")
    assert answer(scenario, history)["version"] == 2
    assert "version=2" in page.url
    view.assert_clean()


def test_a_refresh_updates_the_charts_in_place(open_page: OpenPage, scenario: Scenario) -> None:
    view = open_page(f"{PAGE}?range=24h")
    page = view.page
    hosts = {
        chart: page.locator(f"{chart} .chart-host").element_handle()
        for chart in ("#drift-heatmap", "#chart-rate", "#chart-performance")
    }
    before = len(view.requests)
    with page.expect_response(lambda r: "decision=1" in r.url):
        page.get_by_role("button", name="24h").click()  # the same range again: a refresh
    page.locator("#live-status").get_by_text("Updated").wait_for()
    assert len(view.requests) > before
    for chart, host in hosts.items():
        assert host is not None, chart
        # The very same chart element: updated, not rebuilt (no flicker, no jump).
        assert host.evaluate("element => element.isConnected"), chart
    view.assert_clean()
