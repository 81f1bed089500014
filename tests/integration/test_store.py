"""The platform store on real PostgreSQL: migrations, optimistic locking, events, waits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from agentic_mlops.errors import AlreadyDecided, NotFound, VersionConflict
from agentic_mlops.persistence import Database
from agentic_mlops.persistence.migrations import available_migrations, migrate
from agentic_mlops.persistence.models import AgentRun, NewEvent


@pytest.fixture
def decision_set(database: Database):
    project = database.store.get_or_create_project("store-tests")
    return database.store.create_decision_set(project.id, "a request")


def test_migrations_are_recorded_once_and_rerunning_applies_nothing(database: Database) -> None:
    with database.pool.connection() as conn:
        assert migrate(conn) == []
        versions = [r["version"] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in available_migrations()]


def test_platform_tables_exist(database: Database) -> None:
    with database.pool.connection() as conn:
        tables = {
            r["table_name"]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert {"projects", "decision_sets", "events", "agent_runs", "jobs", "approvals"} <= tables
    assert {"checkpoints", "checkpoint_writes", "checkpoint_blobs"} <= tables


def test_concurrent_updates_to_one_decision_set_lose_nothing(
    database: Database, decision_set
) -> None:
    # Given 24 writers that each add their own key to the same decision set's metadata
    def add_key(i: int) -> None:
        database.store.update_decision_set(
            decision_set.id, lambda ds: {"metadata": {**ds.metadata, f"writer{i}": i}}
        )

    # When they all run at once
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(add_key, range(24)))

    # Then every update landed, each as its own version
    final = database.store.get_decision_set(decision_set.id)
    assert final.metadata == {f"writer{i}": i for i in range(24)}
    assert final.version == decision_set.version + 24


def test_a_race_between_read_and_write_is_detected_and_retried(
    database: Database, decision_set
) -> None:
    store = database.store
    races_left: list[int] = []
    attempts: list[int] = []

    def mutation_that_gets_overtaken(ds):
        attempts.append(ds.version)
        if races_left:  # another writer lands between our read and our write
            races_left.pop()
            store.update_decision_set(
                ds.id, lambda d: {"metadata": {**d.metadata, "racer": len(attempts)}}
            )
        return {"status": "mine"}

    # The single attempt refuses to overwrite a row it did not read ...
    races_left.append(1)
    with pytest.raises(VersionConflict):
        store._update_once(decision_set.id, mutation_that_gets_overtaken)
    # ... and the public update reloads and retries until it applies on the fresh row.
    races_left.append(1)
    attempts.clear()
    result = store.update_decision_set(decision_set.id, mutation_that_gets_overtaken)
    assert len(attempts) == 2 and attempts[1] == attempts[0] + 1
    assert result.status == "mine"
    assert result.metadata == {"racer": 1}
    assert result.version == decision_set.version + 3


def test_events_are_numbered_in_order_and_deduplicated(database: Database, decision_set) -> None:
    store = database.store
    first = store.append_events(
        decision_set.id,
        [
            NewEvent(type="a", payload={"n": 1}, dedupe_key="k1"),
            NewEvent(type="b", payload={"n": 2}, dedupe_key="k2"),
        ],
    )
    again = store.append_events(
        decision_set.id,
        [
            NewEvent(type="a", payload={"n": 1}, dedupe_key="k1"),
            NewEvent(type="c", payload={"n": 3}, dedupe_key="k3"),
        ],
    )
    assert [e.seq for e in first] == [1, 2]
    assert [(e.type, e.payload["n"]) for e in again] == [("c", 3)]
    timeline = store.list_events(decision_set.id)
    assert [e.type for e in timeline] == ["a", "b", "c"]
    assert [e.seq for e in timeline] == sorted(e.seq for e in timeline)
    assert [e.type for e in store.list_events(decision_set.id, after=1, limit=1)] == ["b"]
    assert [e.type for e in store.list_events(decision_set.id, event_type="c")] == ["c"]


def test_concurrent_event_appends_get_distinct_increasing_seqs(
    database: Database, decision_set
) -> None:
    def append(i: int) -> None:
        database.store.append_events(
            decision_set.id, [NewEvent(type="t", payload={"i": i}, dedupe_key=f"c{i}")]
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(40)))
    seqs = [e.seq for e in database.store.list_events(decision_set.id)]
    assert len(seqs) == 40 and len(set(seqs)) == 40


def test_a_node_run_and_its_events_are_recorded_together(database: Database, decision_set) -> None:
    store = database.store
    run = AgentRun(
        key="run-key-1",
        decision_set_id=decision_set.id,
        node="planner",
        input_hash="h",
        status="succeeded",
        output={"plan": 1},
        error=None,
        executions=1,
    )
    stored = store.complete_run(run, [NewEvent(type="reason-card", payload={}, dedupe_key="p")])
    assert [e.type for e in stored] == ["reason-card"]
    assert store.succeeded_output("run-key-1") == {"plan": 1}
    assert store.succeeded_output("missing") is None
    assert [r.executions for r in store.list_runs(decision_set.id)] == [1]


def test_a_wait_is_decided_exactly_once(database: Database, decision_set) -> None:
    store = database.store
    wait = store.open_wait(
        decision_set.id, "approval", "interrupt-1", {"kind": "approval"}, task_token="secret-token"
    )
    assert store.open_wait(decision_set.id, "approval", "interrupt-1", {}).id == wait.id
    assert "task_token" not in wait.model_dump()
    decided = store.decide_wait(wait.id, {"decision": "approve"}, "alice")
    assert decided.status == "decided" and decided.decided_by == "alice"
    with pytest.raises(AlreadyDecided, match="already decided by alice"):
        store.decide_wait(wait.id, {"decision": "reject"}, "bob")
    assert store.latest_wait(decision_set.id).response == {"decision": "approve"}


def test_unknown_ids_raise_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        database.store.get_decision_set("ds-doesnotexist")
    with pytest.raises(NotFound):
        database.store.decide_wait("wait-nope", {}, "x")
