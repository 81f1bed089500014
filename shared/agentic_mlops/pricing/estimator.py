"""Price a plan from the shipped catalogue.

Every :class:`~agentic_mlops.domain.plan.Component` is priced from the sizing keys
listed for its service in :data:`~agentic_mlops.domain.services.SERVICES`. Prices are
us-east-1 on-demand list prices scaled by a per-region multiplier; every line item says
how its quantity was derived.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentic_mlops.domain.assessment import CostEstimate, CostLineItem, EnvironmentCost
from agentic_mlops.domain.constraints import ConstraintSchema
from agentic_mlops.domain.plan import Component, Plan
from agentic_mlops.domain.services import KNOWN_REGIONS, SERVICES
from agentic_mlops.errors import InvalidInput

CATALOGUE_FILE = "catalogue.json"


class PricingError(InvalidInput, ValueError):
    """A plan or catalogue that cannot be priced; the message names what is wrong."""


class ServicePricing(BaseModel):
    """Unit prices of one service (us-east-1) and a note on what is and is not priced."""

    model_config = ConfigDict(frozen=True)

    prices: dict[str, float] = Field(default_factory=dict)
    note: str = ""


class InstanceSpec(BaseModel):
    """Size of a SageMaker instance type."""

    model_config = ConfigDict(frozen=True)

    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    accelerators: int = Field(default=0, ge=0)


class Capacity(BaseModel):
    """The one capacity model: sustained requests/s an endpoint instance serves."""

    model_config = ConfigDict(frozen=True)

    note: str = ""
    target_utilisation: float = Field(gt=0, le=1)
    rps_per_vcpu: dict[str, float]
    rps_per_accelerator: dict[str, float]
    kinesis_shard_records_per_second: float = Field(gt=0)
    kinesis_put_unit_kb: float = Field(gt=0)
    feature_store_unit_kb: float = Field(gt=0)


class Limits(BaseModel):
    """AWS API limits and default quotas plans are checked against."""

    model_config = ConfigDict(frozen=True)

    note: str = ""
    training_max_run_seconds: int = Field(gt=0)
    endpoint_instances_quota_review: int = Field(gt=0)
    training_instances_quota_review: int = Field(gt=0)


class Staging(BaseModel):
    """How the staging environment differs from prod when it is priced."""

    model_config = ConfigDict(frozen=True)

    note: str = ""
    traffic_share: float = Field(ge=0, le=1)
    endpoint_instance_count: int = Field(ge=1)


class Catalogue(BaseModel):
    """The pricing catalogue shipped with the package."""

    model_config = ConfigDict(frozen=True)

    source: str
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: Literal["USD"] = "USD"
    base_region: str
    hours_per_month: float = Field(default=730, gt=0)
    spot_discount: float = Field(ge=0, lt=1)
    savings_plan_discount: float = Field(default=0.3, ge=0, lt=1)
    savings_plan_max_discount: float = Field(default=0.64, ge=0, lt=1)
    region_multipliers: dict[str, float]
    instance_prices: dict[str, float]
    instance_specs: dict[str, InstanceSpec] = Field(default_factory=dict)
    capacity: Capacity
    limits: Limits
    staging: Staging
    services: dict[str, ServicePricing]

    def multiplier(self, region: str) -> float:
        """Return the price multiplier of a region relative to the base region.

        Raises:
            PricingError: The catalogue has no multiplier for the region.
        """
        if region not in self.region_multipliers:
            raise PricingError(
                f"no price multiplier for region {region!r}; "
                f"known regions: {', '.join(sorted(self.region_multipliers))}"
            )
        return self.region_multipliers[region]

    def instance_price(self, instance_type: str) -> float:
        """Return the base-region hourly on-demand price of a SageMaker instance type.

        Raises:
            PricingError: The instance type is not in the catalogue.
        """
        if instance_type not in self.instance_prices:
            raise PricingError(
                f"unknown instance type {instance_type!r}; "
                f"priced types: {', '.join(sorted(self.instance_prices))}"
            )
        return self.instance_prices[instance_type]

    def price(self, service: str, name: str) -> float:
        """Return one base-region unit price of a service.

        Raises:
            PricingError: The service or the named price is not in the catalogue.
        """
        pricing = self.service(service)
        if name not in pricing.prices:
            raise PricingError(f"catalogue has no price {name!r} for service {service!r}")
        return pricing.prices[name]

    def service(self, service: str) -> ServicePricing:
        """Return the pricing entry of a service.

        Raises:
            PricingError: The service is not in the catalogue.
        """
        if service not in self.services:
            raise PricingError(f"catalogue has no prices for service {service!r}")
        return self.services[service]

    def spec(self, instance_type: str) -> InstanceSpec | None:
        """Return the size of an instance type, if the catalogue knows it."""
        return self.instance_specs.get(instance_type)

    def instance_rps(self, instance_type: str, kind: str) -> float | None:
        """Return the sustained requests/s one endpoint instance serves for a workload kind.

        Args:
            instance_type: A SageMaker instance type.
            kind: ``tabular``, ``deep`` or ``llm`` (see :func:`workload_kind`).

        Returns:
            Requests/s at full load (size for :attr:`Capacity.target_utilisation` of it),
            or ``None`` when the catalogue has no size for the instance type.
        """
        spec = self.spec(instance_type)
        if spec is None:
            return None
        capacity = self.capacity
        if spec.accelerators:
            return spec.accelerators * capacity.rps_per_accelerator.get(kind, 0.0)
        return spec.vcpu * capacity.rps_per_vcpu.get(kind, 0.0)

    def instances_for(self, instance_type: str, kind: str, rps: float) -> int | None:
        """Return the instances needed to serve ``rps`` at the target utilisation."""
        per_instance = self.instance_rps(instance_type, kind)
        if not per_instance:
            return None
        return max(1, math.ceil(rps / (per_instance * self.capacity.target_utilisation)))


_DL_FRAMEWORKS = ("pytorch", "torch", "tensorflow", "keras", "huggingface", "transformers", "jax")
_DEEP_PROBLEMS = ("computer_vision", "nlp", "deep_learning")
_LLM_PROBLEMS = ("llm_fine_tuning", "llm")


def _token(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def workload_kind(constraints: ConstraintSchema) -> str:
    """Return the capacity class of a workload: ``llm``, ``deep`` or ``tabular``."""
    problem = _token(constraints.problem_type or "")
    frameworks = {_token(f) for f in constraints.frameworks}
    if problem in _LLM_PROBLEMS:
        return "llm"
    if problem in _DEEP_PROBLEMS or constraints.gpu_required or frameworks & set(_DL_FRAMEWORKS):
        return "deep"
    return "tabular"


def _package_file() -> Traversable:
    return resources.files("agentic_mlops.pricing").joinpath(CATALOGUE_FILE)


@cache
def _catalogue_bytes() -> bytes:
    return _package_file().read_bytes()


@cache
def load_catalogue() -> Catalogue:
    """Load and validate the shipped pricing catalogue (cached).

    Returns:
        The catalogue; it prices every service of the vocabulary in every known region.

    Raises:
        PricingError: The shipped file misses a service or a region.
    """
    catalogue = Catalogue.model_validate_json(_catalogue_bytes())
    missing_services = sorted(set(SERVICES) - set(catalogue.services))
    missing_regions = sorted(set(KNOWN_REGIONS) - set(catalogue.region_multipliers))
    if missing_services or missing_regions:
        raise PricingError(
            f"pricing catalogue incomplete: services {missing_services}, regions {missing_regions}"
        )
    return catalogue


def catalogue_hash() -> str:
    """Return the sha256 hex digest of the shipped catalogue file's bytes."""
    return hashlib.sha256(_catalogue_bytes()).hexdigest()


