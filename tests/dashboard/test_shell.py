"""The dashboard's shell on the scenario server: every page loads cleanly for a reader,
security headers, vendored files, nothing fetched from elsewhere, signing in, keyboard."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pytest

from dashboard.conftest import OpenPage
from dashboard.scenario import Scenario

PAGES = [
    "/dashboard",
    "/dashboard/endpoints/churn",
    "/dashboard/endpoints/churn/rollout",
    "/dashboard/rollouts",
    "/dashboard/alerts",
    "/dashboard/models",
    "/dashboard/models/churn",
    "/dashboard/predictions",
    "/dashboard/endpoints/churn/predictions",
]
# Pages of the endpoints with nothing to show, or whose model failed to load: they must
# still load cleanly and say so.
EMPTY_PAGES = [
    "/dashboard/endpoints/quiet",
    "/dashboard/endpoints/quiet/rollout",
    "/dashboard/endpoints/quiet/predictions",
    "/dashboard/endpoints/broken",
    "/dashboard/endpoints/broken/rollout",
    "/dashboard/endpoints/broken/predictions",
]
NAV = ["Overview", "Rollouts", "Alerts", "Models", "Predictions"]


@pytest.mark.parametrize("path", PAGES + EMPTY_PAGES)
def test_every_page_loads_for_a_reader_without_errors_from_this_server_alone(
    open_page: OpenPage, scenario: Scenario, path: str
) -> None:
    view = open_page(path)
    view.assert_clean()
    assert view.page.locator("#who").inner_text().startswith("team-reader")
    # The page's module ran to its first render and left no error box behind.
    assert view.page.locator("#content [data-state='error']").count() == 0
    assert view.page.locator("#content").inner_text().strip()
    # Every request went to this server: no CDN, no font service, no telemetry.
    server = urlsplit(scenario.url).netloc
    assert [url for url in view.requests if urlsplit(url).netloc != server] == []
    paths = [urlsplit(url).path for url in view.requests]
    assert "/dashboard/static/vendor/echarts/echarts.min.js" in paths
    assert "/v1/whoami" in paths
    # Readable at 1280x800: nothing makes the page wider than the window.
    width, inner = view.page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert width <= inner, f"{path} is {width}px wide in a {inner}px window"


def test_a_model_that_failed_to_load_is_said_so_not_drawn(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.broken_endpoint}")
    view.assert_clean()
    broken = view.page.locator("#content [data-state='broken']")
    assert broken.count() >= 1
    # The server's own reason (the artifact's checksum no longer matches), not a trace.
    assert "corrupt" in broken.first.inner_text()
    assert "Traceback" not in view.page.locator("#content").inner_text()


@pytest.mark.parametrize("path", PAGES)
def test_shells_send_a_strict_csp_and_security_headers(scenario: Scenario, path: str) -> None:
    answer = httpx.get(scenario.url + path, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = {
        part.split()[0]: part.split()[1:]
        for part in answer.headers["content-security-policy"].split(";")
        if part.strip()
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    # No inline script and no inline event handler could run under that policy anyway.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", answer.text)
    assert not re.search(r"\son[a-z]+\s*=", answer.text)


def test_shells_hold_no_data_and_need_no_token_while_the_api_does(scenario: Scenario) -> None:
    with scenario.client(role=None) as anonymous:
        shells = {path: anonymous.get(path) for path in PAGES}
        refused = {
            path: anonymous.get(path)
            for path in (
                "/v1/whoami",
                "/v1/endpoints",
                "/v1/endpoints/churn/monitoring/history",
                "/v1/endpoints/churn/rollout",
                "/v1/alerts",
                "/v1/models",
            )
        }
        wrong = anonymous.get("/v1/endpoints", headers={"Authorization": "Bearer not-a-token"})
    for path, answer in shells.items():
        assert answer.status_code == 200, path
        # Layout only: no request id, token, model input or feature of the scenario's data.
        for secret in [*scenario.tokens.values(), *scenario.request_ids[:20], "tenure"]:
            assert secret not in answer.text, (path, secret)
    for path, answer in refused.items():
        assert answer.status_code == 401, path
        assert set(answer.json()) == {"code", "message", "field"}
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"


def test_static_files_are_served_with_echarts_and_its_licence(scenario: Scenario) -> None:
    base = f"{scenario.url}/dashboard/static"
    echarts = httpx.get(f"{base}/vendor/echarts/echarts.min.js", timeout=30)
    licence = httpx.get(f"{base}/vendor/echarts/LICENSE", timeout=30)
    vendored = httpx.get(f"{base}/vendor/echarts/VENDORED.md", timeout=30)
    core = httpx.get(f"{base}/js/core/boot.js", timeout=30)
    missing = httpx.get(f"{base}/js/core/nope.js", timeout=30)
    assert echarts.status_code == 200 and "javascript" in echarts.headers["content-type"]
    assert len(echarts.content) > 500_000  # the whole library, not a stub
    assert licence.status_code == 200 and "Apache License" in licence.text
    assert vendored.status_code == 200 and "6.1" in vendored.text
    assert core.status_code == 200 and "export function ready" in core.text
    assert missing.status_code == 404


@pytest.mark.parametrize("role", ["admin", "deployer", "reader"])
def test_whoami_answers_each_roles_permissions(scenario: Scenario, role: str) -> None:
    expected = {
        "admin": ["read", "client", "deploy", "admin"],
        "deployer": ["read", "deploy"],
        "reader": ["read"],
    }
    assert scenario.api("/v1/whoami", role) == {
        "name": {"admin": "ops-admin", "deployer": "release-deployer", "reader": "team-reader"}[
            role
        ],
        "role": role,
        "open": False,
        "permissions": expected[role],
    }


def test_without_a_token_the_sign_in_dialog_asks_and_a_wrong_one_is_refused(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard", role=None)
    page = view.page
    dialog = page.locator("dialog#signin")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.getElementById('signin').open")
    assert page.locator("#signin-error").inner_text() == ""

    page.get_by_label("Token").fill("not-the-right-token")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator("#signin-error")
    error.wait_for(state="visible")
    # The API's own message, after the dialog came back.
    with scenario.client(role=None) as anonymous:
        refusal = anonymous.get(
            "/v1/whoami", headers={"Authorization": "Bearer not-the-right-token"}
        ).json()["message"]
    assert refusal in error.inner_text()
    assert page.evaluate("document.body.dataset.ready") is None

    page.get_by_label("Token").fill(scenario.tokens["deployer"])
    page.get_by_role("button", name="Sign in").click()
    view.wait_ready()
    assert not page.evaluate("document.getElementById('signin').open")
    assert page.locator("#who").inner_text().startswith("release-deployer")
    assert page.evaluate("sessionStorage.getItem('modelport.token')") == scenario.tokens["deployer"]
    # Before signing in the page asked without a token and was refused: those two 401s
    # (no token, wrong token) are the only failed requests.
    assert [f.split()[0] for f in view.failed_requests] == ["401", "401"]
    assert not view.page_errors


def test_signing_out_forgets_the_token(open_page: OpenPage) -> None:
    view = open_page("/dashboard/models")
    view.page.get_by_role("button", name="Sign out").click()
    view.page.locator("dialog#signin").wait_for(state="visible")
    assert view.page.evaluate("sessionStorage.getItem('modelport.token')") is None


def test_tab_reaches_the_skip_link_then_the_nav_links(open_page: OpenPage) -> None:
    page = open_page("/dashboard").page
    focused: list[list[str]] = []
    for _ in range(len(NAV) + 2):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate(
                "[document.activeElement.getAttribute('href') || '',"
                " document.activeElement.textContent.trim(),"
                " document.activeElement.closest('nav') ? 'nav' : '']"
            )
        )
    assert focused[0][0] == "#content"  # "Skip to content" comes first
    assert [text for href, text, where in focused if where == "nav"] == NAV
    page.keyboard.press("Enter")  # on the last nav link reached: Predictions
    page.locator("body[data-page='predictions']").wait_for()


def test_every_page_is_reachable_from_the_nav(open_page: OpenPage, scenario: Scenario) -> None:
    view = open_page("/dashboard")
    for name in NAV[1:]:
        with view.page.expect_navigation():
            view.page.get_by_role("navigation").get_by_role("link", name=name).click()
        view.wait_ready()
        assert view.page.get_by_role("link", name=name).get_attribute("aria-current") == "page"
    view.assert_clean()


def test_the_scenario_holds_what_the_pages_show(
    scenario: Scenario, fresh_rollout: str, fresh_alert: str
) -> None:
    endpoints = {e["name"]: e for e in scenario.api("/v1/endpoints", "reader")["endpoints"]}
    assert endpoints["broken"]["ready"] is False and endpoints["broken"]["error"]
    assert endpoints["quiet"]["ready"] is True
    for name in (scenario.endpoint, fresh_rollout):
        rollout = scenario.api(f"/v1/endpoints/{name}/rollout", "reader")["rollout"]
        assert (rollout["status"], rollout["candidate"]) == ("active", 2), name
    rules = {
        rule["name"]: rule for rule in json.loads(scenario.cli("alerts", "list", "--json").stdout)
    }
    assert rules[scenario.alert_rule]["state"] == "firing"
    assert rules[fresh_alert]["state"] == "firing"
