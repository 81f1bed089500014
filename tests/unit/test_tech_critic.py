"""Tests of the deterministic technical critic."""

from __future__ import annotations

import pytest

from agentic_mlops.domain import Budget, Component, ConstraintSchema, NetworkPlan, Plan
from agentic_mlops.domain.assessment import SEVERITY_ORDER
from agentic_mlops.providers.offline.critics import technical_critique
from agentic_mlops.providers.offline.planner import plan_for


def usd(amount: float) -> Budget:
    return Budget(amount=amount, currency="USD", period="month", monthly_usd=amount)


def make(**overrides) -> ConstraintSchema:
    fields = dict(
        problem_type="classification",
        deployment_mode="real_time",
        latency_p99_ms=300,
        throughput_rps=20,
        region="us-east-1",
        data_volume_gb=40,
        budget=usd(3000),
        data_sensitivity=[],
        retraining_cadence="weekly",
        high_availability=True,
    )
    fields.update(overrides)
    return ConstraintSchema(**fields)


REFERENCES = {
    "churn": make(
        deployment_mode="batch",
        region="eu-west-1",
        data_residency="eu",
        budget=usd(1500),
        data_sensitivity=["pii"],
        frameworks=["xgboost"],
        latency_p99_ms=None,
        throughput_rps=None,
        high_availability=None,
    ),
    "fraud": make(
        latency_p99_ms=50,
        throughput_rps=300,
        data_volume_gb=200,
        budget=usd(6000),
        data_sensitivity=["pci"],
        compliance=["PCI-DSS"],
        retraining_cadence=None,
        high_availability=None,
    ),
    "streaming": make(
        problem_type="anomaly_detection",
        deployment_mode="streaming",
        region="eu-central-1",
        data_volume_gb=2000,
        budget=usd(4320),
        retraining_cadence="daily",
        latency_p99_ms=None,
        throughput_rps=None,
        high_availability=None,
    ),
    "llm": make(
        summary="Fine-tune Llama 3 8B",
        problem_type="llm_fine_tuning",
        latency_p99_ms=2000,
        throughput_rps=None,
        region="us-west-2",
        data_volume_gb=500,
        budget=usd(12000),
        gpu_required=True,
        retraining_cadence="monthly",
        high_availability=None,
    ),
    "phi": make(
        deployment_mode="batch",
        region="us-east-2",
        data_volume_gb=20,
        budget=usd(2500),
        data_sensitivity=["phi"],
        compliance=["HIPAA"],
        frameworks=["scikit-learn"],
        retraining_cadence="daily",
        latency_p99_ms=None,
        throughput_rps=None,
        high_availability=None,
    ),
}


def review(constraints: ConstraintSchema, plan: Plan | None = None):
    plan = plan or plan_for(constraints)[0]
    return technical_critique(constraints, plan)[0]


def ids(critique) -> dict[str, str]:
    return {f.id: f.severity for f in critique.findings}


def with_config(plan: Plan, service: str, **updates) -> Plan:
    components = [
        c.model_copy(update={"config": {**c.config, **updates}}) if c.service == service else c
        for c in plan.components
    ]
    return plan.model_copy(update={"components": components})


def without(plan: Plan, service: str) -> Plan:
    components = [c for c in plan.components if c.service != service]
    return plan.model_copy(update={"components": components})


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_plans_are_not_unsound(name):
    critique = review(REFERENCES[name])
    assert critique.verdict != "unsound", critique.findings
    assert not [f for f in critique.findings if f.severity in ("high", "critical")]


def test_single_instance_llm_endpoint_is_a_risk():
    critique = review(REFERENCES["llm"])
    assert critique.verdict == "sound_with_risks"
    assert ids(critique)["TECH-HA-001"] == "medium"
    finding = next(f for f in critique.findings if f.id == "TECH-HA-001")
    assert finding.component_id == "inference_endpoint"
    assert finding.recommendation


def test_deterministic():
    constraints = REFERENCES["llm"]
    assert technical_critique(constraints, plan_for(constraints)[0]) == technical_critique(
        constraints, plan_for(constraints)[0]
    )


# --------------------------------------------------------------------------- planted weaknesses


def test_single_instance_endpoint_high_for_pci():
    constraints = REFERENCES["fraud"]
    base = plan_for(constraints)[0]
    assert "TECH-HA-001" not in ids(review(constraints, base))
    planted = with_config(base, "sagemaker_endpoint", instance_count=1)
    critique = review(constraints, planted)
    assert ids(critique)["TECH-HA-001"] == "high"
    assert critique.verdict == "unsound"


