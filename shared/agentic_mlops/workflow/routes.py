"""The routing decisions of the workflow, shared by the LangGraph graph and the node runner.

The graph's conditional edges call these; the node runner returns the same route to the
state machine, whose Choice states branch on it (``$.last.route``). No LangGraph import.
"""

from __future__ import annotations

from typing import Literal

from agentic_mlops.domain import MLOpsProjectState


def route_after_coverage(state: MLOpsProjectState) -> Literal["ask", "plan"]:
    """Ask follow-up questions while mandatory fields are missing; plan otherwise."""
    return "plan" if state.coverage is not None and state.coverage.complete else "ask"


def route_after_approval(state: MLOpsProjectState) -> Literal["replan", "deliver", "end"]:
    """Deliver an approved plan; re-plan when the approver's comment changed the
    constraints; a rejection ends the run."""
    if state.status != "approved":
        return "end"
    return "replan" if state.recheck is not None and state.recheck.pending else "deliver"


def route_after_policy(state: MLOpsProjectState) -> Literal["gate", "deliver"]:
    """Ask the approver, unless the plan was re-made after an approval and still passes
    policy and budget (then the approval stands and code is generated)."""
    recheck = state.recheck
    if recheck is not None and not recheck.pending and not recheck.needs_decision:
        return "deliver"
    return "gate"


ROUTES = {
    "coverage_check": route_after_coverage,
    "policy_eval": route_after_policy,
    "process_approval_feedback": route_after_approval,
}
"""The node after which each route is decided."""


def route_after(node: str, state: MLOpsProjectState) -> str | None:
    """Return the route taken after ``node`` for ``state``; None for unconditional nodes."""
    route = ROUTES.get(node)
    return None if route is None else route(state)
