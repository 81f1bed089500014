"""The requester's and the approver's flows in the web app, in a real browser.

Every wait is one of Playwright's waiting expectations (no sleeps, no timing asserts).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

REQUEST = "Real-time fraud scoring API for card transactions, us-east-1, 200 GB of history"
DELIVERY_TIMEOUT_MS = 240_000
SERIOUS = {"serious", "critical"}


def sign_in(page: Page, url: str, user: str, roles: list[str]) -> None:
    page.goto(url)
    page.get_by_label("User name").fill(user)
    for role in ("requester", "approver"):
        box = page.get_by_role("checkbox", name=role)
        box.set_checked(role in roles)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("who")).to_contain_text(user)


def accessible(page: Page, what: str) -> None:
    """axe-core finds no serious or critical violation on the page."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v.get("impact") in SERIOUS
    ]
    assert not serious, f"{what}: {serious}"


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"))


def card_seqs(page: Page) -> list[int]:
    return [
        int(s)
        for s in page.get_by_test_id("reason-card").evaluate_all(
            "cards => cards.map(c => c.dataset.seq)"
        )
    ]


def api_call(page: Page, method: str, path: str, body: Any = None) -> list[Any]:
    """A fetch from the page with the page's own token: [status, JSON]."""
    return page.evaluate(
        """async ([method, path, body]) => {
            const token = sessionStorage.getItem('agentic-mlops.token');
            const response = await fetch(path, {
              method,
              headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'},
              body: body === null ? undefined : JSON.stringify(body),
            });
            return [response.status, await response.json()];
        }""",
        [method, path, body],
    )


def start_request(page: Page, project: str) -> str:
    page.get_by_label("New project name").fill(project)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(project)
    page.get_by_label("New request, in plain words").fill(REQUEST)
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"#/ds/ds-[0-9a-f]+"))
    return page.url.split("#/ds/")[1].split("/")[0]


@pytest.mark.timeout(600)
def test_request_questions_approval_delivery_revision(
    web_server: Any, new_page: Any, artifacts: Path
) -> None:
    app = web_server.web_url
    project = f"fraud-{uuid.uuid4().hex[:6]}"

    # A requester signs in, sees who they are, creates a project and makes a request.
    requester = new_page()
    sign_in(requester, app, "riley", ["requester"])
    expect(requester.get_by_test_id("who")).to_contain_text("all projects: requester")
    expect(requester.get_by_role("link", name="Approval inbox")).to_have_count(0)
    accessible(requester, "projects")
    shot(requester, artifacts, "projects")
    ds = start_request(requester, project)

    # The questions arrive as a form: checked before sending, the server's 400 beside the field.
    form = requester.locator("form.questions")
    expect(form.get_by_label("What budget should the workload stay within on AWS?")).to_be_visible()
    expect(form).to_contain_text("Why: The planner sizes the architecture")
    expect(form).to_contain_text("$1,500/month")
    form.get_by_role("button", name="Send answers").click()
    expect(requester.get_by_test_id("problem-budget")).to_have_text("Answer this question.")
    form.get_by_label("What budget").fill("12 bananas")
    form.get_by_label("What p99 latency").fill("50 ms")
    form.get_by_role("button", name="Send answers").click()
    expect(requester.get_by_test_id("problem-budget")).to_contain_text("cannot read '12 bananas'")
    form.get_by_label("What budget").fill("$6,000/month")
    form.get_by_role("button", name="Send answers").click()

    # The cards stream in, in order, and the rail shows where the run waits.
    cards = requester.get_by_test_id("reason-card")
    expect(cards.filter(has_text="policy eval")).to_have_count(1)
    expect(requester.locator(".rail li.waiting")).to_contain_text("gate hitl")
    seqs = card_seqs(requester)
    assert seqs == sorted(set(seqs)), seqs
    first = cards.first
    for part in ("confidence", "provider / model", "pack"):
        expect(first).to_contain_text(part)
    accessible(requester, "live run")
    shot(requester, artifacts, "live-run")

    # A requester is offered no approval; a forged approval is refused with 403.
    requester.get_by_role("link", name="Plan & approval").click()
    expect(requester.get_by_test_id("approval-panel")).to_contain_text("not an approver")
    expect(requester.get_by_role("button", name="Approve")).to_have_count(0)
    status, body = api_call(
        requester, "POST", f"/decision-sets/{ds}/approval", {"decision": "approve"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    requester.get_by_role("link", name="Live run").click()

    # An approver finds it in the inbox, sees the diagram, cost and policy, and approves.
    approver = new_page()
    sign_in(approver, app, "avery", ["approver"])
    approver.get_by_role("link", name="Approval inbox").click()
    row = approver.get_by_test_id("inbox").locator("tr", has_text=project)
    expect(row).to_contain_text("pass")
    expect(row).to_contain_text("$6,000.00")
    accessible(approver, "inbox")
    shot(approver, artifacts, "inbox")
    row.get_by_role("link").first.click()
    diagram = approver.get_by_test_id("architecture-diagram")
    expect(diagram.locator("[data-component=inference_endpoint]")).to_be_visible()
    expect(diagram).to_contain_text("VPC")
    expect(approver.get_by_test_id("cost-table")).to_contain_text("Total against the budget")
    expect(approver.get_by_test_id("cost-total")).to_have_text(re.compile(r"\$\d"))
    expect(approver.get_by_test_id("policy-table")).to_contain_text("POL-ENC-001")
    accessible(approver, "plan and approval")
    shot(approver, artifacts, "approval")
    approver.get_by_label(re.compile("^Comment")).fill("looks good; ship it")

    # A decision naming another plan than the current one is refused; the page says so.
    def stale(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "plan_hash": "0" * 64}))

    approval_url = f"**/decision-sets/{ds}/approval"
    approver.route(approval_url, stale)
    approver.get_by_role("button", name="Approve").click()
    expect(approver.get_by_test_id("approval-panel")).to_contain_text("The plan changed")
    approver.unroute(approval_url)
    approver.get_by_role("button", name="Approve").click()

    # The requester's live view streams the delivery on.
    expect(cards.filter(has_text="diff and persist")).to_have_count(1, timeout=DELIVERY_TIMEOUT_MS)
    seqs = card_seqs(requester)
    assert seqs == sorted(set(seqs)), seqs

    # The validation report, a highlighted generated file and the bundle download.
    requester.get_by_role("link", name="Delivery").click()
    report = requester.get_by_test_id("validation")
    expect(report).to_contain_text("terraform-fmt")
    tree = requester.get_by_test_id("file-tree")
    tree.get_by_text("README.md", exact=True).click()
    expect(requester.get_by_test_id("file-content")).to_contain_text("#")
    tree.get_by_role("button", name="test_pipeline.py").click()
    expect(requester.get_by_test_id("file-content").locator(".hljs-keyword").first).to_be_visible()
    accessible(requester, "delivery")
    shot(requester, artifacts, "delivery")
    requester.get_by_role("button", name="Get the download link").click()
    with requester.expect_download() as download:
        requester.get_by_test_id("bundle-link").click()
    assert download.value.suggested_filename.endswith(".zip")

    # A revision with a change in plain words; its Change Summary shows the budget.
    requester.get_by_role("link", name="History").click()
    expect(requester.get_by_test_id("timeline")).to_contain_text("run-complete")
    requester.get_by_label("Revise: what changes?").fill("budget is now $800/month")
    requester.get_by_role("button", name="Revise").click()
    expect(requester).not_to_have_url(re.compile(ds))
    requester.get_by_role("link", name="History").click()
    summary = requester.get_by_test_id("change-summary")
    expect(summary).to_contain_text("budget")
    expect(requester.get_by_test_id("budget-old")).to_have_text("$6,000.00")
    expect(requester.get_by_test_id("budget-new")).to_have_text("$800.00")
    expect(requester.get_by_test_id("revisions")).to_contain_text(ds)
    accessible(requester, "history")
    shot(requester, artifacts, "history")
    assert not requester.errors and not approver.errors


