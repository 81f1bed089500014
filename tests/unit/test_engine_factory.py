"""Configuration chooses the engine; the embedded default stays in-process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes import FakeStore
from langgraph.checkpoint.memory import InMemorySaver

from agentic_mlops.engines import create_engine
from agentic_mlops.engines.local import LocalEngine
from agentic_mlops.engines.stepfunctions import StepFunctionsEngine
from agentic_mlops.errors import InvalidInput
from agentic_mlops.providers.offline import OfflineProvider

DATABASE = SimpleNamespace(store=FakeStore(), checkpointer=InMemorySaver())
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:mlops-workflow"


def test_the_default_engine_is_in_process() -> None:
    assert isinstance(create_engine(DATABASE, OfflineProvider(), env={}), LocalEngine)


def test_step_functions_is_chosen_by_configuration() -> None:
    env = {"AGENTIC_MLOPS_ENGINE": "stepfunctions", "AGENTIC_MLOPS_STATE_MACHINE_ARN": ARN}
    engine = create_engine(DATABASE, OfflineProvider(), env=env, client=object())
    assert isinstance(engine, StepFunctionsEngine)
    assert engine.name == "stepfunctions"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENTIC_MLOPS_ENGINE": "stepfunctions"}, "needs AGENTIC_MLOPS_STATE_MACHINE_ARN"),
        ({"AGENTIC_MLOPS_ENGINE": "airflow"}, "unknown engine 'airflow'"),
    ],
)
def test_a_misconfigured_engine_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_engine(DATABASE, OfflineProvider(), env=env)
