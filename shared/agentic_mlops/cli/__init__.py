"""``agentic-mlops``: the command line of the platform (the main job).

Exit codes: 0 done; 1 the workflow or the database failed; 2 bad input or unknown id;
3 paused for intake answers; 4 paused for approval; 5 conflicts with the decision set's
state (for example a gate that was already decided).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentic_mlops.errors import Conflict, InvalidInput, NotFound, PlatformError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_NEEDS_ANSWERS, EXIT_NEEDS_APPROVAL, EXIT_CONFLICT = (
    0,
    1,
    2,
    3,
    4,
    5,
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and the platform's exit code for bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"agentic-mlops: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = _Parser(prog="agentic-mlops", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def answers_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--answer",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="answer an intake question (repeatable)",
        )
        p.add_argument(
            "--answers-file", type=Path, metavar="FILE", help="JSON object of field: answer"
        )

    def decision_options(p: argparse.ArgumentParser, *, choice: bool) -> None:
        if choice:
            group = p.add_mutually_exclusive_group()
            group.add_argument("--approve", action="store_true", help="approve at the gate")
            group.add_argument("--reject", action="store_true", help="reject at the gate")
        p.add_argument("--comment", help="approver's comment (may change the constraints)")
        p.add_argument("--approver", default=None, help="who decides (default: $USER)")

    def output_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        p.add_argument("--no-input", action="store_true", help="never prompt, even on a terminal")

    run = sub.add_parser("run", help="run a request from intake to the approval decision")
    run.add_argument("request", help="the ML workload in plain words")
    run.add_argument("--project", default="default", help="project name (default: default)")
    answers_options(run)
    decision_options(run, choice=True)
    output_options(run)

    revise = sub.add_parser("revise", help="create and run a revision of a decided decision set")
    revise.add_argument("id", help="the decision set to revise")
    revise.add_argument("change", help='the change, e.g. "move to eu-west-1"')
    answers_options(revise)
    decision_options(revise, choice=True)
    output_options(revise)

    show = sub.add_parser("show", help="print the Change Summary of a decision set")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")

    bundle = sub.add_parser("bundle", help="extract the generated repository of a decision set")
    bundle.add_argument("id")
    bundle.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder to extract into (must be empty or absent)",
    )
    bundle.add_argument("--json", action="store_true")

    answer = sub.add_parser("answer", help="answer the open intake questions of a decision set")
    answer.add_argument("id")
    answers_options(answer)
    decision_options(answer, choice=True)
    output_options(answer)

    for name in ("approve", "reject"):
        p = sub.add_parser(name, help=f"{name} the plan waiting for approval")
        p.add_argument("id")
        decision_options(p, choice=False)
        p.add_argument(
            "--plan-hash",
            default=None,
            help="the plan you reviewed (its hash); refused if the plan changed since"
            " (default: the plan waiting now)",
        )
        output_options(p)

    for name, text in (
        ("status", "show where a decision set stands"),
        ("resume", "continue a run interrupted by a crash"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("id")
        output_options(p)

    migrate = sub.add_parser(
        "migrate", help="apply the database migrations (run and serve do it when they start)"
    )
    migrate.add_argument("--json", action="store_true")

    events = sub.add_parser("events", help="print the timeline of a decision set")
    events.add_argument("id")
    events.add_argument("--type", dest="event_type", help="only this event type")
    events.add_argument("--after", type=int, default=0, help="only events after this seq")
    events.add_argument("--json", action="store_true")

    from agentic_mlops.cli.serving import add_commands

    add_commands(sub)
    return parser


def parse_answers(pairs: Sequence[str], answers_file: Path | None) -> dict[str, str]:
    """Merge ``--answers-file`` and ``--answer FIELD=VALUE`` (the flags win).

    Raises:
        InvalidInput: for a malformed pair or file.
    """
    answers: dict[str, str] = {}
    if answers_file is not None:
        try:
            loaded = json.loads(answers_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read answers file {answers_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"answers file {answers_file} is not UTF-8 text") from exc
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"answers file {answers_file} is not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(v, str | int | float | bool) for v in loaded.values()
        ):
            raise InvalidInput(
                f"answers file {answers_file} must be a JSON object of field: answer,"
                ' like {"budget": "$1,500/month"}'
            )
        answers.update({str(k): str(v) for k, v in loaded.items()})
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip() or not value.strip():
            raise InvalidInput(f"--answer expects FIELD=VALUE, got {pair!r}")
        answers[field.strip()] = value.strip()
    return answers


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    from rich.console import Console

    json_mode = getattr(args, "json", False)
    console = Console(stderr=json_mode, highlight=False)
    try:
        return _dispatch(args, console)
    except PlatformError as exc:
        return _report_error(exc, json_mode)
    except KeyboardInterrupt:
        print("interrupted; the decision set keeps its last checkpoint", file=sys.stderr)
        return 130


def _report_error(exc: PlatformError, json_mode: bool) -> int:
    """Print one line on stderr (and a JSON error document with --json); return the code."""
    if isinstance(exc, InvalidInput | NotFound):
        code = EXIT_INPUT
    elif isinstance(exc, Conflict):
        code = EXIT_CONFLICT
    else:
        code = EXIT_FAILED
    message = " ".join(str(exc).split())
    print(f"agentic-mlops: error: {message}", file=sys.stderr)
    if json_mode:
        error: dict[str, Any] = {"code": exc.code, "message": message, "exit_code": code}
        decision_set_id = getattr(exc, "decision_set_id", None)
        if decision_set_id:
            error["decision_set_id"] = decision_set_id
        print(json.dumps({"error": error}))
    return code


def _dispatch(args: argparse.Namespace, console: Any) -> int:
    from agentic_mlops.cli import commands, serving

    name = f"cmd_{args.command.replace('-', '_')}"
    handler = getattr(commands, name, None) or getattr(serving, name)
    return int(handler(args, console))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
