"""The CLI's commands: each opens the database and the engine, acts, and reports."""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.prompt import Prompt

from agentic_mlops.cli import (
    EXIT_FAILED,
    EXIT_NEEDS_ANSWERS,
    EXIT_NEEDS_APPROVAL,
    EXIT_OK,
    parse_answers,
)
from agentic_mlops.cli.render import render_event, render_outcome, render_timeline, summarize
from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.engines.base import RunOutcome
    from agentic_mlops.engines.local import LocalEngine
    from agentic_mlops.engines.stepfunctions import StepFunctionsEngine

    AnyEngine = LocalEngine | StepFunctionsEngine
    from agentic_mlops.persistence import Database

PROVIDER_ENV = "AGENTIC_MLOPS_PROVIDER"
_EXIT_BY_STATUS = {
    "awaiting_input": EXIT_NEEDS_ANSWERS,
    "awaiting_approval": EXIT_NEEDS_APPROVAL,
    "failed": EXIT_FAILED,
}


@contextmanager
def _database(console: Console) -> Iterator[Database]:
    from agentic_mlops.persistence import open_database

    with console.status("Opening the database…"):
        database = open_database()
    try:
        yield database
    finally:
        database.close()


class _ShownEngine:
    """The engine, with a spinner while the workflow runs and its events rendered.

    The spinner runs only inside workflow calls, never while the user is prompted.
    """

    _WORKFLOW_CALLS = frozenset({"start", "answer", "decide", "resume", "revise"})

    def __init__(self, engine: AnyEngine, console: Console) -> None:
        self._engine = engine
        self._console = console
        self._spinner: Any = None
        self._done: list[str] = []

    def on_event(self, message: dict[str, Any], *, compact: bool) -> None:
        if compact:
            self._console.print(
                f"[dim]{message['seq']:>4} {message['type']:<20}[/dim] {summarize(message)}"
            )
        else:
            render_event(self._console, message)
        if message["type"] == "reason-card" and self._spinner is not None:
            self._done.append(message["payload"]["node"])
            self._spinner.update(f"Working… ({len(self._done)} steps, last: {self._done[-1]})")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._engine, name)
        if name not in self._WORKFLOW_CALLS:
            return attribute

        def shown(*args: Any, **kwargs: Any) -> Any:
            with self._console.status("Working…") as spinner:
                self._spinner = spinner
                try:
                    return attribute(*args, **kwargs)
                finally:
                    self._spinner = None

        return shown


@contextmanager
def _engine(args: argparse.Namespace, console: Console) -> Iterator[AnyEngine]:
    from agentic_mlops.providers import provider_from_env

    provider = provider_from_env(os.environ)  # AGENTIC_MLOPS_PROVIDER...; InvalidInput if bad
    with _database(console) as database:
        shown: _ShownEngine | None = None

        def on_event(message: dict[str, Any]) -> None:
            assert shown is not None
            shown.on_event(message, compact=args.json)

        from agentic_mlops.engines import create_engine

        shown = _ShownEngine(create_engine(database, provider, on_event=on_event), console)
        yield shown  # type: ignore[misc]  # the engine, with a spinner around workflow calls


def _approver(args: argparse.Namespace) -> str:
    if getattr(args, "approver", None):
        return str(args.approver)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _interactive(args: argparse.Namespace) -> bool:
    import sys

    return not args.no_input and sys.stdin.isatty()


def _decision(decision: str, comment: str | None, args: argparse.Namespace) -> ApprovalDecision:
    from pydantic import ValidationError

    try:
        return ApprovalDecision(decision=decision, comment=comment, approver=_approver(args))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid decision: {problems}") from exc


def _decision_from_flags(args: argparse.Namespace) -> ApprovalDecision | None:
    if getattr(args, "approve", False) or getattr(args, "reject", False):
        return _decision("approve" if args.approve else "reject", args.comment, args)
    return None


def _ask_answers(engine: AnyEngine, outcome: RunOutcome, console: Console) -> dict[str, str]:
    assert outcome.pending is not None
    answers: dict[str, str] = {}
    for question in outcome.pending.request["questions"]:
        hint = f" (e.g. {', '.join(question['examples'][:2])})" if question["examples"] else ""
        while True:
            value = Prompt.ask(f"[bold]{question['question']}[/bold]{hint}", console=console)
            try:
                answers.update(engine.validate_answers({question["field"]: value}))
                break
            except InvalidInput as exc:
                console.print(f"[red]{exc}[/red]")
    return answers


def _ask_decision(args: argparse.Namespace, console: Console) -> ApprovalDecision | None:
    choice = Prompt.ask(
        "Approve this plan?", choices=["approve", "reject", "later"], console=console
    )
    if choice == "later":
        return None
    comment = Prompt.ask("Comment (optional)", default="", console=console) or None
    return _decision(choice, comment, args)


def _drive_to_end(
    engine: AnyEngine, outcome: RunOutcome, args: argparse.Namespace, console: Console
) -> RunOutcome:
    """Answer questions and the approval gate while answers or decisions are available."""
    interactive = _interactive(args)
    decision = _decision_from_flags(args)
    while True:
        ds_id = outcome.decision_set.id
        if outcome.status == "awaiting_input" and interactive:
            outcome = engine.answer(ds_id, _ask_answers(engine, outcome, console), _approver(args))
        elif outcome.status == "awaiting_approval" and (decision or interactive):
            chosen = decision or _ask_decision(args, console)
            if chosen is None:
                return outcome
            outcome = engine.decide(ds_id, chosen)
            decision = None
        else:
            return outcome


