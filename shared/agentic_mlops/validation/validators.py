"""Validators of a generated repository, run in the sandbox before it is bundled.

:func:`validate_repository` writes the files into a fresh temporary directory and runs
what the repository's own CI and deploy would run: its lint (``ruff check .`` with the
repository's configuration), its tests, ``terraform fmt -check``, ``terraform validate``
(with a provider mirror), the SageMaker pipeline build and upsert of its deploy workflow
against a moto server (see :mod:`agentic_mlops.validation.pipeline`); and the platform's
own checks: an HCL parse of every ``.tf`` file, checkov, the policy checks on the
generated Terraform and a secret scan. Programs run through
:func:`~agentic_mlops.validation.sandbox.run_sandboxed` (no network, clean environment,
time limit), the Python ones with the validators' own tools
(:class:`~agentic_mlops.validation.tools.ValidationTools`); the HCL parse and the
secret scan run in-process because they only read text. A tool that is missing makes
its validator ``skipped`` with the reason, never ``passed`` and never ``failed``.

checkov is never imported here: its forks of python-hcl2 and detect-secrets would shadow
the originals, so it lives in its own virtualenv and runs as a program.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from importlib import metadata, resources
from pathlib import Path, PurePosixPath
from typing import Any

import hcl2
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

from agentic_mlops.domain.delivery import ValidationFinding, ValidationReport, ValidatorResult
from agentic_mlops.validation.iac_policy import IacExpectations, check_iac_policy
from agentic_mlops.validation.pipeline import run_tests_and_pipeline
from agentic_mlops.validation.reports import build_report, render_reports
from agentic_mlops.validation.sandbox import SandboxResult, describe_isolation, run_sandboxed
from agentic_mlops.validation.tools import CHECKOV_ENV, TF_PLUGIN_DIR_ENV, ValidationTools
from agentic_mlops.validation.workspace import (
    MAX_MESSAGE,
    Workspace,
    sandbox_failure,
)

logger = logging.getLogger(__name__)

TERRAFORM_DIR = "infra/terraform"
EXPECTED_DISTRIBUTIONS = {"hcl2": "python-hcl2", "detect_secrets": "detect-secrets"}
LINT_COMMAND = ["ruff", "check", "."]
"""The generated repository's CI lint step, run with the repository's own configuration."""
CHECKOV_ARGS = ["--framework", "terraform", "--skip-download", "-o", "json", "--compact"]
_OFFLINE_INIT_MARKERS = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "could not connect to registry",
    "Failed to download module",
    "Error accessing remote module registry",
    "Failed to resolve provider packages",
)
_SECRETS_LOCK = threading.Lock()


_TEMP_PATH = re.compile(r"/[^\s'\"]*agentic-mlops-(?:sandbox|validate)-[^\s/'\"]*")


def loaded_distributions() -> dict[str, str]:
    """Return which distribution provides each loaded module that checkov also forks.

    Returns:
        ``{"hcl2": ..., "detect_secrets": ...}``: the distribution whose files include the
        imported module (``python-hcl2`` and ``detect-secrets`` when all is well, not
        ``bc-python-hcl2`` or ``bc-detect-secrets``).
    """
    modules = {"hcl2": hcl2, "detect_secrets": sys.modules["detect_secrets"]}
    owners = metadata.packages_distributions()
    return {name: _owner(module, owners.get(name, [])) for name, module in modules.items()}


def _owner(module: Any, candidates: list[str]) -> str:
    """Return the distribution among ``candidates`` that installed ``module``'s file."""
    target = Path(module.__file__).resolve()
    for name in dict.fromkeys(candidates):
        dist = metadata.distribution(name)
        if any(Path(str(dist.locate_file(f))).resolve() == target for f in dist.files or []):
            return dist.metadata["Name"]
    return candidates[0] if len(candidates) == 1 else "unknown"


@cache
def fork_problems() -> dict[str, str]:
    """Return ``module -> problem`` for each module not loaded from its original package."""
    loaded = loaded_distributions()
    return {
        module: f"{module} comes from {loaded[module]!r}, expected {expected!r} "
        "(checkov's fork shadows the original; keep checkov in its own virtualenv)"
        for module, expected in EXPECTED_DISTRIBUTIONS.items()
        if loaded.get(module, "").lower() != expected
    }


for _problem in fork_problems().values():  # checked once, when this module is imported
    logger.error("validation: %s", _problem)


