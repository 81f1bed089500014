"""Code generation by a Claude agent (the Claude Agent SDK), fenced into a working folder.

The agent gets the approved plan and constraints and writes the repository into a fresh
working directory of its own, with file tools only (read, write, edit, glob). Every tool call
goes through a permission check (:func:`check_tool_use`, used both as the SDK's
``can_use_tool`` callback and as a ``PreToolUse`` hook): a tool outside that set, or a path
that resolves outside the working directory (``..``, an absolute path, a symlink), is
denied. The files are then collected without following links and must form a repository
(:data:`REQUIRED_PARTS`); anything else (the SDK not installed, the Claude Code CLI missing,
an agent error, an incomplete repository) falls back to the offline templates, and the
reason is recorded. The validators judge the result exactly like the templates' output.

``claude_agent_sdk`` is an optional extra (``pip install 'agentic-mlops[agent]'``),
imported only when the agent runs. Unlike the templates, an agent is not deterministic:
engine parity and golden runs use the offline generator.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agentic_mlops.canonical import sha256_hex
from agentic_mlops.codegen.base import CodeGenProvider
from agentic_mlops.domain import MLOpsProjectState

logger = logging.getLogger(__name__)


ALLOWED_TOOLS = ("Read", "Write", "Edit", "MultiEdit", "Glob")
"""The only tools the agent may use: file reads, writes and edits."""
DENIED_TOOLS = ("Bash", "BashOutput", "KillShell", "WebFetch", "WebSearch", "Task", "NotebookEdit")
_PATH_KEYS = ("file_path", "path", "notebook_path")
_WRITE_TOOLS = frozenset({"Write", "Edit", "MultiEdit"})

REQUIRED_PARTS: dict[str, tuple[str, str]] = {
    "a README": ("", "README.md"),
    "pipeline code": ("pipelines/", ".py"),
    "Terraform": ("infra/terraform/", ".tf"),
    "CI workflows": (".github/workflows/", ".yml"),
    "tests": ("tests/", ".py"),
}
"""What the agent's output needs to count as a repository: (folder, file suffix)."""
MAX_FILES = 400
MAX_FILE_BYTES = 512 * 1024
_IGNORED_DIRS = frozenset({".claude", ".git", "__pycache__"})

SYSTEM_PROMPT = """You are a senior MLOps engineer. Write, in the current working directory, the
complete repository that implements the approved MLOps plan given by the user, following the
layout of SageMaker Projects' seed code:
- README.md describing the architecture, the constraints it meets and how to deploy it;
- pipelines/: preprocess, train, evaluate and register steps (SageMaker Pipelines, the model
  registered with PendingManualApproval), a pipeline definition and a config module;
- infra/terraform/: the plan's AWS resources (encryption, networking and IAM as planned),
  with staging and prod tfvars;
- config/: per-stage deploy configs that deploy only the latest Approved model, with data
  capture on;
- .github/workflows/: CI (lint, tests, terraform fmt/validate) and a deploy workflow with an
  approval gate for production;
- tests/: unit tests of the pipeline code.
Use only the file tools; write every file with a path relative to the working directory. Never
put secrets or credentials in files. Respect every constraint of the plan (region, data
residency, encryption, spot training, budget)."""


class AgentOutputRejected(Exception):
    """The agent's output is not a usable repository."""


@dataclass(frozen=True)
class CodeGenOutcome:
    """The generated files, the generator that produced them, and why a fallback happened."""

    files: dict[str, str]
    generator: str
    template_hash: str
    fallback_reason: str | None = None
    model: str | None = None


def generate_with_outcome(codegen: CodeGenProvider, state: MLOpsProjectState) -> CodeGenOutcome:
    """Generate the repository and say which generator produced it (and why, if a fallback)."""
    if isinstance(codegen, AgentCodeGen):
        return codegen.generate_with_outcome(state)
    return CodeGenOutcome(
        files=codegen.generate(state), generator=codegen.name, template_hash=codegen.template_hash()
    )


# the permission guard ------------------------------------------------------------------


