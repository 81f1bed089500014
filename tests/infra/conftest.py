"""Fixtures of the infrastructure tests: the Lambda packages built once per session, and
the whole CDK app synthesized once per session (bundling skipped, cdk-nag on)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# jsii warns on every start under Node.js 20; the warning says nothing about this code.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
NODE_MISSING = shutil.which("node") is None


def cdk_context(**extra: Any) -> dict[str, Any]:
    """cdk.json's context, with bundling skipped (the packages are folders already)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:bundling-stacks": [], **extra}


@pytest.fixture(scope="session")
def packages() -> list[Any]:
    """The zip functions' packages, built (or found up to date) by infra.packaging."""
    from infra.packaging import build

    return build()


@pytest.fixture(scope="session")
def synthesized(packages: list[Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``(platform, assembly, outdir)`` of the whole app synthesized once."""
    if NODE_MISSING:
        pytest.skip("aws-cdk-lib needs Node.js (node is not on PATH)")
    from aws_cdk import App

    from infra.app import build

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(context=cdk_context(), outdir=str(outdir))
    platform = build(app)
    assembly = app.synth()
    return platform, assembly, outdir


@pytest.fixture(scope="session")
def templates(synthesized: Any) -> dict[str, Any]:
    """Stack kind (data, web, api, workflow, observability, github-oidc) -> its Template."""
    from aws_cdk.assertions import Template

    platform, assembly, _ = synthesized
    kinds = {stack.stack_name: kind for kind, stack in (
        ("data", platform.data), ("web", platform.web), ("api", platform.api),
        ("workflow", platform.workflow), ("observability", platform.observability),
        ("github-oidc", platform.oidc),
    )}  # fmt: skip
    return {
        kinds[artifact.stack_name]: Template.from_json(artifact.template)
        for artifact in assembly.stacks
    }
