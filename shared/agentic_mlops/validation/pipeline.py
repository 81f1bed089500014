"""The ``pipeline`` validator: the deploy workflow's pipeline upsert, against a moto server.

It runs, with the validators' own Python (the SageMaker SDK, boto3, moto), the driver
``drivers/deploy_pipeline.py`` in a copy of the repository. The driver starts a moto
server on the sandbox's loopback, creates what ``terraform apply`` would have created
(the buckets of the repository's example outputs, ``tests/infra_outputs.py``), and runs every
``python -m pipelines.pipeline ... --upsert`` command of ``.github/workflows/deploy.yml``
as written there: the real SDK builds each environment's pipeline definition and upserts
it. The validator then reports the pipelines and steps moto holds. Nothing here imports
the SDK: the platform's runtime never does.
"""

from __future__ import annotations

import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_mlops.domain.delivery import ValidationFinding, ValidatorResult
from agentic_mlops.validation.sandbox import SandboxResult, run_sandboxed

if TYPE_CHECKING:
    from agentic_mlops.validation.workspace import Workspace

NAME = "pipeline"
DEPLOY_WORKFLOW = ".github/workflows/deploy.yml"
_TAIL = 600


def driver_path() -> Path:
    """Return the driver script (a file of this package, run by the validators' Python)."""
    return Path(str(resources.files(__package__) / "drivers" / "deploy_pipeline.py"))


def _skip(detail: str) -> ValidatorResult:
    return ValidatorResult(name=NAME, status="skipped", detail=detail)


def _tail(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _TAIL else "..." + flat[-_TAIL:]


def run_tests_and_pipeline(ws: Workspace) -> list[ValidatorResult]:
    """Run the generated tests, then the deploy workflow's pipeline upsert, in one process.

    Both need the SageMaker SDK (the tests build the pipeline definition too), which takes
    seconds to import: one process of the validators' Python imports it once. Without a
    pipeline to upsert, the tests run on their own.

    Args:
        ws: The validation workspace.

    Returns:
        The ``tests`` and ``pipeline`` results.
    """
    from agentic_mlops.validation.workspace import run_tests, tests_result

    started = time.perf_counter()
    reason = _pipeline_skip_reason(ws)
    if reason is not None:
        tests = run_tests(ws)
        tests.duration_ms = (time.perf_counter() - started) * 1000.0
        return [tests, _skip(reason)]
    with_tests = ws.has("tests")
    pipeline, report = run_pipeline(ws, with_tests=with_tests)
    total_ms = (time.perf_counter() - started) * 1000.0
    if not with_tests:
        tests = ValidatorResult(name="tests", status="skipped", detail="no tests/ folder")
    elif report is None or "tests" not in report:
        tests = ValidatorResult(name="tests", status="error", detail=pipeline.detail)
    else:
        run = SandboxResult(
            returncode=int(report["tests"]["returncode"]),
            stdout=str(report["tests"]["stdout"]),
            stderr="",
            timed_out=False,
            duration_ms=float(report["tests"].get("duration_ms", 0.0)),
        )
        tests = tests_result(ws, run, str(ws.tools.python))
    tests.duration_ms = float((report or {}).get("tests", {}).get("duration_ms", 0.0))
    pipeline.duration_ms = max(0.0, total_ms - tests.duration_ms)
    return [tests, pipeline]


def _pipeline_skip_reason(ws: Workspace) -> str | None:
    """Return why the pipeline cannot be upserted, or None when it can."""
    if "pipelines/pipeline.py" not in ws.files:
        return "no pipelines/pipeline.py"
    if DEPLOY_WORKFLOW not in ws.files:
        return f"no {DEPLOY_WORKFLOW}"
    if ws.tools.python is None:
        return ws.tools.missing_tools_reason("the SageMaker SDK and moto")
    return None


def run_pipeline(
    ws: Workspace, *, with_tests: bool = False
) -> tuple[ValidatorResult, dict[str, Any] | None]:
    """Build and upsert the SageMaker pipeline the way the deploy workflow does.

    Args:
        ws: The validation workspace.
        with_tests: Run the repository's tests first, in the same process.

    Returns:
        The ``pipeline`` result (``passed`` with the upserted pipelines and their steps,
        ``failed`` with a high finding per failing command, ``skipped`` when the repository
        has no pipeline or the tools are missing) and the driver's report, if it made one.
    """
    reason = _pipeline_skip_reason(ws)
    if reason is not None:
        return _skip(reason), None
    python = str(ws.tools.python)
    copy = ws.scratch / "pipeline-repo"
    shutil.copytree(ws.root, copy)
    env = {
        **ws.python_env(),
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "no_proxy": "127.0.0.1,localhost,::1",
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
        "ALL_PROXY": "",
        "http_proxy": "",
        "https_proxy": "",
        "all_proxy": "",
    }
    argv = [python, str(driver_path()), str(copy), *(["--pytest"] if with_tests else [])]
    # one command does two validators' work (the tests, then the upsert): twice the limit
    timeout_s = ws.timeout_s * (2 if with_tests else 1)
    run = run_sandboxed(argv, copy, timeout_s=timeout_s, env=env, allow_loopback=True)
    if run.timed_out:
        detail = f"tests and pipeline build timed out after {timeout_s:g}s"
        return ValidatorResult(name=NAME, status="error", detail=detail), None
    try:
        report = json.loads(run.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        if "No module named" in run.stderr:
            return _skip(ws.tools.missing_tools_reason(_tail(run.stderr))), None
        detail = f"the pipeline driver exited with {run.returncode}: {_tail(run.stderr)}"
        return ValidatorResult(name=NAME, status="error", detail=detail), None
    return _result(report), report


def _result(report: dict[str, Any]) -> ValidatorResult:
    """Turn the driver's report into the validator's result."""
    if report.get("error"):
        finding = ValidationFinding(
            validator=NAME,
            rule="pipeline-upsert",
            severity="high",
            file=DEPLOY_WORKFLOW,
            message=str(report["error"])[:_TAIL],
        )
        return ValidatorResult(
            name=NAME, status="failed", detail=str(report["error"])[:_TAIL], findings=[finding]
        )
    findings = []
    done = []
    for command in report.get("commands", []):
        if command.get("returncode") == 0 and command.get("steps"):
            steps = ", ".join(command["steps"])
            done.append(f"{command['environment']}: {command['pipeline']} ({steps})")
            continue
        findings.append(
            ValidationFinding(
                validator=NAME,
                rule="pipeline-upsert",
                severity="high",
                file=command.get("file") or DEPLOY_WORKFLOW,
                line=command.get("line"),
                message=f"`{command['command']}` failed: {_tail(command.get('error', ''))}",
            )
        )
    if findings:
        detail = f"{len(findings)} of {len(report.get('commands', []))} upserts failed"
        return ValidatorResult(name=NAME, status="failed", detail=detail, findings=findings)
    detail = "deploy.yml's upsert with the SageMaker SDK " + report.get("sdk", "") + " against "
    detail += "a moto server: " + "; ".join(done)
    return ValidatorResult(name=NAME, status="passed", detail=detail)
