"""The shape of the LangGraph graphs and their derivation from the node registry."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from langgraph.graph import END, START

from agentic_mlops.domain import ConstraintSchema, MLOpsProjectState
from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.graph import (
    build_graph,
    route_after_approval,
    route_after_coverage,
    route_after_policy,
)
from agentic_mlops.workflow.registry import (
    DELIVERY_NODES,
    INTAKE_NODES,
    MAIN_NODES,
    NODE_ORDER,
    NODES,
    QUESTION_NODES,
    spec,
)

EXPECTED_ORDER = (
    "extract_constraints",
    "coverage_check",
    "adaptive_questioner",
    "gate_user_input",
    "planner",
    "critic_tech",
    "critic_cost",
    "policy_eval",
    "gate_hitl",
    "process_approval_feedback",
    "codegen",
    "validators",
    "diff_and_persist",
)
PLANNING_NODES = ("planner", "critic_tech", "critic_cost", "policy_eval")


def edges(intake_only: bool = False) -> set[tuple[str, str, bool, str | None]]:
    graph = build_graph(intake_only=intake_only).get_graph()
    return {(e.source, e.target, e.conditional, e.data) for e in graph.edges}


def graph_nodes(intake_only: bool = False) -> set[str]:
    return set(build_graph(intake_only=intake_only).get_graph().nodes) - {START, END}


def state_with(constraints: ConstraintSchema | None) -> MLOpsProjectState:
    return MLOpsProjectState(
        decision_set_id="ds-1",
        project_id="prj-1",
        request="r",
        constraints=constraints,
        coverage=constraints.coverage() if constraints else None,
    )


# registry -------------------------------------------------------------------------------


def test_node_order_is_the_documented_workflow() -> None:
    # Given the registry
    # When its order is read
    # Then it is exactly the workflow's thirteen nodes in order
    assert NODE_ORDER == EXPECTED_ORDER


def test_the_web_apps_progress_rail_lists_the_workflows_nodes_in_order() -> None:
    # The page draws the rail from its own list (it renders before any API answer)
    source = (Path(__file__).parents[2] / "web" / "src" / "run.tsx").read_text()
    listed = re.search(r"export const NODES = \[(.*?)\];", source, re.S)
    assert listed is not None, "web/src/run.tsx no longer declares NODES"
    assert tuple(re.findall(r'"(\w+)"', listed.group(1))) == NODE_ORDER


def test_registry_splits_intake_from_main_nodes() -> None:
    # Given the registry
    # When the nodes are grouped by stage
    # Then intake holds the first four, the main graph the next six, delivery the rest
    assert EXPECTED_ORDER[:4] == INTAKE_NODES
    assert EXPECTED_ORDER[4:10] == MAIN_NODES
    assert EXPECTED_ORDER[10:] == DELIVERY_NODES
    assert set(QUESTION_NODES) <= set(INTAKE_NODES)


def test_registry_binds_each_name_to_its_node_function_and_wait_kind() -> None:
    # Given the registry's specs
    # When each is looked up by name
    # Then it points at the same-named function of nodes.py; only the gates wait
    for node_spec in NODES:
        assert spec(node_spec.name) is node_spec
        assert node_spec.fn is getattr(nodes, node_spec.name)
    waits = {s.name: s.waits_for for s in NODES if s.waits_for}
    assert waits == {"gate_user_input": "question", "gate_hitl": "approval"}


def test_unknown_node_name_raises_key_error() -> None:
    # Given a name that is not a node
    # When it is looked up
    # Then a KeyError names it
    with pytest.raises(KeyError, match="unknown node 'deploy'"):
        spec("deploy")


# full graph -----------------------------------------------------------------------------


def test_every_registry_node_is_a_graph_node() -> None:
    # Given the full graph
    # When its nodes are listed
    # Then they are exactly the registry's nodes
    assert graph_nodes() == set(NODE_ORDER)


def test_main_nodes_are_chained_by_normal_edges_in_registry_order() -> None:
    # Given the full graph's edges
    found = edges()

    # When the main and delivery nodes are walked in order
    # Then each is followed by the next (normal edges, except the policy check's branch
    # to the gate); after the approval an approved run branches to delivery, one whose
    # comment changed the constraints back to the planner, and a rejected one ends; a
    # re-made plan that still passes goes from the policy check straight to delivery
    for upstream, downstream in pairwise(MAIN_NODES):
        edge = (upstream, downstream, False, None)
        if upstream == "policy_eval":
            edge = (upstream, downstream, True, "gate")
        assert edge in found
    for upstream, downstream in pairwise(DELIVERY_NODES):
        assert (upstream, downstream, False, None) in found
    assert (MAIN_NODES[-1], DELIVERY_NODES[0], True, "deliver") in found
    assert (MAIN_NODES[-1], MAIN_NODES[0], True, "replan") in found
    assert ("policy_eval", DELIVERY_NODES[0], True, "deliver") in found
    assert (MAIN_NODES[-1], END, True, "end") in found
    assert (DELIVERY_NODES[-1], END, False, None) in found
    main_out = {(s, t) for s, t, _, _ in found if s in MAIN_NODES}
    assert main_out == {
        *pairwise(MAIN_NODES),
        ("policy_eval", DELIVERY_NODES[0]),
        (MAIN_NODES[-1], DELIVERY_NODES[0]),
        (MAIN_NODES[-1], MAIN_NODES[0]),
        (MAIN_NODES[-1], END),
    }


def test_full_graph_has_exactly_the_intake_loop_main_chain_and_delivery() -> None:
    # Given the full graph
    # When its edges are listed
    found = edges()

    # Then they are the intake loop, the coverage branch, the main chain, the approval
    # branch and the delivery chain, nothing else
    assert found == {
        (START, "extract_constraints", False, None),
        ("extract_constraints", "coverage_check", False, None),
        ("coverage_check", "adaptive_questioner", True, "ask"),
        ("coverage_check", "planner", True, "plan"),
        ("adaptive_questioner", "gate_user_input", False, None),
        ("gate_user_input", "extract_constraints", False, None),
        ("planner", "critic_tech", False, None),
        ("critic_tech", "critic_cost", False, None),
        ("critic_cost", "policy_eval", False, None),
        ("policy_eval", "gate_hitl", True, "gate"),
        ("policy_eval", "codegen", True, "deliver"),
        ("gate_hitl", "process_approval_feedback", False, None),
        ("process_approval_feedback", "codegen", True, "deliver"),
        ("process_approval_feedback", "planner", True, "replan"),
        ("process_approval_feedback", END, True, "end"),
        ("codegen", "validators", False, None),
        ("validators", "diff_and_persist", False, None),
        ("diff_and_persist", END, False, None),
    }


def test_intake_loop_returns_from_the_user_gate_to_extraction() -> None:
    # Given the full graph's edges
    found = edges()

    # When the intake loop is followed
    # Then questions lead to the gate, and the gate back to extraction
    assert ("coverage_check", "adaptive_questioner", True, "ask") in found
    assert ("adaptive_questioner", "gate_user_input", False, None) in found
    assert ("gate_user_input", "extract_constraints", False, None) in found
    assert ("extract_constraints", "coverage_check", False, None) in found


# routing --------------------------------------------------------------------------------


def test_route_after_coverage_plans_when_coverage_is_complete() -> None:
    # Given a state whose mandatory fields are all known
    constraints = ConstraintSchema(
        deployment_mode="batch",
        region="eu-west-1",
        data_volume_gb=10,
        budget={"amount": 100, "monthly_usd": 100},
        data_sensitivity=[],
    )

    # When the route after coverage is chosen
    # Then it plans
    assert route_after_coverage(state_with(constraints)) == "plan"


def test_route_after_coverage_asks_when_mandatory_fields_are_missing() -> None:
    # Given a state missing mandatory fields
    constraints = ConstraintSchema(deployment_mode="batch", region="eu-west-1")

    # When the route after coverage is chosen
    # Then it asks
    assert route_after_coverage(state_with(constraints)) == "ask"


def test_route_after_coverage_asks_when_coverage_was_never_computed() -> None:
    # Given a state without a coverage report
    # When the route after coverage is chosen
    # Then it asks rather than planning blind
    assert route_after_coverage(state_with(None)) == "ask"


# intake-only graph ----------------------------------------------------------------------


def test_intake_only_graph_has_no_planning_or_approval_nodes() -> None:
    # Given the intake-only graph
    found_nodes = graph_nodes(intake_only=True)

    # When its nodes are listed
    # Then only the intake nodes are there
    assert found_nodes == set(INTAKE_NODES)
    assert found_nodes.isdisjoint(PLANNING_NODES)
    assert found_nodes.isdisjoint({"gate_hitl", "process_approval_feedback"})


def test_intake_only_graph_ends_when_coverage_is_complete() -> None:
    # Given the intake-only graph
    # When its edges are listed
    found = edges(intake_only=True)

    # Then a complete coverage ends the run and the intake loop is kept
    assert found == {
        (START, "extract_constraints", False, None),
        ("extract_constraints", "coverage_check", False, None),
        ("coverage_check", "adaptive_questioner", True, "ask"),
        ("coverage_check", END, True, "plan"),
        ("adaptive_questioner", "gate_user_input", False, None),
        ("gate_user_input", "extract_constraints", False, None),
    }


def test_each_node_names_the_provider_method_and_pack_it_uses() -> None:
    from importlib import resources

    from agentic_mlops.providers.base import OrchestrationProvider
    from agentic_mlops.workflow.registry import NODES

    packs = resources.files("agentic_mlops.providers") / "packs"
    methods = {spec.provider_method for spec in NODES if spec.provider_method}
    for method in methods:
        assert callable(getattr(OrchestrationProvider, method)), method
        assert (packs / method).is_dir(), f"no few-shot pack folder for {method}"
    # every pack folder belongs to a node, so none is dead
    assert {entry.name for entry in packs.iterdir() if entry.is_dir()} == methods


# re-planning after an approval comment ---------------------------------------------------


def _approved(recheck: dict | None, status: str = "approved") -> MLOpsProjectState:
    return MLOpsProjectState.model_validate(
        {
            "decision_set_id": "ds-1",
            "project_id": "prj-1",
            "request": "r",
            "status": status,
            "recheck": recheck,
        }
    )


def test_route_after_approval_replans_when_the_comment_changed_constraints() -> None:
    change = {"field": "region", "old": "eu-west-1", "new": "us-east-1", "source": "move"}
    assert route_after_approval(_approved({"changes": [change]})) == "replan"
    assert route_after_approval(_approved(None)) == "deliver"
    assert route_after_approval(_approved({"changes": [change]}, status="rejected")) == "end"


def test_route_after_policy_skips_the_gate_only_for_a_rechecked_plan_that_passes() -> None:
    assert route_after_policy(_approved(None, status="running")) == "gate"
    pending = {"changes": [], "pending": True}
    assert route_after_policy(_approved(pending, status="running")) == "gate"
    passes = {"changes": [], "pending": False, "needs_decision": False}
    assert route_after_policy(_approved(passes, status="approved")) == "deliver"
    fails = {"changes": [], "pending": False, "needs_decision": True, "reasons": ["x"]}
    assert route_after_policy(_approved(fails, status="approved")) == "gate"
