"""Deterministic technical critic of the offline provider.

:func:`technical_critique` runs a fixed set of rules over a plan and its constraints.
Each rule looks for one real weakness (availability, latency, capacity, training
resilience, security, residency, monitoring, lifecycle) and returns findings with a
concrete recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from agentic_mlops.domain.assessment import SEVERITY_ORDER, Finding, Severity, TechnicalCritique
from agentic_mlops.domain.constraints import ConstraintSchema, DeploymentMode
from agentic_mlops.domain.plan import Component, Plan
from agentic_mlops.domain.reasoning import Explanation
from agentic_mlops.domain.services import RESIDENCY_REGIONS
from agentic_mlops.pricing.estimator import PricingError, estimate, load_catalogue, workload_kind

Rule = Callable[[ConstraintSchema, Plan], list[Finding]]

HOURS_PER_MONTH = 730
_JOB_SERVICES = ("sagemaker_training", "sagemaker_processing", "sagemaker_batch_transform")

_SERVING_SERVICES = ("sagemaker_endpoint", "sagemaker_serverless_inference")


# --------------------------------------------------------------------------- helpers


def _num(component: Component, key: str, default: float = 0.0) -> float:
    value = component.config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _flag(component: Component, key: str) -> bool:
    return component.config.get(key) is True


def _is_gpu(instance_type: object) -> bool:
    return isinstance(instance_type, str) and instance_type.startswith(("ml.g", "ml.p"))


def _norm(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


def _regulated(c: ConstraintSchema) -> bool:
    """True for PCI or PHI data, or HIPAA / PCI-DSS scope."""
    classes = {str(s) for s in c.data_sensitivity or []}
    compliance = {_norm(x) for x in c.compliance}
    return bool(classes & {"pci", "phi"}) or any(x.startswith(("HIPAA", "PCI")) for x in compliance)


def _is_llm(c: ConstraintSchema) -> bool:
    return (c.problem_type or "").strip().lower() in ("llm_fine_tuning", "llm")


def _finding(
    fid: str,
    severity: Severity,
    title: str,
    detail: str,
    recommendation: str,
    component_id: str | None = None,
) -> Finding:
    return Finding(
        id=fid,
        severity=severity,
        title=title,
        detail=detail,
        recommendation=recommendation,
        component_id=component_id,
    )


# --------------------------------------------------------------------------- serving


def _single_instance_endpoint(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    findings = []
    for ep in plan.by_service("sagemaker_endpoint"):
        count = int(_num(ep, "instance_count", 1))
        if count >= 2:
            continue
        severity: Severity = "high" if _regulated(c) else "medium"
        findings.append(
            _finding(
                "TECH-HA-001",
                severity,
                "Single-instance real-time endpoint",
                f"{ep.id} runs {count} instance, so it lives in one Availability Zone; an AZ "
                "outage or instance replacement stops predictions.",
                "Run at least 2 instances (SageMaker spreads them across AZs) with autoscaling.",
                ep.id,
            )
        )
    return findings


def _api_gateway_fronted(plan: Plan, endpoint: Component) -> bool:
    door = str(endpoint.config.get("front_door", "")).lower().replace(" ", "_")
    if "api_gateway" in door:
        return True
    for fn in plan.by_service("lambda"):
        text = " ".join([fn.purpose, *(str(v) for v in fn.config.values())]).lower()
        if "api gateway" in text or "api_gateway" in text:
            return True
    return False


def _tight_latency(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    latency = c.latency_target_ms
    if latency is None or latency >= 20:
        return []
    findings = []
    for ep in plan.by_service("sagemaker_endpoint"):
        if _api_gateway_fronted(plan, ep):
            findings.append(
                _finding(
                    "TECH-LAT-001",
                    "high",
                    "API Gateway in front of a sub-20 ms endpoint",
                    f"The {latency} ms p99 target leaves no room for API Gateway (and Lambda) "
                    f"hops in front of {ep.id}, which add tens of milliseconds at p99.",
                    "Call the endpoint directly through sagemaker-runtime (VPC endpoint) "
                    "from the caller, or co-locate the model with the caller.",
                    ep.id,
                )
            )
        else:
            findings.append(
                _finding(
                    "TECH-LAT-003",
                    "low",
                    "Very tight latency target for a hosted endpoint",
                    f"The {latency} ms p99 target is close to the network and "
                    f"InvokeEndpoint overhead of {ep.id}.",
                    "Load-test p99 early; keep the model small and payloads compact.",
                    ep.id,
                )
            )
    return findings


def _serverless_latency(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    latency = c.latency_target_ms
    if latency is None or latency >= 1000:
        return []
    return [
        _finding(
            "TECH-LAT-002",
            "high",
            "Serverless inference with a sub-second latency target",
            f"Cold starts of {s.id} take seconds after idle periods, breaking the "
            f"{latency} ms p99 target.",
            "Use a real-time endpoint, or provisioned concurrency on the serverless endpoint.",
            s.id,
        )
        for s in plan.by_service("sagemaker_serverless_inference")
    ]


def _endpoint_capacity(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    if not c.throughput_rps:
        return []
    catalogue = load_catalogue()
    kind = workload_kind(c)
    findings = []
    for ep in plan.by_service("sagemaker_endpoint"):
        instance = str(ep.config.get("instance_type"))
        per_instance = catalogue.instance_rps(instance, kind)
        if not per_instance:
            continue
        count = int(_num(ep, "instance_count", 1))
        if count * per_instance >= c.throughput_rps:
            continue
        needed = catalogue.instances_for(instance, kind, c.throughput_rps)
        findings.append(
            _finding(
                "TECH-CAP-001",
                "high",
                "Endpoint under-sized for the stated throughput",
                f"{count} x {instance} serve about {count * per_instance:g} rps ({per_instance:g} "
                f"rps per instance for a {kind} model, from the catalogue's capacity model), "
                f"below the {c.throughput_rps:g} rps required.",
                f"Run {needed} instances (sized at "
                f"{catalogue.capacity.target_utilisation:.0%} utilisation) or a larger type.",
                ep.id,
            )
        )
    return findings


def _instance_quotas(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    limits = load_catalogue().limits
    findings = []
    for ep in plan.by_service("sagemaker_endpoint"):
        count = int(max(_num(ep, "instance_count", 1), _num(ep, "autoscaling_max", 0)))
        if count <= limits.endpoint_instances_quota_review:
            continue
        review = limits.endpoint_instances_quota_review
        findings.append(
            _finding(
                "TECH-QUOTA-001",
                "high" if count > 5 * review else "medium",
                "Endpoint fleet beyond the default instance quota",
                f"{ep.id} needs up to {count} x {ep.config.get('instance_type')}; default "
                f"SageMaker endpoint quotas are far below that (review above {review} "
                "instances)"
                + (
                    f"; beyond {5 * review} instances, one model invocation per request is "
                    "rarely the right design."
                    if count > 5 * review
                    else "."
                ),
                "Request the quota increase before go-live, or score in micro-batches, inside "
                "the stream processor, or with Batch Transform where latency allows.",
                ep.id,
            )
        )
    for job in plan.by_service("sagemaker_training"):
        count = int(_num(job, "instance_count", 1))
        if count > limits.training_instances_quota_review:
            findings.append(
                _finding(
                    "TECH-QUOTA-002",
                    "medium",
                    "Training cluster beyond the default instance quota",
                    f"{job.id} asks for {count} x {job.config.get('instance_type')}.",
                    "Request the training instance quota increase in advance.",
                    job.id,
                )
            )
    return findings


def _run_lengths(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    """Jobs must fit their cadence and the month, and training must fit ``max_run``."""
    max_run_s = load_catalogue().limits.training_max_run_seconds
    findings = []
    for job in (x for x in plan.components if x.service in _JOB_SERVICES):
        hours, runs = _num(job, "hours_per_run"), _num(job, "runs_per_month")
        count = max(1.0, _num(job, "instance_count", 1))
        if hours * runs > HOURS_PER_MONTH:
            interval = HOURS_PER_MONTH / runs if runs else HOURS_PER_MONTH
            findings.append(
                _finding(
                    "TECH-FEAS-001",
                    "critical",
                    "Jobs longer than the time between runs",
                    f"{job.id} runs {runs:g} times a month for {hours:g} h each: "
                    f"{hours * runs:,.0f} h of runs ({hours * runs * count:,.0f} instance-hours) "
                    f"in a {HOURS_PER_MONTH} h month, so each run outlasts the {interval:,.1f} h "
                    "until the next one.",
                    "Use more or larger instances (distributed training), train on recent "
                    "partitions incrementally, or run less often.",
                    job.id,
                )
            )
        if job.service == "sagemaker_training" and hours * 3600 > max_run_s:
            findings.append(
                _finding(
                    "TECH-FEAS-002",
                    "critical",
                    "Training run longer than the SageMaker max_run limit",
                    f"{job.id} needs {hours:g} h per run ({hours * 3600:,.0f} s); SageMaker "
                    f"stops training jobs at max_run {max_run_s:,} s "
                    f"({max_run_s / 86400:g} days).",
                    "Split the run (checkpoint and resume), distribute it over more instances, "
                    "or reduce the data per run.",
                    job.id,
                )
            )
    return findings


def _over_budget(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    if c.budget is None:
        return []
    try:
        priced = estimate(plan, c)
    except PricingError as error:
        return [
            _finding(
                "TECH-COST-002",
                "high",
                "The plan cannot be priced",
                str(error),
                "Give every component the sizing keys of its service.",
            )
        ]
    if priced.within_budget is not False:
        return []
    envs = " + ".join(f"{e.name} ${e.monthly_usd:,.0f}" for e in priced.environments)
    return [
        _finding(
            "TECH-COST-001",
            "high",
            "Estimate over budget",
            f"The plan is estimated at ${priced.monthly_total_usd:,.0f}/month ({envs}) "
            f"against a budget of ${priced.budget_monthly_usd:,.0f}/month.",
            "Apply the cost critic's savings, relax throughput, latency or cadence, or raise "
            "the budget before approving.",
        )
    ]


def _llm_serving_on_cpu(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    if not _is_llm(c):
        return []
    findings = [
        _finding(
            "TECH-GPU-002",
            "high",
            "LLM served on CPU",
            f"{ep.id} uses {ep.config.get('instance_type')}; generating tokens from a "
            "fine-tuned LLM on CPU misses any interactive latency target.",
            "Serve from a GPU instance (ml.g5.2xlarge or larger).",
            ep.id,
        )
        for ep in plan.by_service("sagemaker_endpoint")
        if not _is_gpu(ep.config.get("instance_type"))
    ]
    findings += [
        _finding(
            "TECH-GPU-002",
            "high",
            "LLM served on serverless inference",
            f"{s.id} is CPU-only and limited to 6 GB of memory; an LLM does not fit.",
            "Serve from a GPU real-time endpoint.",
            s.id,
        )
        for s in plan.by_service("sagemaker_serverless_inference")
    ]
    return findings


def _batch_single_instance(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    volume = c.data_volume_gb or 0.0
    if volume <= 1000:
        return []
    return [
        _finding(
            "TECH-BAT-001",
            "medium",
            "Batch scoring of more than 1 TB on one instance",
            f"{bt.id} scores {volume:,.0f} GB on a single instance; runs will be long and a "
            "failure restarts the whole job.",
            "Use several instances with MaxConcurrentTransforms and split the input by file.",
            bt.id,
        )
        for bt in plan.by_service("sagemaker_batch_transform")
        if _num(bt, "instance_count", 1) <= 1
    ]


# --------------------------------------------------------------------------- streaming


def _streaming(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    if plan.deployment_mode != DeploymentMode.STREAMING:
        return []
    if "streaming_ingestion" not in plan.capabilities():
        return [
            _finding(
                "TECH-STR-002",
                "high",
                "Streaming workload without stream ingestion",
                "Deployment mode is streaming but no component ingests the event stream.",
                "Add Kinesis Data Streams (and Managed Flink for stream processing).",
            )
        ]
    findings = []
    capacity = load_catalogue().capacity
    shard_rps = capacity.kinesis_shard_records_per_second
    for stream in plan.by_service("kinesis_data_streams"):
        shards = int(_num(stream, "shards", 1))
        rps = c.throughput_rps
        if rps and shards * shard_rps < rps:
            findings.append(
                _finding(
                    "TECH-STR-001",
                    "high",
                    "Kinesis stream under-provisioned",
                    f"{shards} shard(s) ingest at most {shards * shard_rps:g} records/s, "
                    f"below the {rps:g} events/s stated.",
                    f"Provision at least "
                    f"{math.ceil(rps / (shard_rps * capacity.target_utilisation))} shards "
                    "or use on-demand capacity mode.",
                    stream.id,
                )
            )
        elif shards < 2:
            findings.append(
                _finding(
                    "TECH-STR-001",
                    "medium",
                    "Single-shard Kinesis stream",
                    f"{stream.id} has 1 shard: no headroom for bursts or hot partition keys.",
                    "Provision at least 2 shards or use on-demand capacity mode.",
                    stream.id,
                )
            )
    return findings


# --------------------------------------------------------------------------- training


def _training_resilience(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    findings = []
    for job in plan.by_service("sagemaker_training"):
        spot = _flag(job, "spot")
        checkpoint = _flag(job, "checkpoint_s3")
        if spot and not checkpoint:
            findings.append(
                _finding(
                    "TECH-TRN-002",
                    "medium",
                    "Spot training without checkpointing",
                    f"{job.id} uses managed spot capacity but does not checkpoint; every "
                    "interruption restarts training from scratch.",
                    "Enable checkpointing to S3 (checkpoint_s3_uri) and set max_wait.",
                    job.id,
                )
            )
        elif _is_gpu(job.config.get("instance_type")) and not spot and not checkpoint:
            long_run = _num(job, "hours_per_run") >= 8
            findings.append(
                _finding(
                    "TECH-TRN-001",
                    "medium" if long_run else "low",
                    "On-demand GPU training without checkpointing",
                    f"{job.id} trains on {job.config.get('instance_type')} on-demand without "
                    "checkpoints: a failure loses the run and spot savings are not used.",
                    "Enable checkpointing to S3 and consider managed spot training (~60-70% "
                    "cheaper).",
                    job.id,
                )
            )
    return findings


def _training_fit(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    findings = []
    volume = c.data_volume_gb or 0.0
    needs_gpu = _is_llm(c) or c.gpu_required is True
    for job in plan.by_service("sagemaker_training"):
        instance = job.config.get("instance_type")
        if needs_gpu and not _is_gpu(instance):
            findings.append(
                _finding(
                    "TECH-GPU-001",
                    "high",
                    "GPU workload trained on CPU",
                    f"{job.id} uses {instance}, but the workload needs GPUs "
                    f"({c.problem_type or 'gpu_required'}).",
                    "Train on a GPU instance (ml.g5 or ml.p4d family).",
                    job.id,
                )
            )
        if _num(job, "runs_per_month") >= 720 and volume > 500:
            findings.append(
                _finding(
                    "TECH-TRN-003",
                    "medium",
                    "Hourly retraining on a large data set",
                    f"{job.id} retrains {_num(job, 'runs_per_month'):g} times a month on "
                    f"{volume:,.0f} GB; runs may overlap and cost grows with every hour.",
                    "Retrain daily or on drift, or train incrementally on recent partitions.",
                    job.id,
                )
            )
    if _is_llm(c) and c.data_volume_gb is not None and c.data_volume_gb < 1:
        findings.append(
            _finding(
                "TECH-TRN-004",
                "info",
                "Very small data set for LLM fine-tuning",
                f"{c.data_volume_gb:g} GB of data is small for fine-tuning; a large GPU "
                "instance will mostly idle.",
                "Use LoRA on a single-GPU instance, or evaluate prompting/RAG first.",
            )
        )
    return findings


def _framework_fit(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    frameworks = {f.strip().lower().replace("-", "") for f in c.frameworks}
    volume = c.data_volume_gb or 0.0
    if not frameworks & {"sklearn", "scikitlearn"} or volume <= 30:
        return []
    return [
        _finding(
            "TECH-TRN-005",
            "low",
            "scikit-learn on a large data set",
            f"scikit-learn trains in memory on one node; {volume:,.0f} GB may not fit "
            f"{job.config.get('instance_type')} memory.",
            "Sample or aggregate features first, use incremental learners, or switch to "
            "XGBoost/LightGBM with distributed training.",
            job.id,
        )
        for job in plan.by_service("sagemaker_training")
    ]


# --------------------------------------------------------------------------- security


def _private_networking(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    if not c.data_sensitivity:
        return []
    net = plan.networking
    problems = []
    if not (net.vpc and net.private_subnets):
        problems.append("no private VPC subnets")
    if net.internet_egress:
        problems.append("internet egress is open")
    if "private_networking" not in plan.capabilities():
        problems.append("no VPC endpoints")
    exposed = [x.id for x in plan.components if x.stores_data and not x.private_networking]
    if exposed:
        problems.append(f"data components outside the VPC: {', '.join(exposed)}")
    if not problems:
        return []
    classes = ", ".join(str(s).upper() for s in c.data_sensitivity)
    return [
        _finding(
            "TECH-SEC-001",
            "high",
            "Sensitive data without private networking",
            f"The data holds {classes} but the plan has {'; '.join(problems)}.",
            "Put data and compute in private subnets with VPC interface endpoints and no "
            "internet egress.",
            exposed[0] if exposed else None,
        )
    ]


def _encryption_at_rest(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    unencrypted = [x.id for x in plan.components if x.stores_data and not x.encrypted_at_rest]
    if plan.encryption.at_rest != "none" and not unencrypted:
        return []
    where = ", ".join(unencrypted) or "the plan"
    return [
        _finding(
            "TECH-SEC-002",
            "high" if c.data_sensitivity else "medium",
            "Data stored without encryption at rest",
            f"Encryption at rest is missing for {where}.",
            "Enable SSE-KMS (a customer managed key for regulated data) on every data store.",
            unencrypted[0] if unencrypted else None,
        )
    ]


def _residency(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    if c.data_residency is None:
        return []
    allowed = RESIDENCY_REGIONS.get(c.data_residency.value, ())
    if plan.region in allowed:
        return []
    area = c.data_residency.value.upper()
    return [
        _finding(
            "TECH-RES-001",
            "critical",
            "Plan region violates data residency",
            f"The data must stay in {area} but the plan deploys to {plan.region}.",
            f"Deploy to a region inside {area}: {', '.join(allowed)}.",
        )
    ]


# --------------------------------------------------------------------------- monitoring


def _monitoring(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    has_monitor = bool(plan.by_service("sagemaker_model_monitor"))
    serving = [x for x in plan.components if x.service in _SERVING_SERVICES]
    findings = []
    if serving and not has_monitor:
        findings.append(
            _finding(
                "TECH-MON-001",
                "medium",
                "No model monitoring on the serving path",
                f"{serving[0].id} serves predictions but nothing checks data quality or drift.",
                "Add SageMaker Model Monitor schedules on captured traffic with CloudWatch alarms.",
                serving[0].id,
            )
        )
    batch = plan.by_service("sagemaker_batch_transform")
    if batch and not has_monitor:
        findings.append(
            _finding(
                "TECH-MON-003",
                "low",
                "Batch scoring without drift monitoring",
                f"{batch[0].id} scores data but no monitor compares it with the baseline.",
                "Add a Model Monitor job on the batch transform input after each run.",
                batch[0].id,
            )
        )
    for endpoint in serving:
        if not _flag(endpoint, "data_capture"):
            findings.append(
                _finding(
                    "TECH-MON-002",
                    "low",
                    "No data capture on the endpoint",
                    f"{endpoint.id} does not capture requests and responses, so drift and "
                    "incidents cannot be analysed.",
                    "Enable data capture to S3 (sampled) or log requests from the caller.",
                    endpoint.id,
                )
            )
    return findings


# --------------------------------------------------------------------------- lifecycle


def _lifecycle(c: ConstraintSchema, plan: Plan) -> list[Finding]:
    caps = plan.capabilities()
    findings = []
    if "model_registry" not in caps:
        findings.append(
            _finding(
                "TECH-OPS-001",
                "medium",
                "No model registry",
                "Models are not versioned or approved before deployment.",
                "Register models in SageMaker Model Registry with manual approval.",
            )
        )
    if "orchestration" not in caps:
        findings.append(
            _finding(
                "TECH-OPS-002",
                "medium",
                "No pipeline orchestration",
                "Processing, training and evaluation are not tied into a reproducible pipeline.",
                "Orchestrate the steps with SageMaker Pipelines.",
            )
        )
    if c.retraining_cadence and "scheduling" not in caps:
        findings.append(
            _finding(
                "TECH-OPS-003",
                "low",
                "Retraining cadence without a scheduler",
                f"A {c.retraining_cadence} cadence is stated but nothing triggers retraining.",
                "Trigger the pipeline from EventBridge Scheduler.",
            )
        )
    return findings


RULES: tuple[Rule, ...] = (
    _residency,
    _private_networking,
    _encryption_at_rest,
    _single_instance_endpoint,
    _tight_latency,
    _serverless_latency,
    _endpoint_capacity,
    _instance_quotas,
    _run_lengths,
    _over_budget,
    _llm_serving_on_cpu,
    _batch_single_instance,
    _streaming,
    _training_resilience,
    _training_fit,
    _framework_fit,
    _monitoring,
    _lifecycle,
)
"""Every rule the technical critic runs, in evaluation order."""


# --------------------------------------------------------------------------- verdict


def _counts(findings: list[Finding]) -> str:
    parts = []
    for severity in sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__, reverse=True):
        n = sum(1 for f in findings if f.severity == severity)
        if n:
            parts.append(f"{n} {severity}")
    return ", ".join(parts)


def _verdict(findings: list[Finding]) -> str:
    worst = max((SEVERITY_ORDER[f.severity] for f in findings), default=-1)
    if worst >= SEVERITY_ORDER["high"]:
        return "unsound"
    if worst == SEVERITY_ORDER["medium"]:
        return "sound_with_risks"
    return "sound"


def technical_critique(
    constraints: ConstraintSchema, plan: Plan
) -> tuple[TechnicalCritique, Explanation]:
    """Review a plan for technical weaknesses against its constraints.

    Args:
        constraints: the constraints the plan was made for.
        plan: the plan to review.

    Returns:
        The critique (verdict ``unsound`` on any critical/high finding,
        ``sound_with_risks`` on any medium, else ``sound``; findings ordered by severity,
        most severe first, then id) and its explanation.
    """
    findings = [f for rule in RULES for f in rule(constraints, plan)]
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.id, f.component_id or ""))
    verdict = _verdict(findings)
    if findings:
        summary = f"{len(findings)} finding(s): {_counts(findings)}."
        rationale = " ".join(f"{f.id} ({f.severity}): {f.title}." for f in findings)
    else:
        summary = "No technical weaknesses found."
        rationale = f"All {len(RULES)} technical rules passed."
    critique = TechnicalCritique(verdict=verdict, summary=summary, findings=findings)
    explanation = Explanation(
        decision=f"Technical verdict: {verdict} ({_counts(findings) or 'no findings'})",
        rationale=rationale,
        confidence=0.85,
    )
    return critique, explanation