# --------------------------------------------------------------------------- config


def _missing(component: Component, key: str) -> PricingError:
    expected = ", ".join(SERVICES[component.service][1]) or "none"
    return PricingError(
        f"component {component.id!r} ({component.service}) is missing sizing key {key!r} "
        f"in config; expected keys: {expected}"
    )


def _number(component: Component, key: str) -> float:
    """Read a non-negative number from a component's config."""
    if key not in component.config:
        raise _missing(component, key)
    raw = component.config[key]
    value: float | None = None
    if not isinstance(raw, bool):
        try:
            value = float(raw)
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise PricingError(
            f"component {component.id!r} ({component.service}): sizing key {key!r} must be "
            f"a non-negative number, got {raw!r}"
        )
    return value


def _flag(component: Component, key: str) -> bool:
    """Read a boolean from a component's config (``true``/``false`` strings accepted)."""
    if key not in component.config:
        raise _missing(component, key)
    raw = component.config[key]
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "false", "yes", "no"}:
        return raw.strip().lower() in {"true", "yes"}
    raise PricingError(
        f"component {component.id!r} ({component.service}): sizing key {key!r} must be "
        f"true or false, got {raw!r}"
    )


def _text(component: Component, key: str) -> str:
    if key not in component.config:
        raise _missing(component, key)
    return str(component.config[key])


