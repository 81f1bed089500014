"""What the default deployment costs per month to leave running (idle), priced from the
project's own catalogue (``agentic_mlops/pricing/catalogue.json``).

Quantities are counted in the synthesized templates (NAT gateways, interface endpoints and
their zones, secrets, alarms, dashboards) and read from the deployment's settings
(instance class, storage); traffic-driven charges (Lambda, requests, state transitions,
data transfer) are zero when idle and not included. Run: ``scripts/deployment-cost``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentic_mlops.pricing import load_catalogue
from infra.config import DeploymentConfig

AZS = 2
VCPUS = {"t4g.micro": 2, "t4g.small": 2, "t4g.medium": 2, "t4g.large": 2}
IMAGE_GB = 2.0
"""The validator image in ECR (Lambda base, terraform, the AWS provider, checkov, tools)."""


@dataclass(frozen=True)
class Line:
    """One priced item: ``quantity`` x ``unit_price`` per month."""

    item: str
    quantity: float
    unit: str
    unit_price: float

    @property
    def monthly(self) -> float:
        """The monthly cost in USD."""
        return round(self.quantity * self.unit_price, 2)


def count_resources(templates: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Resource type -> how many, over every template (interface endpoints counted per zone)."""
    counts: Counter[str] = Counter()
    for template in templates:
        for resource in template.get("Resources", {}).values():
            counts[resource["Type"]] += 1
            if resource["Type"] == "AWS::EC2::VPCEndpoint":
                properties = resource["Properties"]
                if properties.get("VpcEndpointType") == "Interface":
                    counts["interface-endpoint-az"] += len(properties.get("SubnetIds", []))
    return counts


def monthly_lines(config: DeploymentConfig, counts: Mapping[str, int]) -> list[Line]:
    """The idle monthly cost of a deployment, line by line."""
    catalogue = load_catalogue()
    hours = catalogue.hours_per_month

    def price(service: str, name: str) -> float:
        return catalogue.price(service, name)

    db_class = f"db.{config.db_instance_class}"
    multi_az = 2 if config.db_multi_az else 1
    return [
        Line(f"RDS PostgreSQL {db_class}" + (" Multi-AZ" if config.db_multi_az else ""),
             hours * multi_az, "instance-hours", price("rds_postgres", f"{db_class}_per_hour")),
        Line("RDS gp3 storage", config.db_storage_gb * multi_az, "GB-months",
             price("rds_postgres", "gp3_per_gb_month")),
        Line("RDS Proxy", hours * max(2, VCPUS.get(config.db_instance_class, 2)), "vCPU-hours",
             price("rds_proxy", "per_vcpu_hour")),
        Line("NAT gateway", hours * counts.get("AWS::EC2::NatGateway", 0), "gateway-hours",
             price("nat_gateway", "per_gateway_hour")),
        Line("Interface VPC endpoints", hours * counts.get("interface-endpoint-az", 0),
             "endpoint-AZ-hours", price("vpc_interface_endpoints", "per_endpoint_az_hour")),
        Line("Secrets Manager secrets", _secrets(counts), "secret-months",
             price("secrets_manager", "per_secret_month")),
        Line("CloudWatch alarms", counts.get("AWS::CloudWatch::Alarm", 0), "alarm-months",
             price("cloudwatch", "per_standard_alarm_month")),
        Line("CloudWatch dashboard", counts.get("AWS::CloudWatch::Dashboard", 0),
             "dashboard-months", price("cloudwatch_dashboards", "per_dashboard_month")),
        Line("ECR: validator image", IMAGE_GB, "GB-months", price("ecr", "per_gb_month")),
    ]  # fmt: skip


def _secrets(counts: Mapping[str, int]) -> int:
    return counts.get("AWS::SecretsManager::Secret", 0)


def render(lines: list[Line], config: DeploymentConfig) -> str:
    """A table of the lines and their total."""
    catalogue = load_catalogue()
    prices = f"{catalogue.base_region} prices of {catalogue.date}, {catalogue.currency}"
    rows = [f"Monthly cost of the '{config.stage}' deployment left running idle ({prices}):"]
    for line in lines:
        rows.append(f"  {line.item:<34} {line.quantity:>9.1f} {line.unit:<18}"
                    f" x {line.unit_price:<7g} = {line.monthly:>8.2f}")  # fmt: skip
    rows.append(f"  {'total':<34} {'':>9} {'':<18}   {'':<7} = {total(lines):>8.2f}")
    rows.append("  Traffic-driven charges (Lambda, API requests, state transitions, data transfer,"
                " S3/EFS storage) come on top with use; free tiers are not deducted.")  # fmt: skip
    return "\n".join(rows)


def total(lines: list[Line]) -> float:
    """The sum of the lines' monthly costs."""
    return round(sum(line.monthly for line in lines), 2)


def main() -> int:
    """Synthesize the app in-process (no credentials) and print its idle monthly cost."""
    from aws_cdk import App

    from infra.app import build
    from infra.packaging import ROOT

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    for argument in sys.argv[1:]:
        key, _, value = argument.partition("=")
        context[key.removeprefix("-c").strip()] = value
    app = App(context={**context, "aws:cdk:bundling-stacks": []})
    platform = build(app)
    assembly = app.synth()
    counts = count_resources(stack.template for stack in assembly.stacks)
    print(render(monthly_lines(platform.config, counts), platform.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
