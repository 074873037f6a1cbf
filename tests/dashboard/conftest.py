"""Dashboard fixtures: the scenario server, headless Chromium, and pages opened in it.

Browser tests drive the *system* Chromium (``MODELPORT_CHROMIUM`` or ``chromium`` on PATH)
through Playwright's Python package; nothing downloads a browser. Without Chromium the
browser tests are skipped, loudly, unless ``MODELPORT_REQUIRE_CHROMIUM=1`` (CI) makes them
fail. Every page a test opens is screenshotted into ``build/screenshots/`` at teardown.

    def test_overview(open_page, scenario):
        view = open_page("/dashboard")                 # a reader, waits for data-ready
        view.page.get_by_role("link", name="churn").click()
        view.assert_clean()                            # no console errors, no failed requests
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dashboard.scenario import Scenario, running

REQUIRE_CHROMIUM = os.environ.get("MODELPORT_REQUIRE_CHROMIUM") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TOKEN_KEY = "modelport.token"  # where the dashboard keeps the token (sessionStorage)
# Runs before any page script, once per tab: a reload after "Sign out" stays signed out.
INJECT_TOKEN = """
try {
  if (!sessionStorage.getItem("modelport.harness")) {
    sessionStorage.setItem("modelport.harness", "1");
    sessionStorage.setItem(%s, %s);
  }
} catch (error) {}  // about:blank has no storage
"""
VIEWPORT = {"width": 1280, "height": 800}
# Upper bounds for "never happened" (a page that never becomes ready), not performance limits.
READY_TIMEOUT_MS = 60_000
ACTION_TIMEOUT_MS = 30_000


def chromium_path() -> str | None:
    """``MODELPORT_CHROMIUM`` when set (None if it names no program), else ``chromium``."""
    named = os.environ.get("MODELPORT_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if chromium_path() is None:
        outcome = "FAILED (MODELPORT_REQUIRE_CHROMIUM=1)" if REQUIRE_CHROMIUM else "SKIPPED"
        terminalreporter.write_line(
            "!!! Chromium was NOT found (set MODELPORT_CHROMIUM or install the Debian package "
            f"chromium): browser-marked dashboard tests were {outcome}",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    churn_files: tuple[Path, Path],
    churn_files_v2: tuple[Path, Path],
) -> Iterator[Scenario]:
    """One real server for the session with drifted traffic, labels, a rollout in progress
    and a firing alert (see scenario.py)."""
    with running(tmp_path_factory.mktemp("dashboard"), churn_files, churn_files_v2) as world:
        yield world


@pytest.fixture
def fresh_rollout(scenario: Scenario) -> Iterator[str]:
    """A new endpoint with its own rollout of churn:2 in progress, removed afterwards."""
    name = scenario.fresh_rollout()
    yield name
    scenario.remove(endpoint=name)


@pytest.fixture
def fresh_alert(scenario: Scenario) -> Iterator[str]:
    """A new firing alert rule on churn (to silence or acknowledge), removed afterwards."""
    name = scenario.fresh_alert()
    yield name
    scenario.remove(rule=name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless system Chromium, one per test module.

    Not one per session: Playwright's sync API keeps its event loop marked as running in
    the main thread while it is started, so every later test that calls ``asyncio.run``
    would fail. Tests of a module run together (also in random order), so the loop is
    gone before the next module's tests."""
    executable = chromium_path()
    if executable is None:
        message = (
            f"Chromium was not found at MODELPORT_CHROMIUM={os.environ['MODELPORT_CHROMIUM']}"
            if os.environ.get("MODELPORT_CHROMIUM")
            else "Chromium is not installed (apt-get install chromium, or set MODELPORT_CHROMIUM)"
        )
        if REQUIRE_CHROMIUM:
            pytest.fail(f"{message}; MODELPORT_REQUIRE_CHROMIUM=1 needs it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@dataclass
class PageView:
    """A page opened by ``open_page`` and what went wrong while it ran."""

    page: Any  # playwright.sync_api.Page
    context: Any  # playwright.sync_api.BrowserContext
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    # Every URL the page asked for, in order (to check that all of them stay on the server).
    requests: list[str] = field(default_factory=list)

    def watch(self) -> None:
        page = self.page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "requestfailed",
            lambda request: self.failed_requests.append(
                f"{request.method} {request.url}: {request.failure}"
            ),
        )
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            request = response.request
            self.failed_requests.append(f"{response.status} {request.method} {response.url}")

    def goto(self, path: str, wait_ready: bool = True) -> Any:
        response = self.page.goto(self.base_url + path)
        if wait_ready:
            self.wait_ready()
        return response

    def wait_ready(self) -> None:
        """Until the page's first render is done (``<body data-ready="1">``)."""
        try:
            # A selector, not wait_for_function: that one evals, which the page's CSP forbids.
            self.page.locator("body[data-ready='1']").wait_for(
                state="attached", timeout=READY_TIMEOUT_MS
            )
        except Exception as error:  # the page's own errors say more than the timeout
            raise AssertionError(
                f"{self.page.url} never became ready: {error}\n{self.problems()}"
            ) from None

    def api(self, path: str) -> Any:
        """GET ``path`` from inside the page with the page's token (as the dashboard does)."""
        return self.page.evaluate(
            """async (path) => {
                const token = sessionStorage.getItem('modelport.token');
                const headers = token ? {Authorization: 'Bearer ' + token} : {};
                const response = await fetch(path, {headers});
                return {status: response.status, body: await response.json()};
            }""",
            path,
        )

    def problems(self) -> str:
        lines = [f"console error: {e}" for e in self.console_errors]
        lines += [f"page error: {e}" for e in self.page_errors]
        lines += [f"failed request: {e}" for e in self.failed_requests]
        return "\n".join(lines) or "no errors seen"

    def assert_clean(self) -> None:
        """No console error, no uncaught exception, no failed or >= 400 request."""
        assert not (self.console_errors or self.page_errors or self.failed_requests), (
            self.problems()
        )


OpenPage = Callable[..., PageView]


def _screenshot_stem(nodeid_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid_name).strip("_")


@pytest.fixture
def open_page(
    request: pytest.FixtureRequest, browser: Any, scenario: Scenario
) -> Iterator[OpenPage]:
    """``open_page(path, role="reader", wait_ready=None)`` -> PageView.

    A fresh browser context per call (1280x800) with ``role``'s token in sessionStorage
    before any page script runs; ``role=None`` sends no token (the sign-in dialog shows).
    ``wait_ready`` (default: when a role is given) waits for the page's first render.
    """
    views: list[PageView] = []

    def open_(path: str, role: str | None = "reader", wait_ready: bool | None = None) -> PageView:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        if role is not None:
            context.add_init_script(
                INJECT_TOKEN % (json.dumps(TOKEN_KEY), json.dumps(scenario.tokens[role]))
            )
        view = PageView(page=context.new_page(), context=context, base_url=scenario.url)
        view.watch()
        views.append(view)
        view.goto(path, wait_ready=role is not None if wait_ready is None else wait_ready)
        return view

    yield open_

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = _screenshot_stem(request.node.name)
    for index, view in enumerate(views):
        name = stem if index == 0 else f"{stem}-{index + 1}"
        try:
            view.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        finally:
            view.context.close()