def fmt(value: float) -> str:
    """Format a quantity for assumptions: thousands separators, at most 4 decimals."""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _plural(count: float, word: str) -> str:
    return f"{fmt(count)} {word}" + ("" if count == 1 else "s")


# --------------------------------------------------------------------------- line items


@dataclass(frozen=True)
class _Context:
    component: Component
    catalogue: Catalogue
    region: str
    multiplier: float

    def line(
        self,
        description: str,
        unit: str,
        base_price: float,
        quantity: float,
        assumptions: list[str],
    ) -> CostLineItem:
        """Build a line item; the unit price is the base price times the region multiplier."""
        unit_price = round(base_price * self.multiplier, 10)
        quantity = round(quantity, 6)
        notes = list(assumptions)
        if self.multiplier != 1 and base_price:
            notes.append(
                f"{self.catalogue.base_region} unit price ${base_price:g} × "
                f"{self.multiplier:g} ({self.region} multiplier)"
            )
        return CostLineItem(
            component_id=self.component.id,
            service=self.component.service,
            description=description,
            unit=unit,
            unit_price_usd=unit_price,
            quantity=quantity,
            monthly_usd=round(unit_price * quantity, 2),
            assumptions=notes,
        )

    def num(self, key: str) -> float:
        return _number(self.component, key)

    def price(self, name: str) -> float:
        return self.catalogue.price(self.component.service, name)

    def note(self) -> str:
        return self.catalogue.service(self.component.service).note


Pricer = Callable[[_Context], list[CostLineItem]]
PRICERS: dict[str, Pricer] = {}


def _pricer(*services: str) -> Callable[[Pricer], Pricer]:
    def register(function: Pricer) -> Pricer:
        for service in services:
            PRICERS[service] = function
        return function

    return register


@_pricer("sagemaker_pipelines", "sagemaker_model_registry", "glue_data_catalog")
@_pricer("eventbridge_scheduler")
def _free(ctx: _Context) -> list[CostLineItem]:
    name = SERVICES[ctx.component.service][0]
    return [ctx.line(f"{name} (no charge)", "month", 0.0, 1, [ctx.note()])]


def _instance_runs(
    ctx: _Context, label: str, discount: float = 0.0, notes: tuple[str, ...] = ()
) -> list[CostLineItem]:
    """Instance-hours of jobs: runs/month × hours/run × instances, optionally discounted."""
    instance_type = _text(ctx.component, "instance_type")
    price = ctx.catalogue.instance_price(instance_type)
    count, hours = ctx.num("instance_count"), ctx.num("hours_per_run")
    runs = ctx.num("runs_per_month")
    assumption = (
        f"{fmt(runs)} runs/month × {fmt(hours)} h × {_plural(count, 'instance')} {instance_type}"
    )
    return [
        ctx.line(
            f"{label} on {instance_type}",
            "instance-hour",
            price * (1 - discount),
            runs * hours * count,
            [assumption, *notes],
        )
    ]


@_pricer("sagemaker_processing")
def _processing(ctx: _Context) -> list[CostLineItem]:
    return _instance_runs(ctx, "Processing jobs")


@_pricer("sagemaker_batch_transform")
def _batch_transform(ctx: _Context) -> list[CostLineItem]:
    return _instance_runs(ctx, "Batch transform jobs")


