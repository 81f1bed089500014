"""Slack approvals: the approval request posted with slack_sdk, and the interactivity
callback (signature and timestamp checks, user mapping, decisions, message updates).

Slack is a local HTTP server (``slack_fakes.FakeSlack``, real sockets); the real
``slack_sdk`` clients talk to it through ``base_url`` and the payload's ``response_url``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_fakes import (
    APPROVAL_ID,
    APPROVER,
    BOT_TOKEN,
    CHANNEL,
    DECISION_SET_ID,
    NOW,
    PROJECT_ID,
    SIGNING_SECRET,
    STRANGER,
    TASK_TOKEN,
    FakeDecide,
    FakeSlack,
    LambdaContext,
    click_payload,
    form_body,
    make_wait,
    sign,
    signed_headers,
)

from agentic_mlops.composition import container
from agentic_mlops.domain.identity import Identity
from agentic_mlops.errors import (
    AlreadyDecided,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    VersionConflict,
)
from agentic_mlops.notifications.slack_blocks import (
    ACTIONS_BLOCK_ID,
    HEADER_MAX,
    SECTION_TEXT_MAX,
    approval_request_blocks,
    clip,
    cost_text,
    decided_blocks,
    escape,
)
from agentic_mlops.notifications.slack_config import SlackConfig
from agentic_mlops.notifications.slack_notifier import (
    SlackError,
    notify_approval,
    post_approval_request,
)
from agentic_mlops.settings import load_settings
from agentic_mlops.slack import handle_interaction, interactions

ROOT = Path(__file__).parents[2]
USERS = {APPROVER: {"user": "alice", "projects": [PROJECT_ID]}}


def slack_config(env: dict[str, str]) -> SlackConfig:
    """The Slack group of the platform's settings read from ``env``."""
    return load_settings(("slack",), environ=env).slack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack().running() as fake:
        yield fake


@pytest.fixture
def config(slack: FakeSlack) -> SlackConfig:
    return SlackConfig.model_validate(
        {
            "bot_token": BOT_TOKEN,
            "signing_secret": SIGNING_SECRET,
            "channel": CHANNEL,
            "users": USERS,
            "api_url": slack.api_url,
        }
    )


@pytest.fixture
def decide() -> FakeDecide:
    return FakeDecide()


def _click(
    config: SlackConfig,
    decide: FakeDecide,
    body: str,
    *,
    headers: dict[str, str] | None = None,
    now: float = NOW,
) -> tuple[int, dict[str, Any]]:
    headers = signed_headers(body) if headers is None else headers
    return handle_interaction(headers, body, config=config, decide=decide, now=now)


def _approve_body(slack: FakeSlack, **kwargs: Any) -> str:
    return form_body(click_payload(response_url=slack.response_url(), **kwargs))


def _only_update(slack: FakeSlack) -> dict[str, Any]:
    updates = slack.to("/actions/")
    assert len(updates) == 1, f"expected one response_url update, got {len(updates)}"
    return updates[0].json()


# signature and timestamp ----------------------------------------------------------------