@cache
def checkov_severities() -> tuple[dict[str, str], str]:
    """Return the severity of each checkov check id and the default for unknown ids."""
    text = resources.files(__package__).joinpath("checkov_severity.json").read_text("utf-8")
    data = json.loads(text)
    mapping: dict[str, str] = {}
    for category in data["categories"]:
        for check in category["checks"]:
            if check in mapping:
                raise ValueError(f"checkov_severity.json lists {check} twice")
            mapping[check] = category["severity"]
    return mapping, data["default"]


def checkov_severity(check_id: str, reported: str | None = None) -> str:
    """Return the severity of ``check_id``: the map, then checkov's own, then the default."""
    mapping, default = checkov_severities()
    if check_id in mapping:
        return mapping[check_id]
    if reported and reported.lower() in {"info", "low", "medium", "high", "critical"}:
        return reported.lower()
    return default


def validate_repository(
    files: dict[str, str],
    *,
    timeout_s: float = 120.0,
    checkov: str | None = None,
    terraform: str | None = None,
    tools: ValidationTools | None = None,
    expectations: IacExpectations | None = None,
) -> tuple[ValidationReport, dict[str, str]]:
    """Validate a generated repository in the sandbox.

    Args:
        files: POSIX relative path -> text content.
        timeout_s: Time limit of each sandboxed command.
        checkov: The checkov binary (only this one; default: the tools' checkov).
        terraform: The terraform binary (only this one; default: the tools' terraform).
        tools: Where the tools are (the composition resolves them from the settings;
            default :meth:`ValidationTools.defaults`).
        expectations: What the approved plan requires of the generated Terraform (private
            networking, encryption, monitoring, audit); None skips the policy check.

    Returns:
        The report and its renderings ``{"reports/validation.json": ..., ".md": ...}``.

    Raises:
        ValueError: if a path is absolute or leaves the repository.
    """
    tools = tools or ValidationTools.defaults()
    if checkov is not None or terraform is not None:
        tools = replace(
            tools,
            checkov=_explicit(checkov) if checkov is not None else tools.checkov,
            terraform=_explicit(terraform) if terraform is not None else tools.terraform,
        )
    with tempfile.TemporaryDirectory(prefix="agentic-mlops-validate-") as tmp:
        ws = Workspace(dict(files), Path(tmp) / "repo", Path(tmp) / "scratch", timeout_s, tools)
        write_files(ws.root, files)
        ws.scratch.mkdir()
        # Three lanes run side by side: the Terraform tools share infra/terraform (terraform
        # init writes .terraform/ in its own copy; checkov must not see it half-written);
        # lint, the secret scan and the generated tests only read the repository; the
        # pipeline build and upsert works in a copy of its own.
        lanes: list[list[tuple[str, Callable[[], ValidatorResult]]]] = [
            [
                ("terraform-parse", lambda: parse_terraform(ws)),
                ("terraform-fmt", lambda: check_terraform_format(ws)),
                ("terraform-validate", lambda: validate_terraform(ws)),
                ("iac-policy", lambda: check_iac_policy(ws.files, expectations)),
                ("checkov", lambda: run_checkov(ws)),
            ],
            [
                ("lint", lambda: run_lint(ws)),
                ("secrets", lambda: scan_secrets(ws)),
            ],
            [
                # one process of the validators' Python runs the tests, then the upsert
                ("tests+pipeline", lambda: run_tests_and_pipeline(ws)),
            ],
        ]
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            done = pool.map(lambda lane: [_timed(name, step) for name, step in lane], lanes)
            results = [result for lane_results in done for result in lane_results]
        results = [
            r for result in results for r in (result if isinstance(result, list) else [result])
        ]
        replacements = _replacements(ws)
        results = [_scrub(r, replacements) for r in results]
    report = build_report(results, describe_isolation())
    return report, render_reports(report)


