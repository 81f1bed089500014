"""The one function builder: every Lambda function of the platform is made here.

A function gets its thin handler (``functions/<name>``) as code and two layers built by
``scripts/build-lambda`` (the library, and the dependencies its imports need), or a
container image (the validator); its own role (logs to its own log group, X-Ray, the dead-
letter queue; nothing else until a stack grants it), a log group with retention, tracing,
exactly the environment of :mod:`infra.environment`, and its network: ``private`` (the
functions' subnets, the shared security group), ``sandbox`` (isolated subnets without any
egress but S3) or ``none``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.config import DeploymentConfig
from infra.environment import HISTORY_MOUNT, environment_for
from infra.packaging import DEFAULT_OUT, ROOT, package_from_manifest

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
Network = Literal["private", "sandbox", "none"]


@dataclass(frozen=True)
class FunctionSpec:
    """How one function is deployed."""

    name: str
    description: str
    memory_mb: int = 512
    timeout_s: int = 30
    network: Network = "private"
    history: bool = False
    image: bool = False
    ephemeral_mb: int = 512


SPECS: Mapping[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("api", "REST API (Powertools resolver)", 1024, 29, history=True),
        FunctionSpec("websocket", "WebSocket $connect/$default/$disconnect", 512, 29),
        FunctionSpec("ws_authorizer", "WebSocket $connect authorizer (Cognito JWT)", 256, 10,
                     network="none"),
        FunctionSpec("slack", "Slack interactivity callback", 512, 10),
        FunctionSpec("node_runner", "Runs one workflow node from the checkpoint", 1769, 900,
                     history=True),
        FunctionSpec("wait_registrar", "Opens a gate and keeps its task token", 1024, 120),
        FunctionSpec("failure_handler", "Records a failed run", 1024, 120),
        FunctionSpec("migrator", "Applies the schema migrations (once per deploy)", 512, 300),
        FunctionSpec("validator", "Validates a generated repository (container image)", 3008,
                     900, network="sandbox", image=True, ephemeral_mb=4096),
    )
}  # fmt: skip

VALIDATOR_CONTEXT = [
    "*",
    "!pyproject.toml",
    "!README.md",
    "!shared",
    "!functions/validator",
    "!tools/validators",
    "!build/lambda/validator",
    "**/__pycache__",
    "**/*.pyc",
]
"""The validator image's build context: the repository root minus all but these (Docker
ignore syntax)."""


@dataclass
class FunctionNetwork:
    """Where functions run: the VPC, its subnet groups and security groups."""

    vpc: ec2.IVpc
    private_subnets: ec2.SubnetSelection
    sandbox_subnets: ec2.SubnetSelection
    function_security_group: ec2.ISecurityGroup
    sandbox_security_group: ec2.ISecurityGroup


@dataclass
class FunctionContext:
    """What every function shares (one per stack that makes functions)."""

    config: DeploymentConfig
    network: FunctionNetwork
    dead_letter_queue: sqs.IQueue
    history: efs.IAccessPoint | None = None
    packages: Path = DEFAULT_OUT
    _layers: dict[tuple[str, str], lambda_.ILayerVersion] = field(default_factory=dict)

    def layer(self, scope: Construct, path: Path) -> lambda_.ILayerVersion:
        """The layer of ``path`` in ``scope``'s stack (one per stack, shared by its functions)."""
        stack = Stack.of(scope)
        key = (stack.node.path, path.name)
        if key not in self._layers:
            self._layers[key] = lambda_.LayerVersion(
                stack,
                "Layer" + "".join(part.title() for part in path.name.split("-")),
                code=lambda_.Code.from_asset(str(path), exclude=[".stamp", "requirements.txt"]),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description=f"agentic-mlops {path.name}",
                removal_policy=RemovalPolicy.RETAIN,
            )
        return self._layers[key]


def make_function(
    scope: Construct,
    name: str,
    context: FunctionContext,
    values: Mapping[str, str],
) -> lambda_.Function:
    """Create the function ``name`` of :data:`SPECS` in ``scope``.

    Args:
        scope: The stack (or construct) that owns it.
        name: The function's name (``functions/<name>``).
        context: What the stack's functions share.
        values: Environment values the stack knows (see :func:`environment_for`).

    Returns:
        The function; its construct id is the name in CamelCase.
    """
    spec = SPECS[name]
    construct_id = "".join(part.title() for part in name.split("_"))
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=retention(context.config.log_retention_days),
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"agentic-mlops {name}: {spec.description}",
    )
    log_group.grant_write(role)
    network = _network(context.network, spec.network)
    if network:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
    function = lambda_.Function(
        scope,
        construct_id,
        description=f"agentic-mlops {name}: {spec.description}",
        memory_size=spec.memory_mb,
        timeout=Duration.seconds(spec.timeout_s),
        ephemeral_storage_size=Size.mebibytes(spec.ephemeral_mb),
        architecture=ARCHITECTURE,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        role=role,
        environment=environment_for(name, values),
        dead_letter_queue=context.dead_letter_queue,
        filesystem=_history(context, spec),
        **_code(scope, spec, context),
        **network,
    )
    nag.acknowledge_function_role(role, in_vpc=bool(network))
    if not spec.image:
        nag.acknowledge(function, "AwsSolutions-L1", nag.PYTHON_RUNTIME)
    return function


def _code(scope: Construct, spec: FunctionSpec, context: FunctionContext) -> dict[str, object]:
    if spec.image:
        return {
            "code": lambda_.Code.from_asset_image(
                str(ROOT),
                file=f"functions/{spec.name}/Dockerfile",
                exclude=VALIDATOR_CONTEXT,
                ignore_mode=IgnoreMode.DOCKER,
            ),
            "handler": lambda_.Handler.FROM_IMAGE,
            "runtime": lambda_.Runtime.FROM_IMAGE,
        }
    package = package_from_manifest(spec.name, context.packages)
    return {
        "code": lambda_.Code.from_asset(str(package.code), exclude=["__pycache__", "*.pyc"]),
        "handler": "app.handler",
        "runtime": RUNTIME,
        "layers": [context.layer(scope, layer) for layer in package.layers],
    }


def _network(network: FunctionNetwork, kind: Network) -> dict[str, object]:
    if kind == "none":
        return {}
    if kind == "sandbox":
        return {
            "vpc": network.vpc,
            "vpc_subnets": network.sandbox_subnets,
            "security_groups": [network.sandbox_security_group],
        }
    return {
        "vpc": network.vpc,
        "vpc_subnets": network.private_subnets,
        "security_groups": [network.function_security_group],
    }


def _history(context: FunctionContext, spec: FunctionSpec) -> lambda_.FileSystem | None:
    if not spec.history:
        return None
    if context.history is None:
        raise ValueError(f"{spec.name} mounts the history file system; the context has none")
    return lambda_.FileSystem.from_efs_access_point(context.history, HISTORY_MOUNT)


_RETENTIONS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention of at least ``days`` days (at most a year)."""
    return next((v for d, v in _RETENTIONS.items() if d >= days), logs.RetentionDays.ONE_YEAR)
