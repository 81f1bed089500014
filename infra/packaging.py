"""Lambda packages built without Docker: the thin handler, the library layer and one
dependency layer per distinct set of requirements.

What a function needs is derived from what it imports: the imports of its handler
(``functions/<name>/app.py``) are followed through the library (``shared/agentic_mlops``),
lazy imports inside functions included and ``if TYPE_CHECKING:`` blocks excluded, to the
third-party modules it reaches; those are mapped to their distributions with the versions
installed in this virtualenv (the versions the tests ran with). A few imports sit on code
paths that never run in Lambda (:data:`NOT_IN_LAMBDA`, each with its reason) and
boto3/botocore come from the Lambda runtime.

Wheels are installed with ``pip install --target --platform manylinux2014_x86_64
--only-binary=:all: --implementation cp --python-version 3.12``; sources are compiled to
``.pyc`` with a local Python 3.12 when there is one (Lambda's file system is read-only, so a
package without them compiles every module on each cold start). Each layer is rebuilt only
when its inputs change (a stamp of its requirements or sources).

Usage: ``scripts/build-lambda [--function NAME ...] [--out build/lambda] [--force]``; prints
the packages and their unzipped sizes and exits 1 if one is over Lambda's 250 MB.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "shared" / "agentic_mlops"
FUNCTIONS_DIR = ROOT / "functions"
DEFAULT_OUT = ROOT / "build" / "lambda"
MANIFEST = "manifest.json"

PYTHON_VERSION = "3.12"
ARCHITECTURE = "x86_64"
PLATFORM = "manylinux2014_x86_64"
LAMBDA_LIMIT_BYTES = 250 * 1000 * 1000
"""Lambda's limit on a function's unzipped code plus layers (250 MB, decimal)."""

ZIP_FUNCTIONS = (
    "api",
    "websocket",
    "ws_authorizer",
    "slack",
    "node_runner",
    "wait_registrar",
    "failure_handler",
    "migrator",
)
"""The functions deployed as zip packages (the validator is a container image)."""
IMAGE_FUNCTION = "validator"

RUNTIME_PROVIDED = {
    "boto3": "in the Lambda Python runtime",
    "botocore": "in the Lambda Python runtime",
    "s3transfer": "in the Lambda Python runtime",
}
NOT_IN_LAMBDA = {
    "pgserver": "the embedded PostgreSQL is for local runs; Lambda uses RDS through RDS Proxy",
    "claude_agent_sdk": "the optional agent code generator (extra [agent]) is not deployed",
}
"""Imports that are reached only on code paths that never run in Lambda."""

_SKIP_FILES = {"__pycache__", ".pytest_cache", ".ruff_cache"}


class PackagingError(RuntimeError):
    """A package cannot be built (an undeclared import, pip failing, over the limit)."""


# what a function imports ---------------------------------------------------------------


def _module_file(module: str) -> Path | None:
    """The source file of an ``agentic_mlops`` module (package ``__init__`` or module)."""
    parts = module.split(".")[1:]
    base = LIBRARY.joinpath(*parts)
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module name imported by ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


@dataclass
class ImportClosure:
    """What one handler reaches: library modules and third-party top-level modules."""

    library_modules: set[str] = field(default_factory=set)
    third_party: set[str] = field(default_factory=set)


def _lazy_exports(source: Path) -> dict[str, str]:
    """A package's ``_EXPORTS`` (name -> module it is imported from on first use, PEP 562)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            value = node.value
            if isinstance(value, ast.Dict):
                return {
                    k.value: v.value
                    for k, v in zip(value.keys, value.values, strict=True)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
                }
    return {}


