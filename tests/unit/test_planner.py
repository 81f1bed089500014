"""Tests of the deterministic offline planner."""

from __future__ import annotations

import pytest

from agentic_mlops.domain import Budget, ConstraintSchema, Plan
from agentic_mlops.domain.services import CAPABILITIES, SERVICES
from agentic_mlops.pricing import estimate, load_catalogue
from agentic_mlops.providers.offline.planner import plan_for


def usd(amount: float) -> Budget:
    return Budget(amount=amount, currency="USD", period="month", monthly_usd=amount)


def churn(**overrides) -> ConstraintSchema:
    """(a) Batch tabular churn in eu-west-1 with PII."""
    fields = dict(
        summary="Weekly churn prediction for telecom customers",
        problem_type="classification",
        deployment_mode="batch",
        region="eu-west-1",
        data_residency="eu",
        data_volume_gb=40,
        budget=usd(1500),
        data_sensitivity=["pii"],
        frameworks=["xgboost"],
        retraining_cadence="weekly",
        preferred_services=["sagemaker"],
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


def fraud(**overrides) -> ConstraintSchema:
    """(b) Real-time card fraud scoring under PCI-DSS."""
    fields = dict(
        summary="Real-time card fraud detection",
        problem_type="classification",
        deployment_mode="real_time",
        latency_p99_ms=50,
        throughput_rps=300,
        region="us-east-1",
        data_volume_gb=200,
        budget=usd(6000),
        data_sensitivity=["pci"],
        compliance=["PCI-DSS"],
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


def streaming(**overrides) -> ConstraintSchema:
    """(c) Streaming anomaly detection on 2 TB, no sensitive data."""
    fields = dict(
        summary="Streaming anomaly detection on IoT sensor data",
        problem_type="anomaly_detection",
        deployment_mode="streaming",
        region="eu-central-1",
        data_volume_gb=2000,
        budget=Budget(amount=4320, currency="USD", period="month", monthly_usd=4320),
        data_sensitivity=[],
        retraining_cadence="daily",
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


def llm(**overrides) -> ConstraintSchema:
    """(d) Llama 8B fine-tuning served in real time."""
    fields = dict(
        summary="Fine-tune Llama 3 8B for support answers",
        problem_type="llm_fine_tuning",
        deployment_mode="real_time",
        latency_p99_ms=2000,
        region="us-west-2",
        data_volume_gb=500,
        budget=usd(12000),
        data_sensitivity=[],
        gpu_required=True,
        retraining_cadence="monthly",
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


def phi(**overrides) -> ConstraintSchema:
    """(e) Regulated PHI batch scoring under HIPAA."""
    fields = dict(
        summary="Readmission risk scoring on patient records",
        problem_type="classification",
        deployment_mode="batch",
        region="us-east-2",
        data_volume_gb=80,
        budget=usd(2500),
        data_sensitivity=["phi"],
        compliance=["HIPAA"],
        frameworks=["scikit-learn"],
        retraining_cadence="daily",
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


def realtime(**overrides) -> ConstraintSchema:
    """A plain, non-sensitive real-time tabular workload used for variations."""
    fields = dict(
        problem_type="regression",
        deployment_mode="real_time",
        latency_p99_ms=300,
        throughput_rps=20,
        region="us-east-1",
        data_volume_gb=30,
        budget=usd(3000),
        data_sensitivity=[],
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


REFERENCES = {"churn": churn, "fraud": fraud, "streaming": streaming, "llm": llm, "phi": phi}


def plan(constraints: ConstraintSchema) -> Plan:
    return plan_for(constraints)[0]


def only(p: Plan, service: str):
    components = p.by_service(service)
    assert len(components) == 1, f"expected one {service}, got {p.services()}"
    return components[0]


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_every_component_carries_every_sizing_key(name):
    p = plan(REFERENCES[name]())
    for component in p.components:
        assert component.service in SERVICES
        for key in SERVICES[component.service][1]:
            assert key in component.config, f"{component.id} lacks {key}"
            value = component.config[key]
            if key == "spot":
                assert isinstance(value, bool)
            elif key == "instance_type":
                assert isinstance(value, str) and value.startswith("ml.")
            else:
                assert isinstance(value, int | float) and not isinstance(value, bool), (
                    component.id,
                    key,
                    value,
                )
                assert value >= 0
        assert set(component.capabilities) <= set(CAPABILITIES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_always_present_capabilities_and_services(name):
    constraints = REFERENCES[name]()
    p = plan(constraints)
    caps = p.capabilities()
    for cap in (
        "storage",
        "training",
        "orchestration",
        "model_registry",
        "monitoring",
        "scheduling",
        "ci_cd",
    ):
        assert cap in caps
    for service in (
        "s3",
        "sagemaker_training",
        "sagemaker_pipelines",
        "sagemaker_model_registry",
        "cloudwatch",
        "sagemaker_model_monitor",
        "eventbridge_scheduler",
        "github_actions",
    ):
        assert p.by_service(service), service
    s3 = only(p, "s3")
    assert s3.stores_data and s3.encrypted_at_rest
    assert only(p, "sagemaker_model_registry").config["approval_status"] == (
        "PendingManualApproval"
    )
    assert only(p, "github_actions").config["prod_approval_gate"] is True
    assert only(p, "github_actions").config["workflows"] == 2
    assert p.encryption.at_rest in ("aws-kms-cmk", "aws-managed")
    assert p.region == constraints.region
    assert p.deployment_mode == constraints.deployment_mode
    assert constraints.region in p.name


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_deterministic(name):
    first, first_explanation = plan_for(REFERENCES[name]())
    second, second_explanation = plan_for(REFERENCES[name]())
    assert first == second
    assert first.model_dump_json() == second.model_dump_json()
    assert first_explanation == second_explanation


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_explanation(name):
    constraints = REFERENCES[name]()
    p, explanation = plan_for(constraints)
    assert explanation.decision.startswith("SageMaker ")
    assert constraints.region in explanation.decision
    assert "\n" not in explanation.decision
    assert explanation.rationale == " ".join(p.rationale)
    assert explanation.alternatives == p.alternatives
    assert 0.5 <= explanation.confidence <= 0.9
    assert p.alternatives and p.rationale
    assert p.summary.endswith(".")


# --------------------------------------------------------------------------- references


def test_churn_batch_reference():
    p = plan(churn())
    assert p.region == "eu-west-1"
    assert only(p, "sagemaker_processing").config["instance_type"] == "ml.m5.xlarge"
    training = only(p, "sagemaker_training")
    assert training.config["instance_type"] == "ml.m5.xlarge"
    assert training.config["runs_per_month"] == 4.33
    assert training.config["spot"] is False
    batch = only(p, "sagemaker_batch_transform")
    assert batch.config["runs_per_month"] == 30
    assert "batch_inference" in batch.capabilities
    assert not p.by_service("sagemaker_endpoint")
    assert not p.by_service("sagemaker_serverless_inference")
    assert not p.by_service("ecr")
    assert not p.by_service("glue_etl")
    # PII: private networking, CMK, audit and PII discovery.
    assert p.networking.vpc and p.networking.private_subnets
    assert not p.networking.internet_egress
    assert not p.networking.nat_gateway
    for endpoint in ("s3", "sagemaker.api", "sagemaker.runtime", "kms", "logs"):
        assert endpoint in p.networking.vpc_endpoints
    assert "ecr.api" not in p.networking.vpc_endpoints
    assert only(p, "vpc_interface_endpoints").config["endpoints"] == 4
    assert p.encryption.at_rest == "aws-kms-cmk" and p.encryption.kms_key_rotation
    assert only(p, "kms").config["rotation"] is True
    assert {"encryption", "audit", "pii_discovery", "private_networking"} <= p.capabilities()
    assert all(c.private_networking for c in p.components if c.stores_data)
    assert all(c.private_networking for c in p.by_service("sagemaker_training"))
    assert any("residency" in r for r in p.rationale)
    assert any("SageMaker is the team's preferred" in r for r in p.rationale)


def test_fraud_realtime_reference():
    p = plan(fraud())
    endpoint = only(p, "sagemaker_endpoint")
    assert endpoint.config["instance_type"] in ("ml.c6i.xlarge", "ml.c6i.2xlarge")
    assert endpoint.config["instance_count"] >= 2
    capacity = load_catalogue().instance_rps(endpoint.config["instance_type"], "tabular")
    assert endpoint.config["instance_count"] * capacity * 0.7 >= 300
    assert endpoint.config["hours_per_month"] == 730
    assert endpoint.config["data_capture"] is True
    assert endpoint.config["autoscaling_max"] > endpoint.config["instance_count"]
    assert "serving" in endpoint.capabilities
    assert only(p, "sagemaker_processing").config["instance_type"] == "ml.m5.4xlarge"
    assert only(p, "sagemaker_training").config["instance_type"] == "ml.m5.4xlarge"
    assert not p.by_service("sagemaker_serverless_inference")
    assert not p.by_service("sagemaker_batch_transform")
    assert p.networking.vpc and not p.networking.internet_egress
    assert endpoint.private_networking
    assert p.by_service("kms") and p.by_service("cloudtrail")
    assert only(p, "github_actions").config["workflows"] == 2
    alternatives = {a.option for a in p.alternatives}
    assert "SageMaker Serverless Inference" in alternatives
    # Cadence unknown: weekly assumed and said so.
    assert only(p, "sagemaker_training").config["runs_per_month"] == 4.33
    assert any("cadence is unknown" in r for r in p.rationale)


def test_streaming_reference():
    p = plan(streaming())
    services = p.services()
    for service in (
        "kinesis_data_streams",
        "managed_flink",
        "sagemaker_feature_store",
        "sagemaker_endpoint",
        "glue_etl",
        "glue_data_catalog",
        "athena",
    ):
        assert service in services
    assert only(p, "kinesis_data_streams").config["shards"] >= 2
    assert only(p, "managed_flink").config["kpu"] >= 1
    assert {"streaming_ingestion", "serving", "feature_store", "data_catalog"} <= p.capabilities()
    assert "streaming_ingestion" in only(p, "kinesis_data_streams").capabilities
    assert only(p, "sagemaker_training").config["instance_type"] == "ml.m5.12xlarge"
    assert only(p, "sagemaker_training").config["runs_per_month"] == 30
    assert not p.by_service("sagemaker_processing")
    # No sensitive data: no VPC endpoints, no CMK.
    assert not p.by_service("vpc_interface_endpoints")
    assert not p.by_service("kms")
    assert not p.networking.vpc and not p.networking.nat_gateway
    assert p.encryption.at_rest == "aws-managed"
    assert not any(c.private_networking for c in p.components)


def test_llm_reference():
    p = plan(llm())
    training = only(p, "sagemaker_training")
    assert training.config["instance_type"] == "ml.g5.12xlarge"
    assert training.config["runs_per_month"] == 1
    assert training.config["checkpoint_s3"] is True
    endpoint = only(p, "sagemaker_endpoint")
    assert endpoint.config["instance_type"].startswith("ml.g5.")
    assert not p.by_service("sagemaker_serverless_inference")
    assert only(p, "ecr").capabilities == ["container_registry"]
    assert not p.by_service("vpc_interface_endpoints")
    assert p.encryption.at_rest == "aws-managed"
    assert any("GPU" in r or "capacity" in r for r in p.risks)
    assert any("Bedrock" in a.option for a in p.alternatives)


def test_phi_reference():
    p = plan(phi())
    assert p.region == "us-east-2"
    assert only(p, "sagemaker_training").config["instance_type"] == "ml.m5.4xlarge"
    assert only(p, "sagemaker_training").config["runs_per_month"] == 30
    assert only(p, "sagemaker_batch_transform")
    assert only(p, "macie").capabilities == ["pii_discovery"]
    assert only(p, "cloudtrail").capabilities == ["audit"]
    assert only(p, "kms").config["keys"] >= 1
    assert p.networking.vpc and p.networking.private_subnets and not p.networking.internet_egress
    assert p.encryption.at_rest == "aws-kms-cmk"
    assert not p.by_service("ecr")
    assert any("scikit-learn" in r for r in p.risks)
    assert any("HIPAA" in r for r in p.rationale)


# --------------------------------------------------------------------------- preconditions


def test_missing_mandatory_fields_raise():
    constraints = ConstraintSchema(deployment_mode="batch", region="eu-west-1")
    with pytest.raises(ValueError) as error:
        plan_for(constraints)
    for name in ("data_volume_gb", "budget", "data_sensitivity"):
        assert name in str(error.value)


def test_real_time_needs_latency():
    with pytest.raises(ValueError, match="latency_p99_ms"):
        plan_for(fraud(latency_p99_ms=None))


# --------------------------------------------------------------------------- input dependence


def test_region_is_kept_even_against_residency():
    p = plan(churn(region="us-east-1"))
    assert p.region == "us-east-1"
    assert "us-east-1" in p.name
    assert any("residency" in r for r in p.risks)
    assert plan(churn(region="eu-central-1")).region == "eu-central-1"


def test_latency_drives_endpoint_instance():
    fast = only(plan(realtime(latency_p99_ms=40)), "sagemaker_endpoint")
    slow = only(plan(realtime(latency_p99_ms=400)), "sagemaker_endpoint")
    assert fast.config["instance_type"].startswith("ml.c6i.")
    assert fast.config["instance_count"] >= 2
    assert slow.config["instance_type"].startswith("ml.m5.")
    assert slow.config["instance_count"] == 1


def test_throughput_drives_instance_count():
    low = only(plan(realtime(throughput_rps=20)), "sagemaker_endpoint")
    high = only(plan(realtime(throughput_rps=2000)), "sagemaker_endpoint")
    assert high.config["instance_count"] > low.config["instance_count"]


def test_high_availability_forces_two_instances():
    endpoint = only(plan(realtime(high_availability=True)), "sagemaker_endpoint")
    assert endpoint.config["instance_count"] >= 2


def test_serverless_when_preferred_and_relaxed():
    p = plan(realtime(latency_p99_ms=2000, throughput_rps=1, preferred_services=["serverless"]))
    serverless = only(p, "sagemaker_serverless_inference")
    assert not p.by_service("sagemaker_endpoint")
    assert serverless.config["memory_gb"] > 0
    assert any("cold start" in r.lower() for r in p.risks)
    # Same preference but a tight latency target keeps the endpoint.
    tight = plan(realtime(latency_p99_ms=300, throughput_rps=1, preferred_services=["serverless"]))
    assert tight.by_service("sagemaker_endpoint")
    # Sensitive data cannot use serverless (no VPC support).
    private = plan(
        realtime(
            latency_p99_ms=2000,
            throughput_rps=1,
            preferred_services=["serverless"],
            data_sensitivity=["pii"],
        )
    )
    assert private.by_service("sagemaker_endpoint")


def test_budget_drives_serverless():
    cheap = plan(realtime(latency_p99_ms=2000, throughput_rps=1, budget=usd(200)))
    rich = plan(realtime(latency_p99_ms=2000, throughput_rps=1, budget=usd(5000)))
    assert cheap.by_service("sagemaker_serverless_inference")
    assert rich.by_service("sagemaker_endpoint")


def test_budget_drives_spot_gpu_training():
    vision = dict(
        problem_type="computer_vision",
        deployment_mode="batch",
        data_volume_gb=500,
        retraining_cadence="daily",
    )
    tight = only(plan(realtime(**vision, budget=usd(3000))), "sagemaker_training")
    ample = only(plan(realtime(**vision, budget=usd(50000))), "sagemaker_training")
    assert tight.config["instance_type"] == "ml.g5.2xlarge"
    assert tight.config["spot"] is True and tight.config["checkpoint_s3"] is True
    assert tight.config["max_wait_hours"] > tight.config["hours_per_run"]
    assert ample.config["spot"] is False


def test_spot_requested_and_declined():
    assert only(plan(churn(use_spot_training=True)), "sagemaker_training").config["spot"] is True
    declined = realtime(
        problem_type="computer_vision",
        data_volume_gb=500,
        retraining_cadence="daily",
        budget=usd(1000),
        use_spot_training=False,
    )
    assert only(plan(declined), "sagemaker_training").config["spot"] is False


def test_volume_drives_processing():
    small = plan(churn(data_volume_gb=10))
    medium = plan(churn(data_volume_gb=300))
    large = plan(churn(data_volume_gb=800))
    huge = plan(churn(data_volume_gb=5000))
    assert only(small, "sagemaker_processing").config["instance_type"] == "ml.m5.xlarge"
    assert only(medium, "sagemaker_processing").config["instance_type"] == "ml.m5.4xlarge"
    assert only(large, "glue_etl").config["dpu_hours_per_run"] > 0
    assert not large.by_service("athena")
    assert huge.by_service("glue_data_catalog") and huge.by_service("athena")
    assert "data_catalog" in huge.capabilities()
    assert (
        only(huge, "glue_etl").config["dpu_hours_per_run"]
        > only(large, "glue_etl").config["dpu_hours_per_run"]
    )
    assert only(huge, "sagemaker_batch_transform").config["instance_count"] > 1
    assert only(small, "s3").config["storage_gb"] < only(huge, "s3").config["storage_gb"]
    # Private plans reach Glue and Athena through VPC endpoints.
    assert {"glue", "athena"} <= set(huge.networking.vpc_endpoints)


def test_glue_avoided():
    p = plan(churn(data_volume_gb=800, avoided_services=["AWS Glue"]))
    assert not p.by_service("glue_etl")
    assert only(p, "sagemaker_processing").config["instance_count"] >= 2


def test_volume_drives_training_instance():
    assert (
        only(plan(churn(data_volume_gb=900)), "sagemaker_training").config["instance_type"]
        == "ml.m5.12xlarge"
    )
    assert (
        only(plan(llm(data_volume_gb=2000)), "sagemaker_training").config["instance_type"]
        == "ml.p4d.24xlarge"
    )


def test_sensitivity_drives_networking_and_security():
    open_plan = plan(churn(data_sensitivity=[], data_residency=None))
    assert not open_plan.networking.vpc
    for service in ("vpc_interface_endpoints", "kms", "cloudtrail", "macie"):
        assert not open_plan.by_service(service)
    assert open_plan.encryption.at_rest == "aws-managed"
    private = plan(churn())
    for service in ("vpc_interface_endpoints", "kms", "cloudtrail", "macie"):
        assert private.by_service(service)
    # Compliance alone (GDPR) brings a CMK but not private networking.
    gdpr = plan(churn(data_sensitivity=[], compliance=["GDPR"]))
    assert gdpr.by_service("kms") and not gdpr.by_service("vpc_interface_endpoints")
    assert gdpr.encryption.at_rest == "aws-kms-cmk"
    # HIPAA scope alone brings private networking.
    assert plan(churn(data_sensitivity=[], compliance=["HIPAA"])).networking.vpc


def test_private_endpoints_follow_components():
    private_llm = plan(llm(data_sensitivity=["pii"]))
    assert {"ecr.api", "ecr.dkr"} <= set(private_llm.networking.vpc_endpoints)
    private_stream = plan(streaming(data_sensitivity=["pii"]))
    endpoints = set(private_stream.networking.vpc_endpoints)
    assert "kinesis-streams" in endpoints
    assert only(private_stream, "vpc_interface_endpoints").config["endpoints"] == len(endpoints) - 1


def test_cadence_drives_runs():
    assert only(plan(churn(retraining_cadence="hourly")), "sagemaker_training").config[
        "runs_per_month"
    ] == (720)
    assert only(plan(churn(retraining_cadence="nightly")), "sagemaker_training").config[
        "runs_per_month"
    ] == (30)
    unknown = plan(churn(retraining_cadence=None))
    assert only(unknown, "sagemaker_training").config["runs_per_month"] == 4.33
    assert any("cadence is unknown" in r for r in unknown.rationale)


def test_team_skills_and_avoided_services():
    no_kube = plan(churn(avoided_services=["EKS"], team_skills=["python", "sql"]))
    assert any("EKS/Kubernetes is on the avoid list" in r for r in no_kube.rationale)
    assert any("python, sql" in r and "Terraform" in r for r in no_kube.rationale)
    assert only(no_kube, "github_actions").config["iac"] == "terraform"  # as generated
    terraform = plan(churn(team_skills=["terraform", "python"]))
    assert only(terraform, "github_actions").config["iac"] == "terraform"
    assert any("EKS" in a.option for a in no_kube.alternatives)


def test_confidence_drops_with_unknown_optionals():
    full = plan_for(churn(team_skills=["python"]))[1].confidence
    sparse = plan_for(
        churn(problem_type=None, frameworks=[], retraining_cadence=None, team_skills=[])
    )[1].confidence
    assert sparse < full
    assert sparse >= 0.5


def test_name_differs_by_workload_and_region():
    names = {plan(factory()).name for factory in REFERENCES.values()}
    assert len(names) == len(REFERENCES)
    assert plan(churn()).name != plan(churn(region="eu-west-2")).name


def test_over_budget_design_is_replanned_lean():
    lean = plan(churn(data_volume_gb=5000))
    rich = plan(churn(data_volume_gb=5000, budget=usd(50000)))
    assert only(lean, "sagemaker_training").config["spot"] is True
    assert only(lean, "sagemaker_training").config["checkpoint_s3"] is True
    assert only(rich, "sagemaker_training").config["spot"] is False
    assert any(
        "over the $1,500 budget, so cheaper alternatives were tried" in r for r in lean.rationale
    )
    assert any("spot training: applied" in r for r in lean.rationale)
    assert not any("first design" in r for r in rich.rationale)
    # Lean real-time plans check drift daily instead of hourly.
    tight = realtime(latency_p99_ms=40, throughput_rps=2000, budget=usd(500))
    assert (
        only(plan(tight), "sagemaker_model_monitor").config["hours_per_month"]
        < (
            only(
                plan(realtime(latency_p99_ms=40, throughput_rps=2000, budget=usd(100_000))),
                "sagemaker_model_monitor",
            ).config["hours_per_month"]
        )
    )
    # A budget far below the workload is reported as a risk.
    assert any("over the $500 budget" in r for r in plan(tight).risks)


def test_macie_sampling_scales_with_volume():
    assert only(plan(churn(data_volume_gb=40)), "macie").config["gb_scanned"] == 40
    assert only(plan(churn(data_volume_gb=5000)), "macie").config["gb_scanned"] == 500


def _quoted_total(p: Plan) -> str:
    return next(r for r in p.rationale if r.startswith("The estimate from the pricing catalogue"))


@pytest.mark.parametrize("factory", list(REFERENCES))
def test_budget_reasoning_quotes_the_estimate_of_the_plan(factory):
    c = REFERENCES[factory]()
    p = plan(c)
    priced = estimate(p, c)
    sentence = _quoted_total(p)
    assert f"${priced.monthly_total_usd:,.0f}/month" in sentence
    for env in priced.environments:
        assert f"{env.name} ${env.monthly_usd:,.0f}" in sentence
    if priced.within_budget is False:
        assert any("over the" in r for r in p.risks)


def test_over_budget_plan_says_which_alternatives_it_tried_and_why_not():
    fraud_tight = fraud(budget=usd(300))
    p = plan(fraud_tight)
    tried = next(r for r in p.rationale if "cheaper alternatives were tried" in r)
    assert "spot training:" in tried
    assert "smaller instances:" in tried
    assert "serverless inference: not possible" in tried  # 50 ms p99, PCI in a VPC
    assert "batch instead of real-time: not possible" in tried
    priced = estimate(p, fraud_tight)
    assert priced.within_budget is False  # honest: still over, and said so
    assert any("over the $300 budget" in r for r in p.risks)


def test_relaxed_latency_over_budget_switches_to_batch_scoring():
    relaxed = realtime(latency_p99_ms=4 * 3_600_000, throughput_rps=500, budget=usd(200))
    p = plan(relaxed)
    assert p.deployment_mode.value == "batch"
    assert p.by_service("sagemaker_batch_transform") and not p.by_service("sagemaker_endpoint")
    assert any("batch instead of real-time: applied" in r for r in p.rationale)


def test_endpoint_is_sized_from_the_catalogue_capacity_model():
    catalogue = load_catalogue()
    for rps in (50.0, 400.0, 3000.0):
        p = plan(realtime(throughput_rps=rps, latency_p99_ms=300))
        endpoint = only(p, "sagemaker_endpoint").config
        per_instance = catalogue.instance_rps(endpoint["instance_type"], "tabular")
        assert endpoint["instance_count"] == max(
            2 if endpoint["instance_count"] >= 2 else 1,
            catalogue.instances_for(endpoint["instance_type"], "tabular", rps),
        )
        assert (
            endpoint["instance_count"] * per_instance * catalogue.capacity.target_utilisation >= rps
        )
        assert endpoint["requests_per_month"] == round(rps * 730 * 3600)
