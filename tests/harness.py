"""The platform as the tests drive it (importable as ``harness``).

:class:`Harness` assembles the real platform (composition root, service, runner, engine)
on the test database and offers the short calls the tests use: start a request, answer,
decide, revise, read — through the service, acting as a local identity — and step, open
or fail a node through the runner, as the Step Functions functions do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from agentic_mlops.composition import Platform, Role, build_platform
from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.domain.identity import Identity
from agentic_mlops.engines.base import Engine
from agentic_mlops.persistence import Database
from agentic_mlops.persistence.models import DecisionSet, Wait
from agentic_mlops.service.reads import DecisionSetRead
from agentic_mlops.settings import Settings, load_settings
from agentic_mlops.validation.tools import ValidationTools

LOCAL = Identity.local("tester")


class ManualEngine(Engine):
    """An engine that runs nothing by itself: the test steps the nodes (as Step Functions
    would), and records what it was asked."""

    name = "manual"

    def __init__(self) -> None:
        self.launched: list[tuple[str, str]] = []
        self.continued: list[Wait] = []

    def launch(self, decision_set_id: str, action: str) -> None:
        self.launched.append((decision_set_id, action))

    def continue_wait(self, wait: Wait) -> None:
        self.continued.append(wait)


def settings_with(**overrides: str) -> Settings:
    """The settings of the test process, with some variables set (blank: unset)."""
    return load_settings(environ={**os.environ, **overrides})


def validation_tools(**overrides: str) -> ValidationTools:
    """The validators' programs as the platform resolves them from these settings."""
    from agentic_mlops.composition import validation_tools as resolve

    return resolve(settings_with(**overrides))


class Harness:
    """The real platform on the test database, with the calls the tests make.

    Args:
        database: the session database (never closed here).
        provider: the orchestration provider (default: the configured one, offline in tests).
        on_event: receives every event the runner stores.
        codegen: a code generator instead of the configured one.
        engine: ``"inline"`` (the in-process engine, as the CLI runs it), ``"manual"``
            (nothing runs by itself) or an engine instance.
        settings: the settings (default: the test process's environment).
        sfn_client: a Step Functions client (with ``AGENTIC_MLOPS_ENGINE=stepfunctions``).
        env: variables to set on top of the test process's environment.
        role: the kind of process (``workflow``: what the Step Functions functions run).
    """

    def __init__(
        self,
        database: Database,
        provider: Any = None,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        codegen: Any = None,
        engine: str | Engine = "inline",
        settings: Settings | None = None,
        sfn_client: Any = None,
        env: Mapping[str, str] | None = None,
        role: Role = "cli",
    ) -> None:
        if settings is None:
            settings = settings_with(**dict(env or {}))
        self.platform: Platform = build_platform(
            settings,
            role,
            database=database,
            on_event=on_event,
            provider=provider,
            codegen=codegen,
            sfn_client=sfn_client,
        )
        if isinstance(engine, Engine) or engine == "manual":
            chosen = engine if isinstance(engine, Engine) else ManualEngine()
            self.platform.engine = chosen
            self.platform.service.engine = chosen
        self.database = database
        self.service = self.platform.service
        self.runner = self.platform.runner
        self.store = database.store
        self.artifacts = self.platform.artifacts
        self.repositories = self.service.repositories

    @property
    def engine(self) -> Engine:
        """The engine the service hands work to."""
        return self.platform.engine

    # through the service ----------------------------------------------------------------------

    def start(
        self, project: str, request: str, answers: dict[str, str] | None = None
    ) -> DecisionSetRead:
        return self.service.start_in_named_project(LOCAL, project, request, answers)

    def answer(
        self, decision_set_id: str, answers: dict[str, str], by: str = "tester"
    ) -> DecisionSetRead:
        return self.service.answer(Identity.local(by), decision_set_id, answers)

    def decide(
        self, decision_set_id: str, decision: ApprovalDecision, *, plan_hash: str | None = None
    ) -> DecisionSetRead:
        identity = Identity.local(decision.approver)
        self.service.decide(
            identity, decision_set_id, decision.decision, decision.comment, plan_hash=plan_hash
        )
        return self.service.read(identity, decision_set_id)

    def revise(
        self,
        parent_id: str,
        change: str | None,
        answers: dict[str, str] | None = None,
        *,
        from_seq: int | None = None,
    ) -> DecisionSetRead:
        return self.service.revise(LOCAL, parent_id, change, answers, from_seq=from_seq)

    def status(self, decision_set_id: str) -> DecisionSetRead:
        return self.service.read(LOCAL, decision_set_id)

    def resume(self, decision_set_id: str) -> DecisionSetRead:
        return self.service.resume(LOCAL, decision_set_id)

    def change_summary(self, decision_set_id: str) -> Any:
        return self.service.change_summary(LOCAL, decision_set_id)

    # through the runner (what the Step Functions functions do) --------------------------------

    def step(self, decision_set_id: str, node: str) -> dict[str, Any]:
        assert self.runner is not None
        return self.runner.step(decision_set_id, node)

    def open_gate(self, decision_set_id: str, node: str, task_token: str | None) -> Wait:
        assert self.runner is not None
        return self.runner.open_gate(decision_set_id, node, task_token)

    def fail(self, decision_set_id: str, error: dict[str, Any], *, key: str) -> Any:
        assert self.runner is not None
        return self.runner.fail(decision_set_id, error, key=key)

    def task_token(self, wait_id: str) -> str | None:
        return self.store.task_token(wait_id)

    def prepare(
        self, project: str, request: str, answers: dict[str, str] | None = None
    ) -> DecisionSet:
        """Create a decision set without running it (whatever the engine)."""
        engine = self.service.engine
        self.service.engine = ManualEngine()
        try:
            return self.start(project, request, answers).decision_set
        finally:
            self.service.engine = engine

    def install(self) -> Harness:
        """Serve the functions' handlers of this process from this platform."""
        from agentic_mlops.composition.container import install

        install(self.platform)
        return self

    def close(self) -> None:
        self.platform.close()


def step_functions_platform(
    database: Database, sfn_client: Any, state_machine_arn: str, provider: Any = None
) -> Harness:
    """The platform of the Step Functions functions and of the client starting executions,
    installed for the in-process handlers."""
    from agentic_mlops.providers.offline import OfflineProvider

    return Harness(
        database,
        provider or OfflineProvider(),
        role="workflow",
        sfn_client=sfn_client,
        env={
            "AGENTIC_MLOPS_ENGINE": "stepfunctions",
            "AGENTIC_MLOPS_STATE_MACHINE_ARN": state_machine_arn,
        },
    ).install()
