"""The cost critic: budget review and savings priced from the catalogue.

Every saving is computed from the same catalogue the estimate was priced from, with the
heuristics below stated in each finding's detail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentic_mlops.domain.assessment import SEVERITY_ORDER, CostEstimate, Finding, Severity
from agentic_mlops.domain.constraints import ConstraintSchema
from agentic_mlops.domain.plan import Component, Plan
from agentic_mlops.pricing.estimator import (
    Catalogue,
    _flag,
    _number,
    _text,
    fmt,
    load_catalogue,
    workload_kind,
)

NEAR_BUDGET_RATIO = 0.85
"""Share of the budget above which the estimate is flagged as close to the budget."""
LOW_THROUGHPUT_RPS = 10.0
"""Sustained throughput at or below which Serverless Inference is considered."""
RELAXED_LATENCY_MS = 1000
"""p99 latency at or above which Serverless Inference cold starts are tolerable."""
SERVERLESS_MAX_MEMORY_GB = 6.0
SERVERLESS_ASSUMED_DURATION_MS = 200.0
S3_TIERING_THRESHOLD_GB = 1024.0
S3_COLD_FRACTION = 0.5
"""Share of S3 data assumed to go unread for 30 days and move to the infrequent tier."""
ALWAYS_ON_HOURS = 720.0
SIGNIFICANT_SAVING_SHARE = 0.1


@dataclass(frozen=True)
class _Review:
    constraints: ConstraintSchema
    plan: Plan
    estimate: CostEstimate
    catalogue: Catalogue

    @property
    def multiplier(self) -> float:
        return self.estimate.region_multiplier

    def monthly(self, component: Component, environment: str | None = None) -> float:
        """Monthly cost of a component (in one environment, or all), from the line items."""
        items = [
            i
            for i in self.estimate.line_items
            if i.component_id == component.id
            and (environment is None or i.environment == environment)
        ]
        return round(sum(i.monthly_usd for i in items), 2)

    def saving_severity(self, saving: float) -> Severity:
        """Medium when the plan is over budget or the saving is a tenth of the total."""
        total = self.estimate.monthly_total_usd
        if self.estimate.within_budget is False or saving >= SIGNIFICANT_SAVING_SHARE * total:
            return "medium"
        return "low"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _budget(review: _Review) -> list[Finding]:
    budget = review.estimate.budget_monthly_usd
    if budget is None:
        return []
    total = review.estimate.monthly_total_usd
    share = total / budget
    if total > budget:
        severity: Severity = "high"
        title = f"Estimate exceeds the budget by {_money(total - budget)}/month"
        recommendation = (
            "Apply the savings below, or relax constraints (availability, latency, "
            "retraining cadence) or raise the budget."
        )
    elif share > NEAR_BUDGET_RATIO:
        severity = "medium"
        title = f"Estimate uses {share:.0%} of the budget"
        recommendation = "Keep headroom for growth: apply the savings below before go-live."
    else:
        severity = "info"
        title = f"Estimate is within budget ({share:.0%} used)"
        recommendation = "No action needed; revisit when usage grows."
    detail = (
        f"Estimated {_money(total)}/month against a budget of {_money(budget)}/month "
        f"({share:.0%}); headroom {_money(budget - total)}."
    )
    return [
        Finding(
            id="COST-BUDGET-001",
            severity=severity,
            title=title,
            detail=detail,
            recommendation=recommendation,
        )
    ]


def _spot(review: _Review) -> list[Finding]:
    findings = []
    discount = review.catalogue.spot_discount
    for component in review.plan.by_service("sagemaker_training"):
        monthly = review.monthly(component)
        if _flag(component, "spot") or monthly <= 0:
            continue
        saving = round(monthly * discount, 2)
        declined = review.constraints.use_spot_training is False
        severity: Severity = "info" if declined else review.saving_severity(saving)
        detail = (
            f"Training {component.id!r} runs on demand for {_money(monthly)}/month; managed "
            f"spot training is typically {discount:.0%} cheaper, saving about {_money(saving)}."
            + (" The user declined spot training." if declined else "")
        )
        findings.append(
            Finding(
                id=f"COST-SPOT-{len(findings) + 1:03d}",
                severity=severity,
                title=f"Use managed spot training for {component.id}",
                detail=detail,
                recommendation="Set spot true with checkpointing to S3 and a max wait time so "
                "interrupted jobs resume.",
                component_id=component.id,
                estimated_monthly_saving_usd=saving,
            )
        )
    return findings


def _is_accelerated(review: _Review, instance_type: str) -> bool:
    spec = review.catalogue.spec(instance_type)
    return bool(spec and spec.accelerators) or bool(review.constraints.gpu_required)


def _serverless_eligible(review: _Review, component: Component) -> bool:
    rps = review.constraints.throughput_rps
    latency = review.constraints.latency_target_ms
    return (
        rps is not None
        and rps <= LOW_THROUGHPUT_RPS
        and (latency is None or latency >= RELAXED_LATENCY_MS)
        and not _is_accelerated(review, _text(component, "instance_type"))
    )


def _serverless(review: _Review) -> list[Finding]:
    findings = []
    price = review.catalogue.price("sagemaker_serverless_inference", "per_gb_second")
    rps = review.constraints.throughput_rps or 0.0
    for component in review.plan.by_service("sagemaker_endpoint"):
        if not _serverless_eligible(review, component):
            continue
        instance_type = _text(component, "instance_type")
        spec = review.catalogue.spec(instance_type)
        memory = min(
            SERVERLESS_MAX_MEMORY_GB, spec.memory_gib if spec else SERVERLESS_MAX_MEMORY_GB
        )
        requests = rps * 3600 * _number(component, "hours_per_month")
        gb_seconds = requests * SERVERLESS_ASSUMED_DURATION_MS / 1000 * memory
        serverless = round(gb_seconds * price * review.multiplier, 2)
        monthly = review.monthly(component, "prod")
        saving = round(monthly - serverless, 2)
        if saving <= 0:
            continue
        findings.append(
            Finding(
                id=f"COST-SERVERLESS-{len(findings) + 1:03d}",
                severity=review.saving_severity(saving),
                title=f"Serve {component.id} with SageMaker Serverless Inference",
                detail=(
                    f"At {fmt(rps)} req/s ({fmt(requests)} requests/month) with a latency target "
                    f"of {review.constraints.latency_target_ms or 'unstated'} ms, Serverless "
                    "Inference "
                    f"({fmt(memory)} GB, {fmt(SERVERLESS_ASSUMED_DURATION_MS)} ms/request assumed) "
                    f"costs about {_money(serverless)}/month against {_money(monthly)} for the "
                    f"always-on prod {instance_type} endpoint, saving about {_money(saving)}."
                ),
                recommendation="Switch to a serverless endpoint (optionally with provisioned "
                "concurrency to bound cold starts) after a load test confirms latency.",
                component_id=component.id,
                estimated_monthly_saving_usd=saving,
            )
        )
    return findings


def _min_instances(review: _Review) -> int:
    """Two instances for availability unless the user explicitly waived high availability."""
    return 1 if review.constraints.high_availability is False else 2


def _needed_instances(review: _Review, instance_type: str) -> int | None:
    rps = review.constraints.throughput_rps
    if rps is None:
        return None
    needed = review.catalogue.instances_for(instance_type, workload_kind(review.constraints), rps)
    return None if needed is None else max(_min_instances(review), needed)


def _rightsize(review: _Review) -> list[Finding]:
    findings = []
    for component in review.plan.by_service("sagemaker_endpoint"):
        instance_type = _text(component, "instance_type")
        count = _number(component, "instance_count")
        needed = _needed_instances(review, instance_type)
        if needed is None or count <= needed:
            continue
        hourly = [
            i
            for i in review.estimate.line_items
            if i.component_id == component.id
            and i.environment == "prod"
            and i.unit == "instance-hour"
        ]
        saving = round(sum(i.monthly_usd for i in hourly) * (count - needed) / count, 2)
        findings.append(
            Finding(
                id=f"COST-RIGHTSIZE-{len(findings) + 1:03d}",
                severity=review.saving_severity(saving),
                title=f"Reduce {component.id} from {fmt(count)} to {needed} instances",
                detail=(
                    f"{fmt(review.constraints.throughput_rps or 0)} req/s needs about {needed} "
                    f"{instance_type} in prod (the catalogue's capacity model at "
                    f"{review.catalogue.capacity.target_utilisation:.0%} utilisation, at least "
                    f"{_min_instances(review)} for availability); the plan runs {fmt(count)}."
                ),
                recommendation=f"Set instance_count to {needed} and add target-tracking auto "
                "scaling on InvocationsPerInstance; confirm capacity with a load test.",
                component_id=component.id,
                estimated_monthly_saving_usd=saving,
            )
        )
    return findings


def _tiering(review: _Review) -> list[Finding]:
    findings = []
    standard = review.catalogue.price("s3", "standard_per_gb_month")
    infrequent = review.catalogue.price("s3", "intelligent_tiering_infrequent_per_gb_month")
    for component in review.plan.by_service("s3"):
        storage = _number(component, "storage_gb")
        if storage <= S3_TIERING_THRESHOLD_GB:
            continue
        saving = round(storage * S3_COLD_FRACTION * (standard - infrequent) * review.multiplier, 2)
        findings.append(
            Finding(
                id=f"COST-TIERING-{len(findings) + 1:03d}",
                severity=review.saving_severity(saving),
                title=f"Use S3 Intelligent-Tiering for {component.id}",
                detail=(
                    f"{fmt(storage)} GB in S3 Standard; if {S3_COLD_FRACTION:.0%} of it goes "
                    f"unread for 30 days, Intelligent-Tiering bills it at ${infrequent:g} instead "
                    f"of ${standard:g}/GB-month (before the per-object monitoring fee)."
                ),
                recommendation="Add a lifecycle rule moving objects to Intelligent-Tiering; keep "
                "small objects (<128 KB) in Standard.",
                component_id=component.id,
                estimated_monthly_saving_usd=saving,
            )
        )
    return findings


def _savings_plan(review: _Review) -> list[Finding]:
    findings = []
    discount = review.catalogue.savings_plan_discount
    ceiling = review.catalogue.savings_plan_max_discount
    for component in review.plan.by_service("sagemaker_endpoint"):
        if _number(component, "hours_per_month") < ALWAYS_ON_HOURS:
            continue
        monthly = round(
            sum(
                i.monthly_usd
                for i in review.estimate.line_items
                if i.component_id == component.id and i.unit == "instance-hour"
            ),
            2,
        )
        saving = round(monthly * discount, 2)
        if saving <= 0:
            continue
        findings.append(
            Finding(
                id=f"COST-SAVINGSPLAN-{len(findings) + 1:03d}",
                severity=review.saving_severity(saving),
                title=f"Cover the 24/7 endpoint {component.id} with a SageMaker Savings Plan",
                detail=(
                    f"{component.id} runs around the clock in staging and prod for "
                    f"{_money(monthly)}/month of instance-hours. SageMaker "
                    f"Savings Plans cut up to {ceiling:.0%}; a conservative {discount:.0%} saves "
                    f"about {_money(saving)}."
                ),
                recommendation="Commit to a 1-year SageMaker Savings Plan sized to the steady "
                "baseline once traffic is stable.",
                component_id=component.id,
                estimated_monthly_saving_usd=saving,
            )
        )
    return findings


def _nat(review: _Review) -> list[Finding]:
    findings = []
    nat_gb = review.catalogue.price("nat_gateway", "per_gb_processed")
    endpoint_gb = review.catalogue.price("vpc_interface_endpoints", "per_gb_processed")
    has_s3_endpoint = any("s3" in e.lower() for e in review.plan.networking.vpc_endpoints)
    for component in review.plan.by_service("nat_gateway"):
        data = _number(component, "data_gb")
        saving = round(data * (nat_gb - endpoint_gb) * review.multiplier, 2)
        if saving <= 0:
            continue
        s3_note = "" if has_s3_endpoint else " The plan has no S3 gateway endpoint (free)."
        findings.append(
            Finding(
                id=f"COST-NAT-{len(findings) + 1:03d}",
                severity=review.saving_severity(saving),
                title=f"Route AWS-service traffic around {component.id} through VPC endpoints",
                detail=(
                    f"{fmt(data)} GB/month through NAT at ${nat_gb:g}/GB; through interface "
                    f"endpoints it costs ${endpoint_gb:g}/GB and through the S3 gateway endpoint "
                    f"nothing. Up to {_money(saving)}/month if this traffic targets AWS services."
                    + s3_note
                ),
                recommendation="Add an S3 gateway endpoint and interface endpoints for SageMaker, "
                "ECR, CloudWatch and STS; keep NAT only for true internet egress.",
                component_id=component.id,
                estimated_monthly_saving_usd=saving,
            )
        )
    return findings


def _largest(review: _Review) -> list[Finding]:
    total = review.estimate.monthly_total_usd
    if total <= 0 or not review.estimate.line_items:
        return []
    top = max(review.estimate.line_items, key=lambda i: i.monthly_usd)  # first on ties
    share = top.monthly_usd / total
    return [
        Finding(
            id="COST-TOP-001",
            severity="info",
            title=f"Largest cost: {top.component_id} ({top.description})",
            detail=(
                f"{top.component_id} — {top.description}: {_money(top.monthly_usd)}/month, "
                f"{share:.0%} of the {_money(total)} total ({'; '.join(top.assumptions[:1])})."
            ),
            recommendation="Focus sizing reviews and load tests on this line first.",
            component_id=top.component_id,
        )
    ]


_RULES: tuple[Callable[[_Review], list[Finding]], ...] = (
    _budget,
    _spot,
    _serverless,
    _rightsize,
    _tiering,
    _savings_plan,
    _nat,
    _largest,
)


def cost_findings(
    constraints: ConstraintSchema,
    plan: Plan,
    estimate: CostEstimate,
    catalogue: Catalogue | None = None,
) -> list[Finding]:
    """Review an estimate against the budget and price the available savings.

    Args:
        constraints: The workload constraints (budget, throughput, latency, spot preference).
        plan: The plan the estimate prices.
        estimate: The estimate from :func:`agentic_mlops.pricing.estimator.estimate`.
        catalogue: The catalogue to price alternatives from; the shipped one when ``None``.

    Returns:
        Findings sorted by severity (highest first), then id. Savings findings carry
        ``estimated_monthly_saving_usd``; savings of different findings on the same
        component may overlap and are not additive.
    """
    review = _Review(constraints, plan, estimate, catalogue or load_catalogue())
    findings = [finding for rule in _RULES for finding in rule(review)]
    return sorted(findings, key=lambda f: (-SEVERITY_ORDER[f.severity], f.id))