def test_api_gateway_in_front_of_tight_latency():
    constraints = make(latency_p99_ms=15)
    base = plan_for(constraints)[0]
    direct = ids(review(constraints, base))
    assert "TECH-LAT-001" not in direct
    assert direct.get("TECH-LAT-003") == "low"
    planted = with_config(base, "sagemaker_endpoint", front_door="api_gateway")
    assert ids(review(constraints, planted))["TECH-LAT-001"] == "high"
    # A relaxed target tolerates API Gateway.
    relaxed = make(latency_p99_ms=300)
    relaxed_plan = with_config(plan_for(relaxed)[0], "sagemaker_endpoint", front_door="api_gateway")
    assert "TECH-LAT-001" not in ids(review(relaxed, relaxed_plan))


def test_serverless_with_sub_second_latency():
    relaxed = make(latency_p99_ms=2000, throughput_rps=1, preferred_services=["serverless"])
    serverless_plan = plan_for(relaxed)[0]
    assert serverless_plan.by_service("sagemaker_serverless_inference")
    assert "TECH-LAT-002" not in ids(review(relaxed, serverless_plan))
    tight = relaxed.model_copy(update={"latency_p99_ms": 500})
    critique = review(tight, serverless_plan)
    assert ids(critique)["TECH-LAT-002"] == "high"
    assert critique.verdict == "unsound"
    # Serverless has no data capture.
    assert ids(critique)["TECH-MON-002"] == "low"


def test_streaming_shards_vs_throughput():
    constraints = REFERENCES["streaming"].model_copy(update={"throughput_rps": 300})
    base = plan_for(constraints)[0]
    assert "TECH-STR-001" not in ids(review(constraints, base))
    one_shard = with_config(base, "kinesis_data_streams", shards=1)
    assert ids(review(constraints, one_shard))["TECH-STR-001"] == "medium"
    busy = constraints.model_copy(update={"throughput_rps": 5000})
    assert ids(review(busy, base))["TECH-STR-001"] == "high"
    assert "TECH-STR-001" not in ids(review(busy, plan_for(busy)[0]))


def test_streaming_without_ingestion():
    constraints = REFERENCES["streaming"]
    planted = without(without(plan_for(constraints)[0], "kinesis_data_streams"), "managed_flink")
    assert ids(review(constraints, planted))["TECH-STR-002"] == "high"


def test_spot_without_checkpointing():
    constraints = REFERENCES["churn"].model_copy(update={"use_spot_training": True})
    base = plan_for(constraints)[0]
    assert "TECH-TRN-002" not in ids(review(constraints, base))
    planted = with_config(base, "sagemaker_training", checkpoint_s3=False)
    assert ids(review(constraints, planted))["TECH-TRN-002"] == "medium"


def test_gpu_training_without_spot_or_checkpoint():
    constraints = REFERENCES["llm"]
    base = plan_for(constraints)[0]
    assert "TECH-TRN-001" not in ids(review(constraints, base))
    planted = with_config(base, "sagemaker_training", checkpoint_s3=False, hours_per_run=2)
    assert ids(review(constraints, planted))["TECH-TRN-001"] == "low"
    long_run = with_config(base, "sagemaker_training", checkpoint_s3=False, hours_per_run=20)
    assert ids(review(constraints, long_run))["TECH-TRN-001"] == "medium"


def test_hourly_retraining_on_large_data():
    daily = REFERENCES["streaming"]
    assert "TECH-TRN-003" not in ids(review(daily))
    hourly = daily.model_copy(update={"retraining_cadence": "hourly"})
    assert ids(review(hourly))["TECH-TRN-003"] == "medium"


def test_sensitive_data_without_private_networking():
    constraints = REFERENCES["churn"]
    base = plan_for(constraints)[0]
    assert "TECH-SEC-001" not in ids(review(constraints, base))
    components = [
        c.model_copy(update={"private_networking": False})
        for c in base.components
        if c.service != "vpc_interface_endpoints"
    ]
    planted = base.model_copy(update={"components": components, "networking": NetworkPlan()})
    critique = review(constraints, planted)
    assert ids(critique)["TECH-SEC-001"] == "high"
    assert critique.verdict == "unsound"


def test_unencrypted_data_store():
    constraints = REFERENCES["churn"]
    base = plan_for(constraints)[0]
    components = [
        c.model_copy(update={"encrypted_at_rest": False}) if c.service == "s3" else c
        for c in base.components
    ]
    planted = base.model_copy(update={"components": components})
    assert ids(review(constraints, planted))["TECH-SEC-002"] == "high"


