"""Approvals from Slack through the local server: the posted request, signed clicks,
forged and stale requests, unknown users (Slack itself is a local fake)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import slack_fakes
from api_client import WORKLOAD, Rest, token

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(api_server: Any) -> Rest:
    return Rest(api_server.url, token("alice", "requester", "approver"))


def _awaiting_approval(admin: Rest) -> tuple[str, str]:
    decision_set, view = _awaiting_approval_view(admin)
    return decision_set, view["pending"]["id"]


def _awaiting_approval_view(admin: Rest) -> tuple[str, dict[str, Any]]:
    status, project = admin.post("/projects", {"name": f"slack-{uuid.uuid4().hex[:8]}"})
    assert status == 201
    status, created = admin.post(f"/projects/{project['id']}/decision-sets", {"request": WORKLOAD})
    assert status == 202
    return created["id"], admin.wait_status(created["id"], {"awaiting_approval"})


def _posted_for(fake: slack_fakes.FakeSlack, approval_id: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in fake.to("/api/chat.postMessage"):
            if approval_id in request.raw:
                return request
        time.sleep(0.05)
    raise AssertionError(f"no Slack message for {approval_id}")


def _click(admin: Rest, fake: slack_fakes.FakeSlack, approval_id: str, **options: Any) -> Any:
    user = options.pop("user_id", slack_fakes.APPROVER)
    action = options.pop("action_id", "approval_approve")
    value = options.pop("value", approval_id)
    name = uuid.uuid4().hex
    body = slack_fakes.form_body(
        slack_fakes.click_payload(
            response_url=fake.response_url(name), user_id=user, action_id=action, value=value
        )
    )
    headers = slack_fakes.signed_headers(
        body,
        timestamp=options.pop("timestamp", time.time()),
        secret=options.pop("secret", slack_fakes.SIGNING_SECRET),
    )
    status, answer = admin.call("POST", "/slack/interactions", raw=body.encode(), headers=headers)
    return status, answer, name


def _updates(fake: slack_fakes.FakeSlack, name: str, timeout: float = 5) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fake.to(f"/actions/{name}")
        if found:
            return [json.loads(r.raw) for r in found]
        time.sleep(0.05)
    return []


def test_an_approval_request_is_posted_and_a_signed_click_approves(
    api_server: Any, admin: Rest, fake_slack: slack_fakes.FakeSlack
):
    decision_set, pending = _awaiting_approval_view(admin)
    approval_id, plan_hash = pending["pending"]["id"], pending["pending"]["request"]["plan_hash"]
    posted = _posted_for(fake_slack, approval_id)
    message = json.loads(posted.raw)
    buttons = [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id", "").startswith("approval_")
    ]
    # the buttons carry the approval id and the hash of the plan shown, never a token
    assert {b["value"] for b in buttons} == {f"{approval_id}:{plan_hash}"}
    assert posted.headers.get("Authorization") == f"Bearer {slack_fakes.BOT_TOKEN}"

    status, answer, name = _click(admin, fake_slack, approval_id, value=buttons[0]["value"])
    assert status == 200, answer
    view = admin.wait_status(decision_set, {"approved", "failed"})
    assert view["status"] == "approved" and view["approval"]["approver"] == "sam"
    update = _updates(fake_slack, name)
    assert update and update[0]["replace_original"] is True

    # a second click replays the recorded decision; a reject now conflicts
    status, _, again = _click(admin, fake_slack, approval_id)
    assert status == 200 and "already" in json.dumps(_updates(fake_slack, again)).lower()


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"secret": "not-the-signing-secret-0000000000"}, "invalid_signature"),
        ({"timestamp": time.time() - 6 * 60}, "stale_request"),
    ],
    ids=["forged", "stale"],
)
def test_forged_and_stale_requests_are_refused_and_decide_nothing(
    api_server: Any, admin: Rest, fake_slack: slack_fakes.FakeSlack, options: dict, code: str
):
    decision_set, approval_id = _awaiting_approval(admin)
    status, answer, name = _click(admin, fake_slack, approval_id, **options)
    assert status == 401 and answer["error"]["code"] == code
    assert _updates(fake_slack, name, timeout=0.5) == []
    status, view = admin.get(f"/decision-sets/{decision_set}")
    assert view["status"] == "awaiting_approval" and view["pending"]["id"] == approval_id


def test_an_unknown_slack_user_cannot_approve(
    api_server: Any, admin: Rest, fake_slack: slack_fakes.FakeSlack
):
    decision_set, approval_id = _awaiting_approval(admin)
    status, _, name = _click(admin, fake_slack, approval_id, user_id=slack_fakes.STRANGER)
    assert status == 200
    note = _updates(fake_slack, name)
    assert note and note[0].get("response_type") == "ephemeral"
    assert note[0].get("replace_original") in (False, None)
    status, view = admin.get(f"/decision-sets/{decision_set}")
    assert view["status"] == "awaiting_approval"


def test_a_click_on_a_plan_that_changed_is_refused_and_decides_nothing(
    api_server: Any, admin: Rest, fake_slack: slack_fakes.FakeSlack
):
    # Given a button carrying the hash of another plan than the one waiting now
    decision_set, approval_id = _awaiting_approval(admin)
    stale = f"{approval_id}:{'0' * 64}"

    # When it is clicked
    status, _, name = _click(admin, fake_slack, approval_id, value=stale)

    # Then the clicker is told the plan changed, and nothing is decided
    assert status == 200
    note = json.dumps(_updates(fake_slack, name)).lower()
    assert "changed since it was shown" in note
    status, view = admin.get(f"/decision-sets/{decision_set}")
    assert view["status"] == "awaiting_approval" and view["pending"]["id"] == approval_id


def test_each_approval_is_posted_once_and_a_failed_post_can_be_retried(
    api_server: Any, admin: Rest, fake_slack: slack_fakes.FakeSlack, database: Any
):
    from agentic_mlops.notifications.slack_notifier import approval_notifier

    _, approval_id = _awaiting_approval(admin)
    _posted_for(fake_slack, approval_id)
    wait = database.store.get_wait(approval_id)
    notify = approval_notifier(api_server.settings.slack, database.store)
    assert notify is not None

    notify(wait)  # opened again (a resume): claimed already, not posted twice
    posts = [r for r in fake_slack.to("/api/chat.postMessage") if approval_id in r.raw]
    assert len(posts) == 1

    database.store.release_notification(approval_id, "slack")
    fake_slack.on("/api/chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    try:
        notify(wait)  # Slack refuses: the claim is given back
    finally:
        fake_slack.on(
            "/api/chat.postMessage",
            200,
            {"ok": True, "channel": slack_fakes.CHANNEL, "ts": "1700000000.000200"},
        )
    assert database.store.claim_notification(approval_id, "slack") is True
    assert database.store.claim_notification(approval_id, "slack") is False
