"""Validation of a generated repository in the sandbox: validators, isolation, reports."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import string
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import validation_tools

from agentic_mlops.domain.delivery import ValidationReport, ValidatorResult
from agentic_mlops.validation import (
    render_reports,
    run_sandboxed,
    sandbox,
    validate_repository,
    validators,
)
from agentic_mlops.validation.sandbox import NETWORK_DISABLED_MESSAGE, describe_isolation
from agentic_mlops.validation.tools import ValidationTools

DATA = Path(__file__).parent / "data" / "validation"
MISSING = "/nonexistent/agentic-mlops/bin/missing"
TF = "infra/terraform/main.tf"

CLEAN_MODULE = '''"""Feature engineering for the training pipeline."""

from __future__ import annotations


def scale(values: list[float]) -> list[float]:
    """Scale values to the range 0..1."""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return [(v - low) / span for v in values]
'''

CLEAN_TEST = """from pipeline.features import scale


def test_scale_maps_to_unit_range() -> None:
    assert scale([2.0, 4.0, 6.0]) == [0.0, 0.5, 1.0]
"""

UNENCRYPTED_TF = """resource "aws_s3_bucket" "raw" {
  bucket = "raw-events"
}
"""

PROVIDERLESS_TF = """variable "name" {
  type = string
}

output "greeting" {
  value = "hello ${var.missing}"
}
"""


def clean_files() -> dict[str, str]:
    """Return a small repository that every validator accepts."""
    return {
        TF: (DATA / "clean_main.tf").read_text(encoding="utf-8"),
        "src/pipeline/__init__.py": "",
        "src/pipeline/features.py": CLEAN_MODULE,
        "tests/test_features.py": CLEAN_TEST,
    }


def fake_secret_key() -> str:
    """Return a 40-character AWS-secret-key-like string made at run time (never committed)."""
    rng = random.Random(20240601)
    return "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))


def result(report: ValidationReport, name: str) -> ValidatorResult:
    """Return the named validator's result."""
    return next(r for r in report.validators if r.name == name)


def installed_checkov() -> str:
    """Return checkov found by the default lookup, or skip the test."""
    found = validators.find_checkov(None)
    if found is None:
        pytest.skip("checkov not installed: scripts/bootstrap installs it")
    return found


@pytest.fixture(scope="module")
def clean_run() -> tuple[ValidationReport, dict[str, str]]:
    """The clean repository validated once with the default tool lookup."""
    return validate_repository(clean_files())


# --- the clean repository -----------------------------------------------------------------


def test_clean_repository_passes(clean_run: tuple[ValidationReport, dict[str, str]]) -> None:
    # Given a clean repository (encrypted bucket, clean module, passing test)
    # When it is validated
    report, reports = clean_run
    # Then it passes with no high finding, and every validator ran or said why not
    assert report.passed, reports["reports/validation.md"]
    assert report.counts["high"] == 0 and report.counts["critical"] == 0
    assert [r.name for r in report.validators] == [
        "terraform-parse",
        "terraform-fmt",
        "terraform-validate",
        "iac-policy",
        "checkov",
        "lint",
        "secrets",
        "tests",
        "pipeline",
    ]
    for name in ("lint", "terraform-parse", "secrets"):
        assert result(report, name).status == "passed", result(report, name)
    tests = result(report, "tests")
    if ValidationTools.defaults().python is None:
        assert tests.status == "skipped" and "validators' tools" in tests.detail
    else:
        assert (tests.status, tests.detail) == ("passed", "1 passed")
    # a repository without a pipeline or a plan: skipped, with the reason, never passed
    assert result(report, "pipeline").status == "skipped"
    assert result(report, "iac-policy").detail == "no plan requirements given"
    assert report.outcome == "passed_with_skips"
    assert {s.validator for s in report.skips} >= {"pipeline", "iac-policy"}
    assert result(report, "terraform-validate").status in {"passed", "skipped"}
    assert report.isolation == describe_isolation()


