"""The CI workflows: actionlint and zizmor (offline) clean, actions pinned by commit,
least permissions, OIDC for AWS, production behind its environment."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = ROOT / ".venv" / "bin"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (extra [infra])")
    return found


def test_there_are_the_two_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "deploy.yml"]


def test_actionlint_finds_nothing() -> None:
    done = subprocess.run([_tool("actionlint"), *map(str, WORKFLOWS)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_offline() -> None:
    done = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS)],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_by_commit() -> None:
    for path in WORKFLOWS:
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), (path.name, uses)


def test_permissions_are_least_and_production_waits_for_its_environment() -> None:
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    deploy = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    assert ci["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in ci["jobs"].values())
    assert "scripts/test" in str(ci["jobs"]["test"]["steps"])
    assert deploy["permissions"] == {"contents": "read"}
    jobs = deploy["jobs"]
    assert jobs["production"]["needs"] == "staging"
    for name in ("staging", "production"):
        assert jobs[name]["environment"] == name
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write"}
        steps = str(jobs[name]["steps"])
        assert "vars.AWS_DEPLOY_ROLE_ARN" in steps and "secrets." not in steps
        assert f"stage={name}" in steps
