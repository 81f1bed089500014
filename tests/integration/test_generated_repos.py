"""The generated repositories pass their own CI and deploy steps, request by request.

For the eight reference requests (through the whole graph, offline provider) and for each
problem type (constraints built here, so planner changes do not hide a template gap): the
repository's lint as its CI runs it, its tests (which build the pipeline definition with
the SageMaker SDK), ``terraform fmt -check``, ``terraform validate`` with the provider
mirror when ``AGENTIC_MLOPS_TF_PLUGIN_DIR`` is set, and the deploy workflow's pipeline
upsert against a moto server. Where the validators' tools are missing, those checks must
be skipped with the reason, never failed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from harness import Harness, validation_tools

from agentic_mlops.codegen import OfflineCodeGen
from agentic_mlops.codegen.offline import MAX_RUN_SECONDS, build_context, job_sizing, volume_gb
from agentic_mlops.domain import ApprovalDecision, ConstraintSchema, MLOpsProjectState
from agentic_mlops.domain.delivery import ValidationReport, ValidatorResult
from agentic_mlops.validation.pipeline import run_tests_and_pipeline
from agentic_mlops.validation.validators import run_lint, write_files
from agentic_mlops.validation.workspace import Workspace

REQUESTS = {
    "forecasting": "Demand forecasting for 3,000 stores, daily batch, 500 GB of sales history"
    " in S3, Frankfurt, budget 4k EUR/month, no personal data.",
    "recommendation": "Real-time recommendation API, 2,000 requests/s, p95 under 80 ms,"
    " us-west-2, user clickstream with PII, GDPR not applicable, $25k/month.",
    "llm": "Fine-tune a 7B open model on 50k support tickets weekly, GPU, us-east-1, budget"
    " $10k/month, tickets contain customer emails.",
    "vision": "Image defect detection for a factory, edge devices upload 2 TB/month of images,"
    " near-real-time alerts within 5 minutes, Tokyo region, ¥1.5M per month.",
    "credit": "Credit risk scoring, monthly retraining, 20 GB, PCI and SOX, us-east-1, strict"
    " audit, $3,000/month, batch scoring nightly.",
    "medical": "Medical imaging triage with PHI under HIPAA, real-time inference p99 200ms,"
    " 10 rps, us-east-2, $15k/month.",
    "anomaly": "Anomaly detection on IoT sensor streams via Kinesis, 50k events/s, alert"
    " within 2 s, eu-west-1, $8k per month.",
    "vague": "Just want some ML for our sales team.",
}
ANSWERS = {
    "deployment_mode": "batch",
    "region": "us-east-1",
    "data_volume_gb": "10 GB",
    "budget": "$1,000/month",
    "data_sensitivity": "none",
    "latency_p99_ms": "200 ms",
    "problem_type": "classification",
}
MUST_PASS = ("lint", "terraform-parse", "terraform-fmt", "iac-policy", "secrets")
TOOLS = ("tests", "pipeline")


TOOLS_FOUND = validation_tools()


def tools_installed() -> bool:
    return TOOLS_FOUND.python is not None


def result(report: ValidationReport, name: str) -> ValidatorResult:
    return next(v for v in report.validators if v.name == name)


def assert_runs_as_ci_and_deploy(report: ValidationReport) -> None:
    """The bundle is not failed, and each CI/deploy step passed or was skipped for a reason."""
    statuses = {v.name: (v.status, v.detail) for v in report.validators}
    assert report.outcome != "failed", statuses
    assert report.passed
    for name in MUST_PASS:
        assert result(report, name).status == "passed", statuses[name]
    for name in TOOLS:
        expected = "passed" if tools_installed() else "skipped"
        assert result(report, name).status == expected, statuses[name]
    if tools_installed():
        assert "Preprocess, Train, Evaluate, QualityGate" in result(report, "pipeline").detail
    validate = result(report, "terraform-validate")
    if TOOLS_FOUND.tf_plugin_dir and TOOLS_FOUND.terraform:
        assert validate.status == "passed", validate
    else:
        assert validate.status in {"passed", "skipped"}
    if result(report, "checkov").status != "skipped":
        assert result(report, "checkov").status == "passed", statuses["checkov"]
    assert {s.validator for s in report.skips} == {
        v.name for v in report.validators if v.status == "skipped"
    }


@pytest.fixture(scope="module")
def reference_runs(database) -> dict[str, MLOpsProjectState]:
    from agentic_mlops.providers.offline import OfflineProvider

    engine = Harness(database, OfflineProvider())
    states = {}
    for name, request in REQUESTS.items():
        outcome = engine.start(f"generated-{name}", request)
        for _ in range(3):
            if outcome.status != "awaiting_input":
                break
            fields = [q["field"] for q in outcome.pending.request["questions"]]
            answers = {field: ANSWERS[field] for field in fields}
            outcome = engine.answer(outcome.decision_set.id, answers, by="qa")
        assert outcome.status == "awaiting_approval", (name, outcome.status)
        done = engine.decide(
            outcome.decision_set.id,
            ApprovalDecision(decision="approve", approver="qa", comment="checked by the suite"),
        )
        assert done.status == "approved", name
        states[name] = done.state
    return states


@pytest.mark.integration
# The first of these also runs the module's fixture: eight requests end to end, each bundle
# validated with its own tests and pipeline upsert (about a minute each on a busy machine).
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", list(REQUESTS))
def test_each_reference_request_passes_its_ci_and_deploy_steps(reference_runs, name) -> None:
    assert_runs_as_ci_and_deploy(reference_runs[name].validation)


@pytest.mark.integration
def test_the_vague_request_is_asked_before_it_is_planned(database) -> None:
    from agentic_mlops.providers.offline import OfflineProvider

    outcome = Harness(database, OfflineProvider()).start("generated-vague", REQUESTS["vague"])
    assert outcome.status == "awaiting_input"
    questions = {q["field"]: q for q in outcome.pending.request["questions"]}
    assert "problem_type" in questions  # what to predict is asked, not guessed
    assert "predict" in questions["problem_type"]["question"]


# --- each problem type, with constraints built here ------------------------------------

PROBLEMS = {
    "classification": {"frameworks": ["xgboost"]},
    "regression": {},
    "forecasting": {},
    "recommendation": {},
    "nlp": {},
    "computer_vision": {"gpu_required": True},
    "llm_fine_tuning": {"gpu_required": True},
    "anomaly_detection": {},
}


def problem_state(problem: str, **extra) -> MLOpsProjectState:
    from agentic_mlops.providers.offline import OfflineProvider

    constraints = ConstraintSchema.model_validate(
        {
            "summary": f"{problem} workload",
            "problem_type": problem,
            "deployment_mode": "batch",
            "region": "eu-west-1",
            "data_volume_gb": 50.0,
            "budget": {"amount": 20000, "currency": "USD", "monthly_usd": 20000},
            "data_sensitivity": [],
            **PROBLEMS.get(problem, {}),
            **extra,
        }
    )
    plan = OfflineProvider().plan(constraints).value
    return MLOpsProjectState(
        decision_set_id=f"ds-{problem}",
        project_id="p",
        request=problem,
        constraints=constraints,
        plan=plan,
        approval=ApprovalDecision(decision="approve", approver="qa"),
        status="approved",
    )


@pytest.mark.integration
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_each_problem_type_lints_tests_and_upserts(problem: str) -> None:
    files = OfflineCodeGen().generate(problem_state(problem))
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(files, Path(tmp) / "repo", Path(tmp) / "scratch", 180.0, TOOLS_FOUND)
        write_files(ws.root, files)
        ws.scratch.mkdir()
        lint = run_lint(ws)
        tests, pipeline = run_tests_and_pipeline(ws)
    assert lint.status == "passed", lint.findings
    if not tools_installed():
        assert tests.status == pipeline.status == "skipped"
        assert "scripts/bootstrap" in pipeline.detail
        return
    assert tests.status == "passed", (tests.detail, tests.findings)
    assert pipeline.status == "passed", (pipeline.detail, pipeline.findings)


def test_forecasting_splits_by_time_and_anomaly_detection_needs_no_labels() -> None:
    forecasting = OfflineCodeGen().generate(problem_state("forecasting"))
    assert "def split_by_time(" in forecasting["pipelines/features.py"]
    assert "features.split_by_time(rows)" in forecasting["pipelines/preprocess.py"]
    anomaly = OfflineCodeGen().generate(problem_state("anomaly_detection"))
    assert "IsolationForest" in anomaly["pipelines/train.py"]
    assert "model.fit(train_x)\n" in anomaly["pipelines/train.py"]
    assert json.loads(anomaly["config/pipeline.json"])["evaluation"]["metric"] == "anomaly_rate"


def test_llm_fine_tuning_reads_its_base_model_from_s3_and_gates_on_the_test_split() -> None:
    files = OfflineCodeGen().generate(problem_state("llm_fine_tuning"))
    train, pipeline = files["pipelines/train.py"], files["pipelines/pipeline.py"]
    assert "local_files_only=True" in train and 'hp["base_model"]' not in train
    assert '"base_model": TrainingInput(' in pipeline and '"HF_HUB_OFFLINE": "1"' in pipeline
    assert 'float(measured["test_loss"])' in files["pipelines/evaluate.py"]


def test_sizes_scale_with_the_data_and_stay_within_the_api_limits() -> None:
    big = problem_state("classification", data_volume_gb=5000.0)
    context = build_context(big)
    comp = {s: big.plan.by_service(s)[0] for s in big.plan.services()}
    sizing = job_sizing(comp, big.constraints, "xgboost")
    assert context["processing"] == sizing["processing"]
    processing = comp.get("sagemaker_processing") or comp["glue_etl"]
    if "instance_count" not in processing.config:
        assert sizing["processing"]["instance_count"] == 5
    assert sizing["training"]["input_mode"] == "FastFile"  # 5 TB is streamed, not copied
    assert context["training"]["max_run_seconds"] <= MAX_RUN_SECONDS
    assert volume_gb(5000.0, 5) == 2010 and volume_gb(None) == 30 and volume_gb(10**6) == 16384
    vision = build_context(problem_state("computer_vision"))
    assert vision["training"]["input_mode"] == "FastFile"


def test_images_are_streamed_and_only_their_keys_are_listed() -> None:
    files = OfflineCodeGen().generate(problem_state("computer_vision", data_volume_gb=2000.0))
    pipeline, train = files["pipelines/pipeline.py"], files["pipelines/train.py"]
    assert '"images": TrainingInput(input_data, input_mode="FastFile")' in pipeline
    assert 'arguments=["--images-uri", input_data]' in pipeline
    assert "torchvision" in train and "DistributedDataParallel" in train
    sizing = json.loads(files["config/pipeline.json"])
    assert sizing["training"]["input_mode"] == "FastFile"
    assert sizing["processing"]["volume_size_gb"] < 100  # 2 TB of images are never copied
    assert sizing["evaluation"]["metric"] == "accuracy"


def test_recommendations_hold_out_each_users_last_interaction() -> None:
    files = OfflineCodeGen().generate(problem_state("recommendation"))
    assert "def split_leave_last_out(" in files["pipelines/features.py"]
    assert "def recommend(" in files["pipelines/train.py"]
    assert json.loads(files["config/pipeline.json"])["evaluation"]["metric"] == "hit_rate_at_10"


def test_served_code_travels_in_the_model_artifact_under_network_isolation() -> None:
    files = OfflineCodeGen().generate(
        problem_state("classification", deployment_mode="real_time", latency_p99_ms=100)
    )
    assert "enable_network_isolation = true" in files["infra/terraform/endpoint.tf"]
    assert "env=train.SERVING_ENVIRONMENT" in files["pipelines/pipeline.py"]
    assert '"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"' in files["pipelines/train.py"]
    assert 'image_scope="inference"' in files["pipelines/pipeline.py"]  # no entry_point upload


def test_the_pipeline_follows_the_feature_job_by_dependency() -> None:
    files = OfflineCodeGen().generate(problem_state("computer_vision", data_volume_gb=2000.0))
    glue = files["infra/terraform/glue.tf"]
    assert '"detail-type" = ["Glue Job State Change"]' in glue
    assert "sagemaker_pipeline_target" in glue
    assert 'resource "aws_scheduler_schedule" "retraining"' not in files.get(
        "infra/terraform/schedule.tf", ""
    )


def test_streaming_plans_get_the_flink_application_and_a_feature_store_reader() -> None:
    state = problem_state("anomaly_detection", deployment_mode="streaming", throughput_rps=5000.0)
    files = OfflineCodeGen().generate(state)
    if "managed_flink" not in state.plan.services():
        pytest.skip("the planner chose no Managed Flink for this stream")
    assert "FlinkKinesisConsumer" in files["streaming/processor.py"]
    assert "kinesis.analytics.flink.run.options" in files["infra/terraform/streaming.tf"]
    assert "flink_code_key=code/flink/app.zip" in files[".github/workflows/deploy.yml"]
    if "sagemaker_feature_store" in state.plan.services():
        assert "def get_features(" in files["pipelines/online_features.py"]


@pytest.mark.integration
def test_a_pipeline_the_sdk_cannot_build_fails_the_bundle() -> None:
    if not tools_installed():
        pytest.skip("the validators' tools are not installed (scripts/bootstrap installs them)")
    # Given the register step calling str() on a pipeline variable (the SDK refuses it)
    files = OfflineCodeGen().generate(problem_state("classification"))
    register = files["pipelines/register.py"]
    files["pipelines/register.py"] = register.replace(
        "model_metrics = ModelMetrics(",
        "str(evaluation_s3_uri)\n    model_metrics = ModelMetrics(",
        1,
    )
    assert files["pipelines/register.py"] != register
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(files, Path(tmp) / "repo", Path(tmp) / "scratch", 180.0, TOOLS_FOUND)
        write_files(ws.root, files)
        ws.scratch.mkdir()
        # When the tests and the deploy workflow's upsert run
        tests, pipeline = run_tests_and_pipeline(ws)
    # Then both fail, naming the SDK's refusal
    assert (
        tests.status == "failed" and "test_the_training_pipeline_definition_builds" in tests.detail
    )
    assert pipeline.status == "failed"
    assert "Pipeline variables do not support __str__" in pipeline.findings[0].message
