"""Where generated code is validated: in a local sandbox, or in AWS by a validator function.

Both implementations share :class:`RepositoryValidator`: ``validate(files, source_key=...)``
returns the report and its renderings (``reports/validation.json``, ``.md``), exactly what
:func:`~agentic_mlops.validation.validate_repository` returns.

* :class:`SandboxValidator` (``AGENTIC_MLOPS_VALIDATOR=local``, the default) runs the
  validators here, in the sandbox, with the tools the settings resolve.
* :class:`LambdaValidator` (``AGENTIC_MLOPS_VALIDATOR=lambda``) hands the content-addressed
  S3 key of the generated sources to the validator function
  (``AGENTIC_MLOPS_VALIDATOR_FUNCTION``): a container image with the validators' tools, in a
  subnet without any route but S3, without secrets, whose role can only read the sources
  and write the reports. The function (:func:`handle_validation_request`) reads the sources,
  runs the same :func:`validate_repository` with the plan's expectations, stores the
  renderings content-addressed under ``reports/`` and answers with the report and their
  keys; the caller reads them back.

Nothing here reads the environment: :func:`agentic_mlops.composition.create_validator`
builds the configured validator from the settings.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from agentic_mlops.domain.delivery import ValidationReport
from agentic_mlops.errors import InvalidInput, PlatformError

if TYPE_CHECKING:
    from agentic_mlops.validation.iac_policy import IacExpectations
    from agentic_mlops.validation.tools import ValidationTools

SOURCES_KIND = "sources"
REPORTS_KIND = "reports"


class ValidationUnavailable(PlatformError):
    """The validator function could not be invoked or did not answer with a report."""

    code = "validation_unavailable"


class RepositoryValidator(Protocol):
    """Validates a generated repository; where it runs is the implementation's business."""

    name: str

    def validate(
        self,
        files: dict[str, str],
        *,
        source_key: str,
        expectations: IacExpectations | None = None,
    ) -> tuple[ValidationReport, dict[str, str]]:
        """Validate ``files`` (also stored as the zip ``source_key``) against what the plan
        requires of its Terraform (``expectations``; None skips that check).

        Returns:
            The report and its renderings ``{"reports/validation.json": ..., ".md": ...}``.
        """
        ...


class SandboxValidator:
    """Runs the validators in this process's sandbox (subprocesses, no network)."""

    name = "sandbox"

    def __init__(self, tools: ValidationTools | None = None, *, timeout_s: float = 120.0) -> None:
        """Validate with ``tools`` (default: the default tools), ``timeout_s`` per command."""
        self.tools = tools
        self.timeout_s = timeout_s

    def validate(
        self,
        files: dict[str, str],
        *,
        source_key: str,
        expectations: IacExpectations | None = None,
    ) -> tuple[ValidationReport, dict[str, str]]:
        """Validate ``files`` here (``source_key`` is not needed locally)."""
        from agentic_mlops.validation.validators import validate_repository

        return validate_repository(
            files, tools=self.tools, timeout_s=self.timeout_s, expectations=expectations
        )


class ValidationRequest(BaseModel):
    """The validator function's event."""

    source_key: str = Field(min_length=1, max_length=512)
    expectations: dict[str, bool] | None = Field(
        default=None, description="What the plan requires of the Terraform (IacExpectations)."
    )


class ValidationAnswer(BaseModel):
    """The validator function's answer: the report and where its renderings are stored."""

    report: ValidationReport
    reports: dict[str, str] = Field(description="Bundle path -> artifact key of the rendering.")