def _explicit(path: str) -> str | None:
    """Return ``path`` when it is an executable file (an explicit tool choice, no fallback)."""
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``root``, refusing paths that would leave it."""
    for rel, text in sorted(files.items()):
        posix = PurePosixPath(rel)
        if posix.is_absolute() or ".." in posix.parts or not posix.parts:
            raise ValueError(f"unsafe path in the generated repository: {rel!r}")
        target = root.joinpath(*posix.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _timed(
    name: str, step: Callable[[], ValidatorResult | list[ValidatorResult]]
) -> ValidatorResult | list[ValidatorResult]:
    """Run one validator, turning an unexpected exception into an ``error`` result.

    A step that returns several results (one process, several validators) sets their
    durations itself.
    """
    started = time.perf_counter()
    try:
        result = step()
    except Exception as exc:  # a validator bug must not hide the others' results
        logger.exception("validator %s crashed", name)
        result = ValidatorResult(name=name, status="error", detail=f"{type(exc).__name__}: {exc}")
    if isinstance(result, ValidatorResult):
        result.duration_ms = (time.perf_counter() - started) * 1000.0
    return result


def _replacements(ws: Workspace) -> list[tuple[str, str]]:
    """Return the temporary paths and secret values to remove from the report."""
    pairs = {str(ws.root.resolve()): ".", str(ws.root): "."}
    pairs |= {str(ws.scratch.resolve()): "<scratch>", str(ws.scratch): "<scratch>"}
    pairs |= {value: "<redacted>" for value in ws.secret_values if len(value) >= 4}
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def _scrub(result: ValidatorResult, pairs: list[tuple[str, str]]) -> ValidatorResult:
    """Replace temporary paths and secret values in a result's texts."""

    def clean(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return _TEMP_PATH.sub("<tmp>", text)

    findings = [
        f.model_copy(update={"message": clean(f.message), "file": f.file and clean(f.file)})
        for f in result.findings
    ]
    return result.model_copy(update={"detail": clean(result.detail), "findings": findings})


def _result(name: str, findings: list[ValidationFinding], detail: str = "") -> ValidatorResult:
    """Return ``failed`` when a finding is above ``info``, else ``passed``."""
    failed = any(f.severity != "info" for f in findings)
    return ValidatorResult(
        name=name, status="failed" if failed else "passed", detail=detail, findings=findings
    )


def _plural(n: int, noun: str) -> str:
    """Return e.g. ``1 file`` or ``3 files``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _count_detail(findings: list[ValidationFinding]) -> str:
    """Return e.g. ``3 findings`` or ``no findings``."""
    return _plural(len(findings), "finding") if findings else "no findings"


# --- lint ---------------------------------------------------------------------------------


def find_ruff(tools: ValidationTools | None = None) -> str | None:
    """Return ruff: the validators' tools, else ``PATH``, else beside the interpreter."""
    installed = (tools or ValidationTools.defaults()).tool("ruff")
    if installed:
        return installed
    found = shutil.which("ruff")
    if found:
        return found
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.is_file() else None


def ruff_severity(code: str | None) -> str:
    """Return a ruff rule's severity: syntax errors, F and E9 high; B medium; others low."""
    if not code or not re.fullmatch(r"[A-Z]+[0-9]+", code):
        return "high"  # invalid-syntax and other non-rule diagnostics
    if code.startswith("F") or code.startswith("E9"):
        return "high"
    return "medium" if code.startswith("B") else "low"


def run_lint(ws: Workspace) -> ValidatorResult:
    """Run the repository's CI lint, ``ruff check .``, with the repository's own configuration.

    Any diagnostic fails the validator, whatever its severity: the repository's CI would
    fail on it too.
    """
    if not any(p.endswith(".py") for p in ws.files):
        return ValidatorResult(name="lint", status="skipped", detail="no Python files")
    ruff = find_ruff(ws.tools)
    if ruff is None:
        return ValidatorResult(name="lint", status="skipped", detail="ruff not found")
    argv = [ruff, *LINT_COMMAND[1:-1], "--no-cache", "--output-format", "json", "."]
    run = run_sandboxed(argv, ws.root, timeout_s=ws.timeout_s)
    if run.timed_out or run.returncode not in (0, 1):
        return sandbox_failure("lint", "ruff", run)
    try:
        diagnostics = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return sandbox_failure("lint", "ruff (unreadable output)", run)
    findings = [_ruff_finding(ws, d) for d in diagnostics]
    command = " ".join(LINT_COMMAND)
    if not findings:
        return ValidatorResult(name="lint", status="passed", detail=f"{command}: no findings")
    return ValidatorResult(
        name="lint",
        status="failed",
        detail=f"{command} (the repository's CI lint): {_count_detail(findings)}",
        findings=findings,
    )


def _ruff_finding(ws: Workspace, diagnostic: dict[str, Any]) -> ValidationFinding:
    """Return the finding of one ruff diagnostic."""
    code = diagnostic.get("code") or "invalid-syntax"
    location = diagnostic.get("location") or {}
    return ValidationFinding(
        validator="lint",
        rule=code,
        severity=ruff_severity(diagnostic.get("code")),
        file=ws.relative(diagnostic.get("filename", "")),
        line=location.get("row"),
        message=str(diagnostic.get("message", ""))[:MAX_MESSAGE],
    )


# --- terraform-parse ----------------------------------------------------------------------


def tf_files(ws: Workspace) -> list[str]:
    """Return the repository's ``.tf`` files, sorted."""
    return sorted(p for p in ws.files if p.endswith(".tf"))


def parse_terraform(ws: Workspace) -> ValidatorResult:
    """Parse every ``.tf`` file with python-hcl2; a syntax error is a high finding."""
    if "hcl2" in fork_problems():
        return ValidatorResult(
            name="terraform-parse", status="error", detail=fork_problems()["hcl2"]
        )
    paths = tf_files(ws)
    if not paths:
        return ValidatorResult(name="terraform-parse", status="skipped", detail="no .tf files")
    findings = [f for f in (_parse_one(p, ws.files[p]) for p in paths) if f is not None]
    return _result("terraform-parse", findings, f"{_plural(len(paths), 'file')} parsed")


def _parse_one(path: str, text: str) -> ValidationFinding | None:
    """Return the syntax-error finding of one ``.tf`` file, or ``None`` when it parses."""
    try:
        hcl2.loads(text)
    except Exception as exc:  # lark raises several exception types; all mean "no parse"
        line = getattr(exc, "line", None)
        column = getattr(exc, "column", None)
        token = getattr(getattr(exc, "token", None), "type", None)
        where = f" at line {line}, column {column}" if isinstance(line, int) and line > 0 else ""
        what = f"unexpected {token}" if token else type(exc).__name__
        return ValidationFinding(
            validator="terraform-parse",
            rule="hcl-syntax",
            severity="high",
            file=path,
            line=line if isinstance(line, int) and line > 0 else None,
            message=f"HCL syntax error{where}: {what}",
        )
    return None


def terraform_dir(ws: Workspace) -> str | None:
    """Return the Terraform root module: ``infra/terraform``, else ``.`` if it has ``.tf``."""
    if any(p.startswith(f"{TERRAFORM_DIR}/") and p.endswith(".tf") for p in ws.files):
        return TERRAFORM_DIR
    if any("/" not in p and p.endswith(".tf") for p in ws.files):
        return "."
    return None


# --- terraform-validate -------------------------------------------------------------------


def _terraform_env(ws: Workspace) -> dict[str, str]:
    """Return terraform's environment: no checkpoint, no input, data outside the repo."""
    env = {
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_DATA_DIR": str(ws.scratch / "tf-data"),
    }
    mirror = ws.tools.tf_plugin_dir
    config = ws.scratch / "terraformrc"
    if mirror is not None:
        config.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n  }}\n"
            "}\n",
            encoding="utf-8",
        )
    else:
        config.write_text("", encoding="utf-8")
    env["TF_CLI_CONFIG_FILE"] = str(config)
    return env


