"""Slack's interactivity callback: an approver clicked Approve or Reject.

One request, answered within Slack's 3-second limit:

1. verify the signature and the timestamp (5 minutes of skew at most) → else 401;
2. parse the form-encoded ``payload`` (``block_actions``) → else 400;
3. map the Slack user to a platform approver (``AGENTIC_MLOPS_SLACK_USERS``);
4. ``decide`` (the platform service; it is fast: long work is deferred);
5. update the message through its ``response_url`` (time-boxed), then answer 200.

Every outcome a person should see (refusals included) goes to the ``response_url`` with
a 200 answer: Slack shows nothing useful for a non-200 answer to a click. Refusals that
concern only the clicker (unknown user, not an approver, a justification needed) are
ephemeral and leave the buttons for the real approvers; outcomes that close the approval
(decided, already decided, no longer waiting) replace the message and remove the buttons.

Neither the raw body, the ``response_url`` (a bearer capability for 30 minutes) nor any
secret is logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qs

from agentic_mlops.domain.identity import Identity
from agentic_mlops.errors import (
    AlreadyDecided,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PlatformError,
    VersionConflict,
)
from agentic_mlops.notifications.slack_blocks import (
    DECISIONS,
    SECTION_TEXT_MAX,
    WEB_APP_HINT,
    clip,
    decided_blocks,
    escape,
)
from agentic_mlops.notifications.slack_config import (
    SIGNING_SECRET_ENV,
    SLACK_USER_ID,
    USERS_ENV,
    SlackConfig,
)

if TYPE_CHECKING:
    from slack_sdk.webhook import WebhookClient

logger = logging.getLogger(__name__)

MAX_SKEW_S = 300  # Slack's replay window: 5 minutes
ACK_BUDGET_S = 2.5  # of Slack's 3 s, leaving room for API Gateway and Lambda
RESPONSE_URL_TIMEOUT_S = 1.5
MIN_RESPONSE_URL_TIMEOUT_S = 0.2
APPROVAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
PLAN_HASH = re.compile(r"^[0-9a-f]{64}$")

Decision = Literal["approve", "reject"]

UNKNOWN_USER_TEXT = (
    ":no_entry_sign: Not recorded: your Slack account is not mapped to a platform approver."
    " Ask a platform admin to add you to the approvers, or decide in the web app."
)
INTERNAL_ERROR_TEXT = (
    ":warning: The platform could not confirm your decision (internal error). Try again in"
    " a moment (a repeated click is safe) or use the web app."
)


class ApprovalResultLike(Protocol):
    """What ``decide`` returns (the platform service's approval result)."""

    decision_set_id: str
    approval_id: str
    decision: str
    approver: str
    comment: str | None
    replayed: bool
    status: str


class Decide(Protocol):
    """The platform's decision by approval id (the service's ``decide_approval``)."""

    def __call__(
        self,
        identity: Identity,
        approval_id: str,
        decision: Decision,
        comment: str | None,
        *,
        plan_hash: str | None = None,
    ) -> ApprovalResultLike: ...


class MessageSender(Protocol):
    """What is needed of ``slack_sdk.webhook.WebhookClient``."""

    def send(self, **kwargs: Any) -> Any: ...


WebhookFactory = Callable[[str, float], MessageSender]


class RequestRefused(Exception):
    """A request answered with an HTTP error (bad signature, malformed payload...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code", "message"}}``."""
        return error_body(self.code, self.message)


@dataclass(frozen=True)
class ApprovalClick:
    """A click on Approve or Reject, as read from a verified payload."""

    slack_user_id: str
    approval_id: str
    decision: Decision
    response_url: str
    message_blocks: list[Any] = field(default_factory=list)
    plan_hash: str | None = None


@dataclass(frozen=True)
class Reply:
    """What the clicker sees: an ephemeral note, or the message replaced."""

    outcome: str
    text: str
    replace_original: bool
    blocks: list[dict[str, Any]] | None = None


def error_body(code: str, message: str) -> dict[str, Any]:
    """The platform's JSON error shape."""
    return {"error": {"code": code, "message": message}}


# 1. signature ---------------------------------------------------------------------------


def verify_request(
    headers: Mapping[str, str] | None, body: str, *, signing_secret: str, now: float
) -> None:
    """Check Slack's signature headers (case-insensitive) against the raw body.

    Raises:
        RequestRefused: 401 for missing headers, a timestamp more than 5 minutes from
            ``now`` (a replay) or a signature that does not match.
    """
    from slack_sdk.signature import Clock, SignatureVerifier

    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
    timestamp = lowered.get("x-slack-request-timestamp")
    signature = lowered.get("x-slack-signature")
    if not timestamp or not signature:
        raise RequestRefused(
            401,
            "missing_signature",
            "the request lacks X-Slack-Request-Timestamp or X-Slack-Signature",
        )
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        raise RequestRefused(
            401, "invalid_timestamp", "X-Slack-Request-Timestamp is not a number"
        ) from None
    if abs(now - sent) > MAX_SKEW_S:
        raise RequestRefused(
            401, "stale_request", "the request timestamp is more than 5 minutes away from now"
        )

    class _Now(Clock):
        def now(self) -> float:
            return now

    verifier = SignatureVerifier(signing_secret, clock=_Now())
    if not verifier.is_valid(body=body, timestamp=str(timestamp), signature=str(signature)):
        raise RequestRefused(401, "invalid_signature", "the Slack signature does not match")


# 2. payload -----------------------------------------------------------------------------


def _malformed(message: str) -> RequestRefused:
    return RequestRefused(400, "malformed_payload", message)


def _payload(body: str) -> dict[str, Any]:
    values = parse_qs(body, keep_blank_values=True).get("payload")
    if not values or len(values) != 1:
        raise _malformed("expected one form-encoded 'payload' field")
    try:
        payload = json.loads(values[0])
    except json.JSONDecodeError:
        raise _malformed("the payload is not JSON") from None
    if not isinstance(payload, dict):
        raise _malformed("the payload is not a JSON object")
    return payload


def _approval_action(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise _malformed("block_actions without an actions list")
    return next(
        (a for a in actions if isinstance(a, Mapping) and a.get("action_id") in DECISIONS),
        None,
    )


def parse_click(body: str) -> ApprovalClick | None:
    """Read an Approve/Reject click from a verified body.

    Returns:
        The click, or None for a well-formed interaction that is not one (another
        payload type, or a click on the *Open in web app* link button): acknowledged,
        nothing done.

    Raises:
        RequestRefused: 400 for a malformed body or payload.
    """
    payload = _payload(body)
    if payload.get("type") != "block_actions":
        return None
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    if not isinstance(user_id, str) or not SLACK_USER_ID.fullmatch(user_id):
        raise _malformed("the payload has no valid user id")
    action = _approval_action(payload)
    if action is None:
        return None
    value = action.get("value")
    approval_id, _, plan_hash = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not APPROVAL_ID.fullmatch(approval_id) or (plan_hash and not PLAN_HASH.fullmatch(plan_hash)):
        raise _malformed("the button carries no valid approval id")
    response_url = payload.get("response_url")
    if not isinstance(response_url, str) or not response_url.startswith(("https://", "http://")):
        raise _malformed("the payload has no response_url")
    message = payload.get("message")
    blocks = message.get("blocks") if isinstance(message, Mapping) else None
    return ApprovalClick(
        slack_user_id=user_id,
        approval_id=approval_id,
        decision=DECISIONS[action["action_id"]],  # type: ignore[arg-type]
        response_url=response_url,
        message_blocks=blocks if isinstance(blocks, list) else [],
        plan_hash=plan_hash or None,
    )


# 3-4. who, and the decision -------------------------------------------------------------


@dataclass(frozen=True)
class _ErrorReply:
    cls: type[PlatformError]
    outcome: str
    replace_original: bool
    template: str


# The first match wins (subclasses first).
_ERROR_REPLIES = (
    _ErrorReply(
        AlreadyDecided,
        "already_decided",
        True,
        ":lock: *Already decided.* {error} This click changed nothing.",
    ),
    _ErrorReply(
        VersionConflict,
        "busy",
        False,
        ":hourglass: The approval was being updated at that very moment; click again.",
    ),
    _ErrorReply(
        Conflict,
        "not_waiting",
        True,
        ":double_vertical_bar: *No longer waiting for a decision.* {error}",
    ),
    _ErrorReply(
        NotFound,
        "not_found",
        False,
        ":grey_question: Not recorded: the platform does not know this approval ({error}).",
    ),
    _ErrorReply(
        Forbidden,
        "forbidden",
        False,
        ":no_entry_sign: Not recorded: your Slack account acts as platform user *{user}*,"
        " who is not an approver of this project. {error}",
    ),
    _ErrorReply(InvalidInput, "invalid", False, ":warning: Not recorded: {error}"),
    _ErrorReply(PlatformError, "refused", False, ":warning: Not recorded: {error}"),
)


def _error_reply(exc: PlatformError, click: ApprovalClick, identity: Identity) -> Reply:
    spec = next(spec for spec in _ERROR_REPLIES if isinstance(exc, spec.cls))
    text = spec.template.format(error=escape(str(exc)), user=escape(identity.user))
    if spec.outcome == "invalid" and click.decision == "approve":
        text += " " + WEB_APP_HINT
    replace = spec.replace_original
    blocks = decided_blocks(text, original_blocks=click.message_blocks) if replace else None
    return Reply(spec.outcome, clip(text, SECTION_TEXT_MAX), replace, blocks)


def _decided_reply(result: ApprovalResultLike, click: ApprovalClick) -> Reply:
    approved = result.decision == "approve"
    verb = "Approved" if approved else "Rejected"
    icon = ":white_check_mark:" if approved else ":no_entry:"
    approver = escape(str(result.approver))
    if result.replayed:
        text = (
            f"{icon} *{verb}* by *{approver}*."
            " This was already recorded; this click changed nothing."
        )
    else:
        text = f"{icon} *{verb}* by <@{click.slack_user_id}> (platform user *{approver}*)."
    if result.comment:
        text += "\n>" + escape(clip(str(result.comment), 1000)).replace("\n", "\n>")
    decision_set, status = escape(str(result.decision_set_id)), escape(str(result.status))
    text += f"\nDecision set `{decision_set}` is now *{status}*."
    outcome = "replayed" if result.replayed else "decided"
    blocks = decided_blocks(text, original_blocks=click.message_blocks)
    return Reply(outcome, clip(f"{verb} by {approver}", SECTION_TEXT_MAX), True, blocks)


def resolve(click: ApprovalClick, *, config: SlackConfig, decide: Decide) -> Reply:
    """Map the clicker to a platform approver, decide, and say what happened.

    Unknown Slack users are refused without calling ``decide``. No comment is passed:
    a comment changes the constraints, and a button cannot carry one.
    """
    identity = config.identity_for(click.slack_user_id)
    if identity is None:
        return Reply("unknown_user", UNKNOWN_USER_TEXT, replace_original=False)
    try:
        result = decide(
            identity, click.approval_id, click.decision, None, plan_hash=click.plan_hash
        )
    except PlatformError as exc:
        return _error_reply(exc, click, identity)
    except Exception:
        logger.exception(
            "deciding an approval from Slack failed",
            extra={"approval_id": click.approval_id, "slack_user": click.slack_user_id},
        )
        return Reply("error", INTERNAL_ERROR_TEXT, replace_original=False)
    return _decided_reply(result, click)


# 5. the message -------------------------------------------------------------------------


def default_webhook(url: str, timeout: float) -> WebhookClient:
    """A ``WebhookClient`` for a ``response_url``: time-boxed, no retries, quiet logger."""
    from slack_sdk.webhook import WebhookClient

    quiet = logging.getLogger("agentic_mlops.slack.http")
    quiet.setLevel(logging.INFO)  # its debug lines would show the response_url
    return WebhookClient(url, timeout=timeout, retry_handlers=[], logger=quiet)  # type: ignore[arg-type]


def deliver(reply: Reply, click: ApprovalClick, *, factory: WebhookFactory, timeout: float) -> bool:
    """Send the reply to the click's ``response_url``; False (logged) when it did not land."""
    message: dict[str, Any] = {"text": reply.text, "replace_original": reply.replace_original}
    if reply.replace_original:
        message["blocks"] = reply.blocks
    else:
        message["response_type"] = "ephemeral"
    try:
        response = factory(click.response_url, timeout).send(**message)
    except Exception as exc:  # a timeout or an unreachable Slack must not fail the click
        logger.warning(
            "could not update the Slack message: %s",
            type(exc).__name__,
            extra={"approval_id": click.approval_id},
        )
        return False
    status = getattr(response, "status_code", None)
    if status != 200:
        logger.warning(
            "Slack refused the message update: HTTP %s %s",
            status,
            clip(str(getattr(response, "body", "")), 100),
            extra={"approval_id": click.approval_id},
        )
        return False
    return True


def handle_interaction(
    headers: Mapping[str, str] | None,
    body: str | bytes,
    *,
    config: SlackConfig,
    decide: Decide,
    now: float | None = None,
    webhook_factory: WebhookFactory | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer one Slack interactivity request.

    Args:
        headers: the request headers (any case).
        body: the raw request body, exactly as signed.
        config: Slack settings with the signing secret and the user mapping.
        decide: the platform's approval decision (``slack_decider()`` of the service).
        now: the current epoch time, for the timestamp check (default: the clock).
        webhook_factory: builds the ``response_url`` client from ``(url, timeout)``.

    Returns:
        ``(status, body)``: 200 and ``{}`` for every verified, well-formed request (what
        happened is shown in Slack); 400/401 with ``{"error": {"code", "message"}}``.
    """
    started = time.monotonic()
    if config.signing_secret is None:
        return 503, error_body("slack_not_configured", "Slack interactivity is not configured")
    try:
        text = _text(body)
        verify_request(
            headers,
            text,
            signing_secret=config.signing_secret.get_secret_value(),
            now=time.time() if now is None else now,
        )
        click = parse_click(text)
    except RequestRefused as exc:
        logger.warning("Slack request refused: %s (HTTP %s)", exc.code, exc.status)
        return exc.status, exc.body()
    if click is None:
        return 200, {}
    reply = resolve(click, config=config, decide=decide)
    remaining = ACK_BUDGET_S - (time.monotonic() - started)
    timeout = max(MIN_RESPONSE_URL_TIMEOUT_S, min(RESPONSE_URL_TIMEOUT_S, remaining))
    updated = deliver(reply, click, factory=webhook_factory or default_webhook, timeout=timeout)
    logger.info(
        "Slack approval click: %s",
        reply.outcome,
        extra={
            "approval_id": click.approval_id,
            "decision": click.decision,
            "slack_user": click.slack_user_id,
            "message_updated": updated,
        },
    )
    return 200, {}


def _text(body: str | bytes) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("the body is not UTF-8") from None


# API Gateway ----------------------------------------------------------------------------


def proxy_response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """An API Gateway proxy response (an empty body for a plain acknowledgement)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body) if body else "",
    }


def event_body(event: Mapping[str, Any]) -> str:
    """The raw body of an API Gateway proxy event, base64-decoded when flagged.

    Raises:
        RequestRefused: 400 for a body that is not valid base64 or not UTF-8.
    """
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body)
    try:
        return _text(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise _malformed("the body is not valid base64") from None


def handle_proxy_event(
    event: Mapping[str, Any],
    *,
    config: SlackConfig,
    decider: Callable[[], Decide],
    now: float | None = None,
    webhook_factory: WebhookFactory | None = None,
) -> dict[str, Any]:
    """Answer ``POST /slack/interactions`` (an API Gateway proxy event).

    Args:
        event: the proxy event (REST or HTTP API; the body may be base64-encoded).
        config: the Slack settings (signing secret and user mapping).
        decider: returns the platform's ``decide``; called only once a request has been
            verified, so forged requests never reach the database.
        now: the current epoch time (tests).
        webhook_factory: builds the ``response_url`` client (tests).

    Returns:
        The proxy response. Slack interactivity that is not configured is logged and
        answered 503 with a generic message (callers are on the internet).
    """
    if not config.can_verify:
        logger.error("Slack interactivity needs %s and %s", SIGNING_SECRET_ENV, USERS_ENV)
        return proxy_response(
            503, error_body("slack_not_configured", "Slack interactivity is not configured")
        )
    try:
        body = event_body(event)
    except RequestRefused as exc:
        return proxy_response(exc.status, exc.body())
    status, answer = handle_interaction(
        event.get("headers") or {},
        body,
        config=config,
        decide=_lazy(decider),
        now=now,
        webhook_factory=webhook_factory,
    )
    return proxy_response(status, answer)


def _lazy(decider: Callable[[], Decide]) -> Decide:
    resolved: list[Decide] = []

    def decide(
        identity: Identity,
        approval_id: str,
        decision: Decision,
        comment: str | None,
        *,
        plan_hash: str | None = None,
    ) -> Any:
        if not resolved:
            resolved.append(decider())
        return resolved[0](identity, approval_id, decision, comment, plan_hash=plan_hash)

    return decide
