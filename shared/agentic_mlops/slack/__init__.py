"""Slack approvals: answer the Approve / Reject buttons of a posted approval request.

The request itself is posted by :mod:`agentic_mlops.notifications.slack_notifier`. The
buttons carry an approval id (and the hash of the plan shown) only; the engine's task
token stays server side. ``slack_sdk`` is imported where it is used, not when this
package is.
"""

from __future__ import annotations

from typing import Any

from agentic_mlops.slack.interactions import handle_interaction, handle_proxy_event

__all__ = ["handle_function_event", "handle_interaction", "handle_proxy_event"]


def handle_function_event(event: dict[str, Any], function: str = "slack") -> dict[str, Any]:
    """Verify and answer a click (the Slack function's, or the REST API's
    ``/slack/interactions`` route). The platform — its database — is reached only once the
    request is verified: a forged request costs a signature check, nothing more.
    """
    import logging

    from agentic_mlops.composition import container
    from agentic_mlops.errors import InvalidInput
    from agentic_mlops.slack.interactions import error_body, proxy_response

    try:
        config = container.settings_for(function).slack.with_secrets()
    except InvalidInput as exc:
        logging.getLogger(__name__).error("Slack interactivity is misconfigured: %s", exc)
        return proxy_response(
            500, error_body("slack_misconfigured", "Slack integration is misconfigured")
        )

    def decider() -> Any:
        service = container.platform(function).service

        def decide(
            identity: Any, approval_id: str, decision: Any, comment: Any, *, plan_hash: Any = None
        ) -> Any:
            return service.decide_approval(
                identity, approval_id, decision, comment, plan_hash=plan_hash
            )

        return decide

    return handle_proxy_event(event, config=config, decider=decider)