def check_terraform_format(ws: Workspace) -> ValidatorResult:
    """Run the CI's ``terraform fmt -check -recursive``; each unformatted file is a finding."""
    name = "terraform-fmt"
    binary = ws.tools.terraform
    if binary is None:
        return ValidatorResult(name=name, status="skipped", detail="terraform binary not found")
    module = terraform_dir(ws)
    if module is None:
        return ValidatorResult(name=name, status="skipped", detail="no terraform configuration")
    argv = [binary, "fmt", "-check", "-recursive", "-list=true", "-no-color"]
    run = run_sandboxed(argv, ws.root / module, timeout_s=ws.timeout_s, env=_terraform_env(ws))
    if run.timed_out or run.returncode not in (0, 3):
        return sandbox_failure(name, "terraform fmt", run)
    unformatted = sorted(line.strip() for line in run.stdout.splitlines() if line.strip())
    findings = [
        ValidationFinding(
            validator=name,
            rule="terraform-fmt",
            severity="medium",
            file=PurePosixPath(module, path).as_posix().removeprefix("./"),
            message="not in canonical format: terraform fmt -check fails in CI (run fmt)",
        )
        for path in unformatted
    ]
    if not findings and run.returncode != 0:
        return sandbox_failure(name, "terraform fmt", run)
    detail = "terraform fmt -check -recursive: " + (
        f"{_plural(len(findings), 'file')} not formatted" if findings else "all files formatted"
    )
    return _result(name, findings, detail)


