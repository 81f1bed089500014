"""Every function gets exactly the environment variables its settings read."""

from __future__ import annotations

from typing import Any

import pytest

from infra.environment import FUNCTION_VARIABLES, POWERTOOLS_VARIABLES
from infra.functions import SPECS

pytestmark = pytest.mark.infra


def deployed_environments(synthesized: Any) -> dict[str, set[str]]:
    """Function name -> the variables set on it in the synthesized templates."""
    platform, assembly, _ = synthesized
    found: dict[str, set[str]] = {}
    for stack in platform.stacks():
        template = assembly.get_stack_by_name(stack.stack_name).template
        for name in SPECS:
            construct = stack.node.try_find_child("".join(p.title() for p in name.split("_")))
            if construct is None:
                continue
            logical_id = stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]
            properties = template["Resources"][logical_id]["Properties"]
            found[name] = set(properties["Environment"]["Variables"])
    return found


def test_every_platform_function_is_deployed_once(synthesized: Any) -> None:
    assert set(deployed_environments(synthesized)) == set(SPECS) == set(FUNCTION_VARIABLES)


def test_functions_get_exactly_the_variables_of_infra_environment(synthesized: Any) -> None:
    for name, variables in deployed_environments(synthesized).items():
        assert variables - POWERTOOLS_VARIABLES == FUNCTION_VARIABLES[name], name
        assert variables >= POWERTOOLS_VARIABLES


def test_functions_get_exactly_the_variables_the_settings_model_reads(synthesized: Any) -> None:
    from agentic_mlops.settings import FUNCTION_VARIABLES as expected

    deployed = deployed_environments(synthesized)
    assert set(deployed) == set(expected)
    for name, variables in deployed.items():
        assert variables - POWERTOOLS_VARIABLES == set(expected[name]), name


def test_no_function_gets_a_local_only_variable(synthesized: Any) -> None:
    for name, variables in deployed_environments(synthesized).items():
        assert "DATABASE_URL" not in variables, name
        assert not {v for v in variables if v.startswith(("SLACK_", "ANTHROPIC_"))}, name