def import_closure(handler: Path) -> ImportClosure:
    """Follow the imports of ``handler`` through the library.

    Args:
        handler: A ``functions/<name>/app.py`` file.

    Returns:
        The library modules reached (lazy imports included) and the top-level names of the
        other non-standard-library modules they import.
    """
    closure = ImportClosure()
    pending: list[tuple[str, Path]] = [("app", handler)]
    while pending:
        module, path = pending.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imports(tree, module, path.name == "__init__.py"):
            top = name.split(".")[0]
            if not top or top == "__future__" or top in sys.stdlib_module_names:
                continue
            if top != "agentic_mlops":
                closure.third_party.add(top)
                continue
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py first; a name a
            # package exports lazily (``_EXPORTS``) imports its module when it is taken.
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                source = _module_file(prefix)
                if source is None and depth > 1:
                    package = _module_file(".".join(parts[: depth - 1]))
                    if package is not None and package.name == "__init__.py":
                        target = _lazy_exports(package).get(parts[depth - 1])
                        if target is not None:
                            prefix, source = target, _module_file(target)
                if source is not None and prefix not in closure.library_modules:
                    closure.library_modules.add(prefix)
                    pending.append((prefix, source))
    return closure


def distributions_for(modules: Iterable[str]) -> dict[str, str]:
    """Map top-level module names to pinned requirements ``name -> "name[extras]==version"``.

    Every distribution providing a top-level name is included (``langgraph`` is shared by
    langgraph and its checkpoint packages); the extras the project declares are kept
    (``aws-lambda-powertools[tracer]``, ``pyjwt[crypto]``), since the modules they add are
    imported by those libraries, not by the platform.

    Raises:
        PackagingError: for a module no installed distribution provides, or one that the
            project does not declare (every deployed import must be a declared dependency).
    """
    owners = metadata.packages_distributions()
    declared = declared_dependencies()
    found: dict[str, str] = {}
    for module in sorted(modules):
        if module in RUNTIME_PROVIDED or module in NOT_IN_LAMBDA:
            continue
        names = sorted({_canonical(n) for n in owners.get(module, [])})
        if not names:
            raise PackagingError(f"no installed distribution provides the module {module!r}")
        undeclared = [n for n in names if n not in declared]
        if len(undeclared) == len(names):
            raise PackagingError(
                f"{module!r} comes from {names[0]!r}, which pyproject.toml does not declare"
            )
        for name in names:
            if name in declared:
                extras = declared[name]
                pin = f"{name}[{','.join(sorted(extras))}]" if extras else name
                found[name] = f"{pin}=={metadata.distribution(name).version}"
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def declared_dependencies() -> dict[str, set[str]]:
    """The distributions the project depends on, directly or not, with the extras asked for."""
    requires = metadata.distribution("agentic-mlops").requires or []
    declared: dict[str, set[str]] = {}
    pending = [r for r in requires if "extra ==" not in r]
    while pending:
        match = _REQUIREMENT.match(pending.pop())
        if not match:
            continue
        name = _canonical(match[1])
        extras = {e.strip() for e in (match[2] or "").split(",") if e.strip()}
        known = name in declared
        declared.setdefault(name, set()).update(extras)
        if known:
            continue
        try:
            pending.extend(
                r for r in (metadata.distribution(name).requires or []) if "extra ==" not in r
            )
        except metadata.PackageNotFoundError:
            continue
    return declared


def requirements_for(function: str) -> dict[str, str]:
    """The pinned requirements ``function`` needs (``name -> "name[extras]==version"``)."""
    closure = import_closure(FUNCTIONS_DIR / function / "app.py")
    return distributions_for(closure.third_party)


# building ------------------------------------------------------------------------------


def _tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _sources_digest(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not _SKIP_FILES & set(p.parts))
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(path.relative_to(root).as_posix().encode())
        hasher.update(hashlib.sha256(path.read_bytes()).digest())
    return hasher.hexdigest()


def _constraints() -> list[str]:
    """Every distribution installed here pinned to its version (transitive dependencies
    resolve to the versions the tests ran with)."""
    pins = set()
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"] or "")
        if name and name != "agentic-mlops":
            pins.add(f"{name}=={dist.version}")
    return sorted(pins)


@functools.cache
def local_python() -> str | None:
    """A local interpreter of the Lambda runtime's Python version, if there is one."""
    explicit = os.environ.get("AGENTIC_MLOPS_LAMBDA_PYTHON")
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [explicit] if explicit else [
        shutil.which(f"python{PYTHON_VERSION}"),
        *map(str, sorted(pyenv.glob(f"versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}"))),
    ]
    for candidate in filter(None, candidates):
        if _reports_version(candidate):
            return candidate
    return None


def _reports_version(candidate: str) -> bool:
    try:
        done = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.stdout.strip() == PYTHON_VERSION


