"""cdk-nag's AwsSolutionsChecks: no unacknowledged finding, and a reason for every one."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _report(synthesized: Any) -> dict[str, Any]:
    _, _, outdir = synthesized
    return json.loads((outdir / "validation-report.json").read_text())


def test_the_app_has_no_unacknowledged_aws_solutions_finding(synthesized: Any) -> None:
    # Given the validation report of the whole app's synth (findings fail the synth, so
    # reaching here already means no error)
    report = _report(synthesized)

    # When the AwsSolutions plugin's report is read
    nag = next(r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions")

    # Then it succeeded with no violation left, warnings included
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []


def test_every_acknowledgment_has_a_reason_a_reviewer_can_read(synthesized: Any) -> None:
    report = _report(synthesized)
    nag = next(r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions")
    acknowledged = nag["suppressedViolations"]
    assert acknowledged
    for finding in acknowledged:
        reason = finding["reason"]
        assert len(reason) >= 60 and reason.endswith((".", ")")), (finding["ruleName"], reason)
    # The IAM5 findings on a function role's Resource '*' are the ones AWS requires.
    for finding in acknowledged:
        if finding["ruleName"] == "AwsSolutions-IAM5[Resource::*]":
            assert "resource-level" in finding["reason"] or "CDK" in finding["reason"]


def test_no_policy_grants_a_wildcard_action(synthesized: Any) -> None:
    # Given every policy statement of the platform's own roles (CDK's providers aside)
    _, assembly, _ = synthesized
    for stack in assembly.stacks:
        for logical_id, resource in stack.template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Policy" or "CDKBucketDeployment" in logical_id:
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                granted = statement["Action"]
                granted = [granted] if isinstance(granted, str) else granted
                # Then no action is a wildcard
                assert not [a for a in granted if "*" in a], (stack.stack_name, logical_id)