@_pricer("sagemaker_training")
def _training(ctx: _Context) -> list[CostLineItem]:
    if not _flag(ctx.component, "spot"):
        return _instance_runs(ctx, "Training jobs", notes=("on-demand training (spot false)",))
    discount = ctx.catalogue.spot_discount
    on_demand = ctx.catalogue.instance_price(_text(ctx.component, "instance_type"))
    spot_note = (
        f"managed spot training: {discount:.0%} off the on-demand ${on_demand:g}/h "
        "(typical saving; interruptions may lengthen jobs)"
    )
    return _instance_runs(ctx, "Managed spot training jobs", discount, (spot_note,))


def _data_processed(ctx: _Context) -> CostLineItem:
    """Inference data processed in and out: requests/month × payload KB."""
    requests, payload = ctx.num("requests_per_month"), ctx.num("payload_kb")
    gb = requests * payload / (1024 * 1024)
    return ctx.line(
        "Inference data processed (in + out)",
        "GB",
        ctx.price("per_gb_data_processed"),
        gb,
        [f"{fmt(requests)} requests/month × {fmt(payload)} KB in + out"],
    )


@_pricer("sagemaker_endpoint")
def _endpoint(ctx: _Context) -> list[CostLineItem]:
    instance_type = _text(ctx.component, "instance_type")
    price = ctx.catalogue.instance_price(instance_type)
    count, hours = ctx.num("instance_count"), ctx.num("hours_per_month")
    assumption = f"{fmt(hours)} h/month × {_plural(count, 'instance')} {instance_type}"
    return [
        ctx.line(
            f"Real-time endpoint on {instance_type}",
            "instance-hour",
            price,
            hours * count,
            [assumption],
        ),
        _data_processed(ctx),
    ]


@_pricer("sagemaker_model_monitor")
def _model_monitor(ctx: _Context) -> list[CostLineItem]:
    instance_type = _text(ctx.component, "instance_type")
    price = ctx.catalogue.instance_price(instance_type)
    hours = ctx.num("hours_per_month")
    assumption = f"{fmt(hours)} monitoring-job h/month on 1 instance {instance_type}"
    return [
        ctx.line(
            f"Model Monitor jobs on {instance_type}", "instance-hour", price, hours, [assumption]
        )
    ]


@_pricer("sagemaker_serverless_inference")
def _serverless(ctx: _Context) -> list[CostLineItem]:
    memory, requests, duration = (
        ctx.num("memory_gb"),
        ctx.num("requests_per_month"),
        ctx.num("avg_duration_ms"),
    )
    gb_seconds = requests * duration / 1000 * memory
    assumption = f"{fmt(requests)} requests/month × {fmt(duration)} ms × {fmt(memory)} GB memory"
    return [
        ctx.line(
            "Serverless inference compute",
            "GB-second",
            ctx.price("per_gb_second"),
            gb_seconds,
            [assumption, ctx.note()],
        ),
        _data_processed(ctx),
    ]


def _simple(ctx: _Context, description: str, unit: str, price: str, key: str) -> CostLineItem:
    """One line whose quantity is a single sizing key."""
    quantity = ctx.num(key)
    return ctx.line(description, unit, ctx.price(price), quantity, [f"{key} = {fmt(quantity)}"])


@_pricer("s3")
def _s3(ctx: _Context) -> list[CostLineItem]:
    item = _simple(ctx, "S3 Standard storage", "GB-month", "standard_per_gb_month", "storage_gb")
    item.assumptions.append(ctx.note())
    return [item]


@_pricer("ecr")
def _ecr(ctx: _Context) -> list[CostLineItem]:
    return [_simple(ctx, "ECR image storage", "GB-month", "per_gb_month", "storage_gb")]


@_pricer("athena")
def _athena(ctx: _Context) -> list[CostLineItem]:
    return [_simple(ctx, "Athena queries", "TB scanned", "per_tb_scanned", "tb_scanned_per_month")]