def _compile(target: Path) -> bool:
    """Compile ``target`` to ``.pyc`` for the runtime's Python; False without one here."""
    python = local_python()
    if python is None:
        return False
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         str(target)],
        check=False,
        capture_output=True,
    )
    return True


def _stamped(target: Path, stamp: str) -> bool:
    marker = target / ".stamp"
    return marker.is_file() and marker.read_text(encoding="utf-8") == stamp


def _write_stamp(target: Path, stamp: str) -> None:
    (target / ".stamp").write_text(stamp, encoding="utf-8")


def build_dependency_layer(requirements: Mapping[str, str], out: Path, *, force: bool) -> Path:
    """Install ``requirements`` for the Lambda runtime into a layer folder (``python/``).

    Raises:
        PackagingError: if pip fails.
    """
    pins = [requirements[name] for name in sorted(requirements)]
    constraints = _constraints()
    stamp = _digest(PLATFORM, PYTHON_VERSION, *pins, "--", *constraints, str(bool(local_python())))
    target = out / "layers" / f"deps-{stamp[:12]}"
    if not force and _stamped(target, stamp):
        return target
    shutil.rmtree(target, ignore_errors=True)
    site = target / "python"
    site.mkdir(parents=True)
    constraints_file = target / "constraints.txt"
    constraints_file.write_text("\n".join(constraints) + "\n", encoding="utf-8")
    if pins:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(site), "--platform", PLATFORM, "--only-binary=:all:",
            "--implementation", "cp", "--python-version", PYTHON_VERSION,
            "--constraint", str(constraints_file), *pins,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PackagingError(f"pip install failed for {pins}:\n{done.stderr[-2000:]}")
    for pattern in ("boto3", "botocore", "s3transfer", "bin"):
        for path in site.glob(f"{pattern}*"):
            if path.name == pattern or path.name.startswith(f"{pattern}-"):
                shutil.rmtree(path, ignore_errors=True)
    _compile(site)
    (target / "requirements.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")
    constraints_file.unlink()
    _write_stamp(target, stamp)
    return target


def build_library_layer(out: Path, *, force: bool) -> Path:
    """Copy the library (``shared/agentic_mlops``) into a layer folder (``python/``)."""
    stamp = _digest(_sources_digest(LIBRARY), str(bool(local_python())))
    target = out / "layers" / "library"
    if not force and _stamped(target, stamp):
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        LIBRARY,
        target / "python" / "agentic_mlops",
        ignore=shutil.ignore_patterns(*_SKIP_FILES, "*.pyc"),
    )
    _compile(target / "python")
    _write_stamp(target, stamp)
    return target


@dataclass(frozen=True)
class FunctionPackage:
    """A built function: its code folder, its layers and what they weigh unzipped."""

    name: str
    code: Path
    layers: tuple[Path, ...]
    requirements: dict[str, str]

    @property
    def sizes(self) -> dict[str, int]:
        """Unzipped bytes of the code and of each layer."""
        sizes = {"code": _tree_size(self.code)}
        sizes.update({layer.name: _tree_size(layer) for layer in self.layers})
        return sizes

    @property
    def total(self) -> int:
        """Unzipped bytes of the code and all its layers (what Lambda limits)."""
        return sum(self.sizes.values())

    def sys_path(self) -> list[Path]:
        """The folders on ``sys.path`` in Lambda: the code, then each layer's ``python/``."""
        return [self.code, *(layer / "python" for layer in self.layers)]


def build(functions: Iterable[str] = ZIP_FUNCTIONS, *, out: Path = DEFAULT_OUT,
          force: bool = False) -> list[FunctionPackage]:  # fmt: skip
    """Build the packages of ``functions`` into ``out`` and write the manifest.

    Raises:
        PackagingError: for an unknown function, an undeclared import or a pip failure.
    """
    out.mkdir(parents=True, exist_ok=True)
    library = build_library_layer(out, force=force)
    packages = []
    for name in functions:
        if name not in ZIP_FUNCTIONS:
            known = ", ".join(ZIP_FUNCTIONS)
            raise PackagingError(f"unknown zip function {name!r}; known: {known}")
        requirements = requirements_for(name)
        deps = build_dependency_layer(requirements, out, force=force)
        packages.append(FunctionPackage(name, FUNCTIONS_DIR / name, (library, deps), requirements))
    _write_manifest(out, packages)
    write_image_requirements(out)
    _remove_unused_layers(out)
    return packages