def check_tool_use(tool_name: str, tool_input: Mapping[str, Any], workdir: Path) -> str | None:
    """Return why a tool call must be denied, or None when it stays inside ``workdir``.

    Only :data:`ALLOWED_TOOLS` are allowed; every path argument, relative or absolute, must
    resolve (symlinks followed) inside ``workdir``; glob patterns may not climb out of it.
    """
    if tool_name not in ALLOWED_TOOLS:
        return f"tool {tool_name} is not allowed; only {', '.join(ALLOWED_TOOLS)}"
    root = workdir.resolve()
    paths = [tool_input[key] for key in _PATH_KEYS if tool_input.get(key) is not None]
    if tool_name in _WRITE_TOOLS and not paths:
        return f"{tool_name} needs a file_path inside the working directory"
    for raw in paths:
        if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
            return f"invalid path {raw!r}"
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = root / candidate
        resolved = candidate.resolve()
        if resolved != root and not resolved.is_relative_to(root):
            return f"path {raw!r} resolves outside the working directory"
    pattern = tool_input.get("pattern")
    if isinstance(pattern, str) and tool_name == "Glob":
        parts = PurePosixPath(pattern).parts
        if pattern.startswith(("/", "~")) or ".." in parts:
            return f"glob pattern {pattern!r} leaves the working directory"
    return None


def permission_callback(workdir: Path, sdk: Any) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The SDK's ``can_use_tool`` callback: allow or deny with :func:`check_tool_use`."""

    async def can_use_tool(tool_name: str, tool_input: dict[str, Any], context: Any) -> Any:
        reason = check_tool_use(tool_name, tool_input, workdir)
        if reason is None:
            return sdk.PermissionResultAllow()
        logger.warning("agent codegen: denied %s: %s", tool_name, reason)
        return sdk.PermissionResultDeny(message=reason)

    return can_use_tool


def pre_tool_hook(workdir: Path) -> Callable[..., Coroutine[Any, Any, dict[str, Any]]]:
    """A ``PreToolUse`` hook with the same check (hooks also see auto-approved reads)."""

    async def hook(input_data: Mapping[str, Any], tool_use_id: Any, context: Any) -> dict[str, Any]:
        reason = check_tool_use(
            str(input_data.get("tool_name", "")), input_data.get("tool_input") or {}, workdir
        )
        if reason is None:
            return {}
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }

    return hook


# collecting the output -----------------------------------------------------------------


def collect_repository(workdir: Path) -> dict[str, str]:
    """Read the files the agent wrote: POSIX relative path -> text, sorted.

    Raises:
        AgentOutputRejected: for a symlink, a non-UTF-8 or oversized file, too many files,
            or a repository missing one of :data:`REQUIRED_PARTS`.
    """
    root = workdir.resolve()
    files: dict[str, str] = {}
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in list(dirnames):
            if (here / name).is_symlink():
                link = (here / name).relative_to(root).as_posix()
                raise AgentOutputRejected(f"the agent left a symlink: {link}")
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for name in sorted(filenames):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file():
                raise AgentOutputRejected(f"the agent left a link or special file: {relative}")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise AgentOutputRejected(f"{relative} is larger than {MAX_FILE_BYTES} bytes")
            try:
                files[relative] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise AgentOutputRejected(f"{relative} is not UTF-8 text") from exc
            if len(files) > MAX_FILES:
                raise AgentOutputRejected(f"the agent wrote more than {MAX_FILES} files")
    missing = [
        what
        for what, (folder, suffix) in REQUIRED_PARTS.items()
        if not any(p.startswith(folder) and p.endswith(suffix) for p in files)
    ]
    if missing:
        raise AgentOutputRejected(
            f"the agent's output is not a repository: no {', no '.join(missing)}"
            f" ({len(files)} files)"
        )
    return dict(sorted(files.items()))


# the generator -------------------------------------------------------------------------


