"""The platform of one process, assembled from its settings.

:func:`build_platform` wires the database, store, provider, code generator, artifact
store, workflow runner, engine, live streams, Slack notifier and the application service
for one kind of process (:data:`Role`): the CLI, ``serve``, or a deployed function. Each
pluggable part has one factory, chosen by :class:`~agentic_mlops.settings.Settings`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from agentic_mlops.composition.parts import (
    EventSink,
    Role,
    create_artifact_store_for,
    create_validator,
    dev_token_secret,
    open_platform_database,
)
from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.artifacts.store import ArtifactStore
    from agentic_mlops.engines.base import Engine
    from agentic_mlops.persistence import Database
    from agentic_mlops.providers import OrchestrationProvider
    from agentic_mlops.service.application import PlatformService
    from agentic_mlops.settings import Settings
    from agentic_mlops.streaming.fanout import Poster, Streams
    from agentic_mlops.vcs.repository import ProjectRepository
    from agentic_mlops.workflow.runner import WorkflowRunner

logger = logging.getLogger(__name__)


@dataclass
class Platform:
    """The assembled platform of one process."""

    settings: Settings
    role: Role
    database: Database
    artifacts: ArtifactStore
    engine: Engine
    service: PlatformService
    runner: WorkflowRunner | None = None
    streams: Streams | None = None
    ws_endpoint: str | None = None
    owns_database: bool = True
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def store(self) -> Any:
        """The platform store."""
        return self.database.store

    @cached_property
    def token_secret(self) -> str | None:
        """The development-token secret (None in the ``claims`` mode: tokens refused)."""
        if self.settings.auth.mode == "claims":
            return None
        return dev_token_secret(self.settings)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the engine's workers, the streams and the database pool."""
        self.engine.close(timeout_s)
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                logger.warning("closing %r failed", closer, exc_info=True)
        if self.owns_database:
            self.database.close()


def build_platform(
    settings: Settings,
    role: Role,
    *,
    database: Database | None = None,
    on_event: EventSink | None = None,
    poster: Poster | None = None,
    ws_endpoint: str | None = None,
    public_url: str | None = None,
    sfn_client: Any = None,
    provider: OrchestrationProvider | None = None,
    codegen: Any = None,
) -> Platform:
    """Assemble the platform for ``role``.

    Args:
        settings: the validated settings.
        role: the kind of process.
        database: an open database to use (tests, benchmarks); opened from the settings
            otherwise (migrated by the CLI and ``serve``, checked elsewhere).
        on_event: called with every event the runner of this process stores (the CLI).
        poster: how WebSocket frames are posted (``serve``: its own ``@connections``).
        ws_endpoint: the ``@connections`` endpoint to record on connections (``serve``).
        public_url: the API's base URL, for signed local download links (``serve``).
        sfn_client: a boto3 Step Functions client (tests).
        provider, codegen: parts to use instead of the configured ones (tests, benchmarks).

    Raises:
        InvalidInput: an engine or setting that cannot work (the message says which).
    """
    from agentic_mlops.service.application import PlatformService

    owns_database = database is None
    database = database or open_platform_database(settings, role)
    artifacts = create_artifact_store_for(settings)
    repositories = create_repositories(settings)
    provider = provider or lazy_provider(settings)
    needs_runner = role in {"workflow"} or (
        settings.engine.engine == "local" and role in {"cli", "serve", "api", "slack"}
    )
    runner = None
    if needs_runner:
        runner = create_runner(
            settings, database, artifacts, repositories, provider, on_event, codegen=codegen
        )
    engine = create_engine(settings, database, runner, role=role, sfn_client=sfn_client)
    platform = Platform(
        settings=settings,
        role=role,
        database=database,
        artifacts=artifacts,
        engine=engine,
        runner=runner,
        service=PlatformService(
            database.store,
            engine,
            artifacts=artifacts,
            repositories=repositories,
            parse_answer=answer_parser(),
            provider=lambda: provider,
            download_url=_download_links(settings, artifacts, public_url),
        ),
        ws_endpoint=ws_endpoint or settings.streaming.ws_endpoint,
        owns_database=owns_database,
    )
    if role in {"serve", "websocket", "workflow", "api"}:
        _wire_streams(platform, poster)
    if (runner is not None and role != "cli") or (runner is not None and settings.slack.can_post):
        _wire_slack(platform, runner)
    return platform


# factories (one per pluggable part) ---------------------------------------------------------


