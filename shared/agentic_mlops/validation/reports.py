"""The validation report and its deterministic JSON and Markdown renderings.

The renderings go into the bundle, which must be byte-identical for the same files: they
leave out durations and temporary paths and sort findings by validator, file, line, rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, get_args

from agentic_mlops.domain.delivery import (
    FindingSeverity,
    ValidationFinding,
    ValidationReport,
    ValidationSkip,
    ValidatorResult,
)

SEVERITIES: tuple[str, ...] = get_args(FindingSeverity)
BLOCKING_SEVERITIES = frozenset({"high", "critical"})
JSON_REPORT = "reports/validation.json"
MARKDOWN_REPORT = "reports/validation.md"


def finding_sort_key(finding: ValidationFinding) -> tuple[str, str, int, str, str]:
    """Return the order of findings in a report: validator, file, line, rule, message."""
    return (finding.validator, finding.file or "", finding.line or 0, finding.rule, finding.message)


def sorted_result(result: ValidatorResult) -> ValidatorResult:
    """Return ``result`` with its findings in report order and without duplicates."""
    unique = {finding_sort_key(f): f for f in result.findings}
    return result.model_copy(update={"findings": [unique[k] for k in sorted(unique)]})


def build_report(results: Iterable[ValidatorResult], isolation: str) -> ValidationReport:
    """Combine validator results into a report.

    The outcome is ``failed`` when any validator failed or errored (or a finding is high or
    critical), else ``passed_with_skips`` when any validator was skipped (each skip listed
    with its reason), else ``passed``. ``passed`` is true unless the outcome is ``failed``.
    """
    ordered = [sorted_result(r) for r in results]
    counts = dict.fromkeys(SEVERITIES, 0)
    for result in ordered:
        for finding in result.findings:
            counts[finding.severity] += 1
    blocking = any(counts[s] for s in BLOCKING_SEVERITIES)
    failing = any(r.status in ("failed", "error") for r in ordered)
    skips = [
        ValidationSkip(validator=r.name, reason=r.detail or "no reason given")
        for r in ordered
        if r.status == "skipped"
    ]
    outcome = "failed" if blocking or failing else "passed_with_skips" if skips else "passed"
    return ValidationReport(
        passed=outcome != "failed",
        outcome=outcome,
        skips=skips,
        counts=counts,
        validators=ordered,
        isolation=isolation,
    )


def report_document(report: ValidationReport) -> dict[str, Any]:
    """Return the report as a JSON-ready dict, without durations."""
    validators = []
    for result in report.validators:
        data = sorted_result(result).model_dump(mode="json", exclude={"duration_ms"})
        validators.append(data)
    return {
        "passed": report.passed,
        "outcome": report.outcome,
        "skips": [skip.model_dump(mode="json") for skip in report.skips],
        "counts": {s: report.counts.get(s, 0) for s in SEVERITIES},
        "isolation": report.isolation,
        "validators": validators,
    }


def render_json(report: ValidationReport) -> str:
    """Render the machine-readable report (sorted keys, two-space indent, final newline)."""
    return json.dumps(report_document(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(report: ValidationReport) -> str:
    """Render the human-readable summary: totals, one section per validator."""
    verdict = {"passed": "PASSED", "passed_with_skips": "PASSED WITH SKIPS"}.get(
        report.outcome, "FAILED"
    )
    lines = [
        "# Validation report",
        "",
        f"**Result:** {verdict}  ",
        f"**Isolation:** {_cell(report.isolation)}",
        "",
    ]
    if report.skips:
        lines += ["**Skipped** (these checks did not run, so they did not pass):", ""]
        lines += [f"- {skip.validator}: {_cell(skip.reason)}" for skip in report.skips]
        lines.append("")
    lines += [
        "| Severity | Count |",
        "| --- | ---: |",
        *(f"| {s} | {report.counts.get(s, 0)} |" for s in SEVERITIES),
        "",
        "| Validator | Status | Findings | Detail |",
        "| --- | --- | ---: | --- |",
    ]
    for result in report.validators:
        lines.append(
            f"| {result.name} | {result.status} | {len(result.findings)} | {_cell(result.detail)} |"
        )
    for result in report.validators:
        lines.extend(_validator_section(sorted_result(result)))
    return "\n".join(lines) + "\n"


def _validator_section(result: ValidatorResult) -> list[str]:
    """Return the Markdown section of one validator."""
    lines = ["", f"## {result.name}: {result.status}", ""]
    if result.detail:
        lines.extend([_cell(result.detail), ""])
    if not result.findings:
        lines.append("No findings.")
        return lines
    lines.extend(
        ["| Severity | Rule | File | Line | Message |", "| --- | --- | --- | ---: | --- |"]
    )
    for f in result.findings:
        line = "" if f.line is None else str(f.line)
        cells = [f.severity, _cell(f.rule), _cell(f.file or ""), line, _cell(f.message)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cell(text: str) -> str:
    """Escape ``text`` for one Markdown table cell (pipes, newlines)."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def render_reports(report: ValidationReport) -> dict[str, str]:
    """Return the bundle's report files: ``reports/validation.json`` and ``.md``."""
    return {JSON_REPORT: render_json(report), MARKDOWN_REPORT: render_markdown(report)}