def test_endpoint_without_model_monitor():
    constraints = REFERENCES["fraud"]
    base = plan_for(constraints)[0]
    assert "TECH-MON-001" not in ids(review(constraints, base))
    planted = without(base, "sagemaker_model_monitor")
    assert ids(review(constraints, planted))["TECH-MON-001"] == "medium"
    batch = REFERENCES["churn"]
    assert ids(review(batch, without(plan_for(batch)[0], "sagemaker_model_monitor")))[
        "TECH-MON-003"
    ] == ("low")


def test_endpoint_without_data_capture():
    constraints = REFERENCES["fraud"]
    planted = with_config(plan_for(constraints)[0], "sagemaker_endpoint", data_capture=False)
    assert ids(review(constraints, planted))["TECH-MON-002"] == "low"


def test_llm_on_tiny_data():
    constraints = REFERENCES["llm"].model_copy(update={"data_volume_gb": 0.5})
    assert ids(review(constraints))["TECH-TRN-004"] == "info"
    assert "TECH-TRN-004" not in ids(review(REFERENCES["llm"]))


def test_llm_served_or_trained_on_cpu():
    constraints = REFERENCES["llm"]
    base = plan_for(constraints)[0]
    planted = with_config(base, "sagemaker_endpoint", instance_type="ml.m5.xlarge")
    planted = with_config(planted, "sagemaker_training", instance_type="ml.m5.4xlarge")
    found = ids(review(constraints, planted))
    assert found["TECH-GPU-002"] == "high"
    assert found["TECH-GPU-001"] == "high"


def test_residency_violation_is_critical():
    constraints = REFERENCES["churn"].model_copy(update={"region": "us-east-1"})
    p = plan_for(constraints)[0]
    assert p.region == "us-east-1"
    critique = review(constraints, p)
    assert ids(critique)["TECH-RES-001"] == "critical"
    assert critique.verdict == "unsound"
    assert critique.findings[0].id == "TECH-RES-001"


def test_batch_over_one_terabyte_on_one_instance():
    constraints = REFERENCES["churn"].model_copy(update={"data_volume_gb": 2000})
    base = plan_for(constraints)[0]
    assert "TECH-BAT-001" not in ids(review(constraints, base))
    planted = with_config(base, "sagemaker_batch_transform", instance_count=1)
    assert ids(review(constraints, planted))["TECH-BAT-001"] == "medium"


def test_undersized_endpoint():
    constraints = REFERENCES["fraud"]
    base = plan_for(constraints)[0]
    assert "TECH-CAP-001" not in ids(review(constraints, base))
    planted = with_config(base, "sagemaker_endpoint", instance_type="ml.m5.large", instance_count=2)
    assert ids(review(constraints, planted))["TECH-CAP-001"] == "high"


def test_missing_registry_orchestration_and_scheduler():
    constraints = REFERENCES["churn"]
    base = plan_for(constraints)[0]
    planted = without(
        without(without(base, "sagemaker_model_registry"), "sagemaker_pipelines"),
        "eventbridge_scheduler",
    )
    found = ids(review(constraints, planted))
    assert found["TECH-OPS-001"] == "medium"
    assert found["TECH-OPS-002"] == "medium"
    assert found["TECH-OPS-003"] == "low"


def test_sklearn_on_large_data():
    small = REFERENCES["phi"]
    assert "TECH-TRN-005" not in ids(review(small))
    large = small.model_copy(update={"data_volume_gb": 80})
    assert ids(review(large))["TECH-TRN-005"] == "low"


# --------------------------------------------------------------------------- verdict


def test_ordering_summary_and_explanation():
    constraints = REFERENCES["churn"].model_copy(update={"region": "us-east-1"})
    base = plan_for(constraints)[0]
    planted = with_config(
        without(base, "sagemaker_model_monitor"),
        "sagemaker_training",
        spot=True,
        checkpoint_s3=False,
    )
    critique, explanation = technical_critique(constraints, planted)
    keys = [(-SEVERITY_ORDER[f.severity], f.id) for f in critique.findings]
    assert keys == sorted(keys)
    assert critique.summary.startswith(f"{len(critique.findings)} finding(s): 1 critical")
    assert "1 medium" in critique.summary and "1 low" in critique.summary
    assert explanation.decision.startswith("Technical verdict: unsound")
    assert "TECH-RES-001" in explanation.rationale
    assert 0 <= explanation.confidence <= 1


