"""Block Kit messages for approvals: the request with its buttons, and the decided version.

Only the fields an approver needs are rendered, picked one by one from the wait's request;
nothing else in the request (and never the engine's task token, which the wait does not
even carry) reaches Slack. The buttons carry the approval id and nothing more.

User-provided text is escaped for mrkdwn (``&``, ``<``, ``>``: no mentions, no links) and
clipped to Block Kit's limits without cutting an escape in half.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentic_mlops.errors import InvalidInput
from agentic_mlops.persistence.models import Wait

ACTIONS_BLOCK_ID = "approval_actions"
POLICY_NOTE_BLOCK_ID = "approval_policy_note"
APPROVE_ACTION_ID = "approval_approve"
REJECT_ACTION_ID = "approval_reject"
OPEN_ACTION_ID = "approval_open"
DECISIONS = {APPROVE_ACTION_ID: "approve", REJECT_ACTION_ID: "reject"}

# Block Kit limits (characters).
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
CONTEXT_TEXT_MAX = 2000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
MESSAGE_BLOCKS_MAX = 50
FALLBACK_TEXT_MAX = 500  # the notification text; Slack allows far more, people read less

_POLICY = {
    "pass": (":white_check_mark:", "Pass", "every applicable rule passed"),
    "warn": (":warning:", "Warn", "rules with findings"),
    "fail": (":x:", "Fail", "failed rules"),
}
WEB_APP_HINT = (
    "Slack buttons cannot carry a written justification: approve it in the web app with a"
    " comment. *Reject* works here."
)


def escape(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters with an ellipsis, never inside an
    ``&...;`` escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    """A mrkdwn text object (``text`` is already escaped where it holds user input)."""
    return {"type": "mrkdwn", "text": clip(text, limit)}


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object (Slack does not parse it, so nothing to escape)."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def money(value: Any) -> str | None:
    """``$1,234.50``; None when the value is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return f"${value:,.2f}"


def _text(request: Mapping[str, Any], key: str, default: str = "") -> str:
    value = request.get(key)
    return (
        str(value).strip()
        if isinstance(value, str | int | float) and str(value).strip()
        else default
    )


def _names(values: Any) -> list[str]:
    if not isinstance(values, list | tuple):
        return []
    return [str(v) for v in values if isinstance(v, str | int) and str(v).strip()]


def _joined(values: Iterable[str], limit: int) -> str:
    return clip(", ".join(escape(v) for v in values), limit)


def cost_text(request: Mapping[str, Any]) -> str:
    """Monthly estimate against the budget, as mrkdwn."""
    total = request.get("monthly_total_usd")
    budget = request.get("budget_monthly_usd")
    shown, budget_shown = money(total), money(budget)
    if shown is None:
        return "not estimated" + (f" (budget {budget_shown})" if budget_shown else "")
    text = f"*{shown}* / month"
    if budget_shown is None:
        return text + " (no budget given)"
    if total > budget:
        return text + f"\n:warning: over the {budget_shown} budget by {money(total - budget)}"
    return text + f"\nwithin the {budget_shown} budget ({money(budget - total)} to spare)"


def policy_outcome(request: Mapping[str, Any]) -> str | None:
    """``pass`` / ``warn`` / ``fail``, or None when the policy was not evaluated."""
    outcome = request.get("policy")
    return outcome if outcome in _POLICY else None


def policy_text(request: Mapping[str, Any]) -> str:
    """The policy outcome and its rules, as mrkdwn."""
    outcome = policy_outcome(request)
    if outcome is None:
        return ":grey_question: not evaluated"
    icon, label, rules_label = _POLICY[outcome]
    rules = _names(request.get("failed_rules"))
    if outcome == "pass" or not rules:
        detail = _POLICY["pass"][2] if outcome == "pass" else "no rule listed"
        return f"{icon} *{label}*: {detail}"
    return f"{icon} *{label}*, {rules_label}: {_joined(rules, FIELD_TEXT_MAX - 40)}"


def approval_fallback_text(wait: Wait, *, project: str | None = None) -> str:
    """The notification text of the request (shown where blocks are not)."""
    request = wait.request
    plan = _text(request, "plan", "a plan")
    where = f" in {project}" if project else ""
    cost = money(request.get("monthly_total_usd")) or "cost not estimated"
    outcome = policy_outcome(request) or "not evaluated"
    text = f"Approval needed{where}: {plan}, {cost}/month, policy {outcome}"
    return clip(escape(text), FALLBACK_TEXT_MAX)