def create_repositories(settings: Settings) -> Callable[[str], ProjectRepository]:
    """Project id -> its history repository, under the configured folder."""
    from agentic_mlops.vcs.repository import repositories_under

    return repositories_under(settings.history.repos_dir or settings.home / "repos")


def lazy_provider(settings: Settings) -> OrchestrationProvider:
    """The configured orchestration provider, created on first use."""
    from agentic_mlops.providers import LazyProvider, create_provider

    return LazyProvider(lambda: create_provider(settings.provider))


def answer_parser() -> Callable[[str, str], Any]:
    """How answers are read and checked (the same deterministic field parsers for every
    provider)."""
    from agentic_mlops.providers.offline.extraction import parse_answer

    return parse_answer


def create_runner(
    settings: Settings,
    database: Database,
    artifacts: ArtifactStore,
    repositories: Callable[[str], ProjectRepository],
    provider: OrchestrationProvider,
    on_event: EventSink | None = None,
    *,
    codegen: Any = None,
) -> WorkflowRunner:
    """The workflow runner with what the nodes use."""
    from agentic_mlops.codegen import create_codegen
    from agentic_mlops.workflow.instrument import RunContext
    from agentic_mlops.workflow.runner import WorkflowRunner

    context = RunContext(
        store=database.store,
        provider=provider,
        codegen=codegen
        or create_codegen(settings.codegen.codegen, agent_model=settings.codegen.agent_model),
        artifacts=artifacts,
        repositories=repositories,
        validator=create_validator(settings, artifacts),
        delivery=settings.delivery,
    )
    return WorkflowRunner(
        database.store,
        database.checkpointer,
        context,
        engine=settings.engine.engine,
        on_event=on_event,
    )


def create_engine(
    settings: Settings,
    database: Database,
    runner: WorkflowRunner | None,
    *,
    role: Role,
    sfn_client: Any = None,
) -> Engine:
    """The engine the settings choose: in-process (inline, or background workers for
    ``serve``) or Step Functions.

    Raises:
        InvalidInput: Step Functions without a state machine ARN.
    """
    if role == "websocket":
        from agentic_mlops.engines.base import ReadOnlyEngine

        return ReadOnlyEngine()
    if settings.engine.engine == "stepfunctions":
        arn = settings.engine.state_machine_arn
        if not arn:
            raise InvalidInput(
                "AGENTIC_MLOPS_ENGINE=stepfunctions needs AGENTIC_MLOPS_STATE_MACHINE_ARN"
            )
        from agentic_mlops.engines.stepfunctions import StepFunctionsEngine

        return StepFunctionsEngine(database.store, arn, client=sfn_client)
    from agentic_mlops.engines.local import LocalEngine

    if runner is None:
        raise InvalidInput(f"the in-process engine cannot run in a {role} function")
    scheduler = None
    if role == "serve":
        from agentic_mlops.engines.scheduler import Scheduler

        scheduler = Scheduler(settings.engine.workers)
    return LocalEngine(runner, scheduler)


def _wire_streams(platform: Platform, poster: Poster | None) -> None:
    """New events are pumped to WebSocket subscribers as they are stored."""
    from agentic_mlops.streaming.fanout import ManagementApiPoster, Streams

    streams = Streams(
        platform.database.store, poster or ManagementApiPoster(platform.settings.streaming.region)
    )
    platform.database.store.add_listener(streams.publish)
    platform.streams = streams

    def close() -> None:
        platform.database.store.remove_listener(streams.publish)
        streams.close()

    platform._closers.append(close)


def _wire_slack(platform: Platform, runner: WorkflowRunner) -> None:
    """An opened approval is posted to Slack once, when posting is configured."""
    from agentic_mlops.notifications.slack_notifier import approval_notifier

    config = platform.settings.slack
    if not config.can_post and config.secret_arn is None:
        return
    notifier = approval_notifier(config.with_secrets(), platform.database.store)
    if notifier is not None:
        runner.wait_listeners.append(notifier)


def _download_links(
    settings: Settings, artifacts: ArtifactStore, public_url: str | None
) -> Callable[[str, int], str] | None:
    """Signed local links for a local artifact store behind ``serve``; presigned S3
    URLs (the store's own) otherwise."""
    from agentic_mlops.artifacts.store import LocalArtifactStore

    if public_url is None or not isinstance(artifacts, LocalArtifactStore):
        return None
    from agentic_mlops.artifacts.links import signed_download_url

    secret = dev_token_secret(settings)
    return lambda key, expires_s: signed_download_url(public_url, key, expires_s, secret)
