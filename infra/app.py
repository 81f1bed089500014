"""The CDK app: one deployment (``-c stage=NAME``, default ``dev``) of five stacks, plus the
GitHub OIDC deploy role. cdk-nag's AwsSolutionsChecks run on all of them at synth time.

Stacks are environment-agnostic (account and region come from the credentials at deploy
time), so synth needs no credentials and no ``cdk.context.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Stack, Tags

from infra import nag
from infra.config import DeploymentConfig
from infra.stacks.api import ApiStack
from infra.stacks.data import DataStack
from infra.stacks.github_oidc import GitHubOidcStack
from infra.stacks.observability import ObservabilityStack
from infra.stacks.web import WebStack
from infra.stacks.workflow import WorkflowStack

OIDC_STACK = "agentic-mlops-github-oidc"


@dataclass
class Platform:
    """The stacks of one deployment."""

    config: DeploymentConfig
    data: DataStack
    web: WebStack
    api: ApiStack
    workflow: WorkflowStack
    observability: ObservabilityStack
    oidc: GitHubOidcStack

    def stacks(self) -> list[Stack]:
        """Every stack, in deployment order."""
        return [self.data, self.web, self.api, self.workflow, self.observability, self.oidc]


def build(app: App, env: Environment | None = None) -> Platform:
    """Add the platform's stacks to ``app`` (settings from its context) and the checks."""
    config = DeploymentConfig.from_context(app.node)
    kwargs = {"env": env} if env else {}
    data = DataStack(app, config.name("data"), config=config, **kwargs)
    web = WebStack(app, config.name("web"), config=config, **kwargs)
    api = ApiStack(app, config.name("api"), config=config, data=data, web=web, **kwargs)
    workflow = WorkflowStack(
        app,
        config.name("workflow"),
        config=config,
        data=data,
        values=api.values(),
        grant_streaming=api.grant_streaming,
        **kwargs,
    )
    functions = {**api.functions, **workflow.functions, "validator": workflow.validator,
                 "migrator": data.migrator}  # fmt: skip
    observability = ObservabilityStack(
        app,
        config.name("observability"),
        config=config,
        state_machine=workflow.state_machine,
        functions=functions,
        dead_letters=data.dead_letters,
        quarantine=data.buckets.quarantine,
        **kwargs,
    )
    oidc = GitHubOidcStack(app, OIDC_STACK, **kwargs)
    platform = Platform(config, data, web, api, workflow, observability, oidc)
    for stack in platform.stacks():
        untaggable = ["AWS::RDS::DBProxyTargetGroup"]  # CloudFormation accepts no Tags here
        Tags.of(stack).add("project", "agentic-mlops", exclude_resource_types=untaggable)
        if stack is not oidc:
            Tags.of(stack).add("stage", config.stage, exclude_resource_types=untaggable)
    nag.check(app)
    return platform


def main() -> None:
    """Synthesize the app (run by the CDK CLI, see cdk.json)."""
    app = App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
