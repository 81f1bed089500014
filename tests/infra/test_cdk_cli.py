"""The whole app synthesized by the pinned CDK CLI (scripts/cdk, from npm), and its
CloudFormation templates linted by cfn-lint with no error."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.stacks.workflow import placeholders

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js/npm is not installed (needed for the aws-cdk CLI from npm)")
    out = tmp_path_factory.mktemp("cli.out")
    done = subprocess.run(
        [str(ROOT / "scripts" / "cdk"), "synth", "--all", "--quiet", "--no-notices",
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_cli_synthesizes_every_stack_with_nag_clean(cli_out: Path) -> None:
    templates = sorted(p.name for p in cli_out.glob("*.template.json"))
    assert len(templates) == 6, templates
    report = json.loads((cli_out / "validation-report.json").read_text())
    nag = next(r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions")
    assert nag["conclusion"] == "success" and nag["violations"] == []


def test_the_deployed_definition_leaves_no_placeholder_unresolved(cli_out: Path) -> None:
    template = json.loads(next(cli_out.glob("*-workflow.template.json")).read_text())
    machine = next(r for r in template["Resources"].values()
                   if r["Type"] == "AWS::StepFunctions::StateMachine")  # fmt: skip
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert set(substitutions) == placeholders()
    assert all(value not in ("", None) for value in substitutions.values())


def test_cfn_lint_finds_no_error(cli_out: Path) -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(ROOT / ".venv" / "bin")) or shutil.which(
        "cfn-lint"
    )
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed (extra [infra])")
    templates = sorted(str(p) for p in cli_out.glob("*.template.json"))
    done = subprocess.run([cfn_lint, "--format", "parseable", *templates],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ":E" in line]
    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    assert not done.returncode & 3, (done.returncode, errors or done.stderr[-2000:])
    assert errors == []