def outcome_document(outcome: RunOutcome) -> dict[str, Any]:
    """Return the JSON document describing a decision set (the ``--json`` output)."""
    state = outcome.state

    def dump(model: Any) -> Any:
        return None if model is None else model.model_dump(mode="json")

    doc: dict[str, Any] = {
        "decision_set_id": outcome.decision_set.id,
        "project_id": outcome.decision_set.project_id,
        "status": outcome.status,
        "request": outcome.decision_set.request,
        "constraints": dump(state.constraints) if state else None,
        "coverage": dump(state.coverage) if state else None,
        "questions": [],
        "plan": dump(state.plan) if state else None,
        "technical_critique": dump(state.technical_critique) if state else None,
        "cost": dump(state.cost) if state else None,
        "policy": dump(state.policy) if state else None,
        "approval": dump(state.approval) if state else None,
        "feedback": dump(state.feedback) if state else None,
        "repository": dump(state.repository) if state else None,
        "validation": dump(state.validation) if state else None,
        "bundle": dump(state.bundle) if state else None,
        "commit": dump(state.commit) if state else None,
    }
    if outcome.pending is not None:
        doc["pending"] = {
            "kind": outcome.pending.kind,
            "since": outcome.pending.created_at.isoformat(),
        }
        if outcome.pending.kind == "question":
            doc["questions"] = outcome.pending.request["questions"]
    return doc


def _report(outcome: RunOutcome, args: argparse.Namespace, console: Console) -> int:
    if args.json:
        print(json.dumps(outcome_document(outcome), indent=2, sort_keys=False))
    else:
        render_outcome(console, outcome)
    return _EXIT_BY_STATUS.get(outcome.status, EXIT_OK)


# commands -----------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops run REQUEST``."""
    answers = parse_answers(args.answer, args.answers_file)
    if not args.request.strip():
        raise InvalidInput("the request is empty; describe the ML workload in plain words")
    with _engine(args, console) as engine:
        outcome = engine.start(args.project, args.request, answers)
        return _report(_drive_to_end(engine, outcome, args, console), args, console)


def cmd_revise(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops revise ID CHANGE``."""
    answers = parse_answers(args.answer, args.answers_file)
    with _engine(args, console) as engine:
        outcome = engine.revise(args.id, args.change, answers)
        return _report(_drive_to_end(engine, outcome, args, console), args, console)


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops show ID``: the Change Summary."""
    from agentic_mlops.cli.render import render_change_summary

    with _engine(args, console) as engine:
        summary = engine.change_summary(args.id)
    if args.json:
        print(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        render_change_summary(console, summary)
    return EXIT_OK


def cmd_bundle(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops bundle ID --out DIR``: extract the generated repository."""
    from agentic_mlops.artifacts.bundle import extract_zip

    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty folder; choose a new --out")
    with _engine(args, console) as engine:
        outcome = engine.status(args.id)
        bundle = outcome.state.bundle if outcome.state else None
        if bundle is None:
            raise Conflict(
                f"decision set {args.id} has no bundle (status: {outcome.status}); bundles"
                " exist once an approved plan has been generated and validated"
            )
        written = extract_zip(engine.artifacts.get(bundle.key), out)
    if args.json:
        print(
            json.dumps(
                {"bundle": bundle.model_dump(), "out": str(out), "files": len(written)}, indent=2
            )
        )
    else:
        console.print(f"Extracted {len(written)} files of {bundle.key} into {out}")
        console.print(f"Validation reports: {out / 'reports' / 'validation.md'}")
    return EXIT_OK


def cmd_answer(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops answer ID --answer FIELD=VALUE``."""
    answers = parse_answers(args.answer, args.answers_file)
    if not answers:
        raise InvalidInput("no answers given; use --answer FIELD=VALUE or --answers-file FILE")
    with _engine(args, console) as engine:
        outcome = engine.answer(args.id, answers, _approver(args))
        return _report(_drive_to_end(engine, outcome, args, console), args, console)


def _cmd_decide(args: argparse.Namespace, console: Console, decision: str) -> int:
    with _engine(args, console) as engine:
        outcome = engine.decide(args.id, _decision(decision, args.comment, args))
        return _report(outcome, args, console)


def cmd_approve(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops approve ID``."""
    return _cmd_decide(args, console, "approve")


def cmd_reject(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops reject ID``."""
    return _cmd_decide(args, console, "reject")


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops status ID``."""
    with _engine(args, console) as engine:
        return _report(engine.status(args.id), args, console)


def cmd_resume(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops resume ID``."""
    with _engine(args, console) as engine:
        outcome = engine.resume(args.id)
        return _report(_drive_to_end(engine, outcome, args, console), args, console)


def cmd_events(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops events ID``."""
    with _database(console) as database:
        database.store.get_decision_set(args.id)
        events = database.store.list_events(args.id, after=args.after, event_type=args.event_type)
    messages = [
        {**event.message(), "checkpoint_id": event.checkpoint_id, "step": event.step}
        for event in events
    ]
    if args.json:
        print(json.dumps(messages, indent=2))
    else:
        render_timeline(console, messages)
    return EXIT_OK
