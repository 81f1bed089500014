"""Golden runs: five reference workloads through the whole graph, from request to approval.

Each run is compared with its snapshot in ``expected/`` (services, sizing, cost, policy);
regenerate the snapshots after an intended change with ``UPDATE_GOLDEN=1 scripts/test -k golden``
and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from harness import Harness

from agentic_mlops.domain import ApprovalDecision, MLOpsProjectState, Plan

HERE = Path(__file__).parent
WORKLOADS: dict[str, dict] = json.loads((HERE / "workloads.json").read_text())
EXPECTED = HERE / "expected"
ALWAYS = {"storage", "training", "orchestration", "model_registry", "monitoring", "ci_cd"}


def run_workload(engine: Harness, name: str) -> MLOpsProjectState:
    workload = WORKLOADS[name]
    paused = engine.start(f"golden-{name}", workload["request"], workload["answers"])
    assert paused.status == "awaiting_approval", paused.pending
    done = engine.decide(
        paused.decision_set.id,
        ApprovalDecision(decision="approve", comment=workload["comment"], approver="golden"),
    )
    assert done.status == "approved"
    return done.state


def snapshot(state: MLOpsProjectState) -> dict:
    plan, cost, policy = state.plan, state.cost, state.policy
    return {
        "constraints": state.constraints.model_dump(mode="json", exclude={"summary"}),
        "plan": plan.name,
        "region": plan.region,
        "components": {
            c.id: {
                "service": c.service,
                **{
                    k: v
                    for k, v in c.config.items()
                    if k in {"instance_type", "instance_count", "spot", "shards", "kpu"}
                },
            }
            for c in plan.components
        },
        "networking": plan.networking.model_dump(mode="json"),
        "monthly_total_usd": cost.monthly_total_usd,
        "line_items": len(cost.line_items),
        "technical_verdict": state.technical_critique.verdict,
        "policy": {r.rule_id: r.status for r in policy.results},
        "generated_files": sorted(f.path for f in state.repository.files),
        # terraform-validate passes where a terraform binary and its providers exist, and is
        # skipped elsewhere: the machine decides, so it is left out of the snapshot
        "validators": {
            v.name: v.status for v in state.validation.validators if v.name != "terraform-validate"
        },
    }


@pytest.fixture(scope="module")
def golden_states(database) -> dict[str, MLOpsProjectState]:
    from agentic_mlops.providers.offline import OfflineProvider

    engine = Harness(database, OfflineProvider())
    return {name: run_workload(engine, name) for name in WORKLOADS}


@pytest.mark.golden
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_golden_run_matches_its_snapshot(golden_states, name: str) -> None:
    actual = snapshot(golden_states[name])
    path = EXPECTED / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        EXPECTED.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no snapshot {path}; run with UPDATE_GOLDEN=1 once and review it"
    assert actual == json.loads(path.read_text())


@pytest.mark.golden
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_golden_plan_is_valid_policy_compliant_and_complete(golden_states, name: str) -> None:
    state = golden_states[name]
    plan = Plan.model_validate(state.plan.model_dump())
    assert plan.capabilities() >= ALWAYS
    assert plan.encryption.at_rest != "none"
    assert all(c.encrypted_at_rest for c in plan.components if c.stores_data)
    assert state.policy.overall == "pass", [r.rule_id for r in state.policy.failed()]
    assert state.cost.within_budget is True
    assert state.cost.monthly_total_usd == pytest.approx(
        sum(item.monthly_usd for item in state.cost.line_items), abs=0.05
    )
    assert state.cost.catalogue_source and state.cost.catalogue_date


SERVICE_FILES = {
    "sagemaker_endpoint": "infra/terraform/endpoint.tf",
    "sagemaker_batch_transform": "infra/terraform/batch.tf",
    "kinesis_data_streams": "infra/terraform/streaming.tf",
    "sagemaker_feature_store": "infra/terraform/feature_store.tf",
    "kms": "infra/terraform/kms.tf",
    "vpc_interface_endpoints": "infra/terraform/network.tf",
    "ecr": "infra/terraform/ecr.tf",
    "cloudtrail": "infra/terraform/audit.tf",
    "glue_etl": "infra/terraform/glue.tf",
}


@pytest.mark.golden
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_golden_repository_has_a_file_per_chosen_service_and_passes_validation(
    golden_states, name: str
) -> None:
    state = golden_states[name]
    paths = {f.path for f in state.repository.files}
    services = set(state.plan.services())
    for service, path in SERVICE_FILES.items():
        assert (path in paths) == (service in services), (service, path)
    assert {
        "README.md",
        "infra/terraform/s3.tf",
        "infra/terraform/iam.tf",
        "pipelines/train.py",
        "pipelines/evaluate.py",
        "pipelines/register.py",
        ".github/workflows/ci.yml",
        ".github/workflows/deploy.yml",
    } <= paths
    assert any(p.startswith("tests/") for p in paths)
    assert state.validation.passed, [f for v in state.validation.validators for f in v.findings]
    assert state.validation.counts.get("high", 0) == 0
    assert state.validation.counts.get("critical", 0) == 0
    assert state.bundle is not None and state.commit is not None


GENERATED_EVIDENCE = {
    "s3": ("infra/terraform/s3.tf", 'resource "aws_s3_bucket" "data"'),
    "glue_etl": ("infra/terraform/glue.tf", 'resource "aws_glue_job"'),
    "glue_data_catalog": ("infra/terraform/glue.tf", 'resource "aws_glue_catalog_database"'),
    "athena": ("infra/terraform/glue.tf", 'resource "aws_athena_workgroup"'),
    "sagemaker_processing": ("pipelines/pipeline.py", "ProcessingStep"),
    "sagemaker_training": ("pipelines/pipeline.py", "TrainingStep"),
    "sagemaker_pipelines": ("pipelines/pipeline.py", "Pipeline("),
    "sagemaker_model_registry": (
        "infra/terraform/sagemaker.tf",
        'resource "aws_sagemaker_model_package_group"',
    ),
    "sagemaker_endpoint": ("infra/terraform/endpoint.tf", "aws_sagemaker_endpoint_configuration"),
    "sagemaker_batch_transform": ("infra/terraform/batch.tf", 'resource "aws_scheduler_schedule"'),
    "sagemaker_model_monitor": (
        "infra/terraform/model_monitor.tf",
        'resource "aws_sagemaker_monitoring_schedule"',
    ),
    "sagemaker_feature_store": (
        "infra/terraform/feature_store.tf",
        'resource "aws_sagemaker_feature_group"',
    ),
    "kinesis_data_streams": ("infra/terraform/streaming.tf", 'resource "aws_kinesis_stream"'),
    "managed_flink": (
        "infra/terraform/streaming.tf",
        'resource "aws_kinesisanalyticsv2_application"',
    ),
    # the schedule starts the pipeline, or (with a Glue feature job) the job's trigger
    # starts the job and the pipeline follows it
    "eventbridge_scheduler": (
        ("infra/terraform/schedule.tf", 'resource "aws_scheduler_schedule"'),
        ("infra/terraform/glue.tf", 'resource "aws_glue_trigger"'),
    ),
    "cloudwatch": ("infra/terraform/monitoring.tf", 'resource "aws_cloudwatch_log_group"'),
    "kms": ("infra/terraform/kms.tf", 'resource "aws_kms_key"'),
    "vpc_interface_endpoints": ("infra/terraform/network.tf", 'resource "aws_vpc_endpoint"'),
    "cloudtrail": ("infra/terraform/audit.tf", 'resource "aws_cloudtrail"'),
    "macie": ("infra/terraform/audit.tf", 'resource "aws_macie2_classification_job"'),
    "ecr": ("infra/terraform/ecr.tf", 'resource "aws_ecr_repository"'),
    "github_actions": (".github/workflows/deploy.yml", "id-token: write"),
}


@pytest.mark.golden
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_nothing_is_priced_that_is_not_generated(golden_states, name: str) -> None:
    from agentic_mlops.codegen import OfflineCodeGen

    state = golden_states[name]
    files = OfflineCodeGen().generate(state)
    assert set(files) == {f.path for f in state.repository.files}
    by_id = {c.id: c.service for c in state.plan.components}
    priced = {by_id[item.component_id] for item in state.cost.line_items}
    assert priced == set(state.plan.services())
    for service in priced:
        expected = GENERATED_EVIDENCE[service]
        options = expected if isinstance(expected[0], tuple) else (expected,)
        assert any(evidence in files.get(path, "") for path, evidence in options), (
            service,
            options,
        )
    environments = [e.name for e in state.cost.environments]
    assert environments == ["staging", "prod"]
    assert state.cost.monthly_total_usd == pytest.approx(
        sum(e.monthly_usd for e in state.cost.environments), abs=0.01
    )
    readme = files["README.md"]
    for env in state.cost.environments:
        assert f"### {env.name.capitalize()}: " in readme


def _services(state: MLOpsProjectState) -> set[str]:
    return set(state.plan.services())


@pytest.mark.golden
def test_each_workload_gets_the_architecture_its_words_ask_for(golden_states) -> None:
    batch, realtime = golden_states["batch_tabular"], golden_states["realtime_low_latency"]
    streaming, llm = golden_states["streaming"], golden_states["llm_fine_tuning"]
    phi = golden_states["regulated_phi"]

    assert "sagemaker_batch_transform" in _services(batch)
    assert "sagemaker_endpoint" not in _services(batch)
    assert batch.plan.region == "eu-west-1"
    assert batch.constraints.use_spot_training is True  # from the approver's comment

    endpoint = realtime.plan.by_service("sagemaker_endpoint")[0]
    assert endpoint.config["instance_count"] >= 2
    assert str(endpoint.config["instance_type"]).startswith("ml.c")  # compute-optimised

    assert {"kinesis_data_streams", "managed_flink", "sagemaker_feature_store"} <= _services(
        streaming
    )
    training = llm.plan.by_service("sagemaker_training")[0]
    assert str(training.config["instance_type"]).startswith(("ml.g5", "ml.p4"))
    assert "ecr" in _services(llm)

    for regulated in (batch, realtime, phi):
        assert regulated.plan.networking.private_subnets
        assert not regulated.plan.networking.internet_egress
        assert regulated.plan.encryption.at_rest == "aws-kms-cmk"
    assert "audit" in phi.plan.capabilities()
    assert streaming.plan.networking.private_subnets is False  # no regulated data


@pytest.mark.golden
def test_costs_differ_plausibly_between_workloads(golden_states) -> None:
    totals = {name: state.cost.monthly_total_usd for name, state in golden_states.items()}
    assert len(set(totals.values())) == len(totals)
    cheapest = min(totals, key=totals.get)
    assert cheapest in {"batch_tabular", "regulated_phi"}
    for always_on in ("realtime_low_latency", "streaming", "llm_fine_tuning"):
        assert totals[always_on] > totals["batch_tabular"]
    gpu_lines = [
        i
        for i in golden_states["llm_fine_tuning"].cost.line_items
        if "g5" in i.description or "p4" in i.description
    ]
    assert gpu_lines


@pytest.mark.golden
def test_same_input_same_output(database) -> None:
    from agentic_mlops.providers.offline import OfflineProvider

    engine = Harness(database, OfflineProvider())
    first = run_workload(engine, "streaming")
    second = run_workload(engine, "streaming")
    assert first.plan == second.plan
    assert first.cost == second.cost
    assert first.policy == second.policy


VIOLATIONS = {
    "residency": (
        "Nightly churn model on 40 GB of customer data with PII in us-east-1; the data must"
        " stay in the EU; budget $1,500/month.",
        "POL-RES-001",
    ),
    "budget": (
        "Fine-tune a Llama 3 70B LLM on 5 TB of documents (no personal data) in us-east-1 with"
        " GPUs, weekly retraining, real-time endpoint with p99 under 1 second at 50 requests"
        " per second, budget $500/month.",
        "POL-COST-001",
    ),
}


@pytest.mark.golden
@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_a_violating_request_fails_policy_with_the_right_rule(database, case: str) -> None:
    from agentic_mlops.providers.offline import OfflineProvider

    request, rule_id = VIOLATIONS[case]
    outcome = Harness(database, OfflineProvider()).start(f"golden-violation-{case}", request)
    assert outcome.status == "awaiting_approval"
    assert outcome.state.policy.overall == "fail"
    assert rule_id in {r.rule_id for r in outcome.state.policy.failed()}
    assert outcome.pending.request["failed_rules"] == [
        r.rule_id for r in outcome.state.policy.failed()
    ]
