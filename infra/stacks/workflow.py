"""The workflow stack: the node runner, wait registrar, failure handler and validator
functions, and the Standard state machine loaded from ``statemachines/``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import DeploymentConfig
from infra.functions import make_function, retention
from infra.packaging import ROOT
from infra.stacks.data import DataStack

DEFINITION = ROOT / "statemachines" / "mlops_workflow.asl.json"
SOURCES_KIND = "sources"
REPORTS_KIND = "reports"


def placeholders(path: Path = DEFINITION) -> set[str]:
    """The ``${Name}`` placeholders of an ASL file."""
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", path.read_text(encoding="utf-8")))


def definition_substitutions(
    functions: Mapping[str, lambda_.IFunction], config: DeploymentConfig
) -> dict[str, str]:
    """Every placeholder of the definition, from the deployed functions and the settings."""
    return {
        "NodeRunnerFunctionArn": functions["node_runner"].function_arn,
        "WaitRegistrarFunctionArn": functions["wait_registrar"].function_arn,
        "FailureHandlerFunctionArn": functions["failure_handler"].function_arn,
        "QuestionTimeoutSeconds": str(config.question_timeout_s),
        "ApprovalTimeoutSeconds": str(config.approval_timeout_s),
    }


def state_machine_arn(stack: Stack, config: DeploymentConfig) -> str:
    """The workflow's ARN, known from its name (the API stack needs it before it exists)."""
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=config.name("workflow"),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class WorkflowStack(Stack):
    """The nodes as Lambda functions and the state machine that runs them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        data: DataStack,
        values: Mapping[str, str],
        grant_streaming: object,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        context = data.function_context()
        self.validator = make_function(self, "validator", context, {**data.values(), **values})
        self._grant_validator(data)
        known = {
            **data.values(),
            **values,
            "AGENTIC_MLOPS_VALIDATOR_FUNCTION": self.validator.function_name,
        }
        self.functions: dict[str, lambda_.Function] = {
            name: make_function(self, name, context, known)
            for name in ("node_runner", "wait_registrar", "failure_handler")
        }
        for name, function in self.functions.items():
            data.grant_database(function)
            data.secrets.checkpoint_key.grant_read(function)
            data.secrets.anthropic.grant_read(function)
            grant_streaming(function)  # type: ignore[operator]
            if name != "failure_handler":
                data.secrets.slack.grant_read(function)
        data.grant_artifacts(self.functions["node_runner"])
        if config.delivery_token_secret:
            self.functions["node_runner"].add_to_role_policy(
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[config.delivery_token_secret],
                )
            )
        data.grant_artifacts(self.functions["failure_handler"])
        self.functions["node_runner"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.validator.function_arn]
            )
        )
        self.state_machine = self._state_machine(config)
        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)

    def _grant_validator(self, data: DataStack) -> None:
        """The validator reads the generated sources and writes the reports; nothing else."""
        config = data.config
        role = self.validator.role
        assert role is not None
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[config.bucket_arn("artifacts", f"{SOURCES_KIND}/*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"],
                                resources=[config.bucket_arn("artifacts", f"{REPORTS_KIND}/*")])
        )  # fmt: skip
        for kind, what in ((SOURCES_KIND, "read"), (REPORTS_KIND, "write")):
            nag.acknowledge(
                role,
                nag.bucket_objects(config.name("artifacts"), f"{kind}/*"),
                f"Artifacts are content-addressed ({kind}/sha256/…): keys are not"
                f" known at deploy time; the validator may only {what} {kind}/.",
            )

    def _state_machine(self, config: DeploymentConfig) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "WorkflowLogs",
            log_group_name=f"/aws/vendedlogs/states/{config.name('workflow')}",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "Workflow",
            state_machine_name=config.name("workflow"),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION)),
            definition_substitutions=definition_substitutions(self.functions, config),
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            tracing_enabled=True,
        )
        # The state machine alone may invoke the three functions (their unqualified ARNs,
        # as the definition names them).
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in self.functions.values()],
            )
        )
        nag.explain_wildcard(machine.role,
                             "CloudWatch Logs delivery (logs:CreateLogDelivery, …) and X-Ray"
                             " support no resource-level permissions; the Lambda invocations"
                             " name their functions.")  # fmt: skip
        return machine
