"""Policy checks on the generated Terraform, not only on the plan's flags.

The policy evaluator checks what the plan *says* (private networking, encryption,
monitoring, audit); these checks read the parsed HCL of the generated repository and fail
when the Terraform does not do it: a Glue job without a VPC connection cannot pass
"every data-handling component private", and a monitoring requirement cannot pass on a
monitor that was not generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hcl2

from agentic_mlops.domain.delivery import ValidationFinding, ValidatorResult

NAME = "iac-policy"


@dataclass(frozen=True)
class IacExpectations:
    """What the approved plan requires the generated Terraform to do.

    Attributes:
        private_networking: Data-handling jobs run in private subnets without internet egress.
        customer_managed_keys: Data stores are encrypted with the plan's KMS key.
        model_monitoring: A SageMaker Model Monitor schedule watches the served model.
        audit_logging: A CloudTrail trail with log file validation records data access.
    """

    private_networking: bool = False
    customer_managed_keys: bool = False
    model_monitoring: bool = False
    audit_logging: bool = False

    @classmethod
    def from_plan(cls, plan: Any) -> IacExpectations:
        """Return the expectations of a :class:`~agentic_mlops.domain.Plan`."""
        services = set(plan.services())
        return cls(
            private_networking=bool(plan.networking.private_subnets),
            customer_managed_keys=plan.encryption.at_rest == "aws-kms-cmk",
            model_monitoring="sagemaker_model_monitor" in services,
            audit_logging="cloudtrail" in services,
        )


def resources(files: dict[str, str]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """Yield ``(file, type, name, body)`` of every resource in the ``.tf`` files."""
    for path in sorted(p for p in files if p.endswith(".tf")):
        try:
            document = hcl2.loads(files[path])
        except Exception:  # a syntax error is terraform-parse's finding, not this check's
            continue
        for block in document.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    yield path, kind.strip('"'), name.strip('"'), body or {}


def _text(value: Any) -> str:
    """Return an HCL value as text (python-hcl2 keeps the quotes of string literals)."""
    return str(value).strip('"')


def _has(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    return bool(value) and value != [{}]


def _finding(rule: str, path: str | None, message: str) -> ValidationFinding:
    return ValidationFinding(validator=NAME, rule=rule, severity="high", file=path, message=message)


def _private(found: list[tuple[str, str, str, dict[str, Any]]]) -> list[ValidationFinding]:
    findings = []
    needs = {
        "aws_glue_job": ("connections", "a Glue job without a VPC connection"),
        "aws_kinesisanalyticsv2_application": (
            "application_configuration",
            "a Flink application without a VPC configuration",
        ),
        "aws_lambda_function": ("vpc_config", "a Lambda function outside the VPC"),
        "aws_sagemaker_model": ("vpc_config", "a SageMaker model outside the VPC"),
    }
    for path, kind, name, body in found:
        if kind in ("aws_internet_gateway", "aws_nat_gateway"):
            findings.append(
                _finding("POL-NET-EGRESS", path, f"{kind}.{name}: internet egress is not allowed")
            )
        if kind not in needs:
            continue
        key, what = needs[kind]
        configured = _has(body, key)
        if kind == "aws_kinesisanalyticsv2_application":
            configured = any(_has(section, "vpc_configuration") for section in body.get(key) or [])
        if not configured:
            findings.append(_finding("POL-NET-PRIVATE", path, f"{kind}.{name}: {what}"))
    return findings


def _encrypted(found: list[tuple[str, str, str, dict[str, Any]]]) -> list[ValidationFinding]:
    kms_buckets = {
        _text(body.get("bucket", ""))
        for _, kind, _, body in found
        if kind == "aws_s3_bucket_server_side_encryption_configuration" and "aws:kms" in str(body)
    }
    # S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.
    kms_buckets |= {
        _text(body.get("target_bucket", ""))
        for _, kind, _, body in found
        if kind == "aws_s3_bucket_logging"
    }
    findings = []
    for path, kind, name, body in found:
        if kind == "aws_s3_bucket" and not any(f"aws_s3_bucket.{name}." in b for b in kms_buckets):
            findings.append(
                _finding("POL-ENC-KMS", path, f"aws_s3_bucket.{name}: not encrypted with KMS")
            )
        if kind == "aws_kinesis_stream" and _text(body.get("encryption_type")) != "KMS":
            findings.append(
                _finding("POL-ENC-KMS", path, f"aws_kinesis_stream.{name}: not encrypted with KMS")
            )
        if kind == "aws_sns_topic" and not _has(body, "kms_master_key_id"):
            findings.append(
                _finding("POL-ENC-KMS", path, f"aws_sns_topic.{name}: not encrypted with KMS")
            )
    return findings


def check_iac_policy(files: dict[str, str], expected: IacExpectations | None) -> ValidatorResult:
    """Check the generated Terraform against what the plan requires.

    Args:
        files: The generated repository.
        expected: The plan's requirements; None (no plan given) skips the check.

    Returns:
        ``passed`` with what was checked, ``failed`` with one high finding per violation,
        or ``skipped`` with the reason.
    """
    if expected is None:
        return ValidatorResult(name=NAME, status="skipped", detail="no plan requirements given")
    found = list(resources(files))
    if not found:
        return ValidatorResult(name=NAME, status="skipped", detail="no terraform resources")
    kinds = {kind for _, kind, _, _ in found}
    findings: list[ValidationFinding] = []
    checked = []
    if expected.private_networking:
        checked.append("private networking")
        findings += _private(found)
        if "aws_vpc" not in kinds:
            findings.append(_finding("POL-NET-PRIVATE", None, "the plan is private: no aws_vpc"))
    if expected.customer_managed_keys:
        checked.append("KMS encryption")
        findings += _encrypted(found)
    if expected.model_monitoring:
        checked.append("model monitoring")
        if "aws_sagemaker_monitoring_schedule" not in kinds:
            findings.append(
                _finding(
                    "POL-MON-001", None, "the plan monitors the model: no Model Monitor schedule"
                )
            )
    if expected.audit_logging:
        checked.append("audit logging")
        trails = [body for _, kind, _, body in found if kind == "aws_cloudtrail"]
        validated = [_text(b.get("enable_log_file_validation")).lower() for b in trails]
        if "true" not in validated:
            findings.append(
                _finding("POL-AUD-001", None, "the plan audits: no CloudTrail with log validation")
            )
    what = ", ".join(checked) or "nothing required by the plan"
    detail = f"{len(found)} resources checked for {what}"
    status = "failed" if findings else "passed"
    return ValidatorResult(name=NAME, status=status, detail=detail, findings=findings)
