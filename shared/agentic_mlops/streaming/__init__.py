"""Typed events streamed to users and stored in the timeline."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """The event types of the timeline (and of the live stream)."""

    REASON_CARD = "reason-card"
    CONSTRAINTS_UPDATE = "constraints-update"
    COST_UPDATE = "cost-update"
    POLICY_UPDATE = "policy-update"
    QUESTION = "question"
    ANSWER_RECEIVED = "answer-received"
    APPROVAL_REQUESTED = "approval-requested"
    APPROVAL_DECIDED = "approval-decided"
    VALIDATION_REPORT = "validation-report"
    RUN_COMPLETE = "run-complete"
    PAYLOAD_QUARANTINED = "payload-quarantined"


__all__ = ["EventType"]
