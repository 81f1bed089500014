"""The one definition of the workflow's nodes and their order.

Everything else (the LangGraph graph, later the Step Functions definition and its tests)
is derived from or checked against :data:`NODES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.instrument import NodeFn

Stage = Literal["intake", "planning", "approval", "delivery"]
WaitKind = Literal["question", "approval"]


@dataclass(frozen=True)
class NodeSpec:
    """A node of the workflow.

    Attributes:
        name: the node's name: its LangGraph node, its Step Functions state, and the
            ``node`` of its events (stable: clients and stored timelines use it).
        fn: the node function (``workflow/nodes.py``).
        stage: where it sits in the workflow.
        waits_for: the human wait a gate pauses at.
        provider_method: the :class:`~agentic_mlops.providers.base.OrchestrationProvider`
            method it calls; its few-shot pack is ``providers/packs/<provider_method>/``.
            None for nodes decided by the platform's own rules.
    """

    name: str
    fn: NodeFn
    stage: Stage
    waits_for: WaitKind | None = None
    provider_method: str | None = None


NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "extract_constraints",
        nodes.extract_constraints,
        "intake",
        provider_method="extract_constraints",
    ),
    NodeSpec("coverage_check", nodes.coverage_check, "intake"),
    NodeSpec(
        "adaptive_questioner", nodes.adaptive_questioner, "intake", provider_method="ask_questions"
    ),
    NodeSpec("gate_user_input", nodes.gate_user_input, "intake", waits_for="question"),
    NodeSpec("planner", nodes.planner, "planning", provider_method="plan"),
    NodeSpec("critic_tech", nodes.critic_tech, "planning", provider_method="critique_technical"),
    NodeSpec("critic_cost", nodes.critic_cost, "planning", provider_method="critique_cost"),
    NodeSpec("policy_eval", nodes.policy_eval, "planning"),
    NodeSpec("gate_hitl", nodes.gate_hitl, "approval", waits_for="approval"),
    NodeSpec(
        "process_approval_feedback",
        nodes.process_approval_feedback,
        "approval",
        provider_method="interpret_feedback",
    ),
    NodeSpec("codegen", nodes.codegen, "delivery"),
    NodeSpec("validators", nodes.validators, "delivery"),
    # Persists the plan documents and the commit; the diff is computed when the Change
    # Summary is read. The name stays: stored timelines and the ASL use it.
    NodeSpec("diff_and_persist", nodes.diff_and_persist, "delivery"),
)

NODE_ORDER: tuple[str, ...] = tuple(spec.name for spec in NODES)
INTAKE_NODES: tuple[str, ...] = tuple(s.name for s in NODES if s.stage == "intake")
MAIN_NODES: tuple[str, ...] = tuple(s.name for s in NODES if s.stage in {"planning", "approval"})
"""The main graph's nodes up to the approval decision, chained by normal edges in this order."""
DELIVERY_NODES: tuple[str, ...] = tuple(s.name for s in NODES if s.stage == "delivery")
"""The nodes that run after an approval (a rejection ends the run before them)."""

QUESTION_NODES = ("adaptive_questioner", "gate_user_input")
"""The intake nodes that run only while mandatory fields are missing."""


def spec(name: str) -> NodeSpec:
    """Return the node spec of ``name``.

    Raises:
        KeyError: if there is no such node.
    """
    for candidate in NODES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown node {name!r}; nodes: {', '.join(NODE_ORDER)}")