def test_clean_repository_passes_checkov_with_inline_skips_as_info(
    clean_run: tuple[ValidationReport, dict[str, str]],
) -> None:
    installed_checkov()
    # Given the clean repository, whose bucket skips three checks inline with a reason
    report, _ = clean_run
    checkov = result(report, "checkov")
    # Then checkov passed and reports the skips as info findings with their reasons
    assert checkov.status == "passed", checkov
    skips = {f.rule: f for f in checkov.findings}
    assert set(skips) >= {"CKV_AWS_18", "CKV_AWS_144", "CKV2_AWS_62"}
    assert all(f.severity == "info" for f in checkov.findings)
    assert "replication is not required" in skips["CKV_AWS_144"].message
    assert skips["CKV_AWS_144"].file == TF and skips["CKV_AWS_144"].line


# --- findings that fail the report --------------------------------------------------------


def test_planted_secret_is_a_high_finding_without_its_value() -> None:
    # Given a Python file with an AWS secret key literal and a private key file
    secret = fake_secret_key()
    key_body = "MIIEow" + fake_secret_key().replace("/", "A")
    files = {
        "src/settings.py": f'aws_secret_access_key = "{secret}"\n',
        "deploy/id_rsa": (
            "-----BEGIN RSA PRIVATE KEY-----\n" + key_body + "\n-----END RSA PRIVATE KEY-----\n"
        ),
    }
    # When the repository is validated
    report, reports = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then the secrets validator has high findings with file, line and type, but no value
    secrets = result(report, "secrets")
    assert secrets.status == "failed"
    located = {(f.file, f.line, f.rule) for f in secrets.findings}
    assert ("src/settings.py", 1, "AWS Access Key") in located
    assert ("deploy/id_rsa", 1, "Private Key") in located
    assert {f.severity for f in secrets.findings} == {"high"}
    assert not report.passed
    for text in [*reports.values(), report.model_dump_json()]:
        assert secret not in text
        assert key_body not in text


def test_unencrypted_bucket_is_a_high_checkov_finding() -> None:
    installed_checkov()
    # Given a bucket without encryption, versioning or public access block
    files = {TF: UNENCRYPTED_TF}
    # When it is validated with checkov from the default lookup
    report, _ = validate_repository(files, terraform=MISSING)
    # Then checkov fails with CKV_AWS_145 (no SSE-KMS) as high and the report fails
    checkov = result(report, "checkov")
    assert checkov.status == "failed"
    by_rule = {f.rule: f for f in checkov.findings}
    assert by_rule["CKV_AWS_145"].severity == "high"
    assert by_rule["CKV_AWS_145"].file == TF and by_rule["CKV_AWS_145"].line == 1
    assert by_rule["CKV2_AWS_6"].severity == "high"  # no public access block
    assert by_rule["CKV_AWS_18"].severity == "low"  # access logging
    assert "aws_s3_bucket.raw" in by_rule["CKV_AWS_145"].message
    assert not report.passed