class AgentCodeGen(CodeGenProvider):
    """Repository generation by a Claude agent, the offline templates as the fallback.

    Args:
        fallback: the generator used when the agent cannot deliver (the offline templates).
        model: the model the agent uses (the SDK's default when None).
        max_turns: the agent's turn limit.
        work_root: where working directories are created (the system temp folder).
    """

    name = "claude-agent"

    def __init__(
        self,
        fallback: CodeGenProvider | None = None,
        *,
        model: str | None = None,
        max_turns: int = 60,
        work_root: Path | None = None,
    ) -> None:
        if fallback is None:
            from agentic_mlops.codegen.offline import OfflineCodeGen

            fallback = OfflineCodeGen()
        self.fallback = fallback
        self.model = model
        self.max_turns = max_turns
        self.work_root = work_root

    def template_hash(self) -> str:
        """The hash of the agent's instructions and tool fence (its "templates")."""
        return sha256_hex(
            json.dumps({"system": SYSTEM_PROMPT, "tools": ALLOWED_TOOLS, "model": self.model})
        )

    def generate(self, state: MLOpsProjectState) -> dict[str, str]:
        """Return the repository's files (the agent's, or the templates' on fallback)."""
        return self.generate_with_outcome(state).files

    def generate_with_outcome(self, state: MLOpsProjectState) -> CodeGenOutcome:
        """Run the agent in a fresh working directory; fall back to the templates on failure."""
        try:
            with tempfile.TemporaryDirectory(
                prefix="agentic-mlops-bundle-", dir=self.work_root
            ) as tmp:
                workdir = Path(tmp).resolve()
                _run_sync(self._run_agent(state, workdir))
                files = collect_repository(workdir)
        except ImportError as exc:
            reason = (
                f"claude-agent-sdk is not installed ({exc}); pip install 'agentic-mlops[agent]'"
            )
        except AgentOutputRejected as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"the agent failed: {type(exc).__name__}: {' '.join(str(exc).split())}"
        else:
            logger.info("agent codegen wrote %d files", len(files))
            return CodeGenOutcome(
                files=files,
                generator=self.name,
                template_hash=self.template_hash(),
                model=self.model,
            )
        logger.warning("agent codegen fell back to %s: %s", self.fallback.name, reason)
        return CodeGenOutcome(
            files=self.fallback.generate(state),
            generator=self.fallback.name,
            template_hash=self.fallback.template_hash(),
            fallback_reason=reason,
        )

    async def _run_agent(self, state: MLOpsProjectState, workdir: Path) -> None:
        import claude_agent_sdk as sdk

        options = sdk.ClaudeAgentOptions(
            cwd=str(workdir),
            system_prompt=SYSTEM_PROMPT,
            tools=list(ALLOWED_TOOLS),
            allowed_tools=[],  # nothing pre-approved: every call goes through the check
            disallowed_tools=list(DENIED_TOOLS),
            permission_mode="default",
            can_use_tool=permission_callback(workdir, sdk),
            hooks={"PreToolUse": [sdk.HookMatcher(matcher=None, hooks=[pre_tool_hook(workdir)])]},
            max_turns=self.max_turns,
            model=self.model,
        )
        async for message in sdk.query(prompt=_prompt(state), options=options):
            if type(message).__name__ == "ResultMessage" and getattr(message, "is_error", False):
                result = getattr(message, "result", "")
                raise RuntimeError(f"the agent ended with an error: {result}")


def _prompt(state: MLOpsProjectState) -> AsyncIterator[dict[str, Any]]:
    """The task, as a stream (the SDK's permission callback needs streaming input)."""
    document = {
        "plan": state.plan.model_dump(mode="json") if state.plan else None,
        "constraints": state.constraints.model_dump(mode="json") if state.constraints else None,
        "approval_comment": state.approval.comment if state.approval else None,
        "decision_set_id": state.decision_set_id,
    }
    text = "Write the repository for this approved plan (JSON):\n" + json.dumps(
        document, indent=2, sort_keys=True
    )

    async def stream() -> AsyncIterator[dict[str, Any]]:
        yield {
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": None,
            "session_id": "codegen",
        }

    return stream()


def _run_sync(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()