@_pricer("cloudtrail")
def _cloudtrail(ctx: _Context) -> list[CostLineItem]:
    return [
        _simple(
            ctx,
            "CloudTrail data events",
            "million events",
            "per_million_data_events",
            "data_events_millions",
        )
    ]


@_pricer("macie")
def _macie(ctx: _Context) -> list[CostLineItem]:
    return [
        _simple(ctx, "Macie sensitive data discovery", "GB scanned", "per_gb_scanned", "gb_scanned")
    ]


@_pricer("github_actions")
def _github_actions(ctx: _Context) -> list[CostLineItem]:
    workflows = ctx.num("workflows")
    return [
        ctx.line(
            "GitHub Actions CI and deploy workflows (no AWS charge)",
            "month",
            0.0,
            1,
            [f"{_plural(workflows, 'workflow')}", ctx.note()],
        )
    ]


@_pricer("glue_etl")
def _glue_etl(ctx: _Context) -> list[CostLineItem]:
    dpu_hours, runs = ctx.num("dpu_hours_per_run"), ctx.num("runs_per_month")
    assumption = f"{fmt(runs)} runs/month × {fmt(dpu_hours)} DPU-hours/run"
    return [
        ctx.line(
            "Glue ETL jobs", "DPU-hour", ctx.price("per_dpu_hour"), runs * dpu_hours, [assumption]
        )
    ]


@_pricer("sagemaker_feature_store")
def _feature_store(ctx: _Context) -> list[CostLineItem]:
    return [
        _simple(
            ctx,
            "Feature Store online storage",
            "GB-month",
            "online_storage_per_gb_month",
            "online_storage_gb",
        ),
        _simple(
            ctx,
            "Feature Store writes",
            "million write units",
            "per_million_write_units",
            "write_units_millions",
        ),
        _simple(
            ctx,
            "Feature Store reads",
            "million read units",
            "per_million_read_units",
            "read_units_millions",
        ),
    ]


@_pricer("kinesis_data_streams")
def _kinesis(ctx: _Context) -> list[CostLineItem]:
    shards, hours = ctx.num("shards"), ctx.num("hours_per_month")
    records = ctx.num("records_per_second")
    unit_kb = ctx.catalogue.capacity.kinesis_put_unit_kb
    put_units = records * 3600 * hours / 1e6
    return [
        ctx.line(
            "Kinesis shards",
            "shard-hour",
            ctx.price("per_shard_hour"),
            shards * hours,
            [f"{_plural(shards, 'shard')} × {fmt(hours)} h/month", ctx.note()],
        ),
        ctx.line(
            "Kinesis PUT payload units",
            "million PUT units",
            ctx.price("per_million_put_units"),
            put_units,
            [
                f"{fmt(records)} records/s × {fmt(hours)} h/month, one {fmt(unit_kb)} KB "
                "unit per record"
            ],
        ),
    ]


@_pricer("managed_flink")
def _flink(ctx: _Context) -> list[CostLineItem]:
    kpu, hours = ctx.num("kpu"), ctx.num("hours_per_month")
    kpu_price = ctx.price("per_kpu_hour")
    storage_gb = kpu * 50 * hours / ctx.catalogue.hours_per_month
    return [
        ctx.line(
            "Flink processing KPUs",
            "KPU-hour",
            kpu_price,
            kpu * hours,
            [f"{fmt(kpu)} KPU × {fmt(hours)} h/month"],
        ),
        ctx.line(
            "Flink orchestration KPU",
            "KPU-hour",
            kpu_price,
            hours,
            [f"1 extra KPU per application × {fmt(hours)} h/month"],
        ),
        ctx.line(
            "Flink running application storage",
            "GB-month",
            ctx.price("running_storage_per_gb_month"),
            storage_gb,
            [
                f"50 GB per KPU × {fmt(kpu)} KPU for {fmt(hours)} of "
                f"{fmt(ctx.catalogue.hours_per_month)} h/month"
            ],
        ),
    ]


@_pricer("lambda")
def _lambda(ctx: _Context) -> list[CostLineItem]:
    requests = _simple(
        ctx, "Lambda requests", "million requests", "per_million_requests", "requests_millions"
    )
    compute = _simple(ctx, "Lambda compute", "GB-second", "per_gb_second", "gb_seconds")
    compute.assumptions.append(ctx.note())
    return [requests, compute]


