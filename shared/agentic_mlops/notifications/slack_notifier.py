"""Posts approval requests to the configured Slack channel (``chat.postMessage``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from agentic_mlops.errors import InvalidInput, PlatformError
from agentic_mlops.notifications.slack_blocks import approval_fallback_text, approval_request_blocks
from agentic_mlops.notifications.slack_config import BOT_TOKEN_ENV, CHANNEL_ENV, SlackConfig
from agentic_mlops.persistence.models import Wait

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from agentic_mlops.persistence.interfaces import PlatformStore

logger = logging.getLogger(__name__)
POST_TIMEOUT_S = 10
_HINTS = {
    "not_in_channel": "invite the app to the channel (/invite @app)",
    "channel_not_found": f"check {CHANNEL_ENV} (a channel id such as C0123456789)",
    "invalid_auth": f"check {BOT_TOKEN_ENV}",
    "not_authed": f"check {BOT_TOKEN_ENV}",
    "token_revoked": f"reinstall the app and update {BOT_TOKEN_ENV}",
    "account_inactive": f"reinstall the app and update {BOT_TOKEN_ENV}",
    "missing_scope": "add the chat:write bot scope and reinstall the app",
    "invalid_blocks": "a bug in the message layout; please report it",
    "ratelimited": "Slack rate-limited the app; try again shortly",
}


class SlackError(PlatformError):
    """Slack refused a call or could not be reached."""

    code = "slack_error"


class ChatPoster(Protocol):
    """What the notifier needs of a ``slack_sdk.WebClient``."""

    def chat_postMessage(self, **kwargs: Any) -> Any: ...


def make_client(config: SlackConfig, *, timeout: int = POST_TIMEOUT_S) -> WebClient:
    """A ``WebClient`` with the bot token, against ``SLACK_API_URL`` when set.

    Raises:
        InvalidInput: no bot token is configured.
    """
    from slack_sdk import WebClient

    if config.bot_token is None:
        raise InvalidInput(f"Slack posting needs {BOT_TOKEN_ENV}")
    quiet = logging.getLogger("agentic_mlops.slack.http")
    quiet.setLevel(logging.INFO)  # slack_sdk's debug lines would show request details
    return WebClient(
        token=config.bot_token.get_secret_value(),
        base_url=config.api_url or WebClient.BASE_URL,
        timeout=timeout,
        logger=quiet,
    )


def post_approval_request(
    config: SlackConfig,
    wait: Wait,
    *,
    client: ChatPoster | None = None,
    project: str | None = None,
) -> str:
    """Post the approval request of ``wait`` to the configured channel.

    Args:
        config: Slack settings with a bot token and a channel.
        wait: the pending approval wait.
        client: a ``WebClient`` (or a stand-in); by default one built from ``config``.
        project: a project name or id to show in the message.

    Returns:
        The posted message's ``ts`` (its id within the channel).

    Raises:
        InvalidInput: posting is not configured, or the wait is not an approval.
        SlackError: Slack refused the message or could not be reached (the message says
            why and what to check; it never contains the token).
    """
    from slack_sdk.errors import SlackApiError, SlackClientError

    if not config.can_post or config.channel is None:
        raise InvalidInput(f"Slack posting needs {BOT_TOKEN_ENV} and {CHANNEL_ENV}")
    link = config.link_for(wait.id, wait.decision_set_id)
    blocks = approval_request_blocks(wait, project=project, link=link)
    text = approval_fallback_text(wait, project=project)
    client = client or make_client(config)
    try:
        response = client.chat_postMessage(channel=config.channel, text=text, blocks=blocks)
    except SlackApiError as exc:
        error = _api_error(exc.response)
        hint = _HINTS.get(error)
        raise SlackError(
            f"Slack refused to post approval {wait.id} to channel {config.channel}: {error}"
            + (f" ({hint})" if hint else "")
        ) from None
    except (SlackClientError, OSError) as exc:
        raise SlackError(
            f"Slack could not be reached to post approval {wait.id}: {type(exc).__name__}"
        ) from None
    ts = _field(response, "ts")
    if not isinstance(ts, str) or not ts:
        raise SlackError(f"Slack accepted approval {wait.id} but returned no message ts")
    logger.info(
        "approval request posted to Slack",
        extra={"approval_id": wait.id, "channel": config.channel, "ts": ts},
    )
    return ts


def notify_approval(
    wait: Wait,
    config: SlackConfig,
    *,
    project: str | None = None,
    client: ChatPoster | None = None,
) -> str | None:
    """Best effort: post the request when Slack posting is configured; never raises.

    The approval can always be decided in the web app, so a Slack outage or a
    misconfiguration is logged (without secrets) and the gate carries on.

    Returns:
        The message ``ts``, or None when Slack is off or posting failed.
    """
    try:
        if not config.can_post:
            return None
        return post_approval_request(config, wait, client=client, project=project)
    except PlatformError as exc:
        logger.warning(
            "approval request not posted to Slack: %s",
            exc,
            extra={"approval_id": wait.id, "error_code": exc.code},
        )
        return None


def approval_notifier(config: SlackConfig, store: PlatformStore) -> Callable[[Wait], None] | None:
    """A wait listener posting each approval to Slack once, or None when posting is off.

    The claim is kept on the wait, so several processes opening the same wait post once;
    a refused post gives the claim back, so the next opening of the wait (a resume) tries
    again. The approval can always be decided in the web app meanwhile.
    """
    if not config.can_post:
        return None

    def notify(wait: Wait) -> None:
        if wait.kind != "approval" or not store.claim_notification(wait.id, "slack"):
            return
        project = store.get_project(store.get_decision_set(wait.decision_set_id).project_id)
        try:
            ts = post_approval_request(config, wait, project=project.name)
        except PlatformError as exc:
            store.release_notification(wait.id, "slack")
            logger.warning("approval %s not posted to Slack: %s", wait.id, exc)
            return
        store.record_notification(wait.id, "slack", {"channel": config.channel, "ts": ts})
        logger.info("approval %s posted to Slack", wait.id)

    return notify


def _field(response: Any, key: str) -> Any:
    if isinstance(response, Mapping):
        return response.get(key)
    getter = getattr(response, "get", None)
    return getter(key) if callable(getter) else None


def _api_error(response: Any) -> str:
    error = _field(response, "error")
    return str(error) if error else f"HTTP {getattr(response, 'status_code', '?')}"
