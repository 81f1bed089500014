"""The validation service: one interface, the sandbox and the Lambda implementations.

The Lambda implementation is exercised end to end in-process: moto S3 holds the sources,
a Lambda client stand-in hands the payload to the validator function's own handler
(functions/validator/app.py) and returns its answer the way Lambda does.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agentic_mlops.artifacts.bundle import build_zip
from agentic_mlops.artifacts.store import LocalArtifactStore, S3ArtifactStore
from agentic_mlops.composition import container, create_validator
from agentic_mlops.domain.delivery import ValidationReport, ValidatorResult
from agentic_mlops.errors import InvalidInput
from agentic_mlops.validation.iac_policy import IacExpectations
from agentic_mlops.validation.remote import (
    LambdaValidator,
    SandboxValidator,
    ValidationUnavailable,
    handle_validation_request,
)
from agentic_mlops.validation.reports import build_report, render_reports

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "artifacts-test"
FILES = {"README.md": "# demo\n", "src/app.py": "print('hello')\n"}


SEEN: list[dict[str, Any]] = []


def fake_validate(files: dict[str, str], **kwargs: Any) -> tuple[ValidationReport, dict[str, str]]:
    """A validation that records what it saw (the real one is covered by its own tests)."""
    SEEN.append(kwargs)
    result = ValidatorResult(name="seen", status="passed", detail=",".join(sorted(files)))
    report = build_report([result], "test")
    return report, render_reports(report)


def load_handler() -> Any:
    path = ROOT / "functions" / "validator" / "app.py"
    spec = importlib.util.spec_from_file_location("validator_app", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.handler


class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name = "validator-fn"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:validator-fn"
    aws_request_id = "req-1"


class InProcessLambda:
    """Answers ``invoke`` by running the validator handler here, like Lambda would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.handler = load_handler()
        self.calls: list[dict[str, Any]] = []
        monkeypatch.setattr(
            "agentic_mlops.validation.validators.validate_repository", fake_validate
        )

    def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:
        event = json.loads(Payload)
        self.calls.append({"function": FunctionName, "event": event})
        try:
            body = self.handler(event, LambdaContext())
        except Exception as exc:  # Lambda reports a handler error as FunctionError
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(error).encode())}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}


@pytest.fixture(autouse=True)
def fresh_container() -> Any:
    """The function reads its settings once per container: each test starts a new one."""
    container.reset()
    SEEN.clear()
    yield
    container.reset()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AGENTIC_MLOPS_ARTIFACT_BUCKET", BUCKET)
    monkeypatch.delenv("AGENTIC_MLOPS_ARTIFACT_PREFIX", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_the_lambda_validator_validates_the_stored_sources_in_the_function(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given sources stored content-addressed in S3 and the validator function in-process
    store = S3ArtifactStore(BUCKET, client=s3)
    stored = store.put(build_zip(FILES), kind="sources")
    function = InProcessLambda(monkeypatch)
    validator = LambdaValidator("validator-fn", store, client=function)

    # When the node's validator validates them
    report, reports = validator.validate(FILES, source_key=stored.key)

    # Then the function got only the key, read the sources itself, wrote the renderings
    # under reports/ and the caller read them back: the same result as a local run
    assert function.calls == [
        {"function": "validator-fn", "event": {"source_key": stored.key, "expectations": None}}
    ]
    assert report.validators[0].detail == "README.md,src/app.py"
    expected_report, expected_reports = fake_validate(FILES)
    assert report == expected_report and reports == expected_reports
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(k.split("/")[0] for k in keys) == ["reports", "reports", "sources"]
    head = s3.head_object(Bucket=BUCKET, Key=next(k for k in keys if k.endswith(".json")))
    assert head["ServerSideEncryption"] == "AES256"


def test_the_plans_expectations_reach_the_function(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3ArtifactStore(BUCKET, client=s3)
    stored = store.put(build_zip(FILES), kind="sources")
    validator = LambdaValidator("validator-fn", store, client=InProcessLambda(monkeypatch))
    wanted = IacExpectations(private_networking=True, audit_logging=True)
    validator.validate(FILES, source_key=stored.key, expectations=wanted)
    assert [seen["expectations"] for seen in SEEN] == [wanted]


def test_a_failing_function_is_a_clear_error(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = S3ArtifactStore(BUCKET, client=s3)
    validator = LambdaValidator("validator-fn", store, client=InProcessLambda(monkeypatch))
    missing = "sources/sha256/00/" + "0" * 64 + ".zip"
    with pytest.raises(ValidationUnavailable, match="validator-fn failed: NotFound"):
        validator.validate(FILES, source_key=missing)


def test_the_function_refuses_keys_outside_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agentic_mlops.validation.validators.validate_repository", fake_validate)
    store = LocalArtifactStore(tmp_path)
    stored = store.put(b"not sources", kind="bundles")
    with pytest.raises(InvalidInput, match="source_key must name stored sources"):
        handle_validation_request({"source_key": stored.key}, store=store)
    with pytest.raises(InvalidInput, match="malformed validation request"):
        handle_validation_request({}, store=store)
    sources = store.put(build_zip(FILES), kind="sources").key
    with pytest.raises(InvalidInput, match="unknown expectations: gpu"):
        handle_validation_request(
            {"source_key": sources, "expectations": {"gpu": True}}, store=store
        )
    assert SEEN == []


def test_both_implementations_give_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agentic_mlops.validation.validators.validate_repository", fake_validate)
    store = LocalArtifactStore(tmp_path)
    key = store.put(build_zip(FILES), kind="sources").key
    local = SandboxValidator().validate(FILES, source_key=key)
    answer = handle_validation_request({"source_key": key}, store=store)
    remote = (
        ValidationReport.model_validate(answer["report"]),
        {path: store.get(k).decode() for path, k in answer["reports"].items()},
    )
    assert local == remote


def test_the_setting_chooses_the_implementation(tmp_path: Path) -> None:
    from harness import settings_with

    local = LocalArtifactStore(tmp_path)
    assert isinstance(
        create_validator(settings_with(AGENTIC_MLOPS_VALIDATOR=""), local), SandboxValidator
    )
    assert isinstance(
        create_validator(settings_with(AGENTIC_MLOPS_VALIDATOR="local"), local), SandboxValidator
    )
    s3_store = S3ArtifactStore(BUCKET)
    chosen = create_validator(
        settings_with(AGENTIC_MLOPS_VALIDATOR="lambda", AGENTIC_MLOPS_VALIDATOR_FUNCTION="fn"),
        s3_store,
    )
    assert isinstance(chosen, LambdaValidator) and chosen.function_name == "fn"
    with pytest.raises(InvalidInput, match="needs AGENTIC_MLOPS_VALIDATOR_FUNCTION"):
        create_validator(settings_with(AGENTIC_MLOPS_VALIDATOR="lambda"), s3_store)
    with pytest.raises(InvalidInput, match="needs the S3 artifact store"):
        create_validator(
            settings_with(AGENTIC_MLOPS_VALIDATOR="lambda", AGENTIC_MLOPS_VALIDATOR_FUNCTION="fn"),
            local,
        )
    with pytest.raises(InvalidInput, match="AGENTIC_MLOPS_VALIDATOR"):
        settings_with(AGENTIC_MLOPS_VALIDATOR="docker")
