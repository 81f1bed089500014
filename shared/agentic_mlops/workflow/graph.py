"""The LangGraph graphs, built from the node registry."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from langgraph.graph import END, START, StateGraph

from agentic_mlops.domain import MLOpsProjectState
from agentic_mlops.workflow.instrument import RunContext, instrument
from agentic_mlops.workflow.registry import DELIVERY_NODES, MAIN_NODES, NODES
from agentic_mlops.workflow.routes import (
    route_after_approval,
    route_after_coverage,
    route_after_policy,
)

__all__ = ["build_graph", "route_after_approval", "route_after_coverage", "route_after_policy"]

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph


def build_graph(
    checkpointer: BaseCheckpointSaver | None = None, *, intake_only: bool = False
) -> CompiledStateGraph:
    """Build the workflow graph.

    The intake loop is ``extract_constraints -> coverage_check -> (adaptive_questioner ->
    gate_user_input -> extract_constraints)*``; once coverage is complete the main graph's
    nodes follow with normal edges in registry order up to ``process_approval_feedback``
    (``policy_eval -> gate_hitl`` is conditional, see :func:`route_after_policy`); an
    approved plan then goes through the delivery nodes (codegen, validators,
    diff_and_persist), a rejected one ends, and one whose approval comment changed the
    constraints is re-planned from ``planner`` first.

    Args:
        checkpointer: where LangGraph checkpoints (``thread_id`` = decision set id).
        intake_only: build only the intake graph, which ends when coverage is complete.
    """
    builder = StateGraph(MLOpsProjectState, context_schema=RunContext)
    for spec in NODES:
        if intake_only and spec.stage != "intake":
            continue
        builder.add_node(spec.name, instrument(spec.name, spec.fn))
    builder.add_edge(START, "extract_constraints")
    builder.add_edge("extract_constraints", "coverage_check")
    builder.add_conditional_edges(
        "coverage_check",
        route_after_coverage,
        {"ask": "adaptive_questioner", "plan": END if intake_only else MAIN_NODES[0]},
    )
    builder.add_edge("adaptive_questioner", "gate_user_input")
    builder.add_edge("gate_user_input", "extract_constraints")
    if not intake_only:
        for upstream, downstream in pairwise(MAIN_NODES):
            if upstream != "policy_eval":
                builder.add_edge(upstream, downstream)
        builder.add_conditional_edges(
            "policy_eval",
            route_after_policy,
            {"gate": "gate_hitl", "deliver": DELIVERY_NODES[0]},
        )
        builder.add_conditional_edges(
            MAIN_NODES[-1],
            route_after_approval,
            {"replan": MAIN_NODES[0], "deliver": DELIVERY_NODES[0], "end": END},
        )
        for upstream, downstream in pairwise(DELIVERY_NODES):
            builder.add_edge(upstream, downstream)
        builder.add_edge(DELIVERY_NODES[-1], END)
    return builder.compile(checkpointer=checkpointer)
