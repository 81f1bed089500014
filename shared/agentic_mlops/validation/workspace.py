"""What the validators share: the repository on disk, result helpers, and the run of the
repository's own tests (used alone, or in one process with the pipeline upsert by
:mod:`agentic_mlops.validation.pipeline`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agentic_mlops.domain.delivery import ValidationFinding, ValidatorResult
from agentic_mlops.validation.sandbox import SandboxResult, run_sandboxed
from agentic_mlops.validation.tools import ValidationTools

MAX_MESSAGE = 300
"""The longest finding message kept."""


@dataclass
class Workspace:
    """The generated repository on disk and what the validators share."""

    files: dict[str, str]
    root: Path
    scratch: Path
    timeout_s: float
    tools: ValidationTools = field(default_factory=ValidationTools.defaults)
    secret_values: set[str] = field(default_factory=set)

    def python_env(self) -> dict[str, str]:
        """Return the environment of the Python tools: no instance-metadata lookups.

        (The SageMaker SDK's telemetry call fails at once on the sandbox's blocked DNS; a
        ``TelemetryOptOut`` config file would cost seconds: the SDK re-validates it against
        its JSON schema on every lookup.)
        """
        return {"SAGEMAKER_SUPPRESS_V2_WARNING": "1", "AWS_EC2_METADATA_DISABLED": "true"}

    def has(self, prefix: str) -> bool:
        """Return whether any file lives under the folder ``prefix``."""
        return any(p.startswith(prefix.rstrip("/") + "/") for p in self.files)

    def relative(self, path: str) -> str:
        """Return ``path`` (absolute, or relative to the root) as a POSIX repository path."""
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                candidate = candidate.resolve().relative_to(self.root.resolve())
            except ValueError:
                return path
        return candidate.as_posix().removeprefix("./")


def tail(text: str, limit: int = MAX_MESSAGE) -> str:
    """Return the last ``limit`` characters of ``text``, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "..." + flat[-limit:]


def sandbox_failure(name: str, what: str, run: SandboxResult) -> ValidatorResult:
    """Return the ``error`` result of a program that timed out or could not report."""
    if run.timed_out:
        return ValidatorResult(name=name, status="error", detail=f"{what} timed out")
    output = run.stderr or run.stdout
    detail = f"{what} exited with {run.returncode}: {tail(output)}"
    return ValidatorResult(name=name, status="error", detail=detail)


# the repository's own tests -------------------------------------------------------------

_PYTEST_TIME = re.compile(r"\s+in\s+[0-9.]+s(\s*\([^)]*\))?\s*$")
_PYTEST_WARNINGS = re.compile(r",?\s*\d+ warnings?\b")
_PYTEST_SUMMARY = re.compile(r"\b\d+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")


def run_tests(ws: Workspace) -> ValidatorResult:
    """Run the generated tests as the repository's CI does (``python -m pytest -q``).

    pytest comes from the validators' tools (with the SageMaker SDK and moto the generated
    tests use to build the pipeline definition); without them the tests are skipped, with
    the reason.
    """
    if not ws.has("tests"):
        return ValidatorResult(name="tests", status="skipped", detail="no tests/ folder")
    python = ws.tools.python
    if python is None:
        detail = ws.tools.missing_tools_reason("pytest")
        return ValidatorResult(name="tests", status="skipped", detail=detail)
    argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    env = ws.python_env()
    if ws.has("src"):
        env["PYTHONPATH"] = str(ws.root / "src")
    run = run_sandboxed(argv, ws.root, timeout_s=ws.timeout_s, env=env)
    return tests_result(ws, run, python)


def tests_result(ws: Workspace, run: SandboxResult, python: str) -> ValidatorResult:
    """Return the ``tests`` result of a pytest run (its exit code and output)."""
    summary = pytest_summary(run.stdout)
    if "No module named pytest" in run.stderr:
        detail = ws.tools.missing_tools_reason(f"pytest is not installed for {python}")
        return ValidatorResult(name="tests", status="skipped", detail=detail)
    if run.timed_out:
        return _tests_failed(f"generated tests timed out after {ws.timeout_s:g}s", run)
    if run.returncode == 0:
        return ValidatorResult(name="tests", status="passed", detail=summary)
    if run.returncode == 5:
        return ValidatorResult(name="tests", status="skipped", detail="no tests collected")
    if run.returncode in (1, 2):
        return _tests_failed(f"generated tests failed: {summary}", run)
    return sandbox_failure("tests", "pytest", run)


def pytest_summary(stdout: str) -> str:
    """Return pytest's closing counts, e.g. ``1 failed, 2 passed``.

    The timing and the warnings count are left out: they vary between runs of the same
    tests (warnings depend on the libraries' import order), and the report must not.
    """
    for line in reversed(stdout.splitlines()):
        text = line.strip().strip("=").strip()
        if _PYTEST_SUMMARY.search(text):
            return _PYTEST_WARNINGS.sub("", _PYTEST_TIME.sub("", text)).strip(", ")
    return "no summary line"


def _tests_failed(message: str, run: SandboxResult) -> ValidatorResult:
    """Return the failed result with one high finding and the failing test ids."""
    failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", run.stdout, flags=re.MULTILINE)
    detail = "failing: " + ", ".join(sorted(set(failing))[:20]) if failing else ""
    finding = ValidationFinding(
        validator="tests", rule="tests-failed", severity="high", file="tests", message=message
    )
    return ValidatorResult(name="tests", status="failed", detail=detail, findings=[finding])
