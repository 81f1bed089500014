"""Cost estimator and pricing catalogue."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from agentic_mlops.domain import Budget, Component, ConstraintSchema, Plan
from agentic_mlops.domain.plan import ConfigValue
from agentic_mlops.domain.services import KNOWN_REGIONS, SERVICES
from agentic_mlops.pricing import PricingError, catalogue_hash, estimate, load_catalogue

SAMPLE_CONFIGS: dict[str, dict[str, ConfigValue]] = {
    "s3": {"storage_gb": 500},
    "glue_data_catalog": {},
    "glue_etl": {"dpu_hours_per_run": 10, "runs_per_month": 30},
    "athena": {"tb_scanned_per_month": 2},
    "sagemaker_processing": {
        "instance_type": "ml.m5.xlarge",
        "instance_count": 1,
        "hours_per_run": 1,
        "runs_per_month": 30,
    },
    "sagemaker_training": {
        "instance_type": "ml.g5.2xlarge",
        "instance_count": 1,
        "hours_per_run": 2.0,
        "runs_per_month": 4.33,
        "spot": False,
    },
    "sagemaker_pipelines": {},
    "sagemaker_model_registry": {},
    "sagemaker_endpoint": {
        "instance_type": "ml.m5.xlarge",
        "instance_count": 1,
        "hours_per_month": 730,
        "requests_per_month": 0,
        "payload_kb": 2,
    },
    "sagemaker_serverless_inference": {
        "memory_gb": 2,
        "requests_per_month": 1_000_000,
        "avg_duration_ms": 100,
        "payload_kb": 0,
    },
    "sagemaker_batch_transform": {
        "instance_type": "ml.c6i.xlarge",
        "instance_count": 2,
        "hours_per_run": 1.5,
        "runs_per_month": 30,
    },
    "sagemaker_model_monitor": {"instance_type": "ml.m5.large", "hours_per_month": 30},
    "sagemaker_feature_store": {
        "online_storage_gb": 10,
        "write_units_millions": 5,
        "read_units_millions": 20,
    },
    "kinesis_data_streams": {"shards": 2, "hours_per_month": 730, "records_per_second": 0},
    "managed_flink": {"kpu": 2, "hours_per_month": 730},
    "lambda": {"requests_millions": 3, "gb_seconds": 400_000},
    "eventbridge_scheduler": {},
    "cloudwatch": {"log_gb_per_month": 20, "custom_metrics": 15, "alarms": 10},
    "kms": {"keys": 2, "requests_10k": 50},
    "vpc_interface_endpoints": {"endpoints": 5, "azs": 2, "hours_per_month": 730},
    "nat_gateway": {"gateways": 1, "hours_per_month": 730, "data_gb": 100},
    "cloudtrail": {"data_events_millions": 4},
    "macie": {"gb_scanned": 50},
    "ecr": {"storage_gb": 15},
    "github_actions": {"workflows": 2},
}

PLANNER_INSTANCE_TYPES = [
    "ml.t3.medium",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.m5.4xlarge",
    "ml.m5.12xlarge",
    "ml.c6i.large",
    "ml.c6i.xlarge",
    "ml.c6i.2xlarge",
    "ml.c6i.4xlarge",
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.g5.4xlarge",
    "ml.g5.12xlarge",
    "ml.g5.48xlarge",
    "ml.p4d.24xlarge",
    "ml.inf2.xlarge",
    "ml.r5.xlarge",
]


def component(service: str, cid: str | None = None, **config: ConfigValue) -> Component:
    """A component of ``service`` with its sample config, overridden by ``config``."""
    return Component(
        id=cid or service,
        service=service,
        purpose=f"test {service}",
        config={**SAMPLE_CONFIGS[service], **config},
    )


def plan(*components: Component, region: str = "us-east-1") -> Plan:
    return Plan(
        name="test plan",
        region=region,
        deployment_mode="real_time",
        summary="test",
        components=list(components),
    )


def constraints(budget: float | None = 1000.0, region: str = "us-east-1") -> ConstraintSchema:
    return ConstraintSchema(
        region=region,
        budget=Budget(amount=budget, monthly_usd=budget) if budget else None,
    )


def lines_of(result, cid, environment="prod"):
    return [
        item
        for item in result.line_items
        if item.component_id == cid and item.environment == environment
    ]


def prod(result):
    return [item for item in result.line_items if item.environment == "prod"]


def test_sample_configs_match_the_service_vocabulary():
    assert set(SAMPLE_CONFIGS) == set(SERVICES)
    for service, (_, keys) in SERVICES.items():
        assert set(SAMPLE_CONFIGS[service]) == set(keys), service


def test_catalogue_covers_vocabulary_regions_and_instance_types():
    catalogue = load_catalogue()
    assert set(SERVICES) <= set(catalogue.services)
    assert set(KNOWN_REGIONS) <= set(catalogue.region_multipliers)
    assert set(PLANNER_INSTANCE_TYPES) <= set(catalogue.instance_prices)
    assert catalogue.region_multipliers[catalogue.base_region] == 1.0
    assert catalogue.base_region == "us-east-1"
    assert catalogue.date == "2026-10-01"
    assert "AWS public on-demand price pages" in catalogue.source
    assert catalogue.spot_discount == 0.7
    assert catalogue.instance_prices["ml.m5.xlarge"] == 0.23


def test_catalogue_hash_is_sha256_of_the_file():
    data = resources.files("agentic_mlops.pricing").joinpath("catalogue.json").read_bytes()
    assert catalogue_hash() == hashlib.sha256(data).hexdigest()
    assert json.loads(data)["currency"] == "USD"


def test_every_service_is_priced_in_component_order():
    components = [component(service) for service in SERVICES]
    result = estimate(plan(*components), constraints(budget=100_000))
    seen = list(dict.fromkeys(item.component_id for item in result.line_items))
    assert seen == [c.id for c in components]
    for item in result.line_items:
        assert item.monthly_usd == round(item.unit_price_usd * item.quantity, 2)
        assert item.assumptions, item
    assert result.monthly_total_usd == round(sum(i.monthly_usd for i in result.line_items), 2)
    assert result.monthly_total_usd > 0


@pytest.mark.parametrize(
    "service",
    [
        "sagemaker_pipelines",
        "sagemaker_model_registry",
        "eventbridge_scheduler",
        "glue_data_catalog",
    ],
)
def test_free_services_cost_zero_with_a_note(service):
    [item] = estimate(plan(component(service)), constraints()).line_items[:1]
    assert item.monthly_usd == 0
    assert "free" in " ".join(item.assumptions).lower() or "no charge" in item.description


def test_known_endpoint_line_us_east_1():
    result = estimate(plan(component("sagemaker_endpoint", instance_count=3)), constraints())
    [item, data] = prod(result)
    assert item.unit == "instance-hour"
    assert item.unit_price_usd == 0.23
    assert item.quantity == 730 * 3
    assert item.monthly_usd == 503.7
    assert item.assumptions[0] == "730 h/month × 3 instances ml.m5.xlarge"
    assert data.monthly_usd == 0  # no requests in the sample config
    [staging, _] = lines_of(result, "sagemaker_endpoint", "staging")
    assert staging.quantity == 730  # staging serves from one instance
    assert [(e.name, e.monthly_usd) for e in result.environments] == [
        ("staging", 167.9),
        ("prod", 503.7),
    ]
    assert result.monthly_total_usd == 671.6
    assert result.region_multiplier == 1.0


def test_region_multiplier_raises_eu_west_1_prices():
    endpoint = component("sagemaker_endpoint")
    us = estimate(plan(endpoint), constraints())
    eu = estimate(plan(endpoint, region="eu-west-1"), constraints(region="eu-west-1"))
    multiplier = load_catalogue().region_multipliers["eu-west-1"]
    assert multiplier > 1
    assert eu.region_multiplier == multiplier
    assert eu.line_items[0].unit_price_usd == pytest.approx(0.23 * multiplier)
    assert eu.monthly_total_usd == round(0.23 * multiplier * 730, 2) * 2
    assert eu.monthly_total_usd > us.monthly_total_usd
    assert any("eu-west-1 multiplier" in a for a in eu.line_items[0].assumptions)


def test_training_quantity_assumption_and_spot_discount():
    on_demand = estimate(plan(component("sagemaker_training")), constraints()).line_items[0]
    assert on_demand.assumptions[0] == "4.33 runs/month × 2 h × 1 instance ml.g5.2xlarge"
    assert on_demand.quantity == pytest.approx(8.66)
    assert on_demand.monthly_usd == round(1.515 * 8.66, 2)
    spot = estimate(plan(component("sagemaker_training", spot=True)), constraints()).line_items[0]
    assert spot.unit_price_usd == pytest.approx(1.515 * 0.3)
    assert spot.monthly_usd == round(1.515 * 0.3 * 8.66, 2)
    assert "spot" in spot.description
    assert any("70%" in a for a in spot.assumptions)


def test_spot_flag_accepts_text():
    spot = estimate(plan(component("sagemaker_training", spot="true")), constraints())
    assert spot.line_items[0].unit_price_usd == pytest.approx(1.515 * 0.3)


def test_serverless_and_lambda_hand_computed():
    result = estimate(
        plan(component("sagemaker_serverless_inference"), component("lambda")), constraints()
    )
    serverless, data, requests, compute = prod(result)
    assert data.monthly_usd == 0
    assert serverless.quantity == 200_000  # 1M requests × 0.1 s × 2 GB
    assert serverless.monthly_usd == 4.0
    assert requests.monthly_usd == 0.6
    assert compute.monthly_usd == round(400_000 * 0.0000166667, 2)


def test_multi_line_services():
    result = estimate(plan(component("nat_gateway"), component("managed_flink")), constraints())
    nat = lines_of(result, "nat_gateway")
    assert [i.monthly_usd for i in nat] == [round(0.045 * 730, 2), 4.5]
    flink = lines_of(result, "managed_flink")
    assert [i.quantity for i in flink] == [1460, 730, 100]


def test_budget_comparison():
    endpoint = component("sagemaker_endpoint")
    assert estimate(plan(endpoint), constraints(budget=400)).within_budget is True
    over = estimate(plan(endpoint), constraints(budget=300))
    assert over.within_budget is False
    assert over.budget_monthly_usd == 300
    unknown = estimate(plan(endpoint), constraints(budget=None))
    assert unknown.within_budget is None
    assert unknown.budget_monthly_usd is None


def test_unknown_instance_type_is_a_clear_value_error():
    bad = component("sagemaker_endpoint", instance_type="ml.x99.huge")
    with pytest.raises(ValueError, match=r"unknown instance type 'ml\.x99\.huge'") as info:
        estimate(plan(bad), constraints())
    assert not isinstance(info.value, KeyError)
    assert isinstance(info.value, PricingError)


def test_missing_sizing_key_names_component_and_key():
    bad = Component(
        id="online",
        service="sagemaker_endpoint",
        purpose="serve",
        config={
            "instance_type": "ml.m5.xlarge",
            "hours_per_month": 730,
            "requests_per_month": 10,
            "payload_kb": 1,
        },
    )
    with pytest.raises(ValueError, match=r"'online'.*'instance_count'"):
        estimate(plan(bad), constraints())


@pytest.mark.parametrize("value", [-1, "lots", True])
def test_invalid_sizing_value_is_a_value_error(value):
    with pytest.raises(ValueError, match="storage_gb"):
        estimate(plan(component("s3", storage_gb=value)), constraints())


def test_numeric_text_is_accepted():
    result = estimate(plan(component("s3", storage_gb="100")), constraints())
    assert [e.monthly_usd for e in result.environments] == [2.3, 2.3]


def test_unknown_region_is_a_value_error():
    with pytest.raises(ValueError, match="no price multiplier for region 'mars-north-1'"):
        estimate(plan(component("s3"), region="mars-north-1"), constraints())


def test_estimate_is_deterministic():
    components = [component(service) for service in SERVICES]
    first = estimate(plan(*components, region="eu-central-1"), constraints())
    second = estimate(plan(*components, region="eu-central-1"), constraints())
    assert first.model_dump_json() == second.model_dump_json()
    assert first.catalogue_date == "2026-10-01"
    assert first.findings == []


def test_training_is_priced_in_staging_only_and_traffic_scales_in_staging():
    catalogue = load_catalogue()
    share = catalogue.staging.traffic_share
    result = estimate(
        plan(
            component("sagemaker_training"),
            component("sagemaker_endpoint", requests_per_month=10_000_000, payload_kb=4),
            component("kinesis_data_streams", records_per_second=1000),
        ),
        constraints(),
    )
    assert {i.environment for i in result.line_items if i.component_id == "sagemaker_training"} == {
        "staging"
    }
    prod_data = lines_of(result, "sagemaker_endpoint")[1]
    staging_data = lines_of(result, "sagemaker_endpoint", "staging")[1]
    assert prod_data.quantity == pytest.approx(10_000_000 * 4 / 1024 / 1024, rel=1e-6)
    assert prod_data.unit_price_usd == 0.016
    assert staging_data.quantity == pytest.approx(prod_data.quantity * share, rel=1e-4)
    _shards, puts = lines_of(result, "kinesis_data_streams")
    assert puts.quantity == pytest.approx(1000 * 3600 * 730 / 1e6)
    assert puts.monthly_usd == round(puts.quantity * 0.014, 2)
    assert lines_of(result, "kinesis_data_streams", "staging")[1].quantity == pytest.approx(
        puts.quantity * share
    )
    assert result.monthly_total_usd == round(sum(e.monthly_usd for e in result.environments), 2)


def test_capacity_model_sizes_by_workload_kind():
    catalogue = load_catalogue()
    assert catalogue.instance_rps("ml.m5.large", "tabular") == 50
    assert catalogue.instance_rps("ml.m5.large", "deep") == 5
    assert catalogue.instance_rps("ml.g5.12xlarge", "llm") == 6
    assert catalogue.instances_for("ml.m5.large", "tabular", 300) == 9  # 300 / (50 × 0.7)
    assert catalogue.instance_rps("ml.unknown", "tabular") is None


def test_nothing_priced_that_is_not_generated():
    catalogue = load_catalogue()
    assert "codepipeline" not in catalogue.services
    assert "github_actions" in catalogue.services
