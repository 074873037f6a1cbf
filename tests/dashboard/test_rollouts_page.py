"""The rollouts pages in a real browser: every endpoint's rollout, one rollout's split,
steps, gates drawn from the API's analysis rounds, report and audit trail; promote, roll
back, pause and resume for a deployer, refused for a reader."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.conftest import OpenPage, PageView
from dashboard.scenario import Scenario


def _rollout(scenario: Scenario, endpoint: str) -> dict[str, Any]:
    rollout: dict[str, Any] = scenario.api(f"/v1/endpoints/{endpoint}/rollout", "reader")["rollout"]
    return rollout


def _confirm(view: PageView, reason: str | None = None) -> None:
    dialog = view.page.locator("dialog.confirm")
    if reason is not None:
        dialog.locator("input[name='reason']").fill(reason)
    dialog.locator("button[type='submit']").click()


def test_the_list_shows_live_rollouts_first_and_links_to_them(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page("/dashboard/rollouts")
    view.assert_clean()
    rows = view.page.locator("#rollout-list tbody tr")
    first = rows.first
    assert first.locator("a").inner_text() == scenario.endpoint
    assert "active" in first.inner_text() and "25%" in first.inner_text()
    # Endpoints that never had a rollout are listed after it, saying so.
    quiet = rows.filter(has=view.page.locator(f"a[data-endpoint='{scenario.quiet_endpoint}']"))
    assert "none yet" in quiet.inner_text()
    first.locator("a").click()
    view.wait_ready()
    assert view.page.url.endswith(f"/dashboard/endpoints/{scenario.endpoint}/rollout")


def test_each_gate_is_drawn_from_the_analysis_rounds_with_the_split_and_the_trail(
    open_page: OpenPage, scenario: Scenario
) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.endpoint}/rollout")
    view.assert_clean()
    page = view.page
    rollout = _rollout(scenario, scenario.endpoint)
    assert page.locator("[data-status]").get_attribute("data-status") == "active"
    assert page.locator(".split").get_attribute("data-weight") == "25"
    assert page.locator(".steps li[aria-current='step']").inner_text() == "25%"
    assert f"step 1 of {len(rollout['steps'])}" in page.locator("#summary").inner_text()

    rounds = scenario.api(f"/v1/endpoints/{scenario.endpoint}/rollout/analyses", "reader")[
        "analyses"
    ]
    assert rounds, "the controller keeps analysis rounds of the rollout in progress"
    drawn = 0
    for gate in rollout["spec"]["gates"]:
        chart = page.locator(f".chart[data-gate='{gate}']")
        last_at = chart.get_attribute("data-last-at")
        if last_at is None:  # no estimate yet: a clear state instead of an empty chart
            assert chart.locator("[data-state]").count() == 1
            continue
        shown = [
            r for r in rounds if datetime.fromisoformat(r["at"]) <= datetime.fromisoformat(last_at)
        ]
        points = [next(g for g in r["gates"] if g["gate"] == gate) for r in shown]
        estimates = sum(p["estimate"] is not None for p in points)
        assert chart.get_attribute("data-estimates") == str(estimates), gate
        # A bound that moves (it rests on the primary) is drawn as a line of its own.
        moving = any(p["bound_interval"] for p in points) or len({p["bound"] for p in points}) > 1
        bounds = sum(p["bound"] is not None for p in points) if moving else 0
        assert chart.get_attribute("data-bounds") == str(bounds), gate
        assert chart.get_attribute("data-points") == str(estimates + bounds), gate
        drawn += 1
    assert drawn, "the scenario's canary traffic gives at least one gate an estimate"

    # The audit trail, newest first: the oldest row is the start, with who and why.
    started = page.locator("#history tbody tr").last.inner_text()
    assert "start" in started and "ops-admin" in started and "canary at 25%" in started
    report = scenario.api(f"/v1/endpoints/{scenario.endpoint}/rollout/report", "reader")
    agreement = page.locator("[data-role='agreement']").inner_text()
    assert agreement == f"{report['comparison']['agreement'] * 100:.1f}%"


def test_an_endpoint_without_a_rollout_says_so(open_page: OpenPage, scenario: Scenario) -> None:
    view = open_page(f"/dashboard/endpoints/{scenario.quiet_endpoint}/rollout")
    view.assert_clean()
    state = view.page.locator("#summary [data-state='info']")
    assert "No rollout yet" in state.inner_text()
    assert view.page.locator("#actions button").count() == 0


def test_a_reader_sees_the_actions_disabled_and_a_forced_request_is_refused(
    open_page: OpenPage, scenario: Scenario, fresh_rollout: str
) -> None:
    view = open_page(f"/dashboard/endpoints/{fresh_rollout}/rollout")
    view.assert_clean()
    before = _rollout(scenario, fresh_rollout)
    for action in ("promote", "roll-back", "pause"):
        button = view.page.locator(f"#actions button[data-action='{action}']")
        assert button.is_disabled()
        assert button.get_attribute("title") == "needs the deploy permission (you are reader)"
    for verb in ("promote", "rollback"):
        forced = view.page.evaluate(
            """async (path) => {
                const token = sessionStorage.getItem('modelport.token');
                const response = await fetch(path, {method: 'POST', body: '{}',
                    headers: {Authorization: 'Bearer ' + token,
                              'Content-Type': 'application/json'}});
                return {status: response.status, body: await response.json()};
            }""",
            f"/v1/endpoints/{fresh_rollout}/rollout/{verb}",
        )
        assert forced["status"] == 403 and forced["body"]["code"] == "forbidden"
    after = _rollout(scenario, fresh_rollout)
    assert (after["status"], after["revision"]) == ("active", before["revision"])


def test_a_deployer_promotes_from_the_page(
    open_page: OpenPage, scenario: Scenario, fresh_rollout: str
) -> None:
    view = open_page(f"/dashboard/endpoints/{fresh_rollout}/rollout", role="deployer")
    view.page.locator("#actions button[data-action='promote']").click()
    _confirm(view)
    finished = view.page.locator("#summary [data-state='info']")
    finished.wait_for()
    assert "No rollout in progress" in finished.inner_text()
    assert "promoted" in finished.inner_text()
    assert view.page.locator("#actions button").count() == 0
    view.assert_clean()

    rollout = _rollout(scenario, fresh_rollout)
    assert rollout["status"] == "promoted"
    endpoint = scenario.api(f"/v1/endpoints/{fresh_rollout}", "reader")
    assert endpoint["version"] == scenario.candidate_version
    history = scenario.api(f"/v1/endpoints/{fresh_rollout}/rollout/history", "reader")["history"]
    assert (history[-1]["action"], history[-1]["actor"]) == ("promote", "release-deployer")


def test_a_deployer_rolls_back_from_the_page_giving_a_reason(
    open_page: OpenPage, scenario: Scenario, fresh_rollout: str
) -> None:
    view = open_page(f"/dashboard/endpoints/{fresh_rollout}/rollout", role="deployer")
    view.page.locator("#actions button[data-action='roll-back']").click()
    dialog = view.page.locator("dialog.confirm")
    dialog.locator("button[type='submit']").click()  # no reason: the dialog stays open
    assert dialog.locator("input[name='reason']").evaluate("input => !input.validity.valid")
    assert _rollout(scenario, fresh_rollout)["status"] == "active"
    _confirm(view, reason="candidate answers look off")
    view.page.locator("#summary [data-state='info']").wait_for()
    view.assert_clean()

    rollout = _rollout(scenario, fresh_rollout)
    assert rollout["status"] == "rolled-back"
    assert scenario.api(f"/v1/endpoints/{fresh_rollout}", "reader")["version"] == 1
    last = scenario.api(f"/v1/endpoints/{fresh_rollout}/rollout/history", "reader")["history"][-1]
    assert (last["action"], last["actor"]) == ("rollback", "release-deployer")
    assert last["reason"] == "candidate answers look off"
    assert "candidate answers look off" in view.page.locator("#history").inner_text()


def test_a_deployer_pauses_and_resumes_from_the_page(
    open_page: OpenPage, scenario: Scenario, fresh_rollout: str
) -> None:
    view = open_page(f"/dashboard/endpoints/{fresh_rollout}/rollout", role="deployer")
    view.page.locator("#actions button[data-action='pause']").click()
    _confirm(view, reason="looking into it")
    view.page.locator("[data-status='paused']").wait_for()
    assert _rollout(scenario, fresh_rollout)["status"] == "paused"
    view.page.locator("#actions button[data-action='resume']").click()
    _confirm(view)
    view.page.locator("[data-status='active']").wait_for()
    assert _rollout(scenario, fresh_rollout)["status"] == "active"
    view.assert_clean()
    history = scenario.api(f"/v1/endpoints/{fresh_rollout}/rollout/history", "reader")["history"]
    decisions = [e for e in history if e["action"] != "verdict"]
    assert [(e["action"], e["actor"]) for e in decisions[-2:]] == [
        ("pause", "release-deployer"),
        ("resume", "release-deployer"),
    ]
    assert decisions[-2]["reason"] == "looking into it"