@pytest.mark.timeout(300)
def test_stream_recovers_from_a_dropped_socket(web_server: Any, new_page: Any) -> None:
    page = new_page()
    sign_in(page, web_server.web_url, "rowan", ["requester"])
    ds = start_request(page, f"drop-{uuid.uuid4().hex[:6]}")
    expect(page.get_by_test_id("stream-state")).to_have_text("stream live")
    expect(page.locator("form.questions")).to_be_visible()

    # The socket drops; the answers go in while it is away; the page reconnects by itself.
    state = page.evaluate(
        "() => { window.__agentic.stream.drop(); return window.__agentic.stream.state }"
    )
    assert state == "reconnecting"
    status, body = api_call(
        page,
        "POST",
        f"/decision-sets/{ds}/answers",
        {"answers": {"budget": "$6,000/month", "latency_p99_ms": "50 ms"}},
    )
    assert status == 202, body
    expect(page.get_by_test_id("stream-state")).to_have_text("stream live")
    expect(page.get_by_test_id("reason-card").filter(has_text="gate hitl")).to_have_count(1)

    # Every card of the timeline, once each, in order.
    path = f"/decision-sets/{ds}/events?type=reason-card&limit=500"
    status, body = api_call(page, "GET", path, None)
    stored = [e["seq"] for e in body["events"]]
    expect(page.get_by_test_id("reason-card")).to_have_count(len(stored))
    assert card_seqs(page) == stored

    # Fork from an event of the timeline with a change.
    page.get_by_role("link", name="History").click()
    first_update = next(e["seq"] for e in body["events"] if e["node"] == "coverage_check")
    page.get_by_role("button", name=f"Fork from event {first_update}", exact=True).click()
    page.get_by_label(f"Fork from event #{first_update} with a change").fill(
        "budget is $900/month"
    )
    page.get_by_role("button", name="Fork", exact=True).click()
    expect(page).not_to_have_url(re.compile(ds))
    expect(page.get_by_test_id("forked-from")).to_contain_text(f"event #{first_update}")
    assert not page.errors


def test_phone_width_dark_mode_and_errors_in_words(
    web_server: Any, new_page: Any, artifacts: Path
) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page.goto(web_server.web_url)
    expect(page.get_by_role("heading", name="Sign in to Agentic MLOps")).to_be_visible()
    accessible(page, "sign-in (phone, dark)")
    shot(page, artifacts, "sign-in-phone-dark")
    sign_in(page, web_server.web_url, "robin", ["requester"])
    accessible(page, "projects (phone, dark)")
    page.goto(web_server.web_url + "#/ds/ds-000000000000")
    expect(page.get_by_role("alert")).to_contain_text("Not found")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
