"""Benchmark: the platform's per-node cost against plain LangGraph's per-step cost.

Both graphs have the same state schema, the same trivial node bodies, the same
PostgresSaver on the same database and ``durability="sync"``. The platform's nodes add
the idempotency lookup, a Reason Card event and the node-run record (one transaction).
Runs of the two are interleaved so that machine noise hits both alike; the figure that
matters is the ratio of medians (target: at most 1.5x). Also reports the wall time of the
golden runs (five workloads from request to a validated, committed bundle), with the time
spent in codegen and in each validator.

Usage: .venv/bin/python scripts/bench_node_overhead.py [--steps 40] [--rounds 15]
(DATABASE_URL when set, otherwise a throwaway embedded PostgreSQL.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _chain(node: Any, steps: int, checkpointer: Any, context_schema: Any = None) -> Any:
    """A linear graph of ``steps`` copies of ``node`` over the platform's state schema."""
    from itertools import pairwise

    from langgraph.graph import END, START, StateGraph

    from agentic_mlops.domain import MLOpsProjectState

    builder = StateGraph(MLOpsProjectState, context_schema=context_schema)
    names = [f"n{i}" for i in range(steps)]
    for name in names:
        builder.add_node(name, node(name))
    for upstream, downstream in pairwise([START, *names, END]):
        builder.add_edge(upstream, downstream)
    return builder.compile(checkpointer=checkpointer)


def _plain_graph(steps: int, checkpointer: Any) -> Any:
    from agentic_mlops.domain import MLOpsProjectState

    def body(state: MLOpsProjectState) -> dict[str, Any]:
        return {"intake_rounds": state.intake_rounds + 1}

    return _chain(lambda name: body, steps, checkpointer)


def _platform_graph(steps: int, checkpointer: Any) -> Any:
    from agentic_mlops.domain import Explanation, MLOpsProjectState
    from agentic_mlops.workflow.instrument import NodeContext, RunContext, instrument

    def body(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
        ctx.reason_card(Explanation(decision="step", rationale="benchmark", confidence=1.0))
        return {"intake_rounds": state.intake_rounds + 1}

    return _chain(lambda name: instrument(name, body), steps, checkpointer, RunContext)


def _time_run(graph: Any, thread_id: str, initial: dict[str, Any], **kwargs: Any) -> float:
    config = {"configurable": {"thread_id": thread_id}}
    start = time.perf_counter()
    graph.invoke(initial, config, durability="sync", **kwargs)
    return time.perf_counter() - start


def measure_overhead(database: Any, steps: int, rounds: int) -> dict[str, Any]:
    """Return per-step medians (ms) of plain LangGraph and of the platform, and their ratio."""
    from agentic_mlops.providers.offline import OfflineProvider
    from agentic_mlops.workflow.instrument import RunContext

    store = database.store
    project = store.get_or_create_project("benchmark")
    plain = _plain_graph(steps, database.checkpointer)
    ours = _platform_graph(steps, database.checkpointer)
    context = RunContext(store=store, provider=OfflineProvider())
    plain_ms, ours_ms = [], []
    for round_no in range(rounds + 1):  # round 0 warms caches and connections
        ds_plain = store.create_decision_set(project.id, "bench")
        ds_ours = store.create_decision_set(project.id, "bench")
        initial = {"decision_set_id": "bench", "project_id": project.id, "request": "bench"}
        t_plain = _time_run(plain, ds_plain.id, initial)
        t_ours = _time_run(ours, ds_ours.id, initial, context=context)
        if round_no:
            plain_ms.append(t_plain / steps * 1000)
            ours_ms.append(t_ours / steps * 1000)
    plain_median, ours_median = statistics.median(plain_ms), statistics.median(ours_ms)
    return {
        "steps_per_run": steps,
        "rounds": rounds,
        "langgraph_ms_per_step": round(plain_median, 3),
        "platform_ms_per_node": round(ours_median, 3),
        "ratio": round(ours_median / plain_median, 3),
        "target_ratio": 1.5,
    }


def measure_golden_runs(database: Any) -> dict[str, Any]:
    """Return, per golden workload, the wall time from request to a committed bundle (s),
    the time spent in codegen and in each validator (ms)."""
    from agentic_mlops.composition import build_platform
    from agentic_mlops.domain.identity import Identity
    from agentic_mlops.providers.offline import OfflineProvider
    from agentic_mlops.settings import load_settings

    workloads = json.loads((ROOT / "tests" / "golden" / "workloads.json").read_text())
    platform = build_platform(load_settings(), "cli", database=database, provider=OfflineProvider())
    service, bench = platform.service, Identity.local("bench")
    results: dict[str, Any] = {}
    for name, workload in workloads.items():
        start = time.perf_counter()
        outcome = service.start_in_named_project(
            bench, f"golden-{uuid.uuid4().hex[:6]}", workload["request"], workload["answers"]
        )
        service.decide(bench, outcome.decision_set.id, "approve", workload["comment"])
        outcome = service.read(bench, outcome.decision_set.id)
        wall = time.perf_counter() - start
        if outcome.status != "approved":
            raise SystemExit(f"golden run {name} ended {outcome.status}")
        runs = {r.node: r.duration_ms for r in database.store.list_runs(outcome.decision_set.id)}
        results[name] = {
            "wall_s": round(wall, 3),
            "codegen_ms": runs.get("codegen"),
            "validators_node_ms": runs.get("validators"),
            "validators_ms": {
                v.name: round(v.duration_ms, 1) for v in outcome.state.validation.validators
            },
        }
    return results


def main() -> int:
    """Run the benchmark and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    from agentic_mlops.persistence import open_database
    from agentic_mlops.persistence.database import start_embedded

    # The embedded server deletes its data folder when this process exits (a temporary
    # directory removed earlier would leave the server running).
    tmp = tempfile.mkdtemp(prefix="am-bench-")
    url = os.environ.get("DATABASE_URL") or start_embedded(Path(tmp) / "pg", cleanup_mode="delete")
    with open_database(url, migrate=True) as database:
        overhead = measure_overhead(database, args.steps, args.rounds)
        golden = measure_golden_runs(database)
    report = {
        "per_node": overhead,
        "golden_runs": golden,
        "golden_total_s": round(sum(run["wall_s"] for run in golden.values()), 3),
    }
    print(json.dumps(report, indent=2))
    return 0 if overhead["ratio"] <= overhead["target_ratio"] else 1


if __name__ == "__main__":
    sys.exit(main())
