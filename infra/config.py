"""The deployment's settings: CDK context values (``-c key=value`` or ``cdk.json``) with
defaults sized for a small team. Read once, in :meth:`DeploymentConfig.from_context`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

from aws_cdk import Aws
from constructs import Node

_STAGE = re.compile(r"^[a-z][a-z0-9-]{1,9}$")
"""Stage names fit S3 bucket names: agentic-mlops-STAGE-quarantine-ACCOUNT-REGION <= 63."""
DAY_S = 24 * 3600


class ConfigError(ValueError):
    """A context value that cannot be used; the message names it."""


@dataclass(frozen=True)
class DeploymentConfig:
    """What differs between deployments. Context keys are the field names.

    Attributes:
        stage: The deployment's name (``staging``, ``production``...), in every stack name.
        db_instance_class: The RDS PostgreSQL instance class (Graviton burstable by default).
        db_storage_gb: Allocated gp3 storage of the database.
        db_multi_az: A standby in a second zone (production should say true).
        nat_gateways: NAT gateways for the functions' internet egress (Anthropic, Slack,
            the WebSocket @connections endpoint); 1 is the cheapest, 2 survives a zone outage.
        question_timeout_s: How long a run waits for answers before failing.
        approval_timeout_s: How long a run waits for an approval before failing.
        provider: ``AGENTIC_MLOPS_PROVIDER`` (``auto`` uses Anthropic once its key is set).
        slack_channel: The channel approvals are posted to (empty: Slack off).
        slack_users: The Slack user mapping (JSON, see docs/slack.md).
        web_origin: The browser origin allowed by CORS; empty means the CloudFront domain.
        alarm_email: An address subscribed to the alarm topic (empty: none).
        log_retention_days: Retention of every log group.
        api_rate_limit: Steady requests per second of each API stage.
        api_burst_limit: Burst of each API stage.
        retain_data: Keep the database, buckets and file system when a stack is deleted.
        log_level: ``AGENTIC_MLOPS_LOG_LEVEL`` of every function (JSON lines).
        delivery_remote: A git remote each approved repository is pushed to (empty: off).
        delivery_token_secret: The ARN of an existing Secrets Manager secret holding that
            remote's token (the node runner may read it; empty: none).
    """

    stage: str = "dev"
    db_instance_class: str = "t4g.micro"
    db_storage_gb: int = 20
    db_multi_az: bool = False
    nat_gateways: int = 1
    question_timeout_s: int = 7 * DAY_S
    approval_timeout_s: int = 7 * DAY_S
    provider: str = "auto"
    slack_channel: str = ""
    slack_users: str = ""
    web_origin: str = ""
    alarm_email: str = ""
    log_retention_days: int = 30
    api_rate_limit: int = 50
    api_burst_limit: int = 100
    retain_data: bool = True
    log_level: str = "INFO"
    delivery_remote: str = ""
    delivery_token_secret: str = ""

    prefix = "agentic-mlops"

    @classmethod
    def from_context(cls, node: Node) -> DeploymentConfig:
        """Read every field from the CDK context (strings from ``-c`` are converted).

        Raises:
            ConfigError: naming the first value that has the wrong type or form.
        """
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = node.try_get_context(spec.name)
            if raw is None:
                continue
            values[spec.name] = _convert(spec.name, raw, type(getattr(cls, spec.name)))
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Raise ConfigError for a value outside what the stacks accept."""
        if not _STAGE.match(self.stage):
            raise ConfigError(f"stage must match {_STAGE.pattern}, got {self.stage!r}")
        if not 0 <= self.nat_gateways <= 3:
            raise ConfigError("nat_gateways must be 0 to 3")
        if self.nat_gateways == 0:
            raise ConfigError(
                "nat_gateways=0 leaves the functions without a route to Anthropic, Slack and"
                " the WebSocket @connections endpoint"
            )
        for name in ("question_timeout_s", "approval_timeout_s"):
            if not 60 <= getattr(self, name) <= 365 * DAY_S:
                raise ConfigError(f"{name} must be between 60 s and a year")
        if self.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(
                f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
            )
        if self.delivery_token_secret and not self.delivery_token_secret.startswith("arn:"):
            raise ConfigError("delivery_token_secret must be a Secrets Manager secret ARN")
        if self.slack_users:
            try:
                json.loads(self.slack_users)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"slack_users is not valid JSON: {exc.msg}") from None

    def name(self, part: str) -> str:
        """A physical name of this deployment, e.g. ``agentic-mlops-staging-workflow``."""
        return f"{self.prefix}-{self.stage}-{part}"

    def bucket_name(self, kind: str) -> str:
        """The bucket ``kind`` of this deployment, unique by account and region (stacks
        refer to buckets by name: no cross-stack exports, readable policies)."""
        return f"{self.name(kind)}-{Aws.ACCOUNT_ID}-{Aws.REGION}"

    def bucket_arn(self, kind: str, objects: str | None = None) -> str:
        """The ARN of bucket ``kind``, or of its objects matching ``objects`` (``"*"``)."""
        suffix = f"/{objects}" if objects is not None else ""
        return f"arn:{Aws.PARTITION}:s3:::{self.bucket_name(kind)}{suffix}"


def _convert(name: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    if kind is bool:
        if text.lower() in {"true", "1", "yes"}:
            return True
        if text.lower() in {"false", "0", "no"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    return text
