"""The state diff of the Change Summary: per field, from, to; identities over positions."""

from __future__ import annotations

import json
from pathlib import Path

from agentic_mlops.changes import changed_constraint_fields, state_changes
from agentic_mlops.domain import MLOpsProjectState, ValidationReport, ValidatorResult
from agentic_mlops.pricing import estimate
from agentic_mlops.providers.offline import OfflineProvider

WORKLOADS = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())


def planned_state(request: str) -> MLOpsProjectState:
    provider = OfflineProvider()
    constraints = provider.extract_constraints(request, {}).value.constraints
    plan = provider.plan(constraints).value
    cost = estimate(plan, constraints)
    findings = provider.critique_cost(constraints, plan, cost).value
    return MLOpsProjectState(
        decision_set_id="ds-a",
        project_id="prj",
        request=request,
        constraints=constraints,
        plan=plan,
        cost=cost.model_copy(update={"findings": findings}),
    )


def test_a_region_change_is_named_with_its_old_and_new_value() -> None:
    before = planned_state(WORKLOADS["batch_tabular"]["request"])
    after_request = before.request.replace("eu-west-1", "eu-central-1")
    after = planned_state(after_request).model_copy(update={"decision_set_id": "ds-b"})

    changes = state_changes(before, after)

    assert changed_constraint_fields(changes) == ["region", "summary"]
    region = next(c for c in changes if c.path == "constraints.region")
    assert (region.change, region.old, region.new) == ("changed", "eu-west-1", "eu-central-1")
    assert not any(c.path.startswith("decision_set_id") for c in changes)


def test_reordered_items_with_an_identity_are_not_changes() -> None:
    state = planned_state(WORKLOADS["realtime_low_latency"]["request"])
    reordered = state.model_copy(
        update={"cost": state.cost.model_copy(update={"findings": state.cost.findings[::-1]})}
    )
    assert len(state.cost.findings) > 1
    assert state_changes(state, reordered) == []


def test_items_are_addressed_by_identity_and_timings_are_ignored() -> None:
    state = planned_state(WORKLOADS["streaming"]["request"])
    component = state.plan.components[0]
    resized = component.model_copy(update={"purpose": component.purpose + " (resized)"})
    validated = ValidationReport(
        passed=True,
        counts={},
        isolation="x",
        validators=[ValidatorResult(name="ruff", status="passed", duration_ms=1.0)],
    )
    before = state.model_copy(update={"validation": validated})
    after = state.model_copy(
        update={
            "plan": state.plan.model_copy(
                update={"components": [resized, *state.plan.components[1:]]}
            ),
            "validation": validated.model_copy(
                update={
                    "validators": [ValidatorResult(name="ruff", status="passed", duration_ms=99.0)]
                }
            ),
        }
    )

    changes = state_changes(before, after)

    assert [c.path for c in changes] == [f"plan.components[{component.id}].purpose"]
