"""The Lambda packages: what each function imports, under 250 MB, importable on their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.packaging import (
    LAMBDA_LIMIT_BYTES,
    NOT_IN_LAMBDA,
    RUNTIME_PROVIDED,
    ZIP_FUNCTIONS,
    import_closure,
    local_python,
    report,
    requirements_for,
)

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_under_lambdas_limit_including_layers(packages: list[Any]) -> None:
    print("\n" + report(packages))
    assert {p.name for p in packages} == set(ZIP_FUNCTIONS)
    for package in packages:
        assert 0 < package.total < LAMBDA_LIMIT_BYTES, (package.name, package.sizes)


def test_no_package_holds_pgserver_or_boto3(packages: list[Any]) -> None:
    for package in packages:
        for folder in package.sys_path():
            names = {p.name.split("-")[0].lower() for p in folder.iterdir()}
            assert not names & {"pgserver", "boto3", "botocore", "s3transfer"}, package.name


def test_requirements_follow_the_imports(tmp_path: Path) -> None:
    # Given a handler importing the library lazily and a type-only import
    handler = tmp_path / "app.py"
    handler.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import anthropic\n"
        "def handler(event, context):\n    from agentic_mlops.canonical import sha256_hex\n"
        "    import jwt\n    return {}\n"
    )
    # When its closure is computed
    closure = import_closure(handler)
    # Then the lazy imports count, the type-only one does not
    assert "agentic_mlops.canonical" in closure.library_modules
    assert "jwt" in closure.third_party and "anthropic" not in closure.third_party


def test_a_name_a_package_exports_lazily_brings_its_module(tmp_path: Path) -> None:
    # Given a handler taking names from packages that import them on first use (PEP 562)
    handler = tmp_path / "app.py"
    handler.write_text(
        "def handler(event, context):\n"
        "    from agentic_mlops.persistence import PostgresStore\n"
        "    from agentic_mlops.domain import ConstraintSchema\n"
        "    return {}\n"
    )
    # When its closure is computed
    closure = import_closure(handler)
    # Then the modules behind those names are in it, and their third-party imports
    assert {"agentic_mlops.persistence.store", "agentic_mlops.domain.constraints"} <= (
        closure.library_modules
    )
    assert "psycopg" in closure.third_party
    # but not the package's other lazily exported modules
    assert "agentic_mlops.domain.delivery" not in closure.library_modules


def test_the_authorizer_and_the_migrator_carry_no_model_sdk() -> None:
    authorizer = requirements_for("ws_authorizer")
    assert set(authorizer) == {"aws-lambda-powertools", "pyjwt", "pydantic", "pydantic-settings"}
    for light in ("migrator", "validator"):
        assert not {"anthropic", "slack-sdk", "dulwich", "jinja2"} & set(requirements_for(light))
    assert requirements_for("ws_authorizer")["pyjwt"].startswith("pyjwt[crypto]==")


def _runtime_boto3(tmp_root: Path) -> Path:
    """boto3 as the Lambda runtime provides it (installed once per build folder)."""
    target = ROOT / "build" / "lambda" / "runtime"
    if not (target / "boto3").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), "boto3"],
            check=True,
        )  # fmt: skip
    return target


@pytest.mark.parametrize("name", ZIP_FUNCTIONS)
def test_each_handler_imports_with_only_its_package(name: str, packages: list[Any],
                                                    tmp_path: Path) -> None:  # fmt: skip
    python = local_python()
    if python is None:
        pytest.skip("no local python3.12 (the packages are built for the Lambda runtime's 3.12)")
    package = next(p for p in packages if p.name == name)
    closure = import_closure(package.code / "app.py")
    modules = sorted(m for m in closure.library_modules if not _reaches_excluded(m))
    path = [str(p) for p in package.sys_path()] + [str(_runtime_boto3(tmp_path))]
    code = (
        "import importlib, sys\n"
        f"sys.path[:0] = {path!r}\n"
        "import app\n"
        "assert callable(app.handler)\n"
        f"for module in {modules!r}:\n    importlib.import_module(module)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'pgserver'}]\n"
        "assert not bad, bad\n"
    )
    # -I -S: no user site, no site-packages, no PYTHON* variables: only the package.
    done = subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _reaches_excluded(module: str) -> bool:
    """Modules that import a NOT_IN_LAMBDA package at their top level are not deployed paths."""
    source = ROOT / "shared" / Path(*module.split(".")).with_suffix(".py")
    if not source.is_file():
        source = ROOT / "shared" / Path(*module.split(".")) / "__init__.py"
    text = source.read_text(encoding="utf-8")
    return any(f"\nimport {m}" in text or f"\nfrom {m}" in text for m in NOT_IN_LAMBDA) or any(
        f"\nimport {m}" in text for m in RUNTIME_PROVIDED if m == "never"
    )