def validate_terraform(ws: Workspace) -> ValidatorResult:
    """Run ``terraform init -backend=false`` and ``terraform validate -json`` offline."""
    name = "terraform-validate"
    binary = ws.tools.terraform
    if binary is None:
        return ValidatorResult(name=name, status="skipped", detail="terraform binary not found")
    module = terraform_dir(ws)
    if module is None:
        return ValidatorResult(name=name, status="skipped", detail="no terraform configuration")
    copy = ws.scratch / "tf-repo"  # init writes a lock file: keep the repository untouched
    shutil.copytree(ws.root, copy)
    cwd, env = copy / module, _terraform_env(ws)
    init = run_sandboxed(
        [binary, "init", "-backend=false", "-input=false", "-no-color"],
        cwd,
        timeout_s=ws.timeout_s,
        env=env,
    )
    if init.returncode != 0 or init.timed_out:
        return _init_failure(init)
    run = run_sandboxed(
        [binary, "validate", "-json", "-no-color"], cwd, timeout_s=ws.timeout_s, env=env
    )
    return _validate_result(run, module)


def _init_failure(init: SandboxResult) -> ValidatorResult:
    """Return ``skipped`` when init needed the network (no provider mirror), else ``error``."""
    output = init.stdout + init.stderr
    if any(marker in output for marker in _OFFLINE_INIT_MARKERS):
        detail = (
            "terraform init could not install providers or modules without network; "
            f"provide a provider mirror in ${TF_PLUGIN_DIR_ENV} "
            "(terraform providers mirror DIR) to validate"
        )
        return ValidatorResult(name="terraform-validate", status="skipped", detail=detail)
    return sandbox_failure("terraform-validate", "terraform init", init)


def _validate_result(run: SandboxResult, module: str) -> ValidatorResult:
    """Turn ``terraform validate -json`` output into findings."""
    try:
        data = json.loads(run.stdout)
    except json.JSONDecodeError:
        return sandbox_failure("terraform-validate", "terraform validate", run)
    findings = [_tf_diagnostic(d, module) for d in data.get("diagnostics", [])]
    detail = "valid" if data.get("valid") else f"invalid: {data.get('error_count', 0)} errors"
    return _result("terraform-validate", findings, detail)


def _tf_diagnostic(diagnostic: dict[str, Any], module: str) -> ValidationFinding:
    """Return the finding of one terraform diagnostic (errors high, warnings low)."""
    where = diagnostic.get("range") or {}
    filename = where.get("filename")
    path = None if not filename else PurePosixPath(module, filename).as_posix().removeprefix("./")
    summary = diagnostic.get("summary", "")
    detail = " ".join(str(diagnostic.get("detail", "")).split())
    return ValidationFinding(
        validator="terraform-validate",
        rule=summary or "diagnostic",
        severity="high" if diagnostic.get("severity") == "error" else "low",
        file=path,
        line=(where.get("start") or {}).get("line"),
        message=f"{summary}: {detail}"[:MAX_MESSAGE] if detail else summary,
    )


# --- checkov ------------------------------------------------------------------------------


def find_checkov(explicit: str | None, tools: ValidationTools | None = None) -> str | None:
    """Return checkov: ``explicit`` (only), else the tools' (setting, installed, PATH)."""
    if explicit is not None:
        return _explicit(explicit)
    return (tools or ValidationTools.defaults()).checkov


def run_checkov(ws: Workspace) -> ValidatorResult:
    """Scan the Terraform with checkov (offline) and map check ids to severities."""
    binary = ws.tools.checkov
    if binary is None:
        detail = (
            f"checkov not found (${CHECKOV_ENV}, $AGENTIC_MLOPS_HOME/tools/checkov, PATH); "
            "scripts/bootstrap installs it"
        )
        return ValidatorResult(name="checkov", status="skipped", detail=detail)
    if not tf_files(ws):
        return ValidatorResult(name="checkov", status="skipped", detail="no .tf files")
    target = TERRAFORM_DIR if ws.has(TERRAFORM_DIR) else "."
    argv = [binary, "-d", target, *CHECKOV_ARGS]
    run = run_sandboxed(argv, ws.root, timeout_s=ws.timeout_s, env={"BC_SKIP_MAPPING": "TRUE"})
    if run.timed_out or run.returncode not in (0, 1):
        return sandbox_failure("checkov", "checkov", run)
    reports = parse_checkov_output(run.stdout)
    if reports is None:
        return sandbox_failure("checkov", "checkov (unreadable output)", run)
    findings = [f for report in reports for f in _checkov_findings(ws, report, target)]
    return _result("checkov", findings, _checkov_detail(reports))