def test_clean_plan_is_sound():
    constraints = REFERENCES["churn"]
    critique, explanation = technical_critique(constraints, plan_for(constraints)[0])
    assert critique.verdict == "sound"
    assert critique.findings == []
    assert critique.summary == "No technical weaknesses found."
    assert "passed" in explanation.rationale


def test_medium_only_is_sound_with_risks():
    constraints = REFERENCES["fraud"]
    planted = without(plan_for(constraints)[0], "sagemaker_model_monitor")
    critique = review(constraints, planted)
    assert critique.verdict == "sound_with_risks"
    assert critique.summary == "1 finding(s): 1 medium."


def test_component_type_is_untouched():
    # Planted plans are built with model_copy; make sure findings point at real ids.
    constraints = REFERENCES["fraud"]
    planted = with_config(plan_for(constraints)[0], "sagemaker_endpoint", instance_count=1)
    for finding in review(constraints, planted).findings:
        if finding.component_id:
            assert isinstance(planted.component(finding.component_id), Component)


# --------------------------------------------------------------------------- feasibility


def test_training_run_longer_than_the_month_and_max_run_is_unsound():
    """The issue's case: a 480-hour run every week passed the critic."""
    constraints = REFERENCES["churn"]
    base = plan_for(constraints)[0]
    assert not {"TECH-FEAS-001", "TECH-FEAS-002"} & set(ids(review(constraints, base)))
    planted = with_config(base, "sagemaker_training", hours_per_run=480, runs_per_month=4.33)
    critique = review(constraints, planted)
    assert ids(critique)["TECH-FEAS-001"] == "critical"  # 2,078 h of runs in a 730 h month
    assert critique.verdict == "unsound"
    detail = next(f.detail for f in critique.findings if f.id == "TECH-FEAS-001")
    assert "2,078 h" in detail and "730 h month" in detail
    beyond = with_config(base, "sagemaker_training", hours_per_run=680, runs_per_month=1)
    detail = next(f.detail for f in review(constraints, beyond).findings if f.id == "TECH-FEAS-002")
    assert "2,419,200 s" in detail  # 680 h = 2,448,000 s > 28 days


def test_max_run_alone_and_overlap_alone():
    constraints = REFERENCES["churn"]
    base = plan_for(constraints)[0]
    # 700 h once a month: fits the month, but not the 28-day (672 h) max_run.
    long_once = with_config(base, "sagemaker_training", hours_per_run=700, runs_per_month=1)
    found = ids(review(constraints, long_once))
    assert "TECH-FEAS-002" in found and "TECH-FEAS-001" not in found
    # 30 h daily: under max_run but each run outlasts the day until the next one.
    overlap = with_config(base, "sagemaker_training", hours_per_run=30, runs_per_month=30)
    found = ids(review(constraints, overlap))
    assert "TECH-FEAS-001" in found and "TECH-FEAS-002" not in found


def test_endpoint_fleet_beyond_quota_is_flagged():
    """The issue's case: 143 endpoint instances for 50k events/s were 'sound'."""
    constraints = REFERENCES["fraud"]
    base = plan_for(constraints)[0]
    assert "TECH-QUOTA-001" not in ids(review(constraints, base))
    planted = with_config(base, "sagemaker_endpoint", instance_count=143, autoscaling_max=286)
    critique = review(constraints, planted)
    assert ids(critique)["TECH-QUOTA-001"] == "high"
    assert critique.verdict == "unsound"


def test_throughput_per_instance_uses_the_catalogue_capacity_model():
    constraints = make(throughput_rps=1000, latency_p99_ms=300, budget=usd(100_000))
    base = plan_for(constraints)[0]
    assert "TECH-CAP-001" not in ids(review(constraints, base))
    # 4 x ml.m5.large serve 4 × 50 = 200 rps in the catalogue's model, not 4 × 100.
    planted = with_config(base, "sagemaker_endpoint", instance_type="ml.m5.large", instance_count=4)
    finding = next(f for f in review(constraints, planted).findings if f.id == "TECH-CAP-001")
    assert "200 rps" in finding.detail and "1000 rps" in finding.detail


def test_estimate_over_budget_is_not_sound():
    constraints = REFERENCES["fraud"]
    base = plan_for(constraints)[0]
    assert "TECH-COST-001" not in ids(review(constraints, base))
    poor = constraints.model_copy(update={"budget": usd(100)})
    critique = review(poor, base)
    assert ids(critique)["TECH-COST-001"] == "high"
    assert critique.verdict == "unsound"
    detail = next(f.detail for f in critique.findings if f.id == "TECH-COST-001")
    assert "staging $" in detail and "prod $" in detail and "$100/month" in detail
