"""The CLI's commands: each builds the platform, acts through the service, and reports.

The CLI acts as the local user (``--approver`` or ``$USER``) with every role, through the
same service — authorisation and validation included — as the REST API, the WebSocket API
and Slack.
"""

from __future__ import annotations

import argparse
import getpass
import json
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
from agentic_mlops.domain.identity import Identity
from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.composition import Platform
    from agentic_mlops.service.application import PlatformService
    from agentic_mlops.service.reads import DecisionSetRead

_EXIT_BY_STATUS = {
    "awaiting_input": EXIT_NEEDS_ANSWERS,
    "awaiting_approval": EXIT_NEEDS_APPROVAL,
    "failed": EXIT_FAILED,
}


class _Shown:
    """The service, with a spinner while the workflow runs and its events rendered.

    The spinner runs only inside calls that run the workflow, never while the user is
    prompted.
    """

    _WORKFLOW_CALLS = frozenset({"start_in_named_project", "answer", "decide", "resume", "revise"})

    def __init__(self, service: PlatformService, console: Console) -> None:
        self._service = service
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
        attribute = getattr(self._service, name)
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
def _platform(args: argparse.Namespace, console: Console) -> Iterator[tuple[Platform, Any]]:
    """The platform of this command (migrating the database), and its shown service."""
    from agentic_mlops.composition import build_platform, secret_values
    from agentic_mlops.observability import configure_logging, stop_logging
    from agentic_mlops.settings import load_settings

    settings = load_settings()  # InvalidInput naming the variable if one is bad
    log_path = settings.logging.cli_log or settings.home / "logs" / "cli.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("a", encoding="utf-8")
    configure_logging(settings.logging.level, stream=log_file, secrets=secret_values(settings))
    shown: _Shown | None = None

    def on_event(message: dict[str, Any]) -> None:
        if shown is not None:
            shown.on_event(message, compact=getattr(args, "json", False))

    try:
        with console.status("Opening the database…"):
            platform = build_platform(settings, "cli", on_event=on_event)
    except BaseException:
        stop_logging()
        log_file.close()
        raise
    try:
        shown = _Shown(platform.service, console)
        yield platform, shown
    finally:
        platform.close()
        stop_logging()
        log_file.close()


def _user(args: argparse.Namespace) -> str:
    if getattr(args, "approver", None):
        return str(args.approver)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _identity(args: argparse.Namespace) -> Identity:
    from agentic_mlops.service.inputs import clean_user

    return Identity.local(clean_user(_user(args)))


def _interactive(args: argparse.Namespace) -> bool:
    import sys

    return not args.no_input and sys.stdin.isatty()


def _decision_from_flags(args: argparse.Namespace) -> tuple[str, str | None] | None:
    if getattr(args, "approve", False) or getattr(args, "reject", False):
        return ("approve" if args.approve else "reject", args.comment)
    return None


def _ask_answers(service: Any, read: DecisionSetRead, console: Console) -> dict[str, str]:
    assert read.pending is not None
    answers: dict[str, str] = {}
    for question in read.pending.request["questions"]:
        hint = f" (e.g. {', '.join(question['examples'][:2])})" if question["examples"] else ""
        while True:
            value = Prompt.ask(f"[bold]{question['question']}[/bold]{hint}", console=console)
            try:
                answers.update(service.check_answers({question["field"]: value}))
                break
            except InvalidInput as exc:
                console.print(f"[red]{exc}[/red]")
    return answers


def _ask_decision(console: Console) -> tuple[str, str | None] | None:
    choice = Prompt.ask(
        "Approve this plan?", choices=["approve", "reject", "later"], console=console
    )
    if choice == "later":
        return None
    comment = Prompt.ask("Comment (optional)", default="", console=console) or None
    return choice, comment


def _drive_to_end(
    service: Any, read: DecisionSetRead, args: argparse.Namespace, console: Console
) -> DecisionSetRead:
    """Answer questions and the approval gate while answers or decisions are available."""
    interactive = _interactive(args)
    decision = _decision_from_flags(args)
    identity = _identity(args)
    while True:
        ds_id = read.decision_set.id
        if read.status == "awaiting_input" and interactive:
            read = service.answer(identity, ds_id, _ask_answers(service, read, console))
        elif read.status == "awaiting_approval" and (decision or interactive):
            shown_hash = read.pending.request.get("plan_hash") if read.pending else None
            chosen = decision or _ask_decision(console)
            if chosen is None:
                return read
            service.decide(identity, ds_id, chosen[0], chosen[1], plan_hash=shown_hash)
            read = service.read(identity, ds_id)
            decision = None
        else:
            return read