def parse_checkov_output(stdout: str) -> list[dict[str, Any]] | None:
    """Return checkov's JSON reports (it prints a dict or a list of dicts), or ``None``."""
    text = stdout.strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
    except json.JSONDecodeError:
        return None
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict)]


def _checkov_detail(reports: list[dict[str, Any]]) -> str:
    """Summarise checkov's counts (resources, passed, failed, skipped)."""
    total = {"resource_count": 0, "passed": 0, "failed": 0, "skipped": 0}
    for report in reports:
        summary = report.get("summary", report)  # "no resources": the report is the summary
        for key in total:
            total[key] += int(summary.get(key, 0) or 0)
    if not total["resource_count"]:
        return "no terraform resources found"
    return ", ".join(f"{v} {k.replace('_count', 's')}" for k, v in total.items())


def _checkov_findings(
    ws: Workspace, report: dict[str, Any], target: str
) -> list[ValidationFinding]:
    """Return the findings of one checkov report: failures, inline skips, parse errors."""
    results = report.get("results")
    if not isinstance(results, dict):
        return []
    findings = [
        _checkov_check(ws, c, target, skipped=False) for c in results.get("failed_checks", [])
    ]
    findings += [
        _checkov_check(ws, c, target, skipped=True) for c in results.get("skipped_checks", [])
    ]
    findings += [
        ValidationFinding(
            validator="checkov",
            rule="parsing-error",
            severity="medium",
            file=ws.relative(str(path)),
            message="checkov could not parse this file, so it was not checked",
        )
        for path in results.get("parsing_errors", [])
    ]
    return findings


def _checkov_check(
    ws: Workspace, check: dict[str, Any], target: str, *, skipped: bool
) -> ValidationFinding:
    """Return the finding of one failed or inline-skipped checkov check."""
    check_id = str(check.get("check_id", "unknown"))
    resource = check.get("resource", "")
    lines = check.get("file_line_range") or [None]
    if skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or "no reason given"
        severity, message = "info", f"skipped inline ({resource}): {reason}"
    else:
        severity = checkov_severity(check_id, check.get("severity"))
        message = f"{check.get('check_name', '')} ({resource})"
    return ValidationFinding(
        validator="checkov",
        rule=check_id,
        severity=severity,
        file=_checkov_path(ws, check, target),
        line=lines[0],
        message=message[:MAX_MESSAGE],
    )


def _checkov_path(ws: Workspace, check: dict[str, Any], target: str) -> str | None:
    """Return a check's file relative to the repository root."""
    if check.get("repo_file_path"):
        return str(check["repo_file_path"]).lstrip("/")
    if check.get("file_abs_path"):
        return ws.relative(str(check["file_abs_path"]))
    path = str(check.get("file_path") or "").lstrip("/")
    return PurePosixPath(target, path).as_posix().removeprefix("./") if path else None


# --- secrets ------------------------------------------------------------------------------


def scan_secrets(ws: Workspace) -> ValidatorResult:
    """Scan every file with detect-secrets; the values never reach the report."""
    if "detect_secrets" in fork_problems():
        return ValidatorResult(
            name="secrets", status="error", detail=fork_problems()["detect_secrets"]
        )
    absolute = {str(ws.root.joinpath(*PurePosixPath(p).parts)): p for p in sorted(ws.files)}
    collection = SecretsCollection()
    with _SECRETS_LOCK, default_settings():  # detect-secrets keeps its settings globally
        for path in absolute:
            collection.scan_file(path)
    findings = []
    for filename, secret in collection:
        if secret.secret_value:
            ws.secret_values.add(secret.secret_value)
        findings.append(
            ValidationFinding(
                validator="secrets",
                rule=secret.type,
                severity="high",
                file=absolute.get(filename, ws.relative(filename)),
                line=secret.line_number,
                message=f"possible secret ({secret.type}); the value is withheld",
            )
        )
    return _result(
        "secrets", findings, f"{_plural(len(absolute), 'file')} scanned, {_count_detail(findings)}"
    )
