"""Deterministic, rules-based architect of the offline provider.

:func:`plan_for` turns a complete :class:`ConstraintSchema` into a :class:`Plan` built
only from the shared service vocabulary (:data:`agentic_mlops.domain.services.SERVICES`).
Every component carries all sizing keys of its service so the cost estimator can price
it; every decision is recorded as a rationale sentence naming the input that drove it.

Prices and capacities come from the pricing catalogue only (instance prices, the spot
discount, the capacity model of endpoint instances): the planner prices its draft with the
same estimator the cost critic uses, so its budget reasoning quotes the estimate's figure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from agentic_mlops.domain.assessment import CostEstimate
from agentic_mlops.domain.constraints import ConstraintSchema, DataSensitivity, DeploymentMode
from agentic_mlops.domain.plan import Alternative, Component, EncryptionPlan, NetworkPlan, Plan
from agentic_mlops.domain.reasoning import Explanation
from agentic_mlops.domain.services import RESIDENCY_REGIONS
from agentic_mlops.pricing.estimator import Catalogue, estimate, load_catalogue, workload_kind

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

RUNS_PER_MONTH: dict[str, float] = {
    "hourly": 720.0,
    "daily": 30.0,
    "weekly": 4.33,
    "monthly": 1.0,
    "quarterly": 0.33,
    "on_demand": 2.0,
}
"""Training runs per month for each retraining cadence."""

DEFAULT_RUNS_PER_MONTH = 4.33
"""Runs per month assumed when the cadence is unknown (weekly)."""

_CADENCE_ALIASES: dict[str, str] = {
    "nightly": "daily",
    "every_day": "daily",
    "every_hour": "hourly",
    "every_week": "weekly",
    "every_month": "monthly",
    "every_quarter": "quarterly",
    "ondemand": "on_demand",
    "ad_hoc": "on_demand",
    "adhoc": "on_demand",
    "manual": "on_demand",
}

_TABULAR_FRAMEWORKS = ("xgboost", "lightgbm", "sklearn", "catboost")
_DL_FRAMEWORKS = ("pytorch", "torch", "tensorflow", "keras", "huggingface", "transformers", "jax")
_DEEP_PROBLEMS = ("computer_vision", "nlp", "deep_learning")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "for",
        "of",
        "on",
        "in",
        "with",
        "to",
        "from",
        "by",
        "per",
        "our",
        "we",
        "i",
        "my",
        "is",
        "are",
        "be",
        "model",
        "models",
        "using",
        "use",
        "build",
        "want",
        "need",
    ]
)


@dataclass(frozen=True)
class _Ctx:
    """Normalised view of the constraints used by every builder."""

    c: ConstraintSchema
    mode: DeploymentMode
    region: str
    volume_gb: float
    budget_usd: float
    kind: str
    frameworks: tuple[str, ...]
    custom_containers: bool
    sensitivity: tuple[str, ...]
    compliance: tuple[str, ...]
    private: bool
    cmk: bool
    regulated: bool
    cadence: str | None
    runs_per_month: float
    scoring_runs: float
    rps: float | None
    latency_ms: int | None
    avoided: tuple[str, ...]
    preferred: tuple[str, ...]
    skills: tuple[str, ...]
    catalogue: Catalogue
    multiplier: float
    first_cut_usd: float | None = None
    """Estimated monthly cost of the first design when it exceeded the budget (lean pass)."""

    def hourly(self, instance_type: str) -> float:
        """On-demand price of an instance type in the plan's region, from the catalogue."""
        return self.catalogue.instance_price(instance_type) * self.multiplier

    @property
    def lean(self) -> bool:
        """True on the second, budget-constrained planning pass."""
        return self.first_cut_usd is not None

    def avoids(self, *words: str) -> bool:
        """True when any avoided service mentions one of the words."""
        return any(w in item for item in self.avoided for w in words)

    def prefers(self, *words: str) -> bool:
        """True when any preferred service mentions one of the words."""
        return any(w in item for item in self.preferred for w in words)


@dataclass
class _Part:
    """What one builder contributes to the plan."""

    components: list[Component] = field(default_factory=list)
    rationale: list[str] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)

    def extend(self, other: _Part) -> None:
        self.components.extend(other.components)
        self.rationale.extend(other.rationale)
        self.alternatives.extend(other.alternatives)
        self.risks.extend(other.risks)


_VPC_ATTACHED = frozenset(
    {
        "s3",
        "glue_data_catalog",
        "glue_etl",
        "athena",
        "sagemaker_processing",
        "sagemaker_training",
        "sagemaker_endpoint",
        "sagemaker_batch_transform",
        "sagemaker_model_monitor",
        "sagemaker_feature_store",
        "kinesis_data_streams",
        "managed_flink",
        "lambda",
        "kms",
        "cloudwatch",
        "ecr",
        "vpc_interface_endpoints",
    }
)
"""Data and compute services reached only through the VPC when the plan is private."""


# --------------------------------------------------------------------------- context


def _norm_token(value: str) -> str:
    token = re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")
    return {"scikit_learn": "sklearn", "scikit": "sklearn"}.get(token, token)


