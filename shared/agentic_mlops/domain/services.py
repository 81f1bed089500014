"""The AWS service vocabulary shared by the planner, the pricing catalogue and the policy rules.

A plan's :class:`~agentic_mlops.domain.plan.Component` names one of these services and
carries the sizing keys listed for it in ``config``; the cost estimator prices exactly
these keys from the catalogue.
"""

from __future__ import annotations

SERVICES: dict[str, tuple[str, tuple[str, ...]]] = {
    # service key: (human name, sizing keys expected in Component.config)
    "s3": ("Amazon S3", ("storage_gb",)),
    "glue_data_catalog": ("AWS Glue Data Catalog", ()),
    "glue_etl": ("AWS Glue ETL (Spark)", ("dpu_hours_per_run", "runs_per_month")),
    "athena": ("Amazon Athena", ("tb_scanned_per_month",)),
    "sagemaker_processing": (
        "SageMaker Processing",
        ("instance_type", "instance_count", "hours_per_run", "runs_per_month"),
    ),
    "sagemaker_training": (
        "SageMaker Training",
        ("instance_type", "instance_count", "hours_per_run", "runs_per_month", "spot"),
    ),
    "sagemaker_pipelines": ("SageMaker Pipelines", ()),
    "sagemaker_model_registry": ("SageMaker Model Registry", ()),
    "sagemaker_endpoint": (
        "SageMaker real-time endpoint",
        ("instance_type", "instance_count", "hours_per_month", "requests_per_month", "payload_kb"),
    ),
    "sagemaker_serverless_inference": (
        "SageMaker Serverless Inference",
        ("memory_gb", "requests_per_month", "avg_duration_ms", "payload_kb"),
    ),
    "sagemaker_batch_transform": (
        "SageMaker Batch Transform",
        ("instance_type", "instance_count", "hours_per_run", "runs_per_month"),
    ),
    "sagemaker_model_monitor": ("SageMaker Model Monitor", ("instance_type", "hours_per_month")),
    "sagemaker_feature_store": (
        "SageMaker Feature Store",
        ("online_storage_gb", "write_units_millions", "read_units_millions"),
    ),
    "kinesis_data_streams": (
        "Amazon Kinesis Data Streams",
        ("shards", "hours_per_month", "records_per_second"),
    ),
    "managed_flink": ("Amazon Managed Service for Apache Flink", ("kpu", "hours_per_month")),
    "lambda": ("AWS Lambda", ("requests_millions", "gb_seconds")),
    "eventbridge_scheduler": ("Amazon EventBridge Scheduler", ()),
    "cloudwatch": ("Amazon CloudWatch", ("log_gb_per_month", "custom_metrics", "alarms")),
    "kms": ("AWS KMS customer managed keys", ("keys", "requests_10k")),
    "vpc_interface_endpoints": (
        "VPC interface endpoints (PrivateLink)",
        ("endpoints", "azs", "hours_per_month"),
    ),
    "nat_gateway": ("NAT gateway", ("gateways", "hours_per_month", "data_gb")),
    "cloudtrail": ("AWS CloudTrail data events", ("data_events_millions",)),
    "macie": ("Amazon Macie", ("gb_scanned",)),
    "ecr": ("Amazon ECR", ("storage_gb",)),
    "github_actions": ("GitHub Actions CI/CD (OIDC deploys)", ("workflows",)),
}

CAPABILITIES: tuple[str, ...] = (
    "storage",
    "data_catalog",
    "data_processing",
    "feature_store",
    "streaming_ingestion",
    "training",
    "orchestration",
    "scheduling",
    "model_registry",
    "serving",
    "batch_inference",
    "monitoring",
    "encryption",
    "private_networking",
    "audit",
    "pii_discovery",
    "container_registry",
    "ci_cd",
)
"""Capability tags a component may provide; policy rules and tests look for these."""

EU_REGIONS = (
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
)
US_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
UK_REGIONS = ("eu-west-2",)
CA_REGIONS = ("ca-central-1", "ca-west-1")
APAC_REGIONS = (
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-east-1",
)

RESIDENCY_REGIONS: dict[str, tuple[str, ...]] = {
    "eu": EU_REGIONS,
    "us": US_REGIONS,
    "uk": UK_REGIONS,
    "ca": CA_REGIONS,
    "apac": APAC_REGIONS,
    # residency stated by country: that country's regions
    "de": ("eu-central-1",),
    "ch": ("eu-central-2",),
    "ie": ("eu-west-1",),
    "fr": ("eu-west-3",),
    "se": ("eu-north-1",),
    "it": ("eu-south-1",),
    "es": ("eu-south-2",),
    "jp": ("ap-northeast-1",),
    "kr": ("ap-northeast-2",),
    "sg": ("ap-southeast-1",),
    "au": ("ap-southeast-2",),
    "in": ("ap-south-1",),
    "hk": ("ap-east-1",),
    "br": ("sa-east-1",),
    "ae": ("me-central-1",),
    "za": ("af-south-1",),
}
"""Regions that satisfy each data-residency area (economic areas and countries)."""

RESIDENCY_AREAS: tuple[str, ...] = ("eu", "us", "uk", "ca", "apac")
"""The multi-country areas; a region alone implies one of these, never a country."""

KNOWN_REGIONS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *US_REGIONS,
            *CA_REGIONS,
            *EU_REGIONS,
            *APAC_REGIONS,
            "sa-east-1",
            "me-central-1",
            "af-south-1",
        )
    )
)
