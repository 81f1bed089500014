"""Cost critic: budget review and catalogue-priced savings."""

from __future__ import annotations

import pytest

from agentic_mlops.domain import Budget, Component, ConstraintSchema, Plan
from agentic_mlops.domain.assessment import SEVERITY_ORDER
from agentic_mlops.domain.plan import ConfigValue
from agentic_mlops.pricing import cost_findings, estimate, load_catalogue

CONFIGS: dict[str, dict[str, ConfigValue]] = {
    "s3": {"storage_gb": 100},
    "sagemaker_training": {
        "instance_type": "ml.g5.2xlarge",
        "instance_count": 1,
        "hours_per_run": 10,
        "runs_per_month": 4,
        "spot": False,
    },
    "sagemaker_endpoint": {
        "instance_type": "ml.m5.xlarge",
        "instance_count": 1,
        "hours_per_month": 730,
        "requests_per_month": 0,
        "payload_kb": 2,
    },
    "nat_gateway": {"gateways": 1, "hours_per_month": 730, "data_gb": 1000},
    "sagemaker_model_registry": {},
}


def component(service: str, cid: str | None = None, **config: ConfigValue) -> Component:
    return Component(
        id=cid or service,
        service=service,
        purpose=f"test {service}",
        config={**CONFIGS[service], **config},
    )


def plan(*components: Component, region: str = "us-east-1", **networking) -> Plan:
    return Plan(
        name="test plan",
        region=region,
        deployment_mode="real_time",
        summary="test",
        components=list(components),
        networking=networking or {},
    )


def constraints(budget: float | None = 10_000.0, **fields) -> ConstraintSchema:
    return ConstraintSchema(
        budget=Budget(amount=budget, monthly_usd=budget) if budget else None, **fields
    )


def review(the_plan: Plan, the_constraints: ConstraintSchema):
    return cost_findings(the_constraints, the_plan, estimate(the_plan, the_constraints))


def by_prefix(findings, prefix):
    return [f for f in findings if f.id.startswith(prefix)]


def test_over_budget_is_high_with_amount_over():
    the_plan = plan(component("sagemaker_endpoint"))  # $167.90 in staging and in prod
    [finding] = by_prefix(review(the_plan, constraints(budget=300)), "COST-BUDGET")
    assert finding.id == "COST-BUDGET-001"
    assert finding.severity == "high"
    assert "$35.80" in finding.title


def test_near_budget_is_medium_and_comfortable_budget_is_info():
    the_plan = plan(component("sagemaker_endpoint"))
    [near] = by_prefix(review(the_plan, constraints(budget=360)), "COST-BUDGET")
    assert near.severity == "medium"
    [fine] = by_prefix(review(the_plan, constraints(budget=1000)), "COST-BUDGET")
    assert fine.severity == "info"
    assert by_prefix(review(the_plan, constraints(budget=None)), "COST-BUDGET") == []


def test_spot_saving_is_seventy_percent_of_on_demand_training():
    the_plan = plan(component("sagemaker_training", "train"))
    on_demand = round(1.515 * 40, 2)
    [finding] = by_prefix(review(the_plan, constraints()), "COST-SPOT")
    assert finding.id == "COST-SPOT-001"
    assert finding.component_id == "train"
    assert finding.estimated_monthly_saving_usd == round(on_demand * 0.7, 2)
    assert finding.severity in {"low", "medium"}


def test_no_spot_finding_when_already_on_spot_and_info_when_declined():
    on_spot = plan(component("sagemaker_training", spot=True))
    assert by_prefix(review(on_spot, constraints()), "COST-SPOT") == []
    declined = review(plan(component("sagemaker_training")), constraints(use_spot_training=False))
    [finding] = by_prefix(declined, "COST-SPOT")
    assert finding.severity == "info"
    assert "declined" in finding.detail


def test_serverless_for_low_throughput_relaxed_latency():
    the_plan = plan(component("sagemaker_endpoint", "online"))
    relaxed = constraints(deployment_mode="real_time", throughput_rps=0.5, latency_p99_ms=2000)
    [finding] = by_prefix(review(the_plan, relaxed), "COST-SERVERLESS")
    requests = 0.5 * 3600 * 730
    serverless = round(requests * 0.2 * 6 * 0.00002, 2)  # 200 ms, 6 GB (capped)
    assert finding.estimated_monthly_saving_usd == round(167.9 - serverless, 2)
    assert finding.component_id == "online"


