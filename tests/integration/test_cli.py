"""The ``agentic-mlops`` command line on real PostgreSQL: exit codes, --json, bad input.

Most tests call ``agentic_mlops.cli.main`` in-process (fast); the cross-process test runs
``python -m agentic_mlops.cli`` in subprocesses to show a paused decision set can be picked
up by another process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentic_mlops.cli import main
from agentic_mlops.persistence import Database

pytestmark = pytest.mark.integration

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
PHI = GOLDEN["regulated_phi"]
CHURN = GOLDEN["batch_tabular"]["request"]
# The churn request moved to us-east-1 while its data must stay in the EU: fails residency.
CHURN_OUTSIDE_EU = CHURN.replace("eu-west-1 only", "us-east-1 only, data must stay in the EU")
UNKNOWN_ID = "ds-000000000000"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """Point the CLI at the test database; a wide console so messages are not wrapped."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.delenv("AGENTIC_MLOPS_PROVIDER", raising=False)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    return database_url


@pytest.fixture
def cli(cli_env: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``agentic-mlops ARGS`` in-process; return the exit code and captured output."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors exit through parser.exit
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    return f"cli-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


def count_decision_sets(database: Database) -> int:
    return len(database.store.list_decision_sets())


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Stderr is exactly one non-empty line, an error naming every fragment; stdout is
    empty, or (with --json) one JSON error document carrying the same message."""
    assert "Traceback" not in result.text, result.text
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.text
    line = lines[0]
    assert "error" in line.lower(), line
    for fragment in fragments:
        assert fragment.lower() in line.lower(), line
    if result.out.strip():
        error = result.json()["error"]
        assert error["exit_code"] == result.code
        assert error["message"] in line
    return line


def start_awaiting_input(cli: Cli, project: str) -> str:
    result = cli("run", PHI["request"], "--project", project, "--json")
    assert result.code == 3, result.text
    return result.json()["decision_set_id"]


def start_awaiting_approval(cli: Cli, project: str, request: str = CHURN) -> dict[str, Any]:
    result = cli("run", request, "--project", project, "--json")
    assert result.code == 4, result.text
    doc = result.json()
    assert doc["status"] == "awaiting_approval"
    return doc


def subprocess_cli(database_url: str, home: Path, *args: str) -> Result:
    env = {**os.environ, "DATABASE_URL": database_url, "HOME": str(home), "COLUMNS": "1000"}
    env.pop("AGENTIC_MLOPS_PROVIDER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "agentic_mlops.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# 1. run end to end ----------------------------------------------------------------------


def test_run_with_answers_and_approve_prints_one_json_document_of_the_approved_plan(
    cli: Cli, project: str, database: Database
) -> None:
    # Given the regulated PHI golden workload with its budget answer
    answers = [f"{field}={value}" for field, value in PHI["answers"].items()]
    answer_flags = [flag for pair in answers for flag in ("--answer", pair)]

    # When it is run to the end with --approve and --json
    result = cli("run", PHI["request"], "--project", project, *answer_flags, "--approve", "--json")

    # Then it exits 0 and stdout is exactly one JSON document describing the approved plan
    assert result.code == 0, result.text
    doc = result.json()
    assert isinstance(doc, dict)
    assert doc["decision_set_id"].startswith("ds-")
    assert doc["status"] == "approved"
    assert doc["questions"] == []
    assert doc["constraints"]["region"] == "us-east-2"
    assert doc["constraints"]["budget"]["monthly_usd"] == 2500
    assert doc["plan"]["name"] and doc["plan"]["components"]
    assert doc["plan"]["region"] == "us-east-2"
    # the cost has a total and line items that add up to it
    cost = doc["cost"]
    assert cost["monthly_total_usd"] > 0
    assert cost["line_items"]
    assert sum(item["monthly_usd"] for item in cost["line_items"]) == pytest.approx(
        cost["monthly_total_usd"], abs=0.05
    )
    # the policy has an overall verdict and one result per rule, HIPAA included
    policy = doc["policy"]
    assert policy["overall"] == "pass"
    assert policy["results"]
    for rule in policy["results"]:
        assert rule["rule_id"] and rule["status"] in {"pass", "fail", "not_applicable"}
    rule_status = {r["rule_id"]: r["status"] for r in policy["results"]}
    assert rule_status["POL-HIPAA-001"] == "pass"
    assert doc["approval"]["decision"] == "approve"
    # progress went to stderr, not stdout
    assert "reason-card" in result.err
    assert "run-complete" in result.err
    # and the database agrees
    assert database.store.get_decision_set(doc["decision_set_id"]).status == "approved"


# 2. intake pause, then answer and approve from other processes -------------------------


def test_a_missing_budget_pauses_and_other_processes_answer_approve_and_read_the_timeline(
    cli: Cli, project: str, database: Database, database_url: str, tmp_path: Path
) -> None:
    # Given the regulated PHI request without its budget answer, and no terminal
    before = count_decision_sets(database)

    # When it is run with --json
    result = cli("run", PHI["request"], "--project", project, "--json")

    # Then it exits 3, awaiting input, asking for the budget, and the decision set is kept
    assert result.code == 3, result.text
    doc = result.json()
    assert doc["status"] == "awaiting_input"
    assert [q["field"] for q in doc["questions"]] == ["budget"]
    assert doc["questions"][0]["question"]
    assert doc["pending"]["kind"] == "question"
    ds_id = doc["decision_set_id"]
    assert count_decision_sets(database) == before + 1
    assert database.store.get_decision_set(ds_id).status == "awaiting_input"

    # When another process answers the budget
    answered = subprocess_cli(
        database_url, tmp_path, "answer", ds_id, "--answer", "budget=$2,500 per month", "--json"
    )

    # Then it goes on to the approval gate (exit 4)
    assert answered.code == 4, answered.text
    doc = answered.json()
    assert doc["status"] == "awaiting_approval"
    assert doc["constraints"]["budget"]["monthly_usd"] == 2500
    assert doc["constraints"]["use_spot_training"] is None
    assert doc["pending"]["kind"] == "approval"

    # When yet another process approves with a comment asking for spot training
    approved = subprocess_cli(
        database_url,
        tmp_path,
        "approve",
        ds_id,
        "--comment",
        "use spot instances for training",
        "--json",
    )

    # Then the plan is approved and the comment changed the constraints
    assert approved.code == 0, approved.text
    doc = approved.json()
    assert doc["status"] == "approved"
    assert doc["approval"]["comment"] == "use spot instances for training"
    changes = {c["field"]: c for c in doc["feedback"]["changes"]}
    assert "use_spot_training" in changes
    assert changes["use_spot_training"]["new"] is True
    assert doc["constraints"]["use_spot_training"] is True

    # When the timeline is read
    events = cli("events", ds_id, "--json")

    # Then it is one ordered list holding every stage of the run
    assert events.code == 0, events.text
    timeline = events.json()
    seqs = [e["seq"] for e in timeline]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    types = [e["type"] for e in timeline]
    expected_order = [
        "question",
        "answer-received",
        "cost-update",
        "policy-update",
        "approval-requested",
        "approval-decided",
        "run-complete",
    ]
    assert "reason-card" in types
    positions = [types.index(t) for t in expected_order]
    assert positions == sorted(positions), types
    assert types[-1] == "run-complete"
    assert all(e["decision_set_id"] == ds_id for e in timeline)
    # and every reason card recorded at a step points at its checkpoint
    cards_with_step = [e for e in timeline if e["type"] == "reason-card" and e["step"] is not None]
    assert cards_with_step
    assert all(e["checkpoint_id"] for e in cards_with_step), cards_with_step


# 3. reject, then a late approve ---------------------------------------------------------


def test_a_rejected_plan_cannot_be_approved_afterwards(
    cli: Cli, project: str, database: Database
) -> None:
    # Given a plan waiting for approval
    ds_id = start_awaiting_approval(cli, project)["decision_set_id"]

    # When it is rejected
    rejected = cli("reject", ds_id, "--comment", "too early", "--json")

    # Then the decision set is rejected
    assert rejected.code == 0, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["approval"]["decision"] == "reject"

    # When someone approves it afterwards
    late = cli("approve", ds_id)

    # Then that is a conflict (exit 5) reported in one line, and it stays rejected
    assert late.code == 5, late.text
    assert_one_line_error(late, "already")
    status = cli("status", ds_id, "--json")
    assert status.code == 0, status.text
    assert status.json()["status"] == "rejected"
    assert status.json()["approval"]["decision"] == "reject"
    assert database.store.get_decision_set(ds_id).status == "rejected"


# 4. bad input changes nothing -----------------------------------------------------------


@pytest.mark.parametrize("request_text", ["", "   "], ids=["empty", "blank"])
def test_an_empty_request_is_refused(
    cli: Cli, project: str, database: Database, request_text: str
) -> None:
    # Given the decision sets stored so far
    before = count_decision_sets(database)

    # When a run is asked for an empty request
    result = cli("run", request_text, "--project", project, "--json")

    # Then it is refused in one line (exit 2) and nothing is created
    assert result.code == 2, result.text
    assert_one_line_error(result, "request is empty")
    assert result.json() == {
        "error": {
            "code": "invalid_input",
            "message": "the request is empty; describe the ML workload in plain words",
            "exit_code": 2,
        }
    }
    assert count_decision_sets(database) == before


@pytest.mark.parametrize(
    ("answer", "fragments"),
    [
        ("colour=blue", ["unknown field", "colour"]),
        ("budget", ["FIELD=VALUE", "budget"]),
        ("budget=", ["FIELD=VALUE"]),
        ("budget=lots", ["budget"]),
    ],
    ids=["unknown-field", "no-equals", "empty-value", "unreadable-value"],
)
def test_a_bad_answer_on_run_is_refused_before_anything_is_created(
    cli: Cli, project: str, database: Database, answer: str, fragments: list[str]
) -> None:
    # Given the decision sets stored so far
    before = count_decision_sets(database)

    # When a run is given a bad --answer
    result = cli("run", PHI["request"], "--project", project, "--answer", answer)

    # Then it is refused in one line (exit 2) and nothing is created
    assert result.code == 2, result.text
    assert_one_line_error(result, *fragments)
    assert count_decision_sets(database) == before


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('{"budget": "$2,500 per month"', ["not valid JSON"]),
        ('["budget", "$2,500 per month"]', ["JSON object"]),
        ('{"budget": {"amount": 2500}}', ["JSON object"]),
        (None, ["cannot read answers file"]),
    ],
    ids=["invalid-json", "json-list", "nested-value", "missing-file"],
)
def test_a_malformed_answers_file_is_refused_before_anything_is_created(
    cli: Cli,
    project: str,
    database: Database,
    tmp_path: Path,
    content: str | None,
    fragments: list[str],
) -> None:
    # Given an answers file that is not a JSON object of field: answer (or is missing)
    path = tmp_path / "answers.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = count_decision_sets(database)

    # When a run is given that file
    result = cli("run", PHI["request"], "--project", project, "--answers-file", str(path))

    # Then it is refused in one line naming the file (exit 2) and nothing is created
    assert result.code == 2, result.text
    assert_one_line_error(result, *fragments, "answers.json")
    assert count_decision_sets(database) == before


@pytest.mark.parametrize(
    "command",
    [
        ["answer", UNKNOWN_ID, "--answer", "budget=$1,000/month"],
        ["approve", UNKNOWN_ID],
        ["reject", UNKNOWN_ID],
        ["status", UNKNOWN_ID],
        ["events", UNKNOWN_ID],
        ["resume", UNKNOWN_ID],
        ["status", UNKNOWN_ID, "--json"],
    ],
    ids=["answer", "approve", "reject", "status", "events", "resume", "status-json"],
)
def test_an_unknown_id_is_refused(cli: Cli, database: Database, command: list[str]) -> None:
    # Given the decision sets stored so far
    before = count_decision_sets(database)

    # When a command names a decision set that does not exist
    result = cli(*command)

    # Then it is refused in one line naming the id (exit 2) and nothing is created
    assert result.code == 2, result.text
    assert_one_line_error(result, UNKNOWN_ID)
    assert count_decision_sets(database) == before


def test_an_unreadable_answer_to_a_waiting_question_changes_nothing(
    cli: Cli, project: str, database: Database
) -> None:
    # Given a decision set waiting for its budget
    ds_id = start_awaiting_input(cli, project)
    events_before = len(database.store.list_events(ds_id))
    before = count_decision_sets(database)

    # When the budget answer cannot be read
    result = cli("answer", ds_id, "--answer", "budget=lots", "--json")

    # Then it is refused in one line (exit 2) and the decision set still waits for input
    assert result.code == 2, result.text
    assert_one_line_error(result, "budget")
    assert database.store.get_decision_set(ds_id).status == "awaiting_input"
    assert len(database.store.list_events(ds_id)) == events_before
    assert count_decision_sets(database) == before
    status = cli("status", ds_id, "--json")
    assert status.code == 3
    assert [q["field"] for q in status.json()["questions"]] == ["budget"]


def test_answer_without_any_answer_is_refused(cli: Cli, project: str, database: Database) -> None:
    # Given a decision set waiting for its budget
    ds_id = start_awaiting_input(cli, project)
    events_before = len(database.store.list_events(ds_id))

    # When `answer` is called with no answer at all
    result = cli("answer", ds_id)

    # Then it is refused in one line (exit 2) and nothing changes
    assert result.code == 2, result.text
    assert_one_line_error(result, "no answers")
    assert database.store.get_decision_set(ds_id).status == "awaiting_input"
    assert len(database.store.list_events(ds_id)) == events_before


def test_answering_a_decision_set_that_awaits_approval_is_a_conflict(
    cli: Cli, project: str, database: Database
) -> None:
    # Given a plan waiting for approval
    ds_id = start_awaiting_approval(cli, project)["decision_set_id"]
    events_before = len(database.store.list_events(ds_id))
    before = count_decision_sets(database)

    # When someone sends intake answers to it
    result = cli("answer", ds_id, "--answer", "budget=$1,000/month", "--json")

    # Then it is a conflict (exit 5) in one line and the plan still waits for approval
    assert result.code == 5, result.text
    assert_one_line_error(result, "not awaiting input")
    assert database.store.get_decision_set(ds_id).status == "awaiting_approval"
    assert len(database.store.list_events(ds_id)) == events_before
    assert count_decision_sets(database) == before


def test_approving_a_policy_failed_plan_needs_a_comment(
    cli: Cli, project: str, database: Database
) -> None:
    # Given a plan in us-east-1 for data that must stay in the EU
    doc = start_awaiting_approval(cli, project, CHURN_OUTSIDE_EU)
    ds_id = doc["decision_set_id"]
    assert doc["constraints"]["region"] == "us-east-1"
    assert doc["constraints"]["data_residency"] == "eu"
    # which fails the policy on the residency rule only
    assert doc["policy"]["overall"] == "fail"
    failed = [r["rule_id"] for r in doc["policy"]["results"] if r["status"] == "fail"]
    assert failed == ["POL-RES-001"]
    events_before = len(database.store.list_events(ds_id))

    # When it is approved without a comment (or with a blank one)
    bare = cli("approve", ds_id)
    blank = cli("approve", ds_id, "--comment", "   ")

    # Then both are refused in one line that asks for the comment (exit 2); nothing changes
    for result in (bare, blank):
        assert result.code == 2, result.text
        assert_one_line_error(result, "comment", "POL-RES-001")
    assert database.store.get_decision_set(ds_id).status == "awaiting_approval"
    assert len(database.store.list_events(ds_id)) == events_before

    # When it is approved with a justification
    justified = cli(
        "approve", ds_id, "--comment", "temporary exception agreed with the DPO", "--json"
    )

    # Then the approval goes through, recording the comment
    assert justified.code == 0, justified.text
    doc = justified.json()
    assert doc["status"] == "approved"
    assert doc["policy"]["overall"] == "fail"
    assert doc["approval"]["comment"] == "temporary exception agreed with the DPO"


# 5. human-readable output ---------------------------------------------------------------


def test_events_and_status_without_json_are_readable(cli: Cli, project: str) -> None:
    # Given a plan waiting for approval
    ds_id = start_awaiting_approval(cli, project)["decision_set_id"]

    # When its timeline is printed without --json
    events = cli("events", ds_id)

    # Then it is a table naming the event types, not JSON
    assert events.code == 0, events.text
    assert "Timeline" in events.out
    for event_type in ("reason-card", "cost-update", "policy-update", "approval-requested"):
        assert event_type in events.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(events.out)

    # When its status is printed without --json
    status = cli("status", ds_id)

    # Then it shows the id, the status and how to continue (exit 4: paused for approval)
    assert status.code == 4, status.text
    assert ds_id in status.out
    assert "awaiting_approval" in status.out
    assert f"agentic-mlops approve {ds_id}" in status.out


# 6. --answers-file ----------------------------------------------------------------------


def test_an_answers_file_works_like_answer_flags_and_the_flags_win(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    # Given the PHI budget answer in a JSON file
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(PHI["answers"]), encoding="utf-8")

    # When the PHI request is run once with the file and once with --answer
    with_file = cli(
        "run", PHI["request"], "--project", project, "--answers-file", str(path), "--json"
    )
    pairs = [f"{k}={v}" for k, v in PHI["answers"].items()]
    with_flags = cli(
        "run",
        PHI["request"],
        "--project",
        project,
        *[a for p in pairs for a in ("--answer", p)],
        "--json",
    )

    # Then both skip the question and reach the approval gate with the same constraints
    assert with_file.code == 4, with_file.text
    assert with_flags.code == 4, with_flags.text
    file_doc, flags_doc = with_file.json(), with_flags.json()
    assert file_doc["status"] == flags_doc["status"] == "awaiting_approval"
    assert file_doc["constraints"]["budget"]["monthly_usd"] == 2500
    assert file_doc["constraints"] == flags_doc["constraints"]
    assert file_doc["cost"]["monthly_total_usd"] == flags_doc["cost"]["monthly_total_usd"]

    # When a flag answers the same field as the file
    both = cli(
        "run",
        PHI["request"],
        "--project",
        project,
        "--answers-file",
        str(path),
        "--answer",
        "budget=$3,000/month",
        "--json",
    )

    # Then the flag wins
    assert both.code == 4, both.text
    assert both.json()["constraints"]["budget"]["monthly_usd"] == 3000


# product bugs ---------------------------------------------------------------------------


def test_an_unknown_id_with_brackets_is_refused_in_one_line(cli: Cli, database: Database) -> None:
    # Given the decision sets stored so far
    before = count_decision_sets(database)

    # When the status of an id containing square brackets is asked
    result = cli("status", "[/x]")

    # Then it is refused in one line naming the id (exit 2)
    assert_one_line_error(result, "[/x]")
    assert result.code == 2
    assert count_decision_sets(database) == before


def test_an_answers_file_that_is_not_utf8_is_refused_in_one_line(
    cli: Cli, project: str, database: Database, tmp_path: Path
) -> None:
    # Given an answers file saved as UTF-16 (with its byte-order mark)
    path = tmp_path / "answers.json"
    path.write_bytes(json.dumps({"budget": "$2,500 per month"}).encode("utf-16"))
    before = count_decision_sets(database)

    # When a run is given that file
    result = cli("run", PHI["request"], "--project", project, "--answers-file", str(path))

    # Then it is refused in one line naming the file (exit 2) and nothing is created
    assert_one_line_error(result, "answers.json")
    assert result.code == 2
    assert count_decision_sets(database) == before


def test_an_over_long_comment_is_refused_in_one_line(
    cli: Cli, project: str, database: Database
) -> None:
    # Given a plan waiting for approval
    ds_id = start_awaiting_approval(cli, project)["decision_set_id"]

    # When it is approved with a 4001-character comment
    result = cli("approve", ds_id, "--comment", "x" * 4001)

    # Then it is refused in one line (exit 2) and the plan still waits for approval
    assert_one_line_error(result, "comment")
    assert result.code == 2
    assert database.store.get_decision_set(ds_id).status == "awaiting_approval"


def test_a_long_error_stays_on_one_line_at_the_default_width(
    cli: Cli, project: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the 80-column width rich uses when stdout is not a terminal
    monkeypatch.setenv("COLUMNS", "80")
    before = count_decision_sets(database)

    # When a run names an unknown answer field (the message lists every answerable field)
    result = cli("run", PHI["request"], "--project", project, "--answer", "colour=blue")

    # Then the error is still one line (exit 2)
    assert result.code == 2, result.text
    assert count_decision_sets(database) == before
    assert_one_line_error(result, "unknown field", "colour", "summary")


# 7. after approval: bundle, revision, Change Summary --------------------------------------


def test_run_to_approval_prints_bundle_validation_and_commit(cli: Cli, project: str) -> None:
    # Given a complete request approved up front
    result = cli("run", CHURN, "--project", project, "--approve", "--json")

    # Then the JSON carries the bundle, the validation and the commit
    assert result.code == 0, result.text
    doc = result.json()
    assert doc["bundle"]["key"].startswith("bundles/sha256/")
    assert len(doc["bundle"]["sha256"]) == 64
    assert doc["validation"]["passed"] is True
    assert len(doc["commit"]["sha"]) == 40

    # And the human rendering of the same decision set shows them too
    shown = cli("status", doc["decision_set_id"])
    assert doc["bundle"]["sha256"] in shown.out
    assert doc["commit"]["sha"] in shown.out
    assert "Validation passed" in shown.out


def test_bundle_extracts_the_repository_with_its_reports(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    done = cli("run", CHURN, "--project", project, "--approve", "--json").json()
    out = tmp_path / "repo"

    result = cli("bundle", done["decision_set_id"], "--out", str(out))

    assert result.code == 0, result.text
    assert (out / "reports" / "validation.md").is_file()
    assert json.loads((out / "reports" / "validation.json").read_text())["passed"] is True
    assert (out / "infra" / "terraform" / "s3.tf").is_file()
    # a second extraction into the now non-empty folder is refused and changes nothing
    again = cli("bundle", done["decision_set_id"], "--out", str(out))
    assert again.code == 2
    assert_one_line_error(again, "not an empty folder")


def test_bundle_of_a_decision_set_without_one_is_a_conflict(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    paused = start_awaiting_approval(cli, project)
    result = cli("bundle", paused["decision_set_id"], "--out", str(tmp_path / "x"))
    assert result.code == 5
    assert_one_line_error(result, "has no bundle")
    assert not (tmp_path / "x").exists()


def test_revise_and_show_name_the_changed_region(cli: Cli, project: str) -> None:
    # Given an approved decision set in eu-west-1
    parent = cli("run", CHURN, "--project", project, "--approve", "--json").json()

    # When a revision moves it to eu-central-1 and is approved
    revised = cli(
        "revise", parent["decision_set_id"], "move to eu-central-1", "--approve", "--json"
    )
    assert revised.code == 0, revised.text
    child = revised.json()
    assert child["constraints"]["region"] == "eu-central-1"
    assert child["plan"]["region"] == "eu-central-1"

    # Then show names the region change, from and to, and the git diff of the documents
    summary = cli("show", child["decision_set_id"], "--json").json()
    assert summary["parent_id"] == parent["decision_set_id"]
    assert summary["changed_constraints"] == ["region"]
    region = next(f for f in summary["fields"] if f["path"] == "constraints.region")
    assert (region["old"], region["new"]) == ("eu-west-1", "eu-central-1")
    assert "plan/architecture.md" in {f["path"] for f in summary["files"]}
    assert "-- Region: `eu-west-1`" in summary["git_diff"]
    assert "+- Region: `eu-central-1`" in summary["git_diff"]
    human = cli("show", child["decision_set_id"])
    assert "Changed constraints: region" in human.out
    assert "diff --git" in human.out


def test_revise_refuses_a_change_that_changes_nothing(cli: Cli, project: str) -> None:
    parent = cli("run", CHURN, "--project", project, "--approve", "--json").json()
    before = cli("status", parent["decision_set_id"], "--json").json()

    result = cli("revise", parent["decision_set_id"], "please make it better", "--json")

    assert result.code == 2
    assert_one_line_error(result, "changes no constraint")
    assert cli("status", parent["decision_set_id"], "--json").json() == before
