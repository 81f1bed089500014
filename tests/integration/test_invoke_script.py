"""scripts/invoke runs a function's handler in a subprocess against real PostgreSQL: the
JSON result on stdout, a one-line ``ErrorType: message`` and exit 1 when the handler raises,
exit 2 for a missing event file or function."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from harness import Harness

from agentic_mlops.persistence import Database
from agentic_mlops.providers.offline import OfflineProvider

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
INVOKE = ROOT / "scripts" / "invoke"
EXTRACT = "events/node_runner/extract_constraints.json"
GOLDEN = json.loads((ROOT / "tests" / "golden" / "workloads.json").read_text())


def invoke(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("AGENTIC_MLOPS_PROVIDER", None)  # the offline provider
    return subprocess.run(
        [str(INVOKE), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_node_runner_runs_the_event_node_of_a_prepared_decision_set(
    database: Database, database_url: str
) -> None:
    engine = Harness(database, OfflineProvider())
    ds_id = engine.prepare("invoke-script", GOLDEN["batch_tabular"]["request"]).id

    done = invoke(database_url, "node_runner", EXTRACT, "--set", f"decision_set_id={ds_id}")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["decision_set_id"] == ds_id
    assert result["node"] == "extract_constraints"
    assert result["status"] == "running"
    assert result["replay"] is False
    runs = database.store.list_runs(ds_id)
    assert [(r.node, r.executions) for r in runs] == [("extract_constraints", 1)]


def test_an_unknown_decision_set_is_a_one_line_not_found_error(database_url: str) -> None:
    done = invoke(database_url, "node_runner", EXTRACT)  # ds-000000000000 names nothing

    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("NotFound: "), done.stderr
    assert "ds-000000000000" in lines[0]


@pytest.mark.parametrize(
    ("function", "event", "names"),
    [
        ("node_runner", "events/node_runner/no_such_event.json", "no_such_event.json"),
        ("no_such_function", EXTRACT, "no_such_function"),
    ],
    ids=["missing-event-file", "missing-function"],
)
def test_a_missing_event_file_or_function_is_a_one_line_usage_error(
    database_url: str, function: str, event: str, names: str
) -> None:
    done = invoke(database_url, function, event)

    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], done.stderr
