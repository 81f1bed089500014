"""cdk-nag: AwsSolutionsChecks on the whole app, and every acknowledgment with its reason.

Findings fail the synth; the report (``cdk.out/validation-report.json``) lists the
acknowledged ones with the reasons given here. Acknowledge the narrowest construct and the
exact finding (``AwsSolutions-IAM5[Resource::*]``), never a whole stack.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"

ENI_AND_XRAY = (
    "Lambda's ENI management (ec2:CreateNetworkInterface and friends) and X-Ray's"
    " PutTraceSegments/PutTelemetryRecords support no resource-level permissions: AWS"
    " requires Resource '*' for them. Everything else in this role names its resources."
)
XRAY_ONLY = (
    "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions"
    " (AWS requires Resource '*'); everything else in this role names its resources."
)
PYTHON_RUNTIME = (
    "Pinned to Python 3.12: scripts/build-lambda builds and tests the packages (wheels,"
    " .pyc, the import check and the cold-start measure) for exactly this runtime; moving"
    " to a newer one is a deliberate change of the build, not a side effect of a synth."
)


BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaBasicExecutionRole]"
)
CDK_PROVIDER = (
    "A provider function CDK itself adds (log retention, bucket notifications, bucket"
    " deployment, triggers): its role and runtime are CDK's, scoped by CDK to what it manages."
)
CDK_PROVIDER_FINDINGS = {
    BASIC_EXECUTION: CDK_PROVIDER,
    "AwsSolutions-IAM5[Resource::*]": CDK_PROVIDER + " Its APIs (log retention policies,"
    " bucket notification configuration, CloudFront invalidations) take Resource '*'.",
    "AwsSolutions-L1": CDK_PROVIDER,
}


BUCKET_DEPLOYMENT_FINDINGS = {
    f"AwsSolutions-IAM5[Action::{action}]": "CDK's BucketDeployment grants these action groups"
    " (read the staged asset, write and prune the destination) on the two buckets it uses."
    for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
}
BUCKET_DEPLOYMENT_FINDINGS[
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
    "<AWS::AccountId>-<AWS::Region>/*]"
] = "CDK's staging bucket of file assets: the deployment reads the staged archive from it."


def bucket_objects(bucket_prefix: str, objects: str = "*") -> str:
    """The IAM5 finding of a grant on the objects of a bucket named
    ``{bucket_prefix}-{account}-{region}`` (``DeploymentConfig.bucket_name``), as cdk-nag
    prints it (pseudo parameters as ``<AWS::...>``)."""
    bucket = f"{bucket_prefix}-<AWS::AccountId>-<AWS::Region>"
    return f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket}/{objects}]"


_WILDCARDS: dict[str, tuple[IConstruct, list[str]]] = {}


def check(app: App) -> None:
    """Run AwsSolutionsChecks on every stack of ``app`` at synth time, after applying the
    wildcard explanations gathered by :func:`explain_wildcard`."""
    for path, (construct, reasons) in list(_WILDCARDS.items()):
        if construct.node.root is app:
            acknowledge(construct, "AwsSolutions-IAM5[Resource::*]", " ".join(reasons))
            del _WILDCARDS[path]
    Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))


def explain_wildcard(role: IConstruct, reason: str) -> None:
    """Record why ``role`` has a ``Resource: *`` statement; a role's reasons are joined
    into its one acknowledgment when the checks are added."""
    key = f"{id(role.node.root)}:{role.node.path}"
    _WILDCARDS.setdefault(key, (role, []))[1].append(reason)


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding (``AwsSolutions-XYZ`` or ``AwsSolutions-IAM5[...]``) on
    ``scope`` and everything under it, with the reason a reviewer reads in the report."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{finding}", reason=reason))


def acknowledge_function_role(role: IConstruct, *, in_vpc: bool) -> None:
    """The wildcard a function role cannot avoid: ENIs (in a VPC) and X-Ray."""
    explain_wildcard(role, ENI_AND_XRAY if in_vpc else XRAY_ONLY)


def acknowledge_children(scope: IConstruct, prefix: str, findings: dict[str, str]) -> None:
    """Acknowledge ``findings`` (id -> reason) on every child of ``scope`` whose id starts
    with ``prefix`` (CDK's singleton providers: LogRetention, BucketDeployment...)."""
    for child in scope.node.children:
        if child.node.id.startswith(prefix):
            for finding, reason in findings.items():
                acknowledge(child, finding, reason)