@_pricer("cloudwatch")
def _cloudwatch(ctx: _Context) -> list[CostLineItem]:
    return [
        _simple(
            ctx,
            "CloudWatch Logs ingestion",
            "GB ingested",
            "per_gb_log_ingested",
            "log_gb_per_month",
        ),
        _simple(
            ctx,
            "CloudWatch custom metrics",
            "metric-month",
            "per_custom_metric_month",
            "custom_metrics",
        ),
        _simple(ctx, "CloudWatch alarms", "alarm-month", "per_standard_alarm_month", "alarms"),
    ]


@_pricer("kms")
def _kms(ctx: _Context) -> list[CostLineItem]:
    return [
        _simple(ctx, "KMS customer managed keys", "key-month", "per_key_month", "keys"),
        _simple(ctx, "KMS requests", "10k requests", "per_10k_requests", "requests_10k"),
    ]


@_pricer("vpc_interface_endpoints")
def _vpc_endpoints(ctx: _Context) -> list[CostLineItem]:
    endpoints, azs, hours = ctx.num("endpoints"), ctx.num("azs"), ctx.num("hours_per_month")
    assumption = f"{_plural(endpoints, 'endpoint')} × {fmt(azs)} AZs × {fmt(hours)} h/month"
    return [
        ctx.line(
            "Interface endpoints",
            "endpoint-AZ-hour",
            ctx.price("per_endpoint_az_hour"),
            endpoints * azs * hours,
            [assumption, ctx.note()],
        )
    ]


@_pricer("nat_gateway")
def _nat(ctx: _Context) -> list[CostLineItem]:
    gateways, hours = ctx.num("gateways"), ctx.num("hours_per_month")
    data = _simple(ctx, "NAT gateway data processed", "GB", "per_gb_processed", "data_gb")
    hourly = ctx.line(
        "NAT gateway hours",
        "gateway-hour",
        ctx.price("per_gateway_hour"),
        gateways * hours,
        [f"{_plural(gateways, 'gateway')} × {fmt(hours)} h/month"],
    )
    return [hourly, data]


# --------------------------------------------------------------------------- estimate


def price_component(component: Component, catalogue: Catalogue, region: str) -> list[CostLineItem]:
    """Return the line items of one component in a region.

    Raises:
        PricingError: A sizing key is missing or invalid, or an instance type is unknown.
    """
    pricer = PRICERS.get(component.service)
    if pricer is None:
        raise PricingError(f"no pricing rule for service {component.service!r}")
    context = _Context(component, catalogue, region, catalogue.multiplier(region))
    return pricer(context)


ENVIRONMENTS = ("staging", "prod")
"""The environments the generated Terraform is applied to, priced in this order."""

STAGING_ONLY = frozenset(
    {
        "sagemaker_processing",
        "sagemaker_training",
        "sagemaker_pipelines",
        "sagemaker_model_registry",
        "eventbridge_scheduler",
        "github_actions",
    }
)
"""Services that exist once: the pipeline (processing, training), its schedule and the one
model registry live in staging, which trains; approved models are promoted to prod."""

_TRAFFIC_KEYS = {
    "sagemaker_endpoint": ("requests_per_month",),
    "sagemaker_serverless_inference": ("requests_per_month",),
    "kinesis_data_streams": ("records_per_second",),
    "sagemaker_feature_store": ("write_units_millions", "read_units_millions"),
}
"""Per-request quantities: staging carries ``staging.traffic_share`` of prod's traffic."""


def environment_component(
    component: Component, environment: str, catalogue: Catalogue
) -> Component | None:
    """Return the component as the generated Terraform provisions it in an environment.

    Args:
        component: A plan component (sized for prod).
        environment: ``staging`` or ``prod``.
        catalogue: Gives the staging endpoint size and traffic share.

    Returns:
        The component with staging's sizing, the component itself for prod, or ``None``
        when the service exists only in staging.
    """
    if environment == "prod":
        return None if component.service in STAGING_ONLY else component
    config = dict(component.config)
    staging = catalogue.staging
    if component.service == "sagemaker_endpoint":
        config["instance_count"] = staging.endpoint_instance_count
    for key in _TRAFFIC_KEYS.get(component.service, ()):
        if key in config:
            value = _number(component, key)
            config[key] = round(value * staging.traffic_share, 6)
    return component.model_copy(update={"config": config})