@pytest.mark.parametrize(
    ("fields", "config"),
    [
        ({"throughput_rps": 0.5, "latency_p99_ms": 100}, {}),
        ({"throughput_rps": 50.0, "latency_p99_ms": 2000}, {}),
        ({"latency_p99_ms": 2000}, {}),
        ({"throughput_rps": 0.5, "latency_p99_ms": 2000}, {"instance_type": "ml.g5.xlarge"}),
    ],
)
def test_no_serverless_when_strict_busy_unknown_or_gpu(fields, config):
    the_plan = plan(component("sagemaker_endpoint", **config))
    assert by_prefix(review(the_plan, constraints(**fields)), "COST-SERVERLESS") == []


def test_rightsizing_over_provisioned_endpoint():
    the_plan = plan(component("sagemaker_endpoint", "online", instance_count=4))
    [finding] = by_prefix(review(the_plan, constraints(throughput_rps=20.0)), "COST-RIGHTSIZE")
    assert "4 to 2" in finding.title  # 20 rps / (100 rps × 0.7) → 1, floor of 2 for availability
    assert finding.estimated_monthly_saving_usd == round(0.23 * 730 * 4 / 2, 2)
    waived = constraints(throughput_rps=20.0, high_availability=False)
    [single] = by_prefix(review(the_plan, waived), "COST-RIGHTSIZE")
    assert "4 to 1" in single.title
    assert by_prefix(review(the_plan, constraints()), "COST-RIGHTSIZE") == []


def test_s3_intelligent_tiering_above_one_terabyte():
    big = plan(component("s3", "lake", storage_gb=2048))
    [finding] = by_prefix(review(big, constraints()), "COST-TIERING")
    catalogue = load_catalogue().services["s3"].prices
    expected = (
        2048
        * 0.5
        * (
            catalogue["standard_per_gb_month"]
            - catalogue["intelligent_tiering_infrequent_per_gb_month"]
        )
    )
    assert finding.estimated_monthly_saving_usd == round(expected, 2)
    small = plan(component("s3", storage_gb=500))
    assert by_prefix(review(small, constraints()), "COST-TIERING") == []


def test_savings_plan_for_always_on_endpoint_only():
    always_on = plan(component("sagemaker_endpoint"))
    [finding] = by_prefix(review(always_on, constraints()), "COST-SAVINGSPLAN")
    assert finding.estimated_monthly_saving_usd == round(2 * 167.9 * 0.3, 2)
    part_time = plan(component("sagemaker_endpoint", hours_per_month=200))
    assert by_prefix(review(part_time, constraints()), "COST-SAVINGSPLAN") == []


def test_nat_data_processing_vs_vpc_endpoints():
    the_plan = plan(component("nat_gateway", "nat"))
    [finding] = by_prefix(review(the_plan, constraints()), "COST-NAT")
    assert finding.estimated_monthly_saving_usd == round(1000 * (0.045 - 0.01), 2)
    assert "no S3 gateway endpoint" in finding.detail
    with_s3 = plan(component("nat_gateway"), vpc_endpoints=["s3"])
    [finding] = by_prefix(review(with_s3, constraints()), "COST-NAT")
    assert "no S3 gateway endpoint" not in finding.detail


def test_region_multiplier_applies_to_catalogue_savings():
    the_plan = plan(component("nat_gateway"), region="eu-west-1")
    [finding] = by_prefix(review(the_plan, constraints()), "COST-NAT")
    multiplier = load_catalogue().region_multipliers["eu-west-1"]
    assert finding.estimated_monthly_saving_usd == round(1000 * 0.035 * multiplier, 2)


def test_largest_line_item_is_named():
    the_plan = plan(component("s3", "lake"), component("sagemaker_endpoint", "online"))
    [finding] = by_prefix(review(the_plan, constraints()), "COST-TOP")
    assert finding.component_id == "online"
    assert "online" in finding.title
    assert finding.severity == "info"


def test_order_is_severity_then_id_and_deterministic():
    the_plan = plan(
        component("s3", storage_gb=5000),
        component("sagemaker_training"),
        component("sagemaker_endpoint", instance_count=3),
        component("nat_gateway"),
    )
    the_constraints = constraints(budget=300, throughput_rps=1.0, latency_p99_ms=1500)
    findings = review(the_plan, the_constraints)
    keys = [(-SEVERITY_ORDER[f.severity], f.id) for f in findings]
    assert keys == sorted(keys)
    assert findings[0].id == "COST-BUDGET-001"
    assert len({f.id for f in findings}) == len(findings)
    again = review(the_plan, the_constraints)
    assert [f.model_dump() for f in findings] == [f.model_dump() for f in again]


def test_multiple_training_components_get_numbered_ids():
    the_plan = plan(component("sagemaker_training", "a"), component("sagemaker_training", "b"))
    spot = by_prefix(review(the_plan, constraints()), "COST-SPOT")
    assert [(f.id, f.component_id) for f in spot] == [
        ("COST-SPOT-001", "a"),
        ("COST-SPOT-002", "b"),
    ]
