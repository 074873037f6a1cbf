"""A pipeline on the overview: its card names its steps, each linking to the step's own
endpoint page (where it is monitored and rolled out), and each step's card names its
pipeline; nothing the page asks for fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from dashboard.conftest import SCREENSHOTS, VIEWPORT, PageView
from modelport.config import DEFAULT_TOML
from pipelines.chain import PIPELINE, instances, register, train
from support import LiveServer


@pytest.fixture(scope="module")
def pipeline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("pipeline-dashboard")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    files = train(folder / "models")
    register(folder, "detector", files["detector"], "active")
    register(folder, "scorer", files["scorer"], "churned")
    server = LiveServer(folder).start()
    try:
        with server.client() as client:
            created = client.post("/v1/endpoints", json={"name": "intake", "pipeline": PIPELINE})
            assert created.status_code == 201, created.text
        server.wait_ready("intake")
        with server.client() as client:
            body = {"instances": instances(20, seed=1)}
            assert client.post("/v1/endpoints/intake/predict", json=body).status_code == 200
        yield server
    finally:
        server.stop()


def test_a_pipelines_card_links_its_steps_and_a_steps_card_its_pipeline(
    browser: Any, pipeline_server: LiveServer
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        view = PageView(page=context.new_page(), context=context, base_url=pipeline_server.url)
        view.watch()
        view.goto("/dashboard")
        pipeline = view.page.locator("article.endpoint-card[data-endpoint='intake']")
        expect(pipeline.locator(".ep-split")).to_contain_text("pipeline · detect → scorer")
        expect(pipeline.locator(".ep-spark-area")).to_contain_text("on its own card")
        link = pipeline.locator(".ep-split a[data-step='scorer']")
        assert link.get_attribute("href") == "/dashboard/endpoints/intake.scorer"
        step = view.page.locator("article.endpoint-card[data-endpoint='intake.scorer']")
        expect(step.locator(".ep-split")).to_contain_text("scorer · ")
        expect(step.locator(".ep-split")).to_contain_text("step of intake")
        expect(step.locator("[data-figure='requests'] .value")).not_to_have_text("—")
        view.assert_clean()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        view.page.screenshot(path=str(SCREENSHOTS / "pipeline-overview.png"), full_page=True)
        with view.page.expect_navigation():
            link.click()
        assert view.page.url.endswith("/dashboard/endpoints/intake.scorer")
    finally:
        context.close()
