"""Validators of a generated repository, run in the sandbox before it is bundled.

:func:`validate_repository` writes the files into a fresh temporary directory and runs
ruff, an HCL parse of every ``.tf`` file, ``terraform validate``, checkov, detect-secrets
and the generated tests. Programs run through :func:`~agentic_mlops.validation.sandbox.
run_sandboxed` (no network, clean environment, time limit); the HCL parse and the secret
scan run in-process because they only read text.

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
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path, PurePosixPath
from typing import Any

import hcl2
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

from agentic_mlops.domain.delivery import ValidationFinding, ValidationReport, ValidatorResult
from agentic_mlops.persistence.database import platform_home
from agentic_mlops.validation.reports import build_report, render_reports
from agentic_mlops.validation.sandbox import SandboxResult, describe_isolation, run_sandboxed

logger = logging.getLogger(__name__)

CHECKOV_ENV = "AGENTIC_MLOPS_CHECKOV"
TERRAFORM_ENV = "AGENTIC_MLOPS_TERRAFORM"
TF_PLUGIN_DIR_ENV = "AGENTIC_MLOPS_TF_PLUGIN_DIR"
TERRAFORM_DIR = "infra/terraform"
EXPECTED_DISTRIBUTIONS = {"hcl2": "python-hcl2", "detect_secrets": "detect-secrets"}
RUFF_ARGS = ["check", "--no-cache", "--isolated", "--select", "E,F,W,I,B", "--line-length", "100"]
CHECKOV_ARGS = ["--framework", "terraform", "--skip-download", "-o", "json", "--compact"]
_OFFLINE_INIT_MARKERS = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "could not connect to registry",
    "Failed to download module",
    "Error accessing remote module registry",
    "Failed to resolve provider packages",
)
_MAX_MESSAGE = 300
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


@dataclass
class Workspace:
    """The generated repository on disk and what the validators share."""

    files: dict[str, str]
    root: Path
    scratch: Path
    timeout_s: float
    secret_values: set[str] = field(default_factory=set)

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


def validate_repository(
    files: dict[str, str],
    *,
    timeout_s: float = 120.0,
    checkov: str | None = None,
    terraform: str | None = None,
) -> tuple[ValidationReport, dict[str, str]]:
    """Validate a generated repository in the sandbox.

    Args:
        files: POSIX relative path -> text content.
        timeout_s: Time limit of each sandboxed command.
        checkov: The checkov binary (default: ``$AGENTIC_MLOPS_CHECKOV``, then
            ``platform_home()/tools/checkov/bin/checkov``, then ``PATH``).
        terraform: The terraform binary (default: ``$AGENTIC_MLOPS_TERRAFORM``, then ``PATH``).

    Returns:
        The report and its renderings ``{"reports/validation.json": ..., ".md": ...}``.

    Raises:
        ValueError: if a path is absolute or leaves the repository.
    """
    with tempfile.TemporaryDirectory(prefix="agentic-mlops-validate-") as tmp:
        ws = Workspace(dict(files), Path(tmp) / "repo", Path(tmp) / "scratch", timeout_s)
        write_files(ws.root, files)
        ws.scratch.mkdir()
        # Two lanes run side by side: the Terraform tools share infra/terraform (terraform
        # init writes .terraform/ there, which checkov must not see half-written), while
        # the secret scan and the generated tests touch nothing they share.
        lanes: list[list[tuple[str, Callable[[], ValidatorResult]]]] = [
            [
                ("ruff", lambda: run_ruff(ws)),
                ("terraform-parse", lambda: parse_terraform(ws)),
                ("terraform-validate", lambda: validate_terraform(ws, terraform)),
                ("checkov", lambda: run_checkov(ws, checkov)),
            ],
            [
                ("secrets", lambda: scan_secrets(ws)),
                ("tests", lambda: run_tests(ws)),
            ],
        ]
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            done = pool.map(lambda lane: [_timed(name, step) for name, step in lane], lanes)
            results = [result for lane_results in done for result in lane_results]
        replacements = _replacements(ws)
        results = [_scrub(r, replacements) for r in results]
    report = build_report(results, describe_isolation())
    return report, render_reports(report)


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``root``, refusing paths that would leave it."""
    for rel, text in sorted(files.items()):
        posix = PurePosixPath(rel)
        if posix.is_absolute() or ".." in posix.parts or not posix.parts:
            raise ValueError(f"unsafe path in the generated repository: {rel!r}")
        target = root.joinpath(*posix.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _timed(name: str, step: Callable[[], ValidatorResult]) -> ValidatorResult:
    """Run one validator, turning an unexpected exception into an ``error`` result."""
    started = time.perf_counter()
    try:
        result = step()
    except Exception as exc:  # a validator bug must not hide the others' results
        logger.exception("validator %s crashed", name)
        result = ValidatorResult(name=name, status="error", detail=f"{type(exc).__name__}: {exc}")
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


def _tail(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Return the last ``limit`` characters of ``text``, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "..." + flat[-limit:]


def _sandbox_failure(name: str, what: str, run: SandboxResult) -> ValidatorResult:
    """Return the ``error`` result of a program that timed out or could not report."""
    if run.timed_out:
        return ValidatorResult(name=name, status="error", detail=f"{what} timed out")
    output = run.stderr or run.stdout
    detail = f"{what} exited with {run.returncode}: {_tail(output)}"
    return ValidatorResult(name=name, status="error", detail=detail)


# --- ruff ---------------------------------------------------------------------------------


def find_ruff() -> str | None:
    """Return ``ruff`` from ``PATH``, else the one beside the running interpreter."""
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


def run_ruff(ws: Workspace) -> ValidatorResult:
    """Lint the Python files with ruff (E, F, W, I, B; line length 100)."""
    if not any(p.endswith(".py") for p in ws.files):
        return ValidatorResult(name="ruff", status="skipped", detail="no Python files")
    ruff = find_ruff()
    if ruff is None:
        return ValidatorResult(name="ruff", status="skipped", detail="ruff binary not found")
    argv = [ruff, *RUFF_ARGS, "--output-format", "json", "."]
    run = run_sandboxed(argv, ws.root, timeout_s=ws.timeout_s)
    if run.timed_out or run.returncode not in (0, 1):
        return _sandbox_failure("ruff", "ruff", run)
    try:
        diagnostics = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return _sandbox_failure("ruff", "ruff (unreadable output)", run)
    findings = [_ruff_finding(ws, d) for d in diagnostics]
    return _result("ruff", findings, _count_detail(findings))


def _ruff_finding(ws: Workspace, diagnostic: dict[str, Any]) -> ValidationFinding:
    """Return the finding of one ruff diagnostic."""
    code = diagnostic.get("code") or "invalid-syntax"
    location = diagnostic.get("location") or {}
    return ValidationFinding(
        validator="ruff",
        rule=code,
        severity=ruff_severity(diagnostic.get("code")),
        file=ws.relative(diagnostic.get("filename", "")),
        line=location.get("row"),
        message=str(diagnostic.get("message", ""))[:_MAX_MESSAGE],
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


def find_terraform(explicit: str | None) -> str | None:
    """Return the terraform binary: ``explicit`` (only), else the env override, else PATH."""
    candidate = explicit or os.environ.get(TERRAFORM_ENV) or shutil.which("terraform")
    if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


def terraform_plugin_dir() -> Path | None:
    """Return a local provider mirror (``$AGENTIC_MLOPS_TF_PLUGIN_DIR`` or the platform's)."""
    explicit = os.environ.get(TF_PLUGIN_DIR_ENV)
    candidate = Path(explicit) if explicit else platform_home() / "tools" / "terraform" / "plugins"
    return candidate if candidate.is_dir() else None


def _terraform_env(ws: Workspace) -> dict[str, str]:
    """Return terraform's environment: no checkpoint, no input, data outside the repo."""
    env = {
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_DATA_DIR": str(ws.scratch / "tf-data"),
    }
    mirror = terraform_plugin_dir()
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


def validate_terraform(ws: Workspace, terraform: str | None) -> ValidatorResult:
    """Run ``terraform init -backend=false`` and ``terraform validate -json`` offline."""
    name = "terraform-validate"
    binary = find_terraform(terraform)
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
    return _sandbox_failure("terraform-validate", "terraform init", init)


def _validate_result(run: SandboxResult, module: str) -> ValidatorResult:
    """Turn ``terraform validate -json`` output into findings."""
    try:
        data = json.loads(run.stdout)
    except json.JSONDecodeError:
        return _sandbox_failure("terraform-validate", "terraform validate", run)
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
        message=f"{summary}: {detail}"[:_MAX_MESSAGE] if detail else summary,
    )


# --- checkov ------------------------------------------------------------------------------


def find_checkov(explicit: str | None) -> str | None:
    """Return checkov: ``explicit`` (only), else the env override, the platform's, PATH."""
    if explicit is not None:
        candidates = [explicit]
    else:
        installed = platform_home() / "tools" / "checkov" / "bin" / "checkov"
        candidates = [
            os.environ.get(CHECKOV_ENV) or "",
            str(installed),
            shutil.which("checkov") or "",
        ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_checkov(ws: Workspace, checkov: str | None) -> ValidatorResult:
    """Scan the Terraform with checkov (offline) and map check ids to severities."""
    binary = find_checkov(checkov)
    if binary is None:
        detail = (
            f"checkov not found (argument, ${CHECKOV_ENV}, platform_home()/tools/checkov, PATH); "
            "scripts/bootstrap installs it"
        )
        return ValidatorResult(name="checkov", status="skipped", detail=detail)
    if not tf_files(ws):
        return ValidatorResult(name="checkov", status="skipped", detail="no .tf files")
    target = TERRAFORM_DIR if ws.has(TERRAFORM_DIR) else "."
    argv = [binary, "-d", target, *CHECKOV_ARGS]
    run = run_sandboxed(argv, ws.root, timeout_s=ws.timeout_s, env={"BC_SKIP_MAPPING": "TRUE"})
    if run.timed_out or run.returncode not in (0, 1):
        return _sandbox_failure("checkov", "checkov", run)
    reports = parse_checkov_output(run.stdout)
    if reports is None:
        return _sandbox_failure("checkov", "checkov (unreadable output)", run)
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
        message=message[:_MAX_MESSAGE],
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


# --- tests --------------------------------------------------------------------------------

_PYTEST_TIME = re.compile(r"\s+in\s+[0-9.]+s(\s*\([^)]*\))?\s*$")
_PYTEST_SUMMARY = re.compile(r"\b\d+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")


def run_tests(ws: Workspace) -> ValidatorResult:
    """Run the generated tests with pytest in the sandbox (repository root as cwd)."""
    if not ws.has("tests"):
        return ValidatorResult(name="tests", status="skipped", detail="no tests/ folder")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    env = {"PYTHONPATH": str(ws.root / "src")} if ws.has("src") else None
    run = run_sandboxed(argv, ws.root, timeout_s=ws.timeout_s, env=env)
    summary = pytest_summary(run.stdout)
    if run.timed_out:
        return _tests_failed(f"generated tests timed out after {ws.timeout_s:g}s", run)
    if run.returncode == 0:
        return ValidatorResult(name="tests", status="passed", detail=summary)
    if run.returncode == 5:
        return ValidatorResult(name="tests", status="skipped", detail="no tests collected")
    if run.returncode in (1, 2):
        return _tests_failed(f"generated tests failed: {summary}", run)
    return _sandbox_failure("tests", "pytest", run)


def pytest_summary(stdout: str) -> str:
    """Return pytest's closing counts without the timing, e.g. ``1 failed, 2 passed``."""
    for line in reversed(stdout.splitlines()):
        text = line.strip().strip("=").strip()
        if _PYTEST_SUMMARY.search(text):
            return _PYTEST_TIME.sub("", text)
    return "no summary line"


def _tests_failed(message: str, run: SandboxResult) -> ValidatorResult:
    """Return the failed result with one high finding and the failing test ids."""
    failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", run.stdout, flags=re.MULTILINE)
    detail = "failing: " + ", ".join(sorted(set(failing))[:20]) if failing else ""
    finding = ValidationFinding(
        validator="tests", rule="tests-failed", severity="high", file="tests", message=message
    )
    return ValidatorResult(name="tests", status="failed", detail=detail, findings=[finding])