def outcome_document(outcome: DecisionSetRead) -> dict[str, Any]:
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


def _report(outcome: DecisionSetRead, args: argparse.Namespace, console: Console) -> int:
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
    with _platform(args, console) as (_, service):
        read = service.start_in_named_project(_identity(args), args.project, args.request, answers)
        return _report(_drive_to_end(service, read, args, console), args, console)


def cmd_revise(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops revise ID CHANGE``."""
    answers = parse_answers(args.answer, args.answers_file)
    with _platform(args, console) as (_, service):
        read = service.revise(_identity(args), args.id, args.change, answers)
        return _report(_drive_to_end(service, read, args, console), args, console)


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops show ID``: the Change Summary."""
    from agentic_mlops.cli.render import render_change_summary

    with _platform(args, console) as (_, service):
        summary = service.change_summary(_identity(args), args.id)
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
    with _platform(args, console) as (platform, service):
        bundle = service.bundle(_identity(args), args.id)
        written = extract_zip(platform.artifacts.get(bundle["key"]), out)
    bundle.pop("url", None)
    bundle.pop("expires_in", None)
    if args.json:
        print(json.dumps({"bundle": bundle, "out": str(out), "files": len(written)}, indent=2))
    else:
        console.print(f"Extracted {len(written)} files of {bundle['key']} into {out}")
        console.print(f"Validation reports: {out / 'reports' / 'validation.md'}")
    return EXIT_OK


def cmd_answer(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops answer ID --answer FIELD=VALUE``."""
    answers = parse_answers(args.answer, args.answers_file)
    if not answers:
        raise InvalidInput("no answers given; use --answer FIELD=VALUE or --answers-file FILE")
    with _platform(args, console) as (_, service):
        read = service.answer(_identity(args), args.id, answers)
        return _report(_drive_to_end(service, read, args, console), args, console)


def _cmd_decide(args: argparse.Namespace, console: Console, decision: str) -> int:
    with _platform(args, console) as (_, service):
        identity = _identity(args)
        plan_hash = args.plan_hash
        if plan_hash is None:
            current = service.read(identity, args.id)
            if current.pending is not None and current.pending.kind == "approval":
                plan_hash = current.pending.request.get("plan_hash")
        service.decide(identity, args.id, decision, args.comment, plan_hash=plan_hash)
        return _report(service.read(identity, args.id), args, console)


def cmd_approve(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops approve ID``."""
    return _cmd_decide(args, console, "approve")


def cmd_reject(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops reject ID``."""
    return _cmd_decide(args, console, "reject")


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops status ID``."""
    with _platform(args, console) as (platform, service):
        read = service.read(_identity(args), args.id)
        if read.status in {"created", "running"} and not platform.store.run_is_live(args.id):
            console.print(
                f"[yellow]No process is running decision set {args.id}: its run was"
                " interrupted. Continue it with `agentic-mlops resume "
                f"{args.id}` (or start `agentic-mlops serve`, which resumes it).[/yellow]"
            )
        return _report(read, args, console)


def cmd_resume(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops resume ID``."""
    with _platform(args, console) as (_, service):
        read = service.resume(_identity(args), args.id)
        return _report(_drive_to_end(service, read, args, console), args, console)


def cmd_events(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops events ID``."""
    with _platform(args, console) as (_, service):
        events, after = [], args.after
        while True:
            page = service.events(
                _identity(args), args.id, after=after, limit=500, event_type=args.event_type
            )
            events += page
            if len(page) < 500:
                break
            after = page[-1].seq
    messages = [
        {**event.message(), "checkpoint_id": event.checkpoint_id, "step": event.step}
        for event in events
    ]
    if args.json:
        print(json.dumps(messages, indent=2))
    else:
        render_timeline(console, messages)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, console: Console) -> int:
    """``agentic-mlops migrate``: apply the database migrations (the CLI and ``serve`` also
    do it when they start)."""
    from agentic_mlops.composition import migrate
    from agentic_mlops.persistence.migrations import latest_version
    from agentic_mlops.settings import load_settings

    settings = load_settings(("local", "database"))
    with console.status("Migrating the database…"):
        applied = migrate(settings)
    if args.json:
        print(json.dumps({"applied": applied, "version": latest_version()}))
    else:
        done = ", ".join(map(str, applied)) if applied else "none (already current)"
        console.print(f"Migrations applied: {done}; schema version {latest_version()}.")
    return EXIT_OK
