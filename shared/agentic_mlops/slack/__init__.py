"""Slack approvals: post a Block Kit approval request, answer its Approve / Reject buttons.

The buttons carry an approval id only; the engine's task token stays server side.
``slack_sdk`` is imported where it is used, not when this package is.
"""

from agentic_mlops.slack.blocks import approval_request_blocks, decided_blocks
from agentic_mlops.slack.config import SlackApprover, SlackConfig
from agentic_mlops.slack.interactions import handle_interaction, handle_proxy_event
from agentic_mlops.slack.notifier import SlackError, notify_approval, post_approval_request

__all__ = [
    "SlackApprover",
    "SlackConfig",
    "SlackError",
    "approval_request_blocks",
    "decided_blocks",
    "handle_interaction",
    "handle_proxy_event",
    "notify_approval",
    "post_approval_request",
]
