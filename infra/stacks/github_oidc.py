"""The GitHub OIDC stack: the role the deploy workflow assumes, trusted only for the
repository's ``staging`` and ``production`` environments, allowed only to assume the CDK
bootstrap roles (which do the deploying). One command sets it up (README, Deploy to AWS)."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

GITHUB_ISSUER = "token.actions.githubusercontent.com"
ENVIRONMENTS = ("staging", "production")
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


class GitHubOidcStack(Stack):
    """The OIDC provider and the deploy role (repository given as a parameter)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        repository = CfnParameter(
            self,
            "GitHubRepository",
            type="String",
            allowed_pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
            description="owner/name of the repository whose deploy workflow may assume the role",
        )
        qualifier = CfnParameter(
            self,
            "BootstrapQualifier",
            type="String",
            default="hnb659fds",
            allowed_pattern=r"^[a-z0-9]{1,10}$",
            description="The qualifier of the CDK bootstrap stack (cdk bootstrap --qualifier)",
        )
        provider = iam.OidcProviderNative(
            self,
            "GitHub",
            url=f"https://{GITHUB_ISSUER}",
            client_ids=["sts.amazonaws.com"],
        )
        subjects = [
            Fn.sub(f"repo:${{Repo}}:environment:{env}", {"Repo": repository.value_as_string})
            for env in ENVIRONMENTS
        ]
        role = iam.Role(
            self,
            "DeployRole",
            description="GitHub Actions deploy workflow: assumes the CDK bootstrap roles only",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.open_id_connect_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_ISSUER}:aud": "sts.amazonaws.com",
                        f"{GITHUB_ISSUER}:sub": subjects,
                    }
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    Fn.sub(
                        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-${Qualifier}-"
                        f"{kind}-role-${{AWS::AccountId}}-${{AWS::Region}}",
                        {"Qualifier": qualifier.value_as_string},
                    )
                    for kind in BOOTSTRAP_ROLES
                ],
            )
        )
        CfnOutput(self, "DeployRoleArn", value=role.role_arn,
                  description="Set as the AWS_DEPLOY_ROLE_ARN variable of both environments")
