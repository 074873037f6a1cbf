"""The alerts page in a real browser: firing alerts with their values and thresholds,
the rules and the history; silence and acknowledge for a deployer (seen by the real
``modelport alerts`` CLI), refused for a reader."""

from __future__ import annotations

import json
from typing import Any

from dashboard.conftest import SCREENSHOTS, VIEWPORT, OpenPage, PageView
from dashboard.scenario import Scenario, wait_for
from support import LiveServer


def _row(view: PageView, rule: str) -> Any:
    return view.page.locator(f"#active tbody tr[data-rule='{rule}']")


def _rules_from_cli(scenario: Scenario) -> dict[str, dict[str, Any]]:
    listed = json.loads(scenario.cli("alerts", "list", "--json").stdout)
    return {rule["name"]: rule for rule in listed}


def test_the_firing_alert_shows_its_value_threshold_and_labels(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard/alerts")
    view.assert_clean()
    row = _row(view, scenario.alert_rule)
    assert row.get_attribute("data-state") == "firing"
    labels = json.loads(row.get_attribute("data-labels") or "{}")
    assert labels == {"endpoint": scenario.endpoint, "feature": "tenure"}
    text = row.inner_text()
    assert "critical" in text and "drift.ks" in text and "above 0.5" in text
    assert "endpoint=churn" in text and "feature=tenure" in text
    # The value shown is the API's (the figure of a window that no longer changes).
    alert = next(
        a
        for a in scenario.api("/v1/alerts/active", "reader")["alerts"]
        if a["rule"] == scenario.alert_rule
    )
    assert alert["value"] > 0.5
    value = float(row.locator("td.num").first.inner_text())
    assert abs(value - alert["value"]) <= 0.0005 * alert["value"]
    assert view.page.locator("[data-count='firing']").inner_text() != "0"

    rules = view.page.locator("#rules tbody tr")
    mine = rules.filter(has=view.page.locator(f"[data-rule='{scenario.alert_rule}']"))
    assert "config" in mine.inner_text() and "feature tenure" in mine.inner_text()
    assert rules.count() == len(scenario.api("/v1/alerts", "reader")["rules"])
    history = view.page.locator("#history").inner_text()
    assert "inactive → firing" in history or "pending → firing" in history


def test_a_reader_sees_silence_and_acknowledge_disabled_and_is_refused(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard/alerts")
    row = _row(view, scenario.alert_rule)
    for action in ("silence", "acknowledge"):
        button = row.locator(f"button[data-action='{action}']")
        assert button.is_disabled()
        assert button.get_attribute("title") == "needs the deploy permission (you are reader)"
    view.assert_clean()
    forced = view.page.evaluate(
        """async (path) => {
            const token = sessionStorage.getItem('modelport.token');
            const response = await fetch(path, {method: 'POST',
                body: JSON.stringify({for: '1h', reason: 'not mine to silence'}),
                headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'}});
            return {status: response.status, body: await response.json()};
        }""",
        f"/v1/alerts/{scenario.alert_rule}/silence",
    )
    assert forced["status"] == 403 and forced["body"]["code"] == "forbidden"
    assert _rules_from_cli(scenario)[scenario.alert_rule]["silenced_until"] is None


def test_silencing_an_alert_from_the_page_shows_up_in_modelport_alerts_list(
    open_page: OpenPage, scenario: Scenario, fresh_alert: str
) -> None:
    assert _rules_from_cli(scenario)[fresh_alert]["silenced_until"] is None
    view = open_page("/dashboard/alerts", role="deployer")
    _row(view, fresh_alert).locator("button[data-action='silence']").click()
    dialog = view.page.locator("dialog.confirm")
    dialog.locator("input[name='for']").fill("90m")
    dialog.locator("input[name='reason']").fill("planned backfill")
    dialog.locator("button[type='submit']").click()
    _row(view, fresh_alert).locator("[data-silenced='1']").wait_for()
    view.assert_clean()

    listed = _rules_from_cli(scenario)[fresh_alert]
    assert listed["silenced_until"] is not None
    assert _rules_from_cli(scenario)[scenario.alert_rule]["silenced_until"] is None
    history = json.loads(scenario.cli("alerts", "history", fresh_alert, "--json").stdout)
    silence = next(entry for entry in history if entry["kind"] == "silence")
    assert silence["reason"] == "planned backfill" and silence["by"] == "release-deployer"
    assert silence["labels"] == {"endpoint": scenario.endpoint, "feature": "tenure"}
    assert "planned backfill" in _row(view, fresh_alert).inner_text()


def test_acknowledging_an_alert_from_the_page(
    open_page: OpenPage, scenario: Scenario, fresh_alert: str
) -> None:
    view = open_page("/dashboard/alerts", role="deployer")
    _row(view, fresh_alert).locator("button[data-action='acknowledge']").click()
    view.page.locator("dialog.confirm button[type='submit']").click()
    _row(view, fresh_alert).locator("[data-acked='1']").wait_for()
    view.assert_clean()
    alert = next(
        a for a in scenario.api("/v1/alerts/active", "reader")["alerts"] if a["rule"] == fresh_alert
    )
    assert alert["acked_by"] == "release-deployer"
    # Acknowledged once: the button is gone, silencing is still offered.
    row = _row(view, fresh_alert)
    assert row.locator("button[data-action='acknowledge']").count() == 0
    assert row.locator("button[data-action='silence']").is_enabled()


def test_a_resolved_alert_is_listed_as_resolved(
    open_page: OpenPage, scenario: Scenario, fresh_alert: str
) -> None:
    # Raise the rule's threshold past anything KS can reach: the firing alert resolves.
    rule = {"name": fresh_alert, "endpoint": scenario.endpoint, "metric": "drift.ks"}
    with scenario.client("admin") as client:
        replaced = client.post(
            "/v1/alerts?replace=1", json={**rule, "feature": "tenure", "above": 5.0}
        )
        assert replaced.status_code == 201, replaced.text
    wait_for(
        lambda: scenario.api("/v1/alerts/history", "reader")["history"],
        lambda entries: any(
            e["rule"] == fresh_alert and e.get("to_state") == "resolved" for e in entries
        ),
        f"alert {fresh_alert} resolved",
    )
    view = open_page("/dashboard/alerts")
    view.assert_clean()
    resolved = view.page.locator("#resolved tbody tr").filter(has_text=fresh_alert)
    assert resolved.count() >= 1
    assert "above 5" in resolved.first.inner_text()
    assert _row(view, fresh_alert).count() == 0  # no longer firing or pending
    history = view.page.locator("#history tbody tr").filter(has_text=fresh_alert)
    assert any("firing → resolved" in text for text in history.all_inner_texts())


def test_without_rules_the_page_says_how_to_add_one(browser: Any, churn_server: LiveServer) -> None:
    """A server of its own (no tokens, no rules): the scenario's has rules."""
    context = browser.new_context(viewport=VIEWPORT)
    view = PageView(page=context.new_page(), context=context, base_url=churn_server.url)
    view.watch()
    try:
        view.goto("/dashboard/alerts")
        view.assert_clean()
        rules = view.page.locator("#rules [data-state='empty']")
        assert "No alert rules yet" in rules.inner_text()
        assert "modelport alerts add" in rules.inner_text()
        assert view.page.locator("#active [data-state='empty']").count() == 1
        assert view.page.locator("[data-count='rules']").inner_text() == "0"
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        view.page.screenshot(path=str(SCREENSHOTS / "alerts-without-rules.png"), full_page=True)
        context.close()