def test_a_validly_signed_click_is_decided_and_the_message_is_replaced(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    # Given the request message Slack echoes back with the click
    blocks = approval_request_blocks(make_wait(), project="churn")
    body = _approve_body(slack, blocks=blocks)

    # When Slack posts the click, signed with the app's secret
    status, answer = _click(config, decide, body)

    # Then it is acknowledged, decided as alice, and the message loses its buttons
    assert (status, answer) == (200, {})
    assert decide.calls == [
        (Identity("alice", {PROJECT_ID: frozenset({"approver"})}), APPROVAL_ID, "approve", None)
    ]
    update = _only_update(slack)
    assert update["replace_original"] is True
    assert "response_type" not in update
    assert "Approved by alice" in update["text"]
    outcome = update["blocks"][-1]["text"]["text"]
    assert f"<@{APPROVER}>" in outcome and "*alice*" in outcome and "*approved*" in outcome
    assert all(b.get("block_id") != ACTIONS_BLOCK_ID for b in update["blocks"])
    assert update["blocks"][0]["type"] == "header"  # the summary is kept


@pytest.mark.parametrize("forgery", ["wrong secret", "tampered body", "garbage"])
def test_a_forged_signature_is_refused_with_401_and_nothing_happens(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide, forgery: str
) -> None:
    body = _approve_body(slack)
    headers = {
        "wrong secret": signed_headers(body, secret="not-the-app-secret"),
        "tampered body": signed_headers(_approve_body(slack, action_id="approval_reject")),
        "garbage": {**signed_headers(body), "X-Slack-Signature": "v0=deadbeef"},
    }[forgery]

    status, answer = _click(config, decide, body, headers=headers)

    assert status == 401
    assert answer["error"]["code"] == "invalid_signature"
    assert decide.calls == [] and slack.received == []


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_a_stale_timestamp_is_refused_even_when_correctly_signed(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide, skew: int
) -> None:
    # Given a request signed correctly, but at a time more than 5 minutes from now
    body = _approve_body(slack)
    headers = signed_headers(body, timestamp=NOW + skew)

    status, answer = _click(config, decide, body, headers=headers)

    assert status == 401
    assert answer["error"]["code"] == "stale_request"
    assert decide.calls == [] and slack.received == []


@pytest.mark.parametrize("skew", [-300, -120, 0, 299])
def test_a_timestamp_within_five_minutes_is_accepted(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide, skew: int
) -> None:
    body = _approve_body(slack)

    status, _ = _click(config, decide, body, headers=signed_headers(body, timestamp=NOW + skew))

    assert status == 200 and len(decide.calls) == 1


@pytest.mark.parametrize(
    ("drop", "code"),
    [
        ("X-Slack-Signature", "missing_signature"),
        ("X-Slack-Request-Timestamp", "missing_signature"),
        ("both", "missing_signature"),
        ("not a number", "invalid_timestamp"),
    ],
)
def test_missing_or_unreadable_signature_headers_are_refused(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide, drop: str, code: str
) -> None:
    body = _approve_body(slack)
    headers = signed_headers(body)
    if drop == "both":
        headers = {"Content-Type": headers["Content-Type"]}
    elif drop == "not a number":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    else:
        headers.pop(drop)

    status, answer = _click(config, decide, body, headers=headers)

    assert (status, answer["error"]["code"]) == (401, code)
    assert decide.calls == []


def test_signature_headers_are_read_case_insensitively_and_bytes_bodies_work(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    # Given lower-cased headers (HTTP APIs) and the body as bytes
    body = _approve_body(slack)
    headers = {k.lower(): v for k, v in signed_headers(body).items()}

    status, _ = handle_interaction(headers, body.encode(), config=config, decide=decide, now=NOW)

    assert status == 200 and len(decide.calls) == 1


# payloads -------------------------------------------------------------------------------


def _malformed(slack: FakeSlack, case: str) -> str:
    good = click_payload(response_url=slack.response_url())
    if case == "no payload field":
        return "type=block_actions"
    if case == "payload is not JSON":
        return form_body("{not json")
    if case == "payload is a list":
        return form_body([good])
    if case == "two payload fields":
        return form_body(good) + "&" + form_body(good)
    broken = json.loads(json.dumps(good))
    if case == "no user":
        del broken["user"]
    elif case == "user id is not a Slack id":
        broken["user"]["id"] = "<!channel>"
    elif case == "actions is not a list":
        broken["actions"] = {"action_id": "approval_approve"}
    elif case == "button without value":
        del broken["actions"][0]["value"]
    elif case == "approval id with odd characters":
        broken["actions"][0]["value"] = "wait-1 OR 1=1"
    elif case == "no response_url":
        del broken["response_url"]
    elif case == "response_url not http":
        broken["response_url"] = "file:///etc/passwd"
    return form_body(broken)


@pytest.mark.parametrize(
    "case",
    [
        "no payload field",
        "payload is not JSON",
        "payload is a list",
        "two payload fields",
        "no user",
        "user id is not a Slack id",
        "actions is not a list",
        "button without value",
        "approval id with odd characters",
        "no response_url",
        "response_url not http",
    ],
)
def test_a_malformed_payload_is_refused_with_400(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide, case: str
) -> None:
    body = _malformed(slack, case)

    status, answer = _click(config, decide, body)

    assert status == 400
    assert answer["error"]["code"] == "malformed_payload"
    assert answer["error"]["message"]
    assert decide.calls == [] and slack.received == []


def test_a_body_that_is_not_utf8_is_refused_with_400(
    config: SlackConfig, decide: FakeDecide
) -> None:
    status, answer = handle_interaction(
        {"X-Slack-Request-Timestamp": str(int(NOW)), "X-Slack-Signature": "v0=00"},
        b"payload=\xff\xfe",
        config=config,
        decide=decide,
        now=NOW,
    )
    assert (status, answer["error"]["code"]) == (400, "malformed_payload")


@pytest.mark.parametrize("kind", ["link button", "view_submission"])
def test_interactions_that_are_not_approval_clicks_are_acknowledged_and_ignored(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide, kind: str
) -> None:
    # Given a click on the "Open in web app" link button, or another payload type
    payload = click_payload(response_url=slack.response_url(), action_id="approval_open")
    if kind == "view_submission":
        payload = {"type": "view_submission", "user": {"id": APPROVER}, "view": {}}

    status, answer = _click(config, decide, form_body(payload))

    assert (status, answer) == (200, {})
    assert decide.calls == [] and slack.received == []


# users and decisions --------------------------------------------------------------------


def test_an_unknown_slack_user_is_refused_without_deciding(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    body = _approve_body(slack, user_id=STRANGER)

    status, answer = _click(config, decide, body)

    # Then Slack gets a 200 (a non-200 shows only a generic error) and the stranger a
    # private note; the buttons stay for the real approvers
    assert (status, answer) == (200, {})
    assert decide.calls == []
    update = _only_update(slack)
    assert update["response_type"] == "ephemeral"
    assert update["replace_original"] is False
    assert "not mapped to a platform approver" in update["text"]
    assert "blocks" not in update


def test_a_mapped_user_rejects_as_their_platform_identity_on_every_project(
    slack: FakeSlack, decide: FakeDecide
) -> None:
    # Given an approver mapped with "*" (every project)
    config = SlackConfig.model_validate(
        {
            "signing_secret": SIGNING_SECRET,
            "users": {APPROVER: {"user": "bob@example.com", "projects": ["*"]}},
        }
    )
    body = _approve_body(slack, action_id="approval_reject")

    status, _ = _click(config, decide, body)

    assert status == 200
    ((identity, approval_id, decision, comment),) = decide.calls
    assert identity == Identity("bob@example.com", {"*": frozenset({"approver"})})
    assert identity.has("approver", "prj-anything") and not identity.has("requester", "x")
    assert (approval_id, decision, comment) == (APPROVAL_ID, "reject", None)
    update = _only_update(slack)
    assert update["replace_original"] is True
    assert "Rejected by bob@example.com" in update["text"]
    assert "*rejected*" in update["blocks"][-1]["text"]["text"]


@pytest.mark.parametrize(
    ("error", "replaces", "expected"),
    [
        (Forbidden("alice may not decide: it needs the approver role on prj-x"), False,
         ["platform user *alice*", "not an approver", "needs the approver role"]),
        (AlreadyDecided("already rejected by bob at 2024-01-01T10:00Z"), True,
         ["Already decided", "rejected by bob", "changed nothing"]),
        (Conflict("decision set ds-1 is not waiting for approval (status failed)"), True,
         ["No longer waiting", "not waiting for approval"]),
        (VersionConflict("concurrent update"), False, ["click again"]),
        (InvalidInput("approving a plan that failed policy needs a comment"), False,
         ["needs a comment", "approve it in the web app", "*Reject* works here"]),
        (NotFound("no approval with id 'wait-0123456789ab'"), False,
         ["does not know this approval"]),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)  # fmt: skip
def test_each_platform_refusal_becomes_a_message_for_the_approver(
    slack: FakeSlack,
    config: SlackConfig,
    decide: FakeDecide,
    error: Exception,
    replaces: bool,
    expected: list[str],
) -> None:
    decide.error = error

    status, answer = _click(config, decide, _approve_body(slack))

    assert (status, answer) == (200, {})
    assert len(decide.calls) == 1
    update = _only_update(slack)
    assert update["replace_original"] is replaces
    shown = update["blocks"][-1]["text"]["text"] if replaces else update["text"]
    if not replaces:
        assert update["response_type"] == "ephemeral" and "blocks" not in update
    for fragment in expected:
        assert fragment in shown


def test_a_refusal_message_escapes_what_the_platform_said(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    decide.error = AlreadyDecided("already approved by <!channel> & co")

    _click(config, decide, _approve_body(slack))

    shown = _only_update(slack)["blocks"][-1]["text"]["text"]
    assert "&lt;!channel&gt; &amp; co" in shown and "<!channel>" not in shown


def test_a_replayed_decision_is_shown_and_says_it_changed_nothing(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    decide.replayed = True

    status, _ = _click(config, decide, _approve_body(slack))

    assert status == 200
    update = _only_update(slack)
    assert update["replace_original"] is True
    outcome = update["blocks"][-1]["text"]["text"]
    assert "already recorded" in outcome and "*Approved* by *alice*" in outcome


def test_an_unexpected_failure_is_reported_without_its_details(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    decide.error = RuntimeError("connection to postgres://admin:hunter2@db failed")

    status, _ = _click(config, decide, _approve_body(slack))

    assert status == 200
    update = _only_update(slack)
    assert update["response_type"] == "ephemeral"
    assert "could not confirm your decision" in update["text"]
    assert "hunter2" not in json.dumps(update)


def test_an_unreachable_response_url_does_not_fail_the_click(
    slack: FakeSlack, config: SlackConfig, decide: FakeDecide
) -> None:
    # Given a response_url on a port nobody listens on
    with FakeSlack().running() as gone:
        dead_url = gone.response_url()
    body = form_body(click_payload(response_url=dead_url))

    status, answer = _click(config, decide, body)

    assert (status, answer) == (200, {})
    assert len(decide.calls) == 1  # the decision stands; a repeated click is replayed


def test_a_slow_response_url_is_time_boxed_within_slacks_3_seconds(
    slack: FakeSlack,
    config: SlackConfig,
    decide: FakeDecide,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a response_url that takes 0.9 s and an update budget of 0.2 s
    slack.delay_s = 0.9
    monkeypatch.setattr(interactions, "RESPONSE_URL_TIMEOUT_S", 0.2)
    body = _approve_body(slack)

    started = time.monotonic()
    status, _ = _click(config, decide, body)
    elapsed = time.monotonic() - started

    assert status == 200 and len(decide.calls) == 1
    assert elapsed < 0.7, f"the click took {elapsed:.2f} s"
    assert len(slack.to("/actions/")) == 1  # it was tried


def test_logs_hold_neither_the_body_nor_the_response_url_nor_secrets(
    slack: FakeSlack,
    config: SlackConfig,
    decide: FakeDecide,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = _approve_body(slack)
    _click(config, decide, body, headers=signed_headers(body, secret="forged"))
    _click(config, decide, body)
    decide.error = RuntimeError("boom")
    _click(config, decide, _approve_body(slack, user_id=STRANGER))

    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "invalid_signature" in logged and "decided" in logged  # it did log
    for secret in (SIGNING_SECRET, BOT_TOKEN, slack.response_url(), body, "payload="):
        assert secret not in logged


# the request message --------------------------------------------------------------------


def test_the_approval_request_is_posted_with_its_cost_policy_and_buttons(
    slack: FakeSlack, config: SlackConfig
) -> None:
    # Given a policy-failed plan whose request also holds a task-token-looking string
    wait = make_wait(
        policy="fail",
        failed_rules=["PII-ENCRYPTION", "REGION-LOCK"],
        task_token=TASK_TOKEN,
        summary="Trains nightly on PII.",
    )

    ts = post_approval_request(config, wait, project="churn")

    assert ts == "1700000000.000100"
    (posted,) = slack.to("/api/chat.postMessage")
    assert posted.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert TASK_TOKEN not in posted.raw and "task_token" not in posted.raw
    message = posted.json()
    assert message["channel"] == CHANNEL
    assert "Nightly churn training" in message["text"] and "$1,234.50" in message["text"]
    blocks = message["blocks"]
    (actions,) = [b for b in blocks if b.get("block_id") == ACTIONS_BLOCK_ID]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert buttons["approval_approve"]["value"] == APPROVAL_ID
    assert buttons["approval_reject"]["value"] == APPROVAL_ID
    assert buttons["approval_approve"]["style"] == "primary"
    assert buttons["approval_reject"]["style"] == "danger"
    assert "justification" in buttons["approval_approve"]["confirm"]["text"]["text"]
    text = json.dumps(blocks)
    assert "$1,234.50" in text and "$1,500.00" in text and "$265.50 to spare" in text
    assert ":x: *Fail*" in text and "PII-ENCRYPTION, REGION-LOCK" in text
    assert "web app with a comment" in text
    assert "eu-west-1" in text and "SageMaker Pipelines" in text and "churn" in text


def test_a_passing_plan_has_no_confirm_dialog_and_a_link_button_when_configured(
    slack: FakeSlack, config: SlackConfig
) -> None:
    config = config.model_copy(
        update={"approval_link": "https://mlops.example.com/sets/{decision_set_id}"}
    )

    post_approval_request(config, make_wait(policy="pass"))

    blocks = slack.to("/api/chat.postMessage")[0].json()["blocks"]
    (actions,) = [b for b in blocks if b.get("block_id") == ACTIONS_BLOCK_ID]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert "confirm" not in buttons["approval_approve"]
    assert buttons["approval_open"]["url"] == f"https://mlops.example.com/sets/{DECISION_SET_ID}"
    assert "value" not in buttons["approval_open"]
    assert ":white_check_mark: *Pass*" in json.dumps(blocks)
    assert "justification" not in json.dumps(blocks)


def test_a_slack_api_error_becomes_a_clear_slack_error_without_the_token(
    slack: FakeSlack, config: SlackConfig
) -> None:
    slack.on("/api/chat.postMessage", 200, {"ok": False, "error": "not_in_channel"})

    with pytest.raises(SlackError) as raised:
        post_approval_request(config, make_wait())

    message = str(raised.value)
    assert "not_in_channel" in message and "invite the app" in message and CHANNEL in message
    assert BOT_TOKEN not in message and raised.value.__cause__ is None


def test_an_unreachable_slack_api_is_a_slack_error(config: SlackConfig) -> None:
    with FakeSlack().running() as gone:
        api_url = gone.api_url
    config = config.model_copy(update={"api_url": api_url})

    with pytest.raises(SlackError, match="could not be reached"):
        post_approval_request(config, make_wait())


def test_posting_needs_a_bot_token_and_a_channel_and_an_approval_wait(
    config: SlackConfig,
) -> None:
    with pytest.raises(InvalidInput, match="SLACK_BOT_TOKEN"):
        post_approval_request(config.model_copy(update={"bot_token": None}), make_wait())
    question = make_wait().model_copy(update={"kind": "user_input"})
    with pytest.raises(InvalidInput, match="not an approval"):
        post_approval_request(config, question)


def test_notify_approval_is_best_effort(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "AGENTIC_MLOPS_SLACK_CHANNEL": CHANNEL}
    assert notify_approval(make_wait(), slack_config({})) is None  # Slack off: nothing posted
    assert slack.received == []

    ok = notify_approval(make_wait(), slack_config({**env, "SLACK_API_URL": slack.api_url}))
    assert ok == "1700000000.000100"

    slack.on("/api/chat.postMessage", 200, {"ok": False, "error": "invalid_auth"})
    caplog.set_level(logging.WARNING)
    failed = notify_approval(make_wait(), slack_config({**env, "SLACK_API_URL": slack.api_url}))
    assert failed is None
    assert "invalid_auth" in caplog.text and BOT_TOKEN not in caplog.text


# blocks ---------------------------------------------------------------------------------


def test_user_text_is_escaped_and_clipped_to_block_kit_limits() -> None:
    wait = make_wait(
        plan="P" * 400,
        summary="<!channel> & <https://evil.example|click> " * 500,
        services=[f"svc-{i}&<>" for i in range(2000)],
        failed_rules=["R&D<1>"] * 3,
        policy="warn",
    )

    blocks = approval_request_blocks(wait)

    header = blocks[0]["text"]["text"]
    assert len(header) <= HEADER_MAX and header.endswith("…")
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    texts += [f["text"] for b in blocks for f in b.get("fields", [])]
    assert all(len(t) <= SECTION_TEXT_MAX for t in texts)
    everything = json.dumps(blocks)
    assert "<!channel>" not in everything and "<https://evil" not in everything
    assert "&lt;!channel&gt; &amp;" in everything
    assert "R&amp;D&lt;1&gt;" in everything
    for text in texts:  # never a cut escape such as "&am…"
        assert not any(
            text.endswith(f"{e[:n]}…") for e in ("&amp;", "&lt;", "&gt;") for n in (1, 2, 3)
        )


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("abcdefghij", 5, "abcd…"),
        ("ab&amp;cd", 5, "ab…"),
        ("ab&amp;cd", 8, "ab&amp;…"),
    ],
)
def test_clip_never_cuts_an_escape(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected
    assert len(clip(text, limit)) <= limit


def test_escape_handles_the_three_control_characters() -> None:
    assert escape("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"


@pytest.mark.parametrize(
    ("total", "budget", "fragments"),
    [
        (1600.0, 1500.0, ["$1,600.00", "over", "$100.00"]),
        (900, None, ["$900.00", "no budget"]),
        (None, 1500.0, ["not estimated", "$1,500.00"]),
        ("lots", True, ["not estimated"]),
    ],
)
def test_cost_is_shown_against_the_budget(total: Any, budget: Any, fragments: list[str]) -> None:
    text = cost_text({"monthly_total_usd": total, "budget_monthly_usd": budget})
    for fragment in fragments:
        assert fragment in text


def test_decided_blocks_drop_the_buttons_and_policy_note_and_add_the_outcome() -> None:
    original = approval_request_blocks(make_wait(policy="fail", failed_rules=["R1"]))

    blocks = decided_blocks("*Rejected* by bob", original_blocks=original)

    ids = [b.get("block_id") for b in blocks]
    assert ACTIONS_BLOCK_ID not in ids and "approval_policy_note" not in ids
    assert blocks[-1]["text"]["text"] == "*Rejected* by bob"
    assert len(blocks) == len(original) - 2 + 2
    assert decided_blocks("x", original_blocks=["junk", None])[-1]["text"]["text"] == "x"


# configuration --------------------------------------------------------------------------

FULL_ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "AGENTIC_MLOPS_SLACK_CHANNEL": CHANNEL,
    "AGENTIC_MLOPS_SLACK_USERS": json.dumps(USERS),
}


def test_config_from_a_full_environment() -> None:
    config = slack_config({**FULL_ENV, "SLACK_API_URL": "http://127.0.0.1:9/api"})

    assert config.enabled and config.can_post and config.can_verify
    assert config.api_url == "http://127.0.0.1:9/api/"
    assert config.identity_for(APPROVER) == Identity("alice", {PROJECT_ID: frozenset({"approver"})})
    assert config.identity_for(STRANGER) is None


def test_slack_is_off_when_none_of_its_variables_is_set() -> None:
    assert not slack_config({}).enabled
    assert not slack_config({"SLACK_API_URL": "https://slack.com/api/", "X": "1"}).enabled


def test_each_capability_may_be_configured_alone() -> None:
    poster = slack_config({k: FULL_ENV[k] for k in list(FULL_ENV)[0::2]})
    verifier = slack_config({k: FULL_ENV[k] for k in list(FULL_ENV)[1::2]})

    assert poster.can_post and not poster.can_verify
    assert verifier.can_verify and not verifier.can_post


def test_users_can_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "slack-users.json"
    path.write_text(json.dumps({APPROVER: {"user": "carol", "projects": ["*", PROJECT_ID]}}))

    config = slack_config({**FULL_ENV, "AGENTIC_MLOPS_SLACK_USERS": f"@{path}"})

    assert config.enabled
    identity = config.identity_for(APPROVER)
    assert identity is not None and identity.user == "carol"
    assert identity.has("approver", "prj-other")


USERS_VAR, CHANNEL_VAR = "AGENTIC_MLOPS_SLACK_USERS", "AGENTIC_MLOPS_SLACK_CHANNEL"
BAD_CONFIGURATIONS = [
    ({USERS_VAR: "{not json"}, f"{USERS_VAR} is not valid JSON"),
    ({USERS_VAR: "[]"}, "non-empty JSON object"),
    ({USERS_VAR: "@/no/such/users.json"}, f"cannot read the {USERS_VAR} file"),
    ({USERS_VAR: '{"alice": {"user": "a", "projects": ["*"]}}'}, "not a Slack user id"),
    (
        {USERS_VAR: json.dumps({APPROVER: {"user": "a", "projects": []}})},
        f"{USERS_VAR}[{APPROVER}][projects]",
    ),
    ({USERS_VAR: json.dumps({APPROVER: {"user": "a"}})}, "Field required"),
    ({CHANNEL_VAR: ""}, f"{CHANNEL_VAR} is required when SLACK_BOT_TOKEN is set"),
    ({CHANNEL_VAR: "#approvals"}, f"{CHANNEL_VAR}='#approvals': must be a channel id"),
    ({"SLACK_SIGNING_SECRET": ""}, f"SLACK_SIGNING_SECRET is required when {USERS_VAR}"),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token-SeCrEt"}, "SLACK_BOT_TOKEN: must be a bot token"),
    ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL='slack.com/api': must be an http(s) URL"),
    ({"AGENTIC_MLOPS_SLACK_APPROVAL_LINK": "https://x/{token}"}, "may only use the placeholders"),
]


@pytest.mark.parametrize(("override", "expected"), BAD_CONFIGURATIONS)
def test_invalid_configuration_is_a_clear_invalid_input_without_secrets(
    override: dict[str, str], expected: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        slack_config({**FULL_ENV, **override})

    message = str(raised.value)
    assert expected in message
    for secret in (BOT_TOKEN, SIGNING_SECRET, "SeCrEt"):
        assert secret not in message
    assert raised.value.__cause__ is None  # no pydantic trace chained in


def test_secrets_never_appear_in_repr_str_or_dumps() -> None:
    config = slack_config(FULL_ENV)

    shown = " ".join(
        [repr(config), str(config), config.model_dump_json(), str(config.model_dump())]
    )
    assert BOT_TOKEN not in shown and SIGNING_SECRET not in shown
    assert "**********" in shown


# the Lambda handler and its sample event ------------------------------------------------


def _load_handler() -> Any:
    path = ROOT / "functions" / "slack" / "app.py"
    spec = importlib.util.spec_from_file_location("slack_function_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, decide: FakeDecide) -> types.SimpleNamespace:
    """A stand-in for the function's platform (only its service's ``decide_approval``),
    counting how often the platform is reached."""
    calls = types.SimpleNamespace(deciders=0)

    def platform(function: str) -> types.SimpleNamespace:
        calls.deciders += 1
        return types.SimpleNamespace(service=types.SimpleNamespace(decide_approval=decide))

    container.reset()
    monkeypatch.setattr(container, "platform", platform)
    yield calls
    container.reset()


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("AGENTIC_MLOPS_SLACK_USERS", json.dumps(USERS))
    for name in ("SLACK_BOT_TOKEN", "AGENTIC_MLOPS_SLACK_CHANNEL", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)


def _sample_event(slack: FakeSlack, *, base64_body: bool = False) -> dict[str, Any]:
    """The sample event, pointed at the fake Slack and signed now."""
    event = json.loads((ROOT / "events" / "slack" / "interaction.json").read_text())
    payload = json.loads(parse_qs(event["body"])["payload"][0])
    payload["response_url"] = slack.response_url()
    body = form_body(payload)
    event["headers"].update(signed_headers(body, timestamp=time.time()))
    event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    event["isBase64Encoded"] = base64_body
    return event


@pytest.mark.parametrize("base64_body", [False, True], ids=["text", "base64"])
def test_the_lambda_handler_answers_the_signed_sample_event(
    slack: FakeSlack,
    decide: FakeDecide,
    service: types.SimpleNamespace,
    slack_env: None,
    base64_body: bool,
) -> None:
    handler = _load_handler()

    response = handler(_sample_event(slack, base64_body=base64_body), LambdaContext())

    assert response["statusCode"] == 200 and response["body"] == ""
    assert service.deciders == 1
    ((identity, approval_id, decision, _),) = decide.calls
    assert (identity.user, approval_id, decision) == ("alice", "wait-0123456789ab", "approve")
    assert "Approved by alice" in _only_update(slack)["text"]


def test_the_sample_event_as_stored_is_refused_and_never_reaches_the_platform(
    service: types.SimpleNamespace, slack_env: None
) -> None:
    event = json.loads((ROOT / "events" / "slack" / "interaction.json").read_text())
    assert "placeholder" in event["_comment"]

    response = _load_handler()(event, LambdaContext())

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] in {"stale_request", "invalid_signature"}
    assert service.deciders == 0


def test_a_forged_request_to_the_handler_never_loads_the_platform(
    slack: FakeSlack, service: types.SimpleNamespace, slack_env: None
) -> None:
    event = _sample_event(slack)
    event["headers"]["X-Slack-Signature"] = sign(
        "guess", event["headers"]["X-Slack-Request-Timestamp"], event["body"]
    )

    response = _load_handler()(event, LambdaContext())

    assert response["statusCode"] == 401 and service.deciders == 0


def test_the_handler_answers_503_when_slack_is_off_and_500_when_misconfigured(
    slack: FakeSlack,
    service: types.SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in (*FULL_ENV, "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    handler = _load_handler()

    off = handler(_sample_event(slack), LambdaContext())
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("AGENTIC_MLOPS_SLACK_USERS", "{oops")
    container.reset()  # a new container: the settings are read when it starts
    caplog.set_level(logging.ERROR)
    broken = handler(_sample_event(slack), LambdaContext())

    assert off["statusCode"] == 503
    assert json.loads(off["body"])["error"]["code"] == "slack_not_configured"
    assert broken["statusCode"] == 500
    assert "JSON" not in broken["body"]  # details go to the logs, not to the caller
    assert "AGENTIC_MLOPS_SLACK_USERS is not valid JSON" in caplog.text
    assert service.deciders == 0


def test_a_bad_base64_body_is_refused_with_400(
    slack: FakeSlack, service: types.SimpleNamespace, slack_env: None
) -> None:
    event = _sample_event(slack)
    event.update(body="%%% not base64", isBase64Encoded=True)

    response = _load_handler()(event, LambdaContext())

    assert response["statusCode"] == 400 and service.deciders == 0
