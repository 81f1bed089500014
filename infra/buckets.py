"""The one bucket builder: every S3 bucket of the platform is private, encrypted (SSE-S3),
versioned, refuses plain HTTP and has a lifecycle; what differs is said by its arguments."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    lifecycle: list[s3.LifecycleRule],
    retain: bool,
    name: str | None = None,
    ownership: s3.ObjectOwnership = s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    logs_bucket: s3.IBucket | None = None,
    logs_prefix: str | None = None,
    event_bridge: bool = False,
) -> s3.Bucket:
    """A private, versioned, SSE-S3 bucket that refuses plain HTTP.

    Args:
        lifecycle: its lifecycle rules (see :func:`expiring`).
        retain: kept when the stack is deleted (else deleted with it, when empty).
        name: its bucket name (CloudFormation names it when None).
        ownership: object ownership; ACLs stay disabled unless a log delivery needs them.
        logs_bucket: where its server access logs go, under ``logs_prefix`` (default: the
            construct id in lower case).
        event_bridge: send its object events to EventBridge.
    """
    if logs_bucket is not None and logs_prefix is None:
        logs_prefix = f"{construct_id.lower()}/"
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=ownership,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=logs_bucket,
        server_access_logs_prefix=logs_prefix,
        lifecycle_rules=lifecycle,
        event_bridge_enabled=event_bridge,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        auto_delete_objects=False,
    )


def expiring(
    rule_id: str, *, days: int | None = None, old_versions_days: int | None = None
) -> s3.LifecycleRule:
    """A lifecycle rule expiring objects after ``days`` and old versions after
    ``old_versions_days`` (either may be None: kept)."""
    return s3.LifecycleRule(
        id=rule_id,
        expiration=Duration.days(days) if days is not None else None,
        noncurrent_version_expiration=(
            Duration.days(old_versions_days) if old_versions_days is not None else None
        ),
    )
