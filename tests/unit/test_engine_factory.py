"""Configuration chooses the engine; the embedded default stays in-process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes import FakeStore
from langgraph.checkpoint.memory import InMemorySaver

from agentic_mlops.composition import create_engine
from agentic_mlops.engines.base import ReadOnlyEngine
from agentic_mlops.engines.local import LocalEngine
from agentic_mlops.engines.stepfunctions import StepFunctionsEngine
from agentic_mlops.errors import InvalidInput
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.settings import load_settings
from agentic_mlops.workflow.instrument import RunContext
from agentic_mlops.workflow.runner import WorkflowRunner

DATABASE = SimpleNamespace(store=FakeStore(), checkpointer=InMemorySaver())
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:mlops-workflow"
RUNNER = WorkflowRunner(
    DATABASE.store,  # type: ignore[arg-type]
    DATABASE.checkpointer,
    RunContext(store=DATABASE.store, provider=OfflineProvider()),
)


def test_the_default_engine_is_in_process_inline_for_the_cli_and_in_workers_for_serve() -> None:
    settings = load_settings(environ={})
    inline = create_engine(settings, DATABASE, RUNNER, role="cli")  # type: ignore[arg-type]
    assert isinstance(inline, LocalEngine) and inline.inline and inline.scheduler is None
    served = create_engine(settings, DATABASE, RUNNER, role="serve")  # type: ignore[arg-type]
    try:
        assert isinstance(served, LocalEngine) and not served.inline
        assert served.scheduler is not None
    finally:
        served.close(1.0)


def test_step_functions_is_chosen_by_configuration() -> None:
    env = {"AGENTIC_MLOPS_ENGINE": "stepfunctions", "AGENTIC_MLOPS_STATE_MACHINE_ARN": ARN}
    settings = load_settings(environ=env)
    engine = create_engine(settings, DATABASE, None, role="api", sfn_client=object())  # type: ignore[arg-type]
    assert isinstance(engine, StepFunctionsEngine)
    assert engine.name == "stepfunctions"


def test_the_websocket_function_gets_an_engine_that_runs_nothing() -> None:
    engine = create_engine(load_settings(environ={}), DATABASE, None, role="websocket")  # type: ignore[arg-type]
    assert isinstance(engine, ReadOnlyEngine)


def test_step_functions_without_a_state_machine_is_a_clear_error() -> None:
    settings = load_settings(environ={"AGENTIC_MLOPS_ENGINE": "stepfunctions"})
    with pytest.raises(InvalidInput, match="needs AGENTIC_MLOPS_STATE_MACHINE_ARN"):
        create_engine(settings, DATABASE, None, role="api")  # type: ignore[arg-type]


def test_an_unknown_engine_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(InvalidInput, match="AGENTIC_MLOPS_ENGINE='airflow'"):
        load_settings(environ={"AGENTIC_MLOPS_ENGINE": "airflow"})
