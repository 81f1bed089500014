"""Benchmark: cold starts of the workflow's Lambda functions and the per-node cost of the
Step Functions path.

Cold starts: for each function, the import time of its handler module (``functions/<name>/
app.py`` loaded by path, as the Lambda runtime does) in a fresh Python process, timed with
``time.perf_counter`` inside the child (interpreter start-up excluded), median over
``--runs`` processes after one discarded warm-up run. Next to it, a floor measured the same
way in the same run: ``import boto3``. Reported separately, "first_invocation_imports": what
the node runner's first invocation imports on top of its handler module (the task library,
the composition root and the workflow runner, which pulls LangGraph), and the same for the
REST API's first request (the REST application, the composition root and the service,
which must not pull LangGraph or the Anthropic SDK). Runs are
interleaved so that machine noise hits every target alike. Targets: the node_runner handler
at most 1.5 s, the other handlers at most 0.8 s; the exit code is 1 if one is missed.

Per node: one golden workload ("batch_tabular": its request is complete, approved with its
comment) runs through the StepFunctionsEngine on moto (the real definition, the handlers
dispatched in-process by tests/integration/sfn_harness.py) and through the in-process
engine, interleaved, ``--rounds`` times each after a discarded warm-up round. The wall
time from the start command to the end of the run is divided by the nodes run (the
decision set's agent_runs rows); medians and their ratio are reported, with the time spent
in the node bodies (agent_runs.duration_ms) for reference. No target: the figures inform.

With ``--packaged``, the same probes also run from the built Lambda packages
(``scripts/build-lambda``: the function's folder and its layers only, on python3.12 with
``-I -S`` and boto3 as the runtime provides it), the shape a Lambda cold start imports;
the floor is then ``import boto3`` on that interpreter.

Usage: .venv/bin/python scripts/bench_cold_start.py [--runs 5] [--rounds 3] [--no-workflow]
       [--packaged]
(DATABASE_URL when set, otherwise a throwaway embedded PostgreSQL.) About a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("node_runner", "wait_registrar", "failure_handler", "api", "websocket", "slack")
TARGETS_S = {
    "node_runner": 1.5,
    "wait_registrar": 0.8,
    "failure_handler": 0.8,
    "api": 0.8,
    "websocket": 0.8,
    "slack": 0.8,
}
WORKLOAD = "batch_tabular"

_LOAD_HANDLER = """
import importlib.util, sys, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location({module!r}, {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
assert callable(module.handler)
handler_s = time.perf_counter() - start
"""
_FLOOR = """
import time
start = time.perf_counter()
import boto3
print(time.perf_counter() - start)
"""
_FIRST_INVOCATION = """
start = time.perf_counter()
import agentic_mlops.tasks, agentic_mlops.composition, agentic_mlops.composition.container
import agentic_mlops.workflow.runner, agentic_mlops.workflow.graph
print(time.perf_counter() - start)
"""
_API_FIRST_REQUEST = """
start = time.perf_counter()
import agentic_mlops.api.rest, agentic_mlops.composition, agentic_mlops.composition.container
import agentic_mlops.service.application, agentic_mlops.settings
agentic_mlops.api.rest._build("*")
elapsed = time.perf_counter() - start
heavy = sorted(m for m in ("langgraph", "anthropic", "pgserver") if m in sys.modules)
assert not heavy, f"the API's first request imports {heavy}"
print(elapsed)
"""


def _handler_code(function: str) -> str:
    path = str(ROOT / "functions" / function / "app.py")
    return _LOAD_HANDLER.format(module=f"functions_{function}_app", path=path)


def _child_seconds(code: str) -> float:
    """Run ``code`` in a fresh interpreter; it prints the seconds it measured."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def measure_cold_starts(runs: int) -> dict[str, Any]:
    """Median import times (s) of each handler, of the floor and of the first invocation."""
    probes = {
        **{name: _handler_code(name) + "print(handler_s)\n" for name in FUNCTIONS},
        "floor": _FLOOR,
        "first_invocation": _handler_code("node_runner") + _FIRST_INVOCATION,
        "api_first_request": _handler_code("api") + _API_FIRST_REQUEST,
    }
    samples: dict[str, list[float]] = {name: [] for name in probes}
    names = list(probes)
    for run_no in range(runs + 1):  # run 0 writes bytecode caches and warms the page cache
        shift = run_no % len(names)  # rotate the order: no target always follows another
        for name in names[shift:] + names[:shift]:
            seconds = _child_seconds(probes[name])
            if run_no:
                samples[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor = medians["floor"]
    functions = {
        name: {
            "median_s": round(medians[name], 4),
            "ratio_to_floor": round(medians[name] / floor, 2),
            "target_s": TARGETS_S[name],
            "pass": medians[name] <= TARGETS_S[name],
        }
        for name in FUNCTIONS
    }
    first = medians["first_invocation"]
    api_first = medians["api_first_request"]
    return {
        "runs": runs,
        "floor": {"what": "import boto3", "median_s": round(floor, 4)},
        "functions": functions,
        "first_invocation_imports": {
            "what": "the task library, composition root and workflow runner (after the"
            " node_runner handler module, same process)",
            "median_s": round(first, 4),
            "ratio_to_floor": round(first / floor, 2),
            "node_runner_handler_plus_first_invocation_s": round(medians["node_runner"] + first, 4),
        },
        "api_first_request_imports": {
            "what": "the REST application (built), composition root and service, without"
            " langgraph, anthropic or pgserver (after the api handler module)",
            "median_s": round(api_first, 4),
            "api_handler_plus_first_request_s": round(medians["api"] + api_first, 4),
        },
    }


_PACKAGED_HANDLER = """
import sys, time
sys.path[:0] = {path!r}
start = time.perf_counter()
import app
assert callable(app.handler)
handler_s = time.perf_counter() - start
"""
_PACKAGED_FIRST_INVOCATION = """
start = time.perf_counter()
import agentic_mlops.tasks, agentic_mlops.composition.container, agentic_mlops.composition.platform
import agentic_mlops.workflow.runner, agentic_mlops.workflow.graph
print(time.perf_counter() - start)
"""


def measure_packaged_cold_starts(runs: int) -> dict[str, Any]:
    """Median import times (s) of each handler from its built package (python3.12)."""
    sys.path.insert(0, str(ROOT))
    from infra.packaging import ZIP_FUNCTIONS, local_python, package_from_manifest

    python = local_python()
    if python is None:
        return {"skipped": "no local python3.12 (the packages are built for Lambda's 3.12)"}
    runtime = ROOT / "build" / "lambda" / "runtime"
    if not (runtime / "boto3").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                        str(runtime), "boto3"], check=True)  # fmt: skip

    def probe(name: str) -> str:
        package = package_from_manifest(name)
        path = [str(p) for p in package.sys_path()] + [str(runtime)]
        return _PACKAGED_HANDLER.format(path=path)

    probes = {name: probe(name) + "print(handler_s)\n" for name in ZIP_FUNCTIONS}
    probes["floor"] = f"import sys\nsys.path[:0] = {[str(runtime)]!r}\n" + _FLOOR
    probes["node_runner_first_invocation"] = probe("node_runner") + _PACKAGED_FIRST_INVOCATION
    samples: dict[str, list[float]] = {name: [] for name in probes}
    names = list(probes)
    with tempfile.TemporaryDirectory(prefix="am-cold-") as cwd:
        for run_no in range(runs + 1):
            shift = run_no % len(names)
            for name in names[shift:] + names[:shift]:
                done = subprocess.run([python, "-I", "-S", "-c", probes[name]], cwd=cwd,
                                      capture_output=True, text=True, check=False)  # fmt: skip
                if done.returncode != 0:
                    raise SystemExit(f"packaged probe {name} failed:\n{done.stderr[-3000:]}")
                if run_no:
                    samples[name].append(float(done.stdout.strip().splitlines()[-1]))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    first = medians["node_runner_first_invocation"]
    return {
        "python": python,
        "floor": {"what": "import boto3 (python3.12, runtime's boto3)",
                  "median_s": round(medians["floor"], 4)},
        "functions": {name: {"median_s": round(medians[name], 4),
                             "ratio_to_floor": round(medians[name] / medians["floor"], 2)}
                      for name in ZIP_FUNCTIONS},
        "node_runner_first_invocation_imports_s": round(first, 4),
        "node_runner_handler_plus_first_invocation_s": round(medians["node_runner"] + first, 4),
    }  # fmt: skip


def _load_handler(function: str) -> Any:
    import importlib.util

    path = ROOT / "functions" / function / "app.py"
    module_spec = importlib.util.spec_from_file_location(f"functions_{function}_app", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.handler


def _wait_for_token(store: Any, ds_id: str, timeout_s: float = 120.0) -> None:
    """Poll until the approval gate's wait holds the execution's task token."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        wait = store.latest_wait(ds_id)
        if wait is not None and wait.kind == "approval" and store.task_token(wait.id):
            return
        status = store.get_decision_set(ds_id).status
        if status in {"failed", "rejected", "approved"}:
            raise SystemExit(f"step functions run {ds_id} ended {status} before its approval")
        time.sleep(0.005)
    raise SystemExit(f"step functions run {ds_id} never reached its approval gate")


def _per_node(database: Any, ds_id: str, wall_s: float) -> dict[str, float]:
    runs = database.store.list_runs(ds_id)
    body_ms = sum(r.duration_ms or 0.0 for r in runs)
    return {
        "nodes": len(runs),
        "wall_ms_per_node": wall_s * 1000 / len(runs),
        "body_ms_per_node": body_ms / len(runs),
    }


def _summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    wall = statistics.median(s["wall_ms_per_node"] for s in samples)
    body = statistics.median(s["body_ms_per_node"] for s in samples)
    return {
        "nodes_per_run": sorted({int(s["nodes"]) for s in samples}),
        "wall_ms_per_node": round(wall, 1),
        "node_body_ms_per_node": round(body, 1),
        "orchestration_ms_per_node": round(wall - body, 1),
    }


def measure_workflow(url: str, rounds: int) -> dict[str, Any]:
    """Per-node wall time of the golden workload on Step Functions (moto) and in-process."""
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    sys.path.insert(0, str(ROOT / "tests"))
    from harness import Harness, step_functions_platform
    from sfn_harness import step_functions

    from agentic_mlops.composition import container
    from agentic_mlops.domain import ApprovalDecision
    from agentic_mlops.persistence import open_database
    from agentic_mlops.providers.offline import OfflineProvider

    workload = json.loads((ROOT / "tests" / "golden" / "workloads.json").read_text())[WORKLOAD]
    decision = ApprovalDecision(decision="approve", comment=workload["comment"], approver="bench")
    definition = (ROOT / "statemachines" / "mlops_workflow.asl.json").read_text()
    container.reset()
    handlers = {
        "NodeRunner": _load_handler("node_runner"),
        "WaitRegistrar": _load_handler("wait_registrar"),
        "FailureHandler": _load_handler("failure_handler"),
    }
    local_samples: list[dict[str, float]] = []
    sfn_samples: list[dict[str, float]] = []
    with open_database(url, migrate=True) as database, step_functions(handlers) as sfn:
        arn = sfn.create_state_machine(
            definition,
            {
                "NodeRunnerFunctionArn": sfn.function_arn("NodeRunner"),
                "WaitRegistrarFunctionArn": sfn.function_arn("WaitRegistrar"),
                "FailureHandlerFunctionArn": sfn.function_arn("FailureHandler"),
                "QuestionTimeoutSeconds": "3600",
                "ApprovalTimeoutSeconds": "3600",
            },
        )
        local = Harness(database, OfflineProvider())
        cloud = step_functions_platform(database, sfn.client, arn)
        for round_no in range(rounds + 1):  # round 0 warms caches, pools and the handlers
            tag = uuid.uuid4().hex[:6]

            start = time.perf_counter()
            paused = local.start(f"bench-local-{tag}", workload["request"], workload["answers"])
            done = local.decide(paused.decision_set.id, decision)
            local_wall = time.perf_counter() - start
            if done.status != "approved":
                raise SystemExit(f"in-process run ended {done.status}")

            start = time.perf_counter()
            ds_id = cloud.start(
                f"bench-sfn-{tag}", workload["request"], workload["answers"]
            ).decision_set.id
            _wait_for_token(database.store, ds_id)
            cloud.decide(ds_id, decision)
            execution = sfn.wait(
                arn.replace(":stateMachine:", ":execution:") + f":{ds_id}", timeout_s=120
            )
            sfn_wall = time.perf_counter() - start
            if execution["status"] != "SUCCEEDED" or cloud.status(ds_id).status != "approved":
                raise SystemExit(f"step functions run {ds_id} ended {execution['status']}")

            if round_no:
                local_samples.append(_per_node(database, paused.decision_set.id, local_wall))
                sfn_samples.append(_per_node(database, ds_id, sfn_wall))
    container.reset()
    in_process, step_fns = _summary(local_samples), _summary(sfn_samples)
    return {
        "workload": WORKLOAD,
        "rounds": rounds,
        "in_process": in_process,
        "step_functions_moto": step_fns,
        "ratio_wall_per_node": round(
            step_fns["wall_ms_per_node"] / in_process["wall_ms_per_node"], 2
        ),
    }


def _database_url() -> str:
    """DATABASE_URL, or a throwaway embedded server (stopped and deleted at exit)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from agentic_mlops.persistence.database import start_embedded

    # Not inside a TemporaryDirectory: pgserver stops the server at exit, which fails (and
    # leaves the postmaster running) once its data directory has been removed.
    return start_embedded(Path(tempfile.mkdtemp(prefix="am-bench-pg-")), cleanup_mode="delete")


def main() -> int:
    """Run the benchmark, print one JSON document; 1 if a cold-start target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per target")
    parser.add_argument("--rounds", type=int, default=3, help="golden runs per engine")
    parser.add_argument("--no-workflow", action="store_true", help="cold starts only")
    parser.add_argument(
        "--packaged",
        action="store_true",
        help="also from the built Lambda packages (scripts/build-lambda)",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    report: dict[str, Any] = {"cold_start": measure_cold_starts(args.runs)}
    if args.packaged:
        report["packaged_cold_start"] = measure_packaged_cold_starts(args.runs)
    if not args.no_workflow:
        with tempfile.TemporaryDirectory(prefix="am-bench-") as tmp:
            for name, folder in (
                ("AGENTIC_MLOPS_ARTIFACT_DIR", "artifacts"),
                ("AGENTIC_MLOPS_REPOS_DIR", "repos"),
            ):
                os.environ.setdefault(name, str(Path(tmp) / folder))
            report["per_node"] = measure_workflow(_database_url(), args.rounds)
    passed = all(f["pass"] for f in report["cold_start"]["functions"].values())
    report["pass"] = passed
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