def write_image_requirements(out: Path = DEFAULT_OUT) -> Path:
    """Write the validator image's requirements (derived like the zips') for its Dockerfile."""
    target = out / IMAGE_FUNCTION / "requirements.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    pins = requirements_for(IMAGE_FUNCTION)
    target.write_text("\n".join(pins[name] for name in sorted(pins)) + "\n", encoding="utf-8")
    return target


def _remove_unused_layers(out: Path) -> None:
    """Delete dependency layers no function of the manifest uses any more."""
    entries = load_manifest(out)["functions"].values()
    used = {layer for entry in entries for layer in entry["layers"]}
    for folder in (out / "layers").glob("deps-*"):
        if f"layers/{folder.name}" not in used:
            shutil.rmtree(folder, ignore_errors=True)


def _write_manifest(out: Path, packages: list[FunctionPackage]) -> None:
    path = out / MANIFEST
    existing = json.loads(path.read_text()) if path.is_file() else {}
    functions = existing.get("functions", {})
    for package in packages:
        functions[package.name] = {
            "code": package.code.relative_to(ROOT).as_posix(),
            "layers": [layer.relative_to(out).as_posix() for layer in package.layers],
            "requirements": package.requirements,
            "sizes": package.sizes,
            "total": package.total,
        }
    document = {
        "python": PYTHON_VERSION,
        "architecture": ARCHITECTURE,
        "compiled": local_python() is not None,
        "functions": dict(sorted(functions.items())),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_manifest(out: Path = DEFAULT_OUT) -> dict[str, Any]:
    """The manifest the last build wrote.

    Raises:
        PackagingError: if the packages were not built (``scripts/build-lambda``).
    """
    path = out / MANIFEST
    if not path.is_file():
        raise PackagingError(f"no Lambda packages in {out}: run scripts/build-lambda first")
    return json.loads(path.read_text(encoding="utf-8"))


def package_from_manifest(name: str, out: Path = DEFAULT_OUT) -> FunctionPackage:
    """The built package of ``name`` as the manifest describes it.

    Raises:
        PackagingError: if it was not built.
    """
    entry = load_manifest(out)["functions"].get(name)
    if entry is None:
        raise PackagingError(f"{name} is not built: run scripts/build-lambda")
    return FunctionPackage(
        name,
        ROOT / entry["code"],
        tuple(out / layer for layer in entry["layers"]),
        entry["requirements"],
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:7.1f} MB"


def report(packages: list[FunctionPackage]) -> str:
    """A table of the packages: code, layers and total, against the 250 MB limit."""
    lines = [f"{'function':<16} {'code':>10} {'library':>10} {'deps':>10} {'total':>10}  layer"]
    for package in packages:
        sizes = package.sizes
        deps = package.layers[-1]
        lines.append(
            f"{package.name:<16} {_mb(sizes['code'])} {_mb(sizes['library'])}"
            f" {_mb(sizes[deps.name])} {_mb(package.total)}  {deps.name}"
            + ("" if package.total < LAMBDA_LIMIT_BYTES else "  OVER 250 MB")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the packages, print their sizes; 1 if one is over the limit, 2 on an error."""
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="scripts/build-lambda", description=summary)
    parser.add_argument("--function", action="append", choices=ZIP_FUNCTIONS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        packages = build(args.function or ZIP_FUNCTIONS, out=args.out, force=args.force)
    except PackagingError as exc:
        print(f"build-lambda: {exc}", file=sys.stderr)
        return 2
    print(f"Lambda packages (Python {PYTHON_VERSION}, {ARCHITECTURE}, unzipped) in {args.out}:")
    print(report(packages))
    if local_python() is None:
        print(f"note: no local python{PYTHON_VERSION}; packages hold sources only (no .pyc)")
    return 0 if all(p.total < LAMBDA_LIMIT_BYTES for p in packages) else 1


if __name__ == "__main__":
    sys.exit(main())