def _staging_notes(component: Component, catalogue: Catalogue) -> list[str]:
    notes = []
    if component.service == "sagemaker_endpoint":
        notes.append(
            f"staging serves from {catalogue.staging.endpoint_instance_count} instance "
            "(environments/staging.tfvars)"
        )
    if component.service in _TRAFFIC_KEYS:
        notes.append(f"staging traffic assumed {catalogue.staging.traffic_share:.0%} of prod")
    return notes


def estimate(
    plan: Plan, constraints: ConstraintSchema, catalogue: Catalogue | None = None
) -> CostEstimate:
    """Price a plan in every environment it provisions and compare with the budget.

    The generated Terraform is applied to staging and to prod: each component is priced
    in each environment it exists in (:func:`environment_component`), staging first, in
    component order. The total is staging plus prod.

    Args:
        plan: The architecture to price; its ``region`` selects the multiplier.
        constraints: The workload constraints; ``budget.monthly_usd`` is the budget.
        catalogue: A catalogue to price from; the shipped one when ``None``.

    Returns:
        The monthly estimate with line items per component and environment and one
        subtotal per environment. ``findings`` is left empty;
        :func:`agentic_mlops.pricing.critic.cost_findings` reviews it.

    Raises:
        PricingError: (a ``ValueError``) unknown region or instance type, or a missing or
            invalid sizing key; the message names the component and key.
    """
    catalogue = catalogue or load_catalogue()
    multiplier = catalogue.multiplier(plan.region)
    items: list[CostLineItem] = []
    for environment in ENVIRONMENTS:
        for component in plan.components:
            sized = environment_component(component, environment, catalogue)
            if sized is None:
                continue
            extra = _staging_notes(component, catalogue) if environment == "staging" else []
            for item in price_component(sized, catalogue, plan.region):
                items.append(
                    item.model_copy(
                        update={
                            "environment": environment,
                            "assumptions": [*item.assumptions, *extra],
                        }
                    )
                )
    subtotals = [
        EnvironmentCost(
            name=environment,
            monthly_usd=round(sum(i.monthly_usd for i in items if i.environment == environment), 2),
            notes=[catalogue.staging.note] if environment == "staging" else [],
        )
        for environment in ENVIRONMENTS
    ]
    total = round(sum(e.monthly_usd for e in subtotals), 2)
    budget = constraints.budget.monthly_usd if constraints.budget else None
    return CostEstimate(
        region=plan.region,
        region_multiplier=multiplier,
        monthly_total_usd=total,
        line_items=items,
        environments=subtotals,
        assumptions=_estimate_assumptions(plan, constraints, catalogue, multiplier),
        catalogue_source=catalogue.source,
        catalogue_date=catalogue.date,
        budget_monthly_usd=budget,
        within_budget=None if budget is None else total <= budget,
    )


def _estimate_assumptions(
    plan: Plan, constraints: ConstraintSchema, catalogue: Catalogue, multiplier: float
) -> list[str]:
    notes = [
        f"{catalogue.currency} on-demand list prices, {catalogue.base_region} base, "
        f"catalogue dated {catalogue.date}",
        f"region {plan.region}: prices × {multiplier:g}",
        f"a month is {fmt(catalogue.hours_per_month)} hours",
        "free tiers, taxes, support plans and data transfer out are not included",
    ]
    if constraints.region and constraints.region != plan.region:
        notes.append(
            f"priced in the plan's region {plan.region}, not the requested {constraints.region}"
        )
    if constraints.budget and constraints.budget.currency != "USD":
        notes.append(
            f"budget of {constraints.budget.amount:g} {constraints.budget.currency} per "
            f"{constraints.budget.period} compared as {constraints.budget.monthly_usd:g} USD/month"
        )
    return notes