def test_terraform_syntax_error_is_a_high_parse_finding() -> None:
    # Given a .tf file with a missing closing brace
    files = {TF: 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n'}
    # When it is validated
    report, _ = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then terraform-parse reports a high finding with the file and line
    parse = result(report, "terraform-parse")
    assert parse.status == "failed"
    [finding] = parse.findings
    assert (finding.severity, finding.file, finding.line) == ("high", TF, 3)
    assert "HCL syntax error" in finding.message
    assert not report.passed


def test_unused_import_is_a_high_ruff_finding() -> None:
    # Given a module that imports os without using it
    files = {"src/app.py": "import os\n\nVALUE = 1\n"}
    # When it is validated
    report, _ = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then ruff reports F401 as high at that line and the report fails
    ruff = result(report, "lint")
    assert ruff.status == "failed"
    assert [(f.rule, f.severity, f.file, f.line) for f in ruff.findings] == [
        ("F401", "high", "src/app.py", 1)
    ]
    assert not report.passed


def test_failing_generated_test_is_a_high_finding_with_the_summary() -> None:
    # Given a generated test that fails
    files = {"tests/test_math.py": "def test_add() -> None:\n    assert 1 + 1 == 3\n"}
    # When it is validated
    report, _ = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then tests fail with a high finding carrying pytest's summary without timing
    tests = result(report, "tests")
    assert tests.status == "failed"
    [finding] = tests.findings
    assert finding.severity == "high"
    assert finding.message == "generated tests failed: 1 failed"
    assert "tests/test_math.py::test_add" in tests.detail


# --- missing tools are skipped, never passed ----------------------------------------------


def test_missing_terraform_is_skipped_not_passed() -> None:
    # Given Terraform and a terraform binary that does not exist
    files = {TF: UNENCRYPTED_TF}
    # When it is validated
    report, _ = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then terraform-validate is skipped, with the reason
    validate = result(report, "terraform-validate")
    assert validate.status == "skipped"
    assert validate.detail == "terraform binary not found"


def test_missing_checkov_is_skipped_not_passed() -> None:
    # Given a checkov path that does not exist (no fallback to the default lookup)
    # When the clean Terraform is validated
    report, _ = validate_repository({TF: UNENCRYPTED_TF}, checkov=MISSING, terraform=MISSING)
    # Then checkov is skipped with a clear detail
    checkov = result(report, "checkov")
    assert checkov.status == "skipped"
    assert "checkov not found" in checkov.detail


def test_checkov_lookup_order(tmp_path: Path) -> None:
    # Given an executable named by AGENTIC_MLOPS_CHECKOV and an empty platform home
    fake = tmp_path / "checkov"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    home = tmp_path / "home"
    named = validation_tools(AGENTIC_MLOPS_HOME=str(home), AGENTIC_MLOPS_CHECKOV=str(fake))
    # Then the setting wins, and an explicit missing path is not replaced
    assert validators.find_checkov(None, named) == str(fake)
    assert validators.find_checkov(MISSING, named) is None
    # And without it the platform home is looked up
    installed = home / "tools" / "checkov" / "bin"
    installed.mkdir(parents=True)
    shutil.copy2(fake, installed / "checkov")
    unnamed = validation_tools(AGENTIC_MLOPS_HOME=str(home), AGENTIC_MLOPS_CHECKOV="")
    assert validators.find_checkov(None, unnamed) == str(installed / "checkov")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")
def test_terraform_validate_runs_offline_in_the_sandbox() -> None:
    # Given a provider-less configuration that references an undeclared variable
    files = {TF: PROVIDERLESS_TF}
    # When it is validated with terraform from PATH
    report, _ = validate_repository(files, checkov=MISSING)
    # Then terraform validate reports the error as high, at the file and line
    validate = result(report, "terraform-validate")
    assert validate.status == "failed", validate
    [finding] = validate.findings
    assert (finding.severity, finding.file, finding.line) == ("high", TF, 6)
    assert finding.rule == "Reference to undeclared input variable"


# --- the sandbox --------------------------------------------------------------------------


def test_generated_tests_do_not_see_the_parent_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given secrets in the parent's environment
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-secret-value")
    monkeypatch.setenv("GITHUB_TOKEN", "parent-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:pw@db/prod")
    probe = textwrap.dedent(
        """\
        import os


        def test_environment_is_clean() -> None:
            assert os.environ.get("AWS_SECRET_ACCESS_KEY") is None
            assert os.environ.get("GITHUB_TOKEN") is None
            assert os.environ.get("DATABASE_URL") is None
            assert os.environ["LANG"] == "C.UTF-8"
        """
    )
    # When a generated test reads them in the sandbox
    report, _ = validate_repository(
        {"tests/test_env.py": probe}, checkov=MISSING, terraform=MISSING
    )
    # Then it sees none of them
    assert result(report, "tests").status == "passed", result(report, "tests")


def test_sandbox_environment_is_minimal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given secrets in the parent's environment
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPARENT")
    monkeypatch.setenv("SOME_SECRET", "x")
    # When a program prints its environment in the sandbox, with one explicit key
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    run = run_sandboxed(
        [sys.executable, "-c", code], tmp_path, timeout_s=30, env={"EXPLICIT": "yes"}
    )
    env = json.loads(run.stdout)
    # Then only the allowed keys are there, with a throwaway home outside the repository
    assert set(env) <= {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPATH",
        "EXPLICIT",
        "NO_PROXY",
        "no_proxy",
        "TMPDIR",
        "TMP",
        "TEMP",
        *(k for p in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY") for k in (p, p.lower())),
    }
    assert env["EXPLICIT"] == "yes" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] != os.environ.get("HOME") and not Path(env["HOME"]).exists()
    # and a throwaway temporary directory of its own, gone afterwards
    assert env["TMPDIR"] == env["TMP"] == env["TEMP"] and not Path(env["TMPDIR"]).exists()
    assert Path(env["TMPDIR"]).parent == Path(env["HOME"]).parent
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:") and env["NO_PROXY"] == ""


def test_sandboxed_commands_keep_their_temporary_files_to_themselves(tmp_path: Path) -> None:
    # Given the host's temporary directory
    host_tmp = Path(tempfile.gettempdir()).resolve()
    # When a sandboxed program asks where temporary files go
    code = "import tempfile; print(tempfile.gettempdir())"
    run = run_sandboxed([sys.executable, "-c", code], tmp_path, timeout_s=30)
    # Then it is the sandbox's own folder, not the host's: a generated test suite's pytest
    # prunes old pytest-of-USER/pytest-N folders in its temporary directory, which on the
    # host would delete other sessions' files (a running database's data directory too)
    sandbox_tmp = Path(run.stdout.strip())
    assert run.returncode == 0, run.stderr
    assert sandbox_tmp != host_tmp and sandbox_tmp.parent.name.startswith("agentic-mlops-sandbox-")
    assert not sandbox_tmp.exists()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on 127.0.0.1 that the sandbox must not reach."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(1.0)
    yield server
    server.close()


def assert_no_connection(server: socket.socket) -> None:
    """Assert that nothing connected to ``server`` (bounded wait)."""
    with pytest.raises(TimeoutError):
        connection, _ = server.accept()
        connection.close()


def connect_probe(port: int) -> str:
    """Return a generated test that must fail to connect to ``port``."""
    return textwrap.dedent(
        f"""\
        import socket

        import pytest


        def test_no_network() -> None:
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
            sock = socket.socket()
            with pytest.raises(OSError):
                sock.connect(("127.0.0.1", {port}))
        """
    )


def test_generated_tests_cannot_connect(listener: socket.socket) -> None:
    # Given a server the test itself listens on at 127.0.0.1
    port = listener.getsockname()[1]
    # When a generated test tries to connect to it
    files = {"tests/test_net.py": connect_probe(port)}
    report, _ = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then the connection fails inside the sandbox and the server receives nothing
    assert result(report, "tests").status == "passed", result(report, "tests")
    assert_no_connection(listener)


def test_python_guard_blocks_without_a_network_namespace(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no network namespace (as in AWS Lambda): only the Python guard is left
    monkeypatch.setattr(sandbox, "netns_prefix", lambda: ())
    assert describe_isolation() == "python-guard+clean-env"
    port = listener.getsockname()[1]
    attempts = [
        f"socket.create_connection(('127.0.0.1', {port}), timeout=2)",
        f"socket.socket().connect(('127.0.0.1', {port}))",
        f"socket.socket().connect_ex(('127.0.0.1', {port}))",
        "socket.getaddrinfo('localhost', 80)",
    ]
    for attempt in attempts:
        # When a Python program connects or resolves a name
        run = run_sandboxed(
            [sys.executable, "-c", f"import socket; {attempt}"], tmp_path, timeout_s=30
        )
        # Then it gets the guard's error
        assert run.returncode != 0, attempt
        assert NETWORK_DISABLED_MESSAGE in run.stderr, attempt
    # And the server receives nothing
    assert_no_connection(listener)


def test_network_namespace_blocks_non_python_programs(
    listener: socket.socket, tmp_path: Path
) -> None:
    if not sandbox.netns_prefix():
        pytest.skip("unshare --net is not available here")
    # Given the network namespace layer
    assert describe_isolation() == "netns+python-guard+clean-env"
    port = listener.getsockname()[1]
    # When bash (no Python guard) connects to the server
    argv = ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"]
    run = run_sandboxed(argv, tmp_path, timeout_s=30)
    # Then the connection fails and the server receives nothing
    assert run.returncode != 0 and "connected" not in run.stdout
    assert_no_connection(listener)


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    # Given a command that starts a background child and then sleeps
    script = "sleep 60 & echo $! > child.pid; sleep 60"
    # When it runs with a one-second limit
    started = time.monotonic()
    run = run_sandboxed(["bash", "-c", script], tmp_path, timeout_s=1.0)
    # Then it is reported as timed out quickly, and the background child is gone too
    assert run.timed_out
    assert time.monotonic() - started < 10
    child = int((tmp_path / "child.pid").read_text().strip())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_generated_tests_that_hang_are_killed() -> None:
    # Given a generated test that sleeps longer than the limit
    files = {
        "tests/test_slow.py": "import time\n\n\ndef test_slow() -> None:\n    time.sleep(60)\n"
    }
    # When it is validated with a short limit
    started = time.monotonic()
    report, _ = validate_repository(files, timeout_s=3.0, checkov=MISSING, terraform=MISSING)
    # Then the tests validator reports a high timeout finding, promptly
    assert time.monotonic() - started < 30
    [finding] = result(report, "tests").findings
    assert finding.severity == "high" and "timed out" in finding.message


# --- reports ------------------------------------------------------------------------------


def test_reports_are_deterministic() -> None:
    # Given a repository with findings in several validators
    files = {
        "src/b.py": "import sys\nimport os\n",
        "src/a.py": "import json\n",
        TF: 'resource "x" "y" {\n',
        "tests/test_ok.py": "def test_ok() -> None:\n    assert True\n",
    }
    # When it is validated twice
    first_report, first = validate_repository(files, checkov=MISSING, terraform=MISSING)
    second_report, second = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then the rendered reports are identical and free of durations and temporary paths
    assert first == second
    assert set(first) == {"reports/validation.json", "reports/validation.md"}
    for text in first.values():
        assert "duration" not in text and "agentic-mlops-" not in text and "/tmp" not in text
    assert first_report.validators[0].duration_ms > 0
    data = json.loads(first["reports/validation.json"])
    ruff = [f for v in data["validators"] if v["name"] == "lint" for f in v["findings"]]
    assert [(f["file"], f["line"]) for f in ruff] == sorted((f["file"], f["line"]) for f in ruff)
    assert data["counts"]["high"] == first_report.counts["high"] >= 4
    assert render_reports(second_report) == second


def test_markdown_report_lists_each_validator() -> None:
    # Given a failing repository
    report, reports = validate_repository(
        {"src/app.py": "import os\n"}, checkov=MISSING, terraform=MISSING
    )
    markdown = reports["reports/validation.md"]
    # Then the summary says FAILED and has a section and a findings table per validator
    assert "**Result:** FAILED" in markdown
    for validator in report.validators:
        assert f"## {validator.name}: {validator.status}" in markdown
    assert "| high | F401 | src/app.py | 1 |" in markdown


# --- the fork check and the severity map --------------------------------------------------


def test_original_distributions_are_loaded_not_checkovs_forks() -> None:
    # When the validators report which distributions provide hcl2 and detect_secrets
    # Then they are the originals, so no validator is in error because of a fork
    assert validators.loaded_distributions() == {
        "hcl2": "python-hcl2",
        "detect_secrets": "detect-secrets",
    }
    assert validators.fork_problems() == {}


def test_a_loaded_fork_makes_the_parsers_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a (simulated) fork of python-hcl2 and detect-secrets in the process
    forks = {"hcl2": "hcl2 comes from 'bc-python-hcl2'", "detect_secrets": "fork"}
    monkeypatch.setattr(validators, "fork_problems", lambda: forks)
    # When a repository is validated
    report, _ = validate_repository(
        {TF: UNENCRYPTED_TF, "a.py": "X = 1\n"}, checkov=MISSING, terraform=MISSING
    )
    # Then those validators are in error and the report fails
    assert result(report, "terraform-parse").status == "error"
    assert result(report, "secrets").status == "error"
    assert not report.passed


def test_checkov_severity_map() -> None:
    # Given the shipped severity map (loading it rejects duplicate ids)
    mapping, default = validators.checkov_severities()
    # Then the main security checks are high, hygiene checks low, unknown ids medium
    for check in ("CKV_AWS_19", "CKV_AWS_145", "CKV2_AWS_6", "CKV_AWS_7", "CKV_AWS_24"):
        assert mapping[check] == "high", check
    for check in ("CKV_AWS_22", "CKV_AWS_122", "CKV_AWS_158", "CKV_AWS_43", "CKV_AWS_26"):
        assert mapping[check] == "high", check
    assert mapping["CKV_AWS_41"] == "critical"
    assert mapping["CKV_AWS_51"] == mapping["CKV_AWS_163"] == "medium"
    assert mapping["CKV_AWS_18"] == mapping["CKV_AWS_144"] == "low"
    assert default == "medium"
    assert validators.checkov_severity("CKV_AWS_99999") == "medium"
    assert validators.checkov_severity("CKV_AWS_99999", "LOW") == "low"
    assert set(mapping.values()) <= {"info", "low", "medium", "high", "critical"}


def test_checkov_output_is_parsed_in_all_its_shapes() -> None:
    # Given checkov's shapes: one report, a list of reports, the "no resources" summary
    one = {"check_type": "terraform", "results": {"failed_checks": []}, "summary": {}}
    summary_only = {"passed": 0, "failed": 0, "skipped": 0, "resource_count": 0}
    # Then each is read as a list of dicts, and garbage is refused
    assert validators.parse_checkov_output(json.dumps(one)) == [one]
    assert validators.parse_checkov_output(json.dumps([one, one, "x"])) == [one, one]
    assert validators.parse_checkov_output(json.dumps(summary_only)) == [summary_only]
    assert validators.parse_checkov_output("warning\n" + json.dumps(one)) == [one]
    assert validators.parse_checkov_output("not json") is None


# --- outcomes: passed, passed with skips, failed ------------------------------------------


def test_missing_validator_tools_are_skips_with_reasons_not_failures(tmp_path: Path) -> None:
    # Given validator tools that are not installed (a fresh machine)
    missing = ValidationTools(
        tools_dir=tmp_path / "none", checkov=None, terraform=None, tf_plugin_dir=None
    )
    files = {"tests/test_ok.py": "def test_ok() -> None:\n    assert True\n"}
    # When a repository with tests is validated
    report, reports = validate_repository(files, tools=missing)
    # Then the tests are skipped with the reason, and the bundle passed with skips
    assert report.outcome == "passed_with_skips" and report.passed
    reasons = {skip.validator: skip.reason for skip in report.skips}
    assert "scripts/bootstrap" in reasons["tests"]
    assert report.verdict().startswith("passed with skips (")
    assert "PASSED WITH SKIPS" in reports["reports/validation.md"]
    assert reasons["tests"] in reports["reports/validation.md"]
    assert json.loads(reports["reports/validation.json"])["outcome"] == "passed_with_skips"


def test_any_lint_finding_fails_the_bundle_as_the_repositorys_ci_would() -> None:
    # Given a test file with a line longer than the repository's configured limit
    files = {
        "pyproject.toml": "[tool.ruff]\nline-length = 100\n"
        + '[tool.ruff.lint]\nselect = ["E", "F"]\n',
        "tests/test_long.py": f"VALUE = {'1' * 120}\n",
    }
    # When it is validated
    report, _ = validate_repository(files, checkov=MISSING, terraform=MISSING)
    # Then the low-severity E501 still fails lint and the bundle
    lint = result(report, "lint")
    assert lint.status == "failed" and [f.rule for f in lint.findings] == ["E501"]
    assert report.outcome == "failed" and not report.passed
    assert report.verdict() == "FAILED (lint)"