class LambdaValidator:
    """Invokes the validator function with the sources' key and reads back its reports."""

    name = "lambda"

    def __init__(self, function_name: str, artifacts: Any, *, client: Any = None) -> None:
        """Invoke ``function_name``; read the renderings from ``artifacts`` (the S3 store)."""
        self.function_name = function_name
        self.artifacts = artifacts
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 Lambda client (created on first use)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Validation takes minutes: no read timeout retries that would run it twice.
            self._client = boto3.client(
                "lambda", config=Config(read_timeout=900, retries={"max_attempts": 0})
            )
        return self._client

    def validate(
        self,
        files: dict[str, str],
        *,
        source_key: str,
        expectations: IacExpectations | None = None,
    ) -> tuple[ValidationReport, dict[str, str]]:
        """Have the function validate the stored sources ``source_key``.

        Raises:
            ValidationUnavailable: the invocation failed, or the answer is not a report.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        wanted = dataclasses.asdict(expectations) if expectations is not None else None
        payload = ValidationRequest(source_key=source_key, expectations=wanted).model_dump_json()
        try:
            response = self.client.invoke(FunctionName=self.function_name, Payload=payload)
        except (BotoCoreError, ClientError) as exc:
            raise ValidationUnavailable(f"cannot invoke {self.function_name}: {exc}") from exc
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise ValidationUnavailable(f"{self.function_name} failed: {_error_message(body)}")
        try:
            answer = ValidationAnswer.model_validate_json(body)
        except ValidationError as exc:
            raise ValidationUnavailable(
                f"{self.function_name} answered without a validation report: "
                f"{exc.errors()[0]['msg']}"
            ) from exc
        reports = {
            path: self.artifacts.get(key).decode("utf-8") for path, key in answer.reports.items()
        }
        return answer.report, reports


def _error_message(body: bytes) -> str:
    try:
        error = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "no error details"
    if isinstance(error, dict):
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"[:500]
    return "no error details"


def lambda_validator(function_name: str | None, artifacts: Any) -> LambdaValidator:
    """The validator function client (``AGENTIC_MLOPS_VALIDATOR=lambda``).

    Raises:
        InvalidInput: without the function's name, or without the S3 artifact store (the
            function reads the sources from the bucket).
    """
    if not function_name:
        raise InvalidInput("AGENTIC_MLOPS_VALIDATOR=lambda needs AGENTIC_MLOPS_VALIDATOR_FUNCTION")
    if getattr(artifacts, "name", "") != "s3":
        raise InvalidInput(
            "AGENTIC_MLOPS_VALIDATOR=lambda needs the S3 artifact store"
            " (AGENTIC_MLOPS_ARTIFACT_BUCKET): the function reads the sources from the bucket"
        )
    return LambdaValidator(function_name, artifacts)


# the validator function ----------------------------------------------------------------


def handle_validation_request(
    event: Mapping[str, Any], *, store: Any, tools: ValidationTools | None = None
) -> dict[str, Any]:
    """Validate the stored sources named by ``event`` (the validator function's logic).

    Reads the zip ``source_key`` (only ``sources/`` keys are accepted: the function's role
    can read nothing else), runs :func:`validate_repository` on its files with the plan's
    expectations, stores each rendering content-addressed under ``reports/`` and returns
    the report and their keys.

    Args:
        event: ``{"source_key": "sources/sha256/…/….zip", "expectations": {...}}``.
        store: The artifact store (the S3 store, in AWS).
        tools: The validators' programs (in the image: from its settings).

    Raises:
        InvalidInput: a malformed event or a key outside ``sources/``.
    """
    try:
        request = ValidationRequest.model_validate(dict(event))
    except ValidationError as exc:
        raise InvalidInput(f"malformed validation request: {exc.errors()[0]['msg']}") from exc
    if not request.source_key.startswith(f"{SOURCES_KIND}/"):
        raise InvalidInput(f"source_key must name stored sources ({SOURCES_KIND}/…)")
    from agentic_mlops.artifacts.bundle import read_zip
    from agentic_mlops.validation.iac_policy import IacExpectations
    from agentic_mlops.validation.validators import validate_repository

    expectations = None
    if request.expectations is not None:
        known = {f.name for f in dataclasses.fields(IacExpectations)}
        unknown = sorted(set(request.expectations) - known)
        if unknown:
            raise InvalidInput(f"unknown expectations: {', '.join(unknown)}")
        expectations = IacExpectations(**request.expectations)
    archive = read_zip(store.get(request.source_key))
    files = {path: data.decode("utf-8") for path, data in archive.items()}
    report, renderings = validate_repository(files, tools=tools, expectations=expectations)
    keys = {
        path: _store_report(store, text.encode("utf-8"), os.path.splitext(path)[1] or ".txt")
        for path, text in sorted(renderings.items())
    }
    return ValidationAnswer(report=report, reports=keys).model_dump(mode="json")


def _store_report(store: Any, data: bytes, suffix: str) -> str:
    """Store a rendering under its content key; return the key.

    On S3 the object is written without the store's existence check: that HEAD needs read
    and list permissions the validator's role does not have, and rewriting a content-
    addressed key changes nothing.
    """
    from agentic_mlops.artifacts.store import S3ArtifactStore, content_key, content_type
    from agentic_mlops.canonical import sha256_hex

    if not isinstance(store, S3ArtifactStore):
        return store.put(data, kind=REPORTS_KIND, suffix=suffix).key
    digest = sha256_hex(data)
    key = content_key(digest, kind=REPORTS_KIND, suffix=suffix)
    bucket, object_key = store.location(key)
    store.client.put_object(
        Bucket=bucket,
        Key=object_key,
        Body=data,
        ContentType=content_type(key),
        ServerSideEncryption="AES256",
        Metadata={"sha256": digest},
    )
    return key