def approval_request_blocks(
    wait: Wait, *, project: str | None = None, link: str | None = None
) -> list[dict[str, Any]]:
    """The approval request: summary, region, services, cost vs budget, policy, buttons.

    Args:
        wait: the pending approval wait (its ``request`` as written by the approval gate).
        project: a project name or id to show, if the caller knows it.
        link: the approval's page in the web app, shown as an *Open in web app* button.

    Returns:
        The message's blocks. Approve and Reject carry ``wait.id`` (and the hash of the
        plan shown, ``ID:HASH``) as their value.

    Raises:
        InvalidInput: the wait is not an approval, or its id does not fit a button.
    """
    if wait.kind != "approval":
        raise InvalidInput(f"wait {wait.id} is a {wait.kind} wait, not an approval")
    if not wait.id or len(wait.id) > BUTTON_VALUE_MAX:
        raise InvalidInput("the approval id does not fit in a Slack button value")
    request = wait.request
    plan = _text(request, "plan", "Unnamed plan")
    summary = _text(request, "summary", "No summary given.")
    services = _names(request.get("services"))
    fields = [
        mrkdwn(f"*Project*\n{escape(project)}", FIELD_TEXT_MAX) if project else None,
        mrkdwn(f"*Region*\n{escape(_text(request, 'region', 'not given'))}", FIELD_TEXT_MAX),
        mrkdwn(f"*Monthly cost*\n{cost_text(request)}", FIELD_TEXT_MAX),
        mrkdwn(f"*Policy*\n{policy_text(request)}", FIELD_TEXT_MAX),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"Approval needed: {plan}", HEADER_MAX)},
        {"type": "section", "text": mrkdwn(escape(summary))},
        {"type": "section", "fields": [f for f in fields if f is not None]},
        {
            "type": "section",
            "text": mrkdwn(
                "*Services*\n" + (_joined(services, SECTION_TEXT_MAX - 20) or "none listed")
            ),
        },
    ]
    failed = policy_outcome(request) == "fail"
    if failed:
        blocks.append(
            {
                "type": "section",
                "block_id": POLICY_NOTE_BLOCK_ID,
                "text": mrkdwn(f":x: *This plan failed policy.* {WEB_APP_HINT}"),
            }
        )
    blocks.append(_actions(button_value(wait), request, failed=failed, link=link))
    blocks.append(_ids_context(wait.id, wait.decision_set_id))
    return blocks


def button_value(wait: Wait) -> str:
    """What Approve and Reject carry: the approval id, and the hash of the plan shown."""
    plan_hash = wait.request.get("plan_hash")
    return f"{wait.id}:{plan_hash}" if isinstance(plan_hash, str) and plan_hash else wait.id


def _actions(
    approval_id: str, request: Mapping[str, Any], *, failed: bool, link: str | None
) -> dict[str, Any]:
    approve: dict[str, Any] = {
        "type": "button",
        "action_id": APPROVE_ACTION_ID,
        "text": plain("Approve", BUTTON_TEXT_MAX),
        "style": "primary",
        "value": approval_id,
    }
    if failed:
        rules = ", ".join(_names(request.get("failed_rules"))) or "see the message"
        approve["confirm"] = {
            "title": plain("This plan failed policy", CONFIRM_TITLE_MAX),
            "text": plain(
                f"Failed rules: {rules}. Approving it needs a written justification, which a"
                " Slack button cannot carry: the platform will ask you to approve in the web"
                " app with a comment.",
                CONFIRM_TEXT_MAX,
            ),
            "confirm": plain("Continue", 30),
            "deny": plain("Cancel", 30),
            "style": "danger",
        }
    reject = {
        "type": "button",
        "action_id": REJECT_ACTION_ID,
        "text": plain("Reject", BUTTON_TEXT_MAX),
        "style": "danger",
        "value": approval_id,
    }
    elements = [approve, reject]
    if link and len(link) <= URL_MAX:
        elements.append(
            {
                "type": "button",
                "action_id": OPEN_ACTION_ID,
                "text": plain("Open in web app", BUTTON_TEXT_MAX),
                "url": link,
            }
        )
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def _ids_context(approval_id: str, decision_set_id: str | None) -> dict[str, Any]:
    text = f"Approval `{escape(approval_id)}`"
    if decision_set_id:
        text += f" · decision set `{escape(decision_set_id)}`"
    return {"type": "context", "elements": [mrkdwn(text, CONTEXT_TEXT_MAX)]}


def decided_blocks(
    outcome: str, *, original_blocks: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """The message once decided: the original blocks without the buttons (and without the
    policy note), then the outcome.

    Args:
        outcome: mrkdwn text of the outcome (user input in it already escaped).
        original_blocks: the request's blocks, as Slack sent them back with the click.

    Returns:
        Blocks that replace the original message.
    """
    dropped = {ACTIONS_BLOCK_ID, POLICY_NOTE_BLOCK_ID}
    kept = [
        dict(block)
        for block in original_blocks or []
        if isinstance(block, Mapping) and block.get("block_id") not in dropped
    ]
    kept = kept[: MESSAGE_BLOCKS_MAX - 2]
    return [*kept, {"type": "divider"}, {"type": "section", "text": mrkdwn(outcome)}]