def _norm_compliance(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def _normalise_cadence(value: str | None) -> str | None:
    if not value:
        return None
    token = _norm_token(value)
    token = _CADENCE_ALIASES.get(token, token)
    return token if token in RUNS_PER_MONTH else None


def _scoring_runs(c: ConstraintSchema, cadence: str | None) -> float:
    """Batch scoring runs per month, read from the summary; daily by default."""
    text = (c.summary or "").lower()
    pattern = (
        r"(hourly|nightly|daily|weekly|monthly)\s+(?:batch\s+)?(?:scor|predict|inferenc|run|job)"
    )
    match = re.search(pattern, text)
    if match:
        return RUNS_PER_MONTH[_CADENCE_ALIASES.get(match.group(1), match.group(1))]
    return 720.0 if cadence == "hourly" else 30.0


def _context(c: ConstraintSchema) -> _Ctx:
    assert c.deployment_mode and c.region and c.budget and c.data_volume_gb is not None
    frameworks = tuple(_norm_token(f) for f in c.frameworks)
    kind = workload_kind(c)
    catalogue = load_catalogue()
    sensitivity = tuple(DataSensitivity(s).value for s in c.data_sensitivity or [])
    compliance = tuple(_norm_compliance(x) for x in c.compliance)
    hipaa_pci = any(x.startswith(("HIPAA", "PCI")) for x in compliance)
    regulated = hipaa_pci or "pci" in sensitivity or "phi" in sensitivity
    cadence = _normalise_cadence(c.retraining_cadence)
    problem = _norm_token(c.problem_type or "")
    return _Ctx(
        c=c,
        mode=c.deployment_mode,
        region=c.region,
        volume_gb=float(c.data_volume_gb),
        budget_usd=c.budget.monthly_usd,
        kind=kind,
        frameworks=frameworks,
        custom_containers=kind == "llm"
        or problem in _DEEP_PROBLEMS
        or any(f in _DL_FRAMEWORKS for f in frameworks),
        sensitivity=sensitivity,
        compliance=compliance,
        private=bool(sensitivity) or hipaa_pci,
        cmk=bool(sensitivity) or bool(compliance),
        regulated=regulated,
        cadence=cadence,
        runs_per_month=RUNS_PER_MONTH[cadence] if cadence else DEFAULT_RUNS_PER_MONTH,
        scoring_runs=_scoring_runs(c, cadence),
        rps=c.throughput_rps,
        latency_ms=c.latency_target_ms,
        avoided=tuple(s.lower() for s in c.avoided_services),
        preferred=tuple(s.lower() for s in c.preferred_services),
        skills=tuple(s.lower() for s in c.team_skills),
        catalogue=catalogue,
        multiplier=catalogue.multiplier(c.region),
    )


def _comp(
    ctx: _Ctx,
    cid: str,
    service: str,
    purpose: str,
    capabilities: list[str],
    config: dict,
    *,
    stores_data: bool = False,
) -> Component:
    return Component(
        id=cid,
        service=service,
        purpose=purpose,
        capabilities=capabilities,
        config=config,
        stores_data=stores_data,
        encrypted_at_rest=True if stores_data else None,
        private_networking=ctx.private and service in _VPC_ATTACHED,
    )


def _gb(value: float) -> str:
    return f"{value:,.0f} GB" if value >= 10 else f"{value:g} GB"


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _drivers(ctx: _Ctx) -> str:
    return ", ".join([*(s.upper() for s in ctx.sensitivity), *ctx.c.compliance])


def _encryption_label(ctx: _Ctx) -> str:
    return "SSE-KMS with the customer managed key" if ctx.cmk else "SSE-S3 (AWS managed keys)"


# --------------------------------------------------------------------------- region


def _region_part(ctx: _Ctx) -> _Part:
    part = _Part()
    residency = ctx.c.data_residency
    if residency is None:
        part.rationale.append(f"Region {ctx.region} is taken as requested (no residency stated).")
        return part
    allowed = RESIDENCY_REGIONS.get(residency.value, ())
    if ctx.region in allowed:
        part.rationale.append(
            f"Region {ctx.region} is taken as requested and satisfies the "
            f"{residency.value.upper()} data-residency requirement."
        )
    else:
        part.rationale.append(
            f"Region {ctx.region} is kept as requested although the data must stay in "
            f"{residency.value.upper()}; the policy check must resolve this conflict."
        )
        part.risks.append(
            f"Region {ctx.region} is outside the {residency.value.upper()} residency area "
            f"({', '.join(allowed)})."
        )
    return part


# --------------------------------------------------------------------------- storage


def _storage(ctx: _Ctx) -> _Part:
    growth = ctx.c.data_growth_gb_per_month or 0.0
    storage_gb = max(1, math.ceil(ctx.volume_gb * 1.5 + growth * 12))
    component = _comp(
        ctx,
        "data_lake",
        "s3",
        "Raw, processed and model-artifact storage",
        ["storage"],
        {
            "storage_gb": storage_gb,
            "encryption": _encryption_label(ctx),
            "versioning": True,
            "block_public_access": True,
            "lifecycle": "raw data to Intelligent-Tiering after 30 days",
        },
        stores_data=True,
    )
    return _Part(
        components=[component],
        rationale=[
            f"S3 sized at {storage_gb} GB because {_gb(ctx.volume_gb)} of data is kept "
            "raw plus processed copies and model artifacts"
            + (f", plus a year of ingest at {_gb(growth)}/month." if growth else ".")
        ],
    )


# --------------------------------------------------------------------------- processing


def _processing_runs(ctx: _Ctx) -> float:
    extra = ctx.scoring_runs if ctx.mode == DeploymentMode.BATCH else 0.0
    return round(ctx.runs_per_month + extra, 2)


def _processing(ctx: _Ctx) -> _Part:
    if ctx.volume_gb > 500 and not ctx.avoids("glue"):
        part = _glue_processing(ctx)
    else:
        part = _sagemaker_processing(ctx)
    if ctx.volume_gb > 1000:
        part.extend(_data_catalog(ctx))
    return part


def _glue_processing(ctx: _Ctx) -> _Part:
    dpu_hours = max(2, math.ceil(ctx.volume_gb / 50))
    component = _comp(
        ctx,
        "feature_processing",
        "glue_etl",
        "Spark feature engineering over the full data set",
        ["data_processing"],
        {
            "dpu_hours_per_run": dpu_hours,
            "runs_per_month": _processing_runs(ctx),
            "worker_type": "G.1X",
            "job_bookmarks": True,
            "sizing_basis": "full reprocess at ~50 GB per DPU-hour",
        },
    )
    return _Part(
        components=[component],
        rationale=[
            f"Data volume {_gb(ctx.volume_gb)} exceeds 500 GB, so feature processing runs as "
            f"Glue ETL Spark ({dpu_hours} DPU-hours per run) instead of a single instance."
        ],
        alternatives=[
            Alternative(
                option="Amazon EMR Serverless",
                reason="more Spark tuning and no native Data Catalog job bookmarks; "
                "Glue is simpler at this volume",
            ),
            Alternative(
                option="SageMaker Processing",
                reason=f"a single-instance job is too slow for {_gb(ctx.volume_gb)}",
            ),
        ],
    )


def _sagemaker_processing(ctx: _Ctx) -> _Part:
    if ctx.volume_gb < 50:
        instance, rate, count = "ml.m5.xlarge", 40.0, 1
    else:
        instance, rate = "ml.m5.4xlarge", 150.0
        count = max(1, math.ceil(ctx.volume_gb / 500))
    hours = max(0.5, round(ctx.volume_gb / (rate * count), 2))
    component = _comp(
        ctx,
        "feature_processing",
        "sagemaker_processing",
        "Feature engineering and data validation before training and scoring",
        ["data_processing"],
        {
            "instance_type": instance,
            "instance_count": count,
            "hours_per_run": hours,
            "runs_per_month": _processing_runs(ctx),
        },
    )
    if ctx.volume_gb > 500:
        reason = (
            f"Glue is on the avoid list, so {_gb(ctx.volume_gb)} is processed by "
            f"{count} SageMaker Processing instances ({instance})."
        )
    else:
        reason = (
            f"Data volume {_gb(ctx.volume_gb)} fits SageMaker Processing on {instance} "
            f"(~{hours:g} h per run); a Spark cluster is unnecessary."
        )
    return _Part(
        components=[component],
        rationale=[reason],
        alternatives=[
            Alternative(
                option="AWS Glue ETL / EMR Serverless",
                reason=f"distributed Spark is overkill for {_gb(ctx.volume_gb)}"
                if ctx.volume_gb <= 500
                else "Glue avoided by the team",
            )
        ],
    )


def _data_catalog(ctx: _Ctx) -> _Part:
    if ctx.avoids("glue"):
        return _Part(
            rationale=[
                "Glue is avoided, so no Glue Data Catalog/Athena layer is added despite "
                f"{_gb(ctx.volume_gb)} of data."
            ],
            risks=["Without a data catalog, exploring more than 1 TB of data needs ad-hoc jobs."],
        )
    volume_tb = ctx.volume_gb / 1024
    scanned = round(max(0.1, volume_tb * 0.1 * min(ctx.runs_per_month, 30.0)), 2)
    return _Part(
        components=[
            _comp(
                ctx,
                "data_catalog",
                "glue_data_catalog",
                "Schema and partition catalogue of the data lake",
                ["data_catalog"],
                {"tables": "partitioned Parquet"},
            ),
            _comp(
                ctx,
                "athena_queries",
                "athena",
                "SQL exploration and training-set extraction",
                ["data_catalog"],
                {"tb_scanned_per_month": scanned, "workgroup_scan_limit_gb": 1000},
            ),
        ],
        rationale=[
            f"More than 1 TB of data ({_gb(ctx.volume_gb)}) is catalogued in the Glue Data "
            f"Catalog and queried with Athena (~{scanned:g} TB scanned per month)."
        ],
    )


# --------------------------------------------------------------------------- training


def _tabular_instance(volume_gb: float) -> tuple[str, float]:
    if volume_gb < 50:
        return "ml.m5.xlarge", 40.0
    if volume_gb <= 500:
        return "ml.m5.4xlarge", 150.0
    return "ml.m5.12xlarge", 400.0


def _model_size_billion(c: ConstraintSchema) -> float | None:
    text = " ".join([c.summary or "", *c.frameworks]).lower()
    match = re.search(r"(\d+(?:\.\d+)?)\s*b\b", text)
    return float(match.group(1)) if match else None


def _training_shape(ctx: _Ctx) -> tuple[str, int, float, str]:
    """Return instance type, count, hours per run and the sentence explaining them."""
    vol = ctx.volume_gb
    if ctx.kind == "llm":
        params = _model_size_billion(ctx.c)
        if vol > 1000 or (params or 0) > 20:
            hours = max(4.0, round(vol / 100, 2))
            return (
                "ml.p4d.24xlarge",
                1,
                hours,
                (f"LLM fine-tuning on {_gb(vol)} needs A100 GPUs (ml.p4d.24xlarge)."),
            )
        hours = max(2.0, round(vol / 25, 2))
        return (
            "ml.g5.12xlarge",
            1,
            hours,
            (f"LLM fine-tuning on {_gb(vol)} uses ml.g5.12xlarge (4x A10G, 96 GB GPU memory)."),
        )
    if ctx.kind == "deep" and ctx.c.gpu_required is not False:
        count = 2 if vol > 500 else 1
        hours = max(1.0, round(vol / (25 * count), 2))
        return (
            "ml.g5.2xlarge",
            count,
            hours,
            (
                f"Deep-learning workload ({ctx.c.problem_type or 'GPU required'}) trains on "
                f"{count} x ml.g5.2xlarge GPU instance(s)."
            ),
        )
    instance, rate = _tabular_instance(vol)
    hours = max(0.5, round(vol / rate, 2))
    label = ", ".join(ctx.frameworks) or ctx.c.problem_type or "tabular"
    return (
        instance,
        1,
        hours,
        (
            f"{label} training on {_gb(vol)} runs on CPU ({instance}, ~{hours:g} h per run); "
            "no GPU is needed."
        ),
    )


def _spot_choice(ctx: _Ctx, instance: str, count: int, hours: float) -> tuple[bool, str]:
    requested = ctx.c.use_spot_training
    if requested is True:
        return True, "Managed spot training is used as requested, with checkpoints in S3."
    if requested is False:
        return False, "On-demand training is used because spot training was declined."
    on_demand = ctx.hourly(instance) * count * hours * ctx.runs_per_month
    gpu = instance.startswith(("ml.g", "ml.p"))
    discount = ctx.catalogue.spot_discount
    if ctx.lean:
        return True, (
            f"The first design was over budget, so managed spot training with S3 "
            f"checkpoints is used ({discount:.0%} off the ~{_usd(on_demand)}/month on-demand "
            "training)."
        )
    if gpu and on_demand > 0.2 * ctx.budget_usd:
        return True, (
            f"On-demand GPU training (~{_usd(on_demand)}/month) is over 20% of the "
            f"{_usd(ctx.budget_usd)} budget, so managed spot training with S3 checkpoints is used."
        )
    return False, (
        f"On-demand training (~{_usd(on_demand)}/month) is a small share of the "
        f"{_usd(ctx.budget_usd)} budget; spot can be enabled later."
    )


def _training(ctx: _Ctx) -> _Part:
    instance, count, hours, reason = _training_shape(ctx)
    spot, spot_reason = _spot_choice(ctx, instance, count, hours)
    gpu = instance.startswith(("ml.g", "ml.p"))
    config: dict = {
        "instance_type": instance,
        "instance_count": count,
        "hours_per_run": hours,
        "runs_per_month": ctx.runs_per_month,
        "spot": spot,
        "checkpoint_s3": spot or gpu,
    }
    if ctx.frameworks:
        config["framework"] = ", ".join(ctx.frameworks)
    if spot:
        config["max_wait_hours"] = round(hours * 2, 2)
    if ctx.kind == "llm":
        config["method"] = "LoRA/QLoRA parameter-efficient fine-tuning"
    part = _Part(
        components=[
            _comp(
                ctx, "model_training", "sagemaker_training", "Model training", ["training"], config
            )
        ],
        rationale=[reason, spot_reason],
        alternatives=[
            Alternative(
                option="AWS Batch for training",
                reason="no managed spot checkpoint/resume, experiment lineage or model "
                "registry integration",
            )
        ],
    )
    if gpu:
        part.risks.append(
            f"{instance} capacity and service quotas in {ctx.region} may delay training jobs."
        )
    if spot:
        part.risks.append("Spot interruptions can stretch training time up to max_wait_hours.")
    if "sklearn" in ctx.frameworks and ctx.volume_gb > 30:
        part.risks.append(
            f"scikit-learn trains in memory on one node; {_gb(ctx.volume_gb)} may need "
            "sampling or incremental learning."
        )
    if ctx.kind == "llm":
        part.alternatives.append(
            Alternative(
                option="Amazon Bedrock custom model fine-tuning",
                reason="less control over the base model, training recipe and serving stack",
            )
        )
    return part


# --------------------------------------------------------------------------- orchestration


_SCHEDULES: dict[str, str] = {
    "hourly": "rate(1 hour)",
    "daily": "cron(0 2 * * ? *)",
    "weekly": "cron(0 2 ? * MON *)",
    "monthly": "cron(0 2 1 * ? *)",
    "quarterly": "cron(0 2 1 1,4,7,10 ? *)",
    "on_demand": "manual trigger plus drift alarm",
}


def _cadence_sentence(ctx: _Ctx) -> str:
    if ctx.cadence:
        return (
            f"Retraining cadence '{ctx.cadence}' gives {ctx.runs_per_month:g} pipeline run(s) "
            "per month, triggered by EventBridge Scheduler."
        )
    return (
        f"Retraining cadence is unknown, so weekly retraining ({DEFAULT_RUNS_PER_MONTH:g} "
        "runs per month) is assumed; confirm it."
    )


def _orchestration(ctx: _Ctx) -> _Part:
    schedule = _SCHEDULES.get(ctx.cadence or "weekly", _SCHEDULES["weekly"])
    scheduler_config: dict = {"schedule": schedule, "target": "SageMaker Pipelines execution"}
    if ctx.mode == DeploymentMode.BATCH:
        scheduler_config["scoring_runs_per_month"] = ctx.scoring_runs
    components = [
        _comp(
            ctx,
            "ml_pipeline",
            "sagemaker_pipelines",
            "Process, train, evaluate and register as one versioned pipeline",
            ["orchestration"],
            {"steps": "process > train > evaluate > register"},
        ),
        _comp(
            ctx,
            "model_registry",
            "sagemaker_model_registry",
            "Versioned models with a human approval gate",
            ["model_registry"],
            {"approval_status": "PendingManualApproval"},
        ),
        _comp(
            ctx,
            "retraining_schedule",
            "eventbridge_scheduler",
            "Triggers retraining (and batch scoring) on the cadence",
            ["scheduling"],
            scheduler_config,
        ),
    ]
    return _Part(
        components=components,
        rationale=[
            _cadence_sentence(ctx),
            "New model versions are registered as PendingManualApproval and deployed only "
            "after approval.",
        ],
        alternatives=[
            Alternative(
                option="AWS Step Functions / MWAA (Airflow)",
                reason="SageMaker Pipelines gives ML lineage and registry integration without "
                "running a scheduler",
            )
        ],
    )


# --------------------------------------------------------------------------- serving


def _serving(ctx: _Ctx) -> _Part:
    if ctx.mode == DeploymentMode.BATCH:
        return _batch_serving(ctx)
    if ctx.mode == DeploymentMode.STREAMING:
        return _streaming_serving(ctx)
    return _realtime_serving(ctx)


def _batch_shape(ctx: _Ctx) -> tuple[str, float]:
    if ctx.kind == "llm":
        return "ml.g5.12xlarge", 10.0
    if ctx.kind == "deep" and ctx.c.gpu_required is not False:
        return "ml.g5.xlarge", 50.0
    return ("ml.m5.xlarge", 100.0) if ctx.volume_gb <= 500 else ("ml.m5.4xlarge", 300.0)


def _batch_serving(ctx: _Ctx) -> _Part:
    instance, rate = _batch_shape(ctx)
    count = min(10, max(1, math.ceil(ctx.volume_gb / 500)))
    hours = max(0.25, round(ctx.volume_gb / (rate * count), 2))
    component = _comp(
        ctx,
        "batch_scoring",
        "sagemaker_batch_transform",
        "Scheduled batch scoring written back to S3",
        ["batch_inference"],
        {
            "instance_type": instance,
            "instance_count": count,
            "hours_per_run": hours,
            "runs_per_month": ctx.scoring_runs,
            "sizing_basis": "scores the full data set each run",
        },
    )
    return _Part(
        components=[component],
        rationale=[
            f"Deployment mode batch: SageMaker Batch Transform on {count} x {instance} scores "
            f"{_gb(ctx.volume_gb)} in ~{hours:g} h, {ctx.scoring_runs:g} runs per month; "
            "nothing runs between jobs."
        ],
        alternatives=[
            Alternative(
                option="SageMaker real-time endpoint",
                reason="predictions are needed on a schedule, an always-on endpoint would idle",
            )
        ],
    )


def _llm_endpoint_instance(ctx: _Ctx) -> tuple[str, str]:
    params = _model_size_billion(ctx.c)
    if (params or 0) > 20:
        return "ml.g5.48xlarge", f"a {params:g}B-parameter model needs 8 GPUs to serve"
    if (params or 0) > 8 or (ctx.latency_ms or 10_000) < 500:
        return "ml.g5.12xlarge", "tensor-parallel serving over 4 GPUs for model size/latency"
    size = f"a {params:g}B-parameter" if params else "an assumed ~8B-parameter"
    return "ml.g5.2xlarge", f"{size} model fits one 24 GB A10G GPU"


_LOW_LATENCY_TYPES = ("ml.c6i.xlarge", "ml.c6i.2xlarge", "ml.c6i.4xlarge")
_GENERAL_TYPES = (
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.c6i.xlarge",
    "ml.c6i.2xlarge",
    "ml.c6i.4xlarge",
)


def _availability_floor(ctx: _Ctx) -> tuple[int, list[str]]:
    reasons = []
    if ctx.c.high_availability:
        reasons.append("high availability was requested")
    if ctx.latency_ms is not None and ctx.latency_ms <= 100:
        reasons.append(f"the {ctx.latency_ms} ms latency target leaves no room for failover")
    if ctx.regulated:
        reasons.append("PCI/PHI workloads need multi-AZ serving")
    if ctx.mode == DeploymentMode.STREAMING:
        reasons.append("a stream consumer cannot pause")
    return (2 if reasons else 1), reasons


def _instances_needed(ctx: _Ctx, instance: str) -> int:
    if not ctx.rps:
        return 1
    return ctx.catalogue.instances_for(instance, ctx.kind, ctx.rps) or 1


def _cheapest(ctx: _Ctx, candidates: tuple[str, ...]) -> str:
    """The candidate type whose fleet for the stated rate costs least (first on ties)."""
    floor, _ = _availability_floor(ctx)

    def monthly(instance: str) -> float:
        return ctx.hourly(instance) * max(floor, _instances_needed(ctx, instance))

    return min(candidates, key=monthly)


def _endpoint_instance(ctx: _Ctx) -> tuple[str, str]:
    if ctx.kind == "llm":
        return _llm_endpoint_instance(ctx)
    latency = ctx.latency_ms
    rps = ctx.rps or 0.0
    load = f"{rps:g} rps" if rps else "the expected load"
    if latency is not None and latency <= 50:
        instance = _cheapest(ctx, _LOW_LATENCY_TYPES)
        return instance, (
            f"p99 latency target {latency} ms needs compute-optimised instances; {instance} "
            f"serves {load} most cheaply of {', '.join(_LOW_LATENCY_TYPES)}"
        )
    if ctx.kind == "deep" and ctx.c.gpu_required:
        return "ml.g5.xlarge", "GPU inference was required"
    instance = _cheapest(ctx, _GENERAL_TYPES)
    return instance, (
        f"{instance} serves {load} most cheaply of the catalogue's CPU types "
        f"({', '.join(_GENERAL_TYPES)})"
    )


def _endpoint_count(ctx: _Ctx, instance: str) -> tuple[int, str]:
    catalogue = ctx.catalogue
    capacity = catalogue.instance_rps(instance, ctx.kind) or 0.0
    utilisation = catalogue.capacity.target_utilisation
    needed = _instances_needed(ctx, instance)
    minimum, reasons = _availability_floor(ctx)
    count = max(minimum, needed)
    load = (
        f"{ctx.rps:g} rps at ~{capacity * utilisation:g} rps per instance "
        f"({capacity:g} rps capacity in the catalogue at {utilisation:.0%} utilisation) "
        f"needs {needed}"
        if ctx.rps
        else "throughput unknown, so one instance covers the load"
    )
    floor = f"; at least 2 across AZs because {' and '.join(reasons)}" if reasons else ""
    return count, f"{load}{floor}"


def _requests_per_month(ctx: _Ctx) -> int:
    """Requests a month at the stated rate; 1 million when the rate is unknown."""
    return round(ctx.rps * SECONDS_PER_MONTH) if ctx.rps else 1_000_000


def _payload_kb(ctx: _Ctx) -> float:
    """Request plus response size: images for deep models, prompts for LLMs, rows otherwise."""
    return {"deep": 200.0, "llm": 8.0}.get(ctx.kind, 2.0)


def _endpoint_component(ctx: _Ctx) -> tuple[Component, str]:
    instance, why = _endpoint_instance(ctx)
    count, count_why = _endpoint_count(ctx, instance)
    sampling = 100 if (ctx.rps or 0) <= 50 else 20
    component = _comp(
        ctx,
        "inference_endpoint",
        "sagemaker_endpoint",
        "Real-time model serving",
        ["serving"],
        {
            "instance_type": instance,
            "instance_count": count,
            "hours_per_month": HOURS_PER_MONTH,
            "requests_per_month": _requests_per_month(ctx),
            "payload_kb": _payload_kb(ctx),
            "autoscaling": "target tracking on InvocationsPerInstance",
            "autoscaling_min": count,
            "autoscaling_max": count * 2,
            "multi_az": count >= 2,
            "data_capture": True,
            "data_capture_sampling_percent": sampling,
            "front_door": "sagemaker-runtime via VPC endpoint"
            if ctx.private
            else "sagemaker-runtime (direct InvokeEndpoint)",
            "deployment": "blue/green with automatic rollback",
        },
    )
    sentence = (
        f"Endpoint on {count} x {instance}: {why}; {count_why}; autoscaling up to {count * 2}."
    )
    return component, sentence


def _serverless_choice(ctx: _Ctx) -> tuple[bool, str]:
    latency = ctx.latency_ms or 0
    blockers = []
    if latency < 1000:
        blockers.append(f"the {latency} ms latency target is too tight for cold starts")
    if ctx.rps is not None and ctx.rps >= 5:
        blockers.append(f"{ctx.rps:g} rps of steady traffic is cheaper on instances")
    if ctx.kind == "llm" or ctx.c.gpu_required:
        blockers.append("serverless inference has no GPUs")
    if ctx.private:
        blockers.append("serverless inference cannot run inside a VPC")
    if ctx.avoids("serverless"):
        blockers.append("serverless is on the avoid list")
    if blockers:
        return False, "; ".join(blockers)
    instance, _ = _endpoint_instance(ctx)
    endpoint_cost = ctx.hourly(instance) * HOURS_PER_MONTH
    if ctx.prefers("serverless"):
        return True, "serverless was preferred and traffic is low with a relaxed latency target"
    if ctx.lean:
        return True, "the first design was over budget and traffic is low"
    if endpoint_cost > 0.25 * ctx.budget_usd:
        return True, (
            f"an always-on endpoint (~{_usd(endpoint_cost)}/month) is over 25% of the "
            f"{_usd(ctx.budget_usd)} budget for low traffic"
        )
    return False, "an always-on endpoint avoids cold starts and is affordable within budget"


def _serverless_part(ctx: _Ctx, why: str) -> _Part:
    memory = 6 if ctx.kind == "deep" else 2
    requests = _requests_per_month(ctx)
    component = _comp(
        ctx,
        "serverless_inference",
        "sagemaker_serverless_inference",
        "On-demand model serving that scales to zero",
        ["serving"],
        {
            "memory_gb": memory,
            "requests_per_month": requests,
            "avg_duration_ms": 400 if ctx.kind == "deep" else 100,
            "payload_kb": _payload_kb(ctx),
            "max_concurrency": 20,
            "data_capture": False,
        },
    )
    return _Part(
        components=[component],
        rationale=[
            f"Deployment mode real_time served by SageMaker Serverless Inference ({memory} GB) "
            f"because {why}."
        ],
        alternatives=[
            Alternative(
                option="SageMaker real-time endpoint",
                reason="always-on instances cost more than pay-per-request for this traffic",
            )
        ],
        risks=[
            "Serverless cold starts add seconds to the first requests after idle periods.",
            "Serverless inference has no data capture; request logging for drift "
            "monitoring must be done by the caller.",
        ],
    )


def _realtime_serving(ctx: _Ctx) -> _Part:
    use_serverless, why = _serverless_choice(ctx)
    if use_serverless:
        return _serverless_part(ctx, why)
    component, sentence = _endpoint_component(ctx)
    part = _Part(
        components=[component],
        rationale=[f"Deployment mode real_time: {sentence}"],
        alternatives=[Alternative(option="SageMaker Serverless Inference", reason=why)],
    )
    if component.config["instance_count"] == 1:
        part.risks.append("A single endpoint instance sits in one AZ; an AZ outage stops serving.")
    return part


def _streaming_serving(ctx: _Ctx) -> _Part:
    rps = ctx.rps or 100.0
    capacity = ctx.catalogue.capacity
    shard_rate = capacity.kinesis_shard_records_per_second * capacity.target_utilisation
    shards = max(2, math.ceil(rps / shard_rate))
    kpu = max(2, math.ceil(rps / 500))
    events_millions = round(rps * SECONDS_PER_MONTH / 1e6, 2)
    endpoint, sentence = _endpoint_component(ctx)
    components = [
        _comp(
            ctx,
            "event_stream",
            "kinesis_data_streams",
            "Ingests the event stream",
            ["streaming_ingestion"],
            {
                "shards": shards,
                "hours_per_month": HOURS_PER_MONTH,
                "records_per_second": rps,
                "retention_hours": 24,
                "encryption": "SSE-KMS with the customer managed key"
                if ctx.cmk
                else "SSE-KMS with the aws/kinesis managed key",
            },
            stores_data=True,
        ),
        _comp(
            ctx,
            "stream_processor",
            "managed_flink",
            "Windowed features and per-event scoring calls",
            ["streaming_ingestion", "data_processing"],
            {"kpu": kpu, "hours_per_month": HOURS_PER_MONTH, "checkpointing": True},
            stores_data=True,
        ),
        _comp(
            ctx,
            "online_feature_store",
            "sagemaker_feature_store",
            "Online features shared by the stream and training",
            ["feature_store"],
            {
                "online_storage_gb": max(1.0, round(ctx.volume_gb * 0.005, 1)),
                "write_units_millions": events_millions,
                "read_units_millions": 0,
                "offline_store": "S3 data lake",
                "write_basis": "the stream processor writes each event's window features "
                "(one 1 KB write unit per event)",
                "read_basis": "the processor scores the window it holds; no online reads",
            },
            stores_data=True,
        ),
        endpoint,
    ]
    assumed = "" if ctx.rps else " (throughput unknown, 100 events/s assumed)"
    part = _Part(
        components=components,
        rationale=[
            f"Deployment mode streaming: Kinesis Data Streams with {shards} shards and Managed "
            f"Flink with {kpu} KPUs handle {rps:g} events/s{assumed}; features are kept in "
            f"the online Feature Store. {sentence}"
        ],
        alternatives=[
            Alternative(
                option="Amazon MSK (Kafka)",
                reason="broker sizing and operations are heavier than Kinesis at this rate",
            ),
            Alternative(
                option="Lambda consumers instead of Flink",
                reason="no managed state for windowed features",
            ),
        ],
    )
    if not ctx.rps:
        part.risks.append("Stream throughput is unknown; shard and KPU counts are assumptions.")
    return part


# --------------------------------------------------------------------------- observability


def _monitor_hours(ctx: _Ctx, serving: Component) -> tuple[float, str]:
    if serving.service == "sagemaker_batch_transform":
        runs = float(serving.config["runs_per_month"])
        return round(runs * 0.5, 2), "after each batch transform run"
    if serving.service == "sagemaker_serverless_inference":
        return 15.0, "daily job over requests logged to S3 (serverless has no data capture)"
    if ctx.lean:
        return 15.0, "daily on captured endpoint traffic (hourly checks cut to fit the budget)"
    return 180.0, "hourly on captured endpoint traffic"


def _observability(ctx: _Ctx, components: list[Component]) -> _Part:
    serving = [c for c in components if {"serving", "batch_inference"} & set(c.capabilities)]
    part = _Part()
    for target in serving[:1]:
        hours, schedule = _monitor_hours(ctx, target)
        part.components.append(
            _comp(
                ctx,
                "model_monitor",
                "sagemaker_model_monitor",
                f"Data-quality and drift checks on {target.id}",
                ["monitoring"],
                {"instance_type": "ml.m5.xlarge", "hours_per_month": hours, "schedule": schedule},
            )
        )
        part.rationale.append(f"Model Monitor checks drift {schedule}.")
    instances = sum(
        int(c.config.get("instance_count", 0)) for c in serving if c.service == "sagemaker_endpoint"
    )
    streaming = ctx.mode == DeploymentMode.STREAMING
    part.components.append(
        _comp(
            ctx,
            "observability",
            "cloudwatch",
            "Logs, metrics, dashboards and alarms",
            ["monitoring"],
            {
                "log_gb_per_month": round(
                    5.0
                    + 5.0 * instances
                    + (20.0 if streaming else 0.0)
                    + min(50.0, ctx.runs_per_month * 0.2),
                    2,
                ),
                "custom_metrics": 10 + 5 * instances + (10 if streaming else 0),
                "alarms": 4
                + (4 if instances else 0)
                + (3 if streaming else 0)
                + (2 if ctx.mode == DeploymentMode.BATCH else 0),
                "log_retention_days": 365 if ctx.regulated else 90,
            },
            stores_data=True,
        )
    )
    return part


# --------------------------------------------------------------------------- containers


def _containers(ctx: _Ctx) -> _Part:
    if not ctx.custom_containers:
        return _Part(
            rationale=[
                "Built-in SageMaker framework containers are used, so no ECR repository "
                f"is needed for {', '.join(ctx.frameworks) or 'this workload'}."
            ]
        )
    storage = 30 if ctx.kind == "llm" else 10
    return _Part(
        components=[
            _comp(
                ctx,
                "container_registry",
                "ecr",
                "Custom training and inference images",
                ["container_registry"],
                {"storage_gb": storage, "image_scanning": True, "immutable_tags": True},
                stores_data=True,
            )
        ],
        rationale=[
            f"Custom containers ({ctx.kind}, {', '.join(ctx.frameworks) or 'deep learning'}) "
            "are stored in ECR with image scanning."
        ],
    )


# --------------------------------------------------------------------------- security


def _kms(ctx: _Ctx) -> Component:
    return _comp(
        ctx,
        "kms_cmk",
        "kms",
        "Customer managed key for S3, SageMaker volumes, logs and streams",
        ["encryption"],
        {
            "keys": 2 if ctx.regulated else 1,
            "requests_10k": 20 if ctx.mode == DeploymentMode.BATCH else 100,
            "rotation": True,
            "s3_bucket_keys": True,
        },
    )


def _security(ctx: _Ctx) -> tuple[_Part, EncryptionPlan]:
    part = _Part()
    if not ctx.cmk:
        part.rationale.append(
            "No sensitive data or compliance regime is stated, so AWS-managed encryption "
            "(SSE-S3, TLS in transit) is used instead of a customer managed key."
        )
        return part, EncryptionPlan(at_rest="aws-managed", in_transit_tls=True)
    drivers = _drivers(ctx)
    part.components.append(_kms(ctx))
    part.rationale.append(
        f"Data classes/compliance ({drivers}) require a KMS customer managed key with "
        "automatic rotation."
    )
    runs = _processing_runs(ctx)
    events = round(max(1.0, ctx.volume_gb * 10 * runs / 1e6), 2)
    part.components.append(
        _comp(
            ctx,
            "audit_trail",
            "cloudtrail",
            "S3 object-level data events for audit",
            ["audit"],
            {"data_events_millions": events, "log_file_validation": True},
        )
    )
    part.rationale.append(f"CloudTrail data events audit every access to the data ({drivers}).")
    if {"pii", "phi", "pci"} & set(ctx.sensitivity):
        scanned = round(min(ctx.volume_gb, max(50.0, ctx.volume_gb * 0.1)), 1)
        part.components.append(
            _comp(
                ctx,
                "pii_discovery",
                "macie",
                "Discovers personal, health and card data in the buckets",
                ["pii_discovery"],
                {
                    "gb_scanned": scanned,
                    "mode": "automated sampling, ~10% of the data a month (min 50 GB)",
                },
            )
        )
        part.rationale.append(
            f"Amazon Macie samples {_gb(scanned)} a month because the data holds "
            f"{', '.join(s.upper() for s in ctx.sensitivity)}."
        )
    return part, EncryptionPlan(at_rest="aws-kms-cmk", in_transit_tls=True, kms_key_rotation=True)


# --------------------------------------------------------------------------- networking


def _endpoint_names(components: list[Component]) -> list[str]:
    services = {c.service for c in components}
    names = ["s3", "sagemaker.api", "sagemaker.runtime", "kms", "logs"]
    optional = [
        ("ecr", ["ecr.api", "ecr.dkr"]),
        ("kinesis_data_streams", ["kinesis-streams"]),
        ("sagemaker_feature_store", ["sagemaker.featurestore-runtime"]),
        ("glue_etl", ["glue"]),
        ("athena", ["athena"]),
    ]
    for service, extra in optional:
        if service in services:
            names.extend(n for n in extra if n not in names)
    return names


def _networking(ctx: _Ctx, components: list[Component]) -> tuple[_Part, NetworkPlan]:
    if not ctx.private:
        return _Part(
            rationale=[
                "No sensitive data and no HIPAA/PCI-DSS scope, so jobs use SageMaker-managed "
                "networking: no VPC endpoints and no NAT gateway are needed."
            ],
            alternatives=[
                Alternative(
                    option="Private VPC with interface endpoints",
                    reason="adds fixed hourly cost without a data-protection requirement",
                )
            ],
        ), NetworkPlan()
    names = _endpoint_names(components)
    azs = 3 if ctx.c.high_availability else 2
    component = _comp(
        ctx,
        "vpc_endpoints",
        "vpc_interface_endpoints",
        "PrivateLink access to AWS APIs from private subnets",
        ["private_networking"],
        {
            "endpoints": len(names) - 1,
            "azs": azs,
            "hours_per_month": HOURS_PER_MONTH,
            "gateway_endpoints": "s3",
        },
    )
    drivers = _drivers(ctx)
    part = _Part(
        components=[component],
        rationale=[
            f"Sensitive data/compliance ({drivers}) keep all data and compute in private "
            f"subnets across {azs} AZs with VPC endpoints ({', '.join(names)}) and no internet "
            "egress; no NAT gateway, so packages must be baked into container images."
        ],
        alternatives=[
            Alternative(
                option="NAT gateway for outbound access",
                reason="opens internet egress from subnets holding regulated data",
            )
        ],
    )
    network = NetworkPlan(
        vpc=True,
        private_subnets=True,
        vpc_endpoints=names,
        nat_gateway=False,
        internet_egress=False,
    )
    return part, network


# --------------------------------------------------------------------------- CI/CD


def _iac_sentence(ctx: _Ctx) -> str:
    if any("terraform" in s for s in ctx.skills):
        return "The team knows Terraform, and the infrastructure code is Terraform."
    if ctx.skills:
        return (
            f"The team lists {', '.join(ctx.c.team_skills)}; the infrastructure code is "
            "Terraform (one module per chosen service), applied by the deploy workflow."
        )
    return "The infrastructure code is Terraform, applied by the deploy workflow."


def _kubernetes_alternative(ctx: _Ctx) -> tuple[str | None, Alternative]:
    if ctx.avoids("eks", "kubernetes", "k8s"):
        return (
            "EKS/Kubernetes is on the avoid list, so every stage uses managed SageMaker services.",
            Alternative(option="Amazon EKS with KServe/Kubeflow", reason="avoided by the team"),
        )
    if any(s in ("kubernetes", "eks", "k8s") for s in ctx.skills):
        reason = "the team knows Kubernetes, but managed SageMaker removes cluster operations"
    else:
        reason = "the team has no stated Kubernetes skills; cluster operations would dominate"
    return None, Alternative(option="Amazon EKS with KServe/Kubeflow", reason=reason)


def _cicd(ctx: _Ctx) -> _Part:
    component = _comp(
        ctx,
        "ci_cd_pipeline",
        "github_actions",
        "Lint, test, build the pipeline and promote models staging > prod",
        ["ci_cd"],
        {
            "workflows": 2,
            "prod_approval_gate": True,
            "iac": "terraform",
            "deploy_auth": "GitHub OIDC role, no stored AWS keys",
            "stages": "lint > test > terraform plan > staging > smoke test > approval > prod",
        },
    )
    kube_sentence, kube_alt = _kubernetes_alternative(ctx)
    rationale = [
        "GitHub Actions runs CI (lint, tests, terraform fmt/validate) and the deploy "
        "workflow, which promotes an approved model staging > smoke test > manual approval "
        "> prod.",
        _iac_sentence(ctx),
    ]
    if kube_sentence:
        rationale.append(kube_sentence)
    if ctx.prefers("sagemaker"):
        rationale.append("SageMaker is the team's preferred platform and is used end to end.")
    alternatives = [
        kube_alt,
        Alternative(
            option="AWS CodePipeline with AWS CDK",
            reason="the generated repository deploys from GitHub Actions with Terraform",
        ),
    ]
    return _Part(components=[component], rationale=rationale, alternatives=alternatives)


# --------------------------------------------------------------------------- budget


BATCH_LATENCY_MS = 3_600_000
"""A latency target at or above an hour is met by scheduled batch scoring."""


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _environments_text(priced: CostEstimate) -> str:
    parts = " + ".join(f"{e.name} {_money(e.monthly_usd)}" for e in priced.environments)
    return f"{_money(priced.monthly_total_usd)}/month ({parts})"


def _component_cost(priced: CostEstimate, *services: str, plan: Plan) -> float:
    ids = {c.id for c in plan.components if c.service in services}
    return round(sum(i.monthly_usd for i in priced.line_items if i.component_id in ids), 2)


def _batch_allowed(ctx: _Ctx) -> bool:
    return (
        ctx.mode == DeploymentMode.REAL_TIME
        and ctx.latency_ms is not None
        and ctx.latency_ms >= BATCH_LATENCY_MS
    )


def _lean_context(ctx: _Ctx, first_usd: float) -> _Ctx:
    lean = replace(ctx, first_cut_usd=first_usd)
    if _batch_allowed(ctx):
        hours = max(1.0, (ctx.latency_ms or BATCH_LATENCY_MS) / BATCH_LATENCY_MS)
        lean = replace(lean, mode=DeploymentMode.BATCH, scoring_runs=round(HOURS_PER_MONTH / hours))
    return lean


def _levers_tried(
    ctx: _Ctx, first: Plan, first_cost: CostEstimate, lean: Plan, lean_cost: CostEstimate
) -> list[str]:
    """One sentence per cheaper alternative the planner knows: applied, or why not."""
    tried = []
    first_training = first.by_service("sagemaker_training")[0].config
    lean_training = lean.by_service("sagemaker_training")[0].config
    if ctx.c.use_spot_training is False:
        tried.append("spot training: declined by the user")
    elif first_training["spot"]:
        tried.append("spot training: already used")
    elif lean_training["spot"]:
        before = _component_cost(first_cost, "sagemaker_training", plan=first)
        after = _component_cost(lean_cost, "sagemaker_training", plan=lean)
        tried.append(f"spot training: applied (training {_money(before)} → {_money(after)})")
    endpoints = first.by_service("sagemaker_endpoint")
    if endpoints:
        cfg = endpoints[0].config
        tried.append(
            "smaller instances: the endpoint already runs the cheapest catalogue type for "
            f"the rate ({cfg['instance_count']} x {cfg['instance_type']})"
        )
        if lean.by_service("sagemaker_serverless_inference"):
            tried.append("serverless inference: applied")
        elif ctx.mode == DeploymentMode.REAL_TIME:
            _, why = _serverless_choice(replace(ctx, first_cut_usd=first_cost.monthly_total_usd))
            tried.append(f"serverless inference: not possible ({why})")
        if lean.deployment_mode == DeploymentMode.BATCH:
            tried.append(
                f"batch instead of real-time: applied (the {ctx.latency_ms:,} ms target "
                "allows scheduled scoring)"
            )
        else:
            target = f"the {ctx.latency_ms:,} ms target" if ctx.latency_ms else "online serving"
            tried.append(
                f"batch instead of real-time: not possible ({target} needs an always-on endpoint)"
            )
    monitors = [p.by_service("sagemaker_model_monitor") for p in (first, lean)]
    if all(monitors) and monitors[0][0].config != monitors[1][0].config:
        tried.append("drift checks: hourly cut to daily")
    return tried


def _budget_sentences(
    ctx: _Ctx, priced: CostEstimate, first_cost: CostEstimate | None, tried: list[str]
) -> tuple[list[str], list[str]]:
    """Rationale and risks about the budget, quoting the estimate's own figures."""
    budget = ctx.budget_usd
    total = priced.monthly_total_usd
    rationale, risks = [], []
    if first_cost is not None:
        rationale.append(
            f"The first design was estimated at {_environments_text(first_cost)}, over the "
            f"{_money(budget)} budget, so cheaper alternatives were tried: {'; '.join(tried)}."
        )
    share = total / budget if budget else 0.0
    figure = f"The estimate from the pricing catalogue is {_environments_text(priced)}"
    if total > budget:
        rationale.append(
            f"{figure}, {_money(total - budget)} over the {_money(budget)} budget; "
            "raise the budget or relax the throughput, latency or cadence."
        )
        risks.append(f"The estimate ({_money(total)}/month) is over the {_money(budget)} budget.")
    elif share > 0.85:
        rationale.append(f"{figure}, {share:.0%} of the {_money(budget)} budget.")
        risks.append("Budget headroom is thin: little room for traffic or data growth.")
    else:
        rationale.append(f"{figure}, within the {_money(budget)} budget ({share:.0%}).")
    return rationale, risks


# --------------------------------------------------------------------------- assembly


def _plan_name(c: ConstraintSchema, mode: DeploymentMode) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", (c.summary or "").lower()) if w not in _STOPWORDS]
    base = "-".join(words[:4]) or _norm_token(c.problem_type or "ml-workload").replace("_", "-")
    mode_slug = mode.value.replace("_", "-")
    if mode_slug not in base:
        base = f"{base}-{mode_slug}"
    return f"{base}-{c.region}"


def _serving_label(components: list[Component]) -> str:
    for component in components:
        cfg = component.config
        if component.service == "sagemaker_endpoint":
            return f"a {cfg['instance_count']} x {cfg['instance_type']} real-time endpoint"
        if component.service == "sagemaker_serverless_inference":
            return f"serverless inference ({cfg['memory_gb']} GB)"
        if component.service == "sagemaker_batch_transform":
            return f"{cfg['instance_count']} x {cfg['instance_type']} batch transform"
    return "no serving"


def _headline(ctx: _Ctx, components: list[Component]) -> str:
    by_id = {c.id: c for c in components}
    training = by_id["model_training"].config
    processing = by_id["feature_processing"]
    spot = " spot" if training["spot"] else ""
    processing_label = "Glue ETL" if processing.service == "glue_etl" else "SageMaker Processing"
    text = (
        f"{_serving_label(components)}, {training['instance_type']}{spot} training and "
        f"{processing_label}"
    )
    if ctx.mode == DeploymentMode.STREAMING:
        text = f"Kinesis + Managed Flink ingestion, {text}"
    if ctx.private:
        text += ", in private subnets with a KMS CMK"
    return text


def _confidence(ctx: _Ctx) -> float:
    c = ctx.c
    unknown = [
        c.problem_type is None,
        c.retraining_cadence is None,
        not c.frameworks,
        not c.team_skills,
        ctx.mode != DeploymentMode.BATCH and c.throughput_rps is None,
        ctx.mode == DeploymentMode.STREAMING and c.latency_target_ms is None,
    ]
    return round(max(0.5, 0.9 - 0.05 * sum(unknown)), 2)


def plan_for(constraints: ConstraintSchema) -> tuple[Plan, Explanation]:
    """Plan an MLOps architecture on AWS for complete constraints.

    The draft is priced with the cost estimator (staging and prod); a draft over budget
    is re-planned with the cheaper alternatives the planner knows (spot training,
    serverless inference, batch scoring where the latency allows, daily drift checks),
    and the rationale says what was tried and quotes the estimate's figures.

    Args:
        constraints: the workload's constraints; every mandatory field must be known
            (``latency_p99_ms`` too for real-time serving).

    Returns:
        The plan and the explanation of its main decision. The same constraints always
        give an equal plan.

    Raises:
        ValueError: if mandatory fields are missing; the message names them.
    """
    missing = constraints.missing_mandatory()
    if missing:
        raise ValueError(f"cannot plan: mandatory fields unknown: {', '.join(missing)}")
    ctx = _context(constraints)
    plan, explanation = _assemble(ctx)
    priced = estimate(plan, constraints, ctx.catalogue)
    first_cost: CostEstimate | None = None
    tried: list[str] = []
    if priced.monthly_total_usd > ctx.budget_usd:
        lean_ctx = _lean_context(ctx, priced.monthly_total_usd)
        lean_plan, lean_explanation = _assemble(lean_ctx)
        lean_cost = estimate(lean_plan, constraints, ctx.catalogue)
        first_cost = priced
        tried = _levers_tried(ctx, plan, priced, lean_plan, lean_cost)
        if lean_cost.monthly_total_usd < priced.monthly_total_usd:
            ctx, plan, explanation, priced = lean_ctx, lean_plan, lean_explanation, lean_cost
        else:
            tried.append("none of them lowered the estimate, so the first design is kept")
    rationale, risks = _budget_sentences(ctx, priced, first_cost, tried)
    plan = plan.model_copy(
        update={"rationale": [*plan.rationale, *rationale], "risks": [*plan.risks, *risks]}
    )
    explanation = explanation.model_copy(
        update={"rationale": " ".join([explanation.rationale, *rationale])}
    )
    return plan, explanation


def _assemble(ctx: _Ctx) -> tuple[Plan, Explanation]:
    constraints = ctx.c
    parts = _Part()
    for builder in (_region_part, _storage, _processing, _training, _orchestration, _serving):
        parts.extend(builder(ctx))
    parts.extend(_observability(ctx, parts.components))
    parts.extend(_containers(ctx))
    security, encryption = _security(ctx)
    parts.extend(security)
    network_part, network = _networking(ctx, parts.components)
    parts.extend(network_part)
    parts.extend(_cicd(ctx))
    headline = _headline(ctx, parts.components)
    mode_word = ctx.mode.value.replace("_", "-")
    plan = Plan(
        name=_plan_name(constraints, ctx.mode),
        region=ctx.region,
        deployment_mode=ctx.mode,
        summary=f"SageMaker {mode_word} {ctx.kind} ML architecture in {ctx.region} with "
        f"{headline}.",
        components=parts.components,
        networking=network,
        encryption=encryption,
        rationale=parts.rationale,
        alternatives=parts.alternatives,
        risks=parts.risks,
    )
    explanation = Explanation(
        decision=f"SageMaker {mode_word} architecture in {ctx.region} with {headline}",
        rationale=" ".join(parts.rationale),
        alternatives=parts.alternatives,
        confidence=_confidence(ctx),
    )
    return plan, explanation
