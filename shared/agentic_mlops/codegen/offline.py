"""The offline code generator: Jinja2 templates rendered from the approved plan.

Every file of the generated repository is a template under ``templates/repo`` (``dot_``
path segments become dot-files, the ``.j2`` suffix is dropped). A few files only exist
for some plans, see :data:`CONDITIONAL_FILES`. The rendering context is derived from the
state by small pure functions below; the templates hold the repository's content.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import textwrap
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import jinja2

from agentic_mlops.codegen.base import CodeGenProvider
from agentic_mlops.domain import Component, ConstraintSchema, MLOpsProjectState, Plan
from agentic_mlops.domain.services import RESIDENCY_REGIONS, SERVICES
from agentic_mlops.errors import InvalidInput

_REPO_PREFIX = "repo/"

CONDITIONAL_FILES: dict[str, str] = {
    "infra/terraform/kms.tf": "kms",
    "infra/terraform/network.tf": "vpc",
    "infra/terraform/endpoint.tf": "endpoint",
    "infra/terraform/batch.tf": "batch",
    "infra/terraform/streaming.tf": "streaming",
    "infra/terraform/feature_store.tf": "feature_store",
    "infra/terraform/schedule.tf": "scheduler",
    "infra/terraform/ecr.tf": "ecr",
    "infra/terraform/audit.tf": "audit",
    "infra/terraform/glue.tf": "glue",
    "infra/terraform/model_monitor.tf": "monitor",
    "streaming/processor.py": "flink",
    "streaming/windows.py": "flink",
    "streaming/__init__.py": "flink",
    "tests/test_streaming.py": "flink_features",
    "pipelines/online_features.py": "feature_store",
    "glue/feature_job.py": "glue_etl",
    "docker/training.Dockerfile": "ecr",
}
"""Generated files that exist only when the plan has the named feature (see ``_features``)."""

_FRAMEWORKS: dict[str, tuple[str, str]] = {
    # requested name: (framework used, family)
    "xgboost": ("xgboost", "tabular"),
    "lightgbm": ("xgboost", "tabular"),
    "catboost": ("xgboost", "tabular"),
    "sklearn": ("sklearn", "tabular"),
    "scikit_learn": ("sklearn", "tabular"),
    "pytorch": ("pytorch", "deep"),
    "torch": ("pytorch", "deep"),
    "tensorflow": ("pytorch", "deep"),
    "keras": ("pytorch", "deep"),
    "huggingface": ("huggingface", "llm"),
    "transformers": ("huggingface", "llm"),
}

_FRAMEWORK_DETAILS: dict[str, dict[str, Any]] = {
    "xgboost": {
        "version": "1.7-1",
        "py_version": "py3",
        "module": "xgboost",
        "local_requirements": ["xgboost>=1.7,<2"],
        "base_image": "pytorch-training:2.1.0-cpu-py310-ubuntu20.04-sagemaker",
        "image_extras": "xgboost>=1.7,<2",
    },
    "sklearn": {
        "version": "1.2-1",
        "py_version": "py3",
        "module": "sklearn",
        "local_requirements": ["scikit-learn>=1.2,<2", "joblib>=1.2"],
        "base_image": "pytorch-training:2.1.0-cpu-py310-ubuntu20.04-sagemaker",
        "image_extras": "scikit-learn>=1.2,<2",
    },
    "pytorch": {
        "version": "2.1",
        "py_version": "py310",
        "module": "torch",
        "local_requirements": ["torch>=2.1"],
        "base_image": "pytorch-training:2.1.0-gpu-py310-cu121-ubuntu20.04-sagemaker",
        "image_extras": "torchmetrics>=1.0,<2",
    },
    "huggingface": {
        "version": "4.36",
        "pytorch_version": "2.1",
        "py_version": "py310",
        "module": "transformers",
        "local_requirements": ["transformers>=4.36", "datasets>=2.16", "peft>=0.10"],
        "base_image": "huggingface-pytorch-training:"
        "2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04",
        "image_extras": "peft>=0.10,<1",
    },
}
"""Managed container versions and local requirements of each supported framework."""

_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "xgboost": {"max_depth": 6, "eta": 0.2, "subsample": 0.8, "num_round": 200},
    "sklearn": {"n_estimators": 200, "max_depth": 8, "min_samples_leaf": 5},
    "sklearn-anomaly": {"n_estimators": 200, "max_samples": 256, "contamination": 0.01},
    "sklearn-recommendation": {"neighbours": 50, "k": 10},
    "pytorch-image": {
        "architecture": "resnet18",
        "epochs": 10,
        "batch_size": 64,
        "learning_rate": 0.0003,
        "image_size": 224,
    },
    "pytorch": {"epochs": 20, "batch_size": 256, "learning_rate": 0.001, "hidden_units": 128},
    "huggingface": {
        "base_model": "meta-llama/Meta-Llama-3-8B",  # its weights: s3://<bucket>/base-models/
        "epochs": 1,
        "per_device_train_batch_size": 4,
        "learning_rate": 0.0002,
        "lora_r": 16,
        "lora_alpha": 32,
        "max_seq_length": 2048,
    },
}

_REGRESSION_PROBLEMS = ("regression", "forecasting")

MAX_RUN_SECONDS = 28 * 24 * 3600
"""SageMaker's limit on a training job's ``max_run`` (and ``max_wait``): 28 days."""

MAX_VOLUME_GB = 16384
"""The largest EBS volume a SageMaker job can attach (16 TiB)."""

PROCESSING_GB_PER_INSTANCE = 1000.0
"""Input one processing instance handles; above it the input is sharded over more instances."""

FAST_FILE_ABOVE_GB = 100.0
"""Above this training input, data is streamed with FastFile instead of copied (File)."""

_INPUT_MODES = ("File", "FastFile", "Pipe")
_DISTRIBUTIONS = ("none", "data_parallel", "torchrun")

_MIN_LOG_RETENTION_DAYS = 365
"""Security baseline (checkov CKV_AWS_338): log groups keep at least a year of logs."""

_RETENTION_DAYS = (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
"""CloudWatch Logs retention values of at least a year."""

_INSTANCE_STORAGE = re.compile(r"^ml\.(g4dn|g5|g6|g6e|p3dn|p4d|p4de|p5|m5d|c5d|r5d|inf2|trn1)\.")
"""Instance families with NVMe instance storage; SageMaker rejects a KMS key for their volumes."""


class OfflineCodeGen(CodeGenProvider):
    """Renders the repository of an approved plan from the packaged Jinja2 templates."""

    name = "offline-templates"

    def __init__(self) -> None:
        """Create the Jinja2 environment over the package's templates."""
        self._env = _environment()

    def template_hash(self) -> str:
        """Return the sha256 over every template file (path and bytes), sorted by path."""
        return _template_hash()

    def generate(self, state: MLOpsProjectState) -> dict[str, str]:
        """Render the repository for the state's plan and final constraints.

        Args:
            state: The approved state; ``plan`` and ``constraints`` must be set.

        Returns:
            POSIX relative path -> file text, sorted by path; identical for equal states.

        Raises:
            InvalidInput: if the state has no plan or no constraints.
        """
        context = build_context(state)
        selected = {
            output_path(name): name
            for name in self._env.list_templates(extensions=["j2"])
            if name.startswith(_REPO_PREFIX)
            and context["has"].get(CONDITIONAL_FILES.get(output_path(name), "always"), True)
        }
        context["tree"] = file_tree(sorted(selected))
        return {
            path: self._env.get_template(selected[path]).render(context)
            for path in sorted(selected)
        }


def output_path(template_name: str) -> str:
    """Return the repository path of a template (``repo/dot_github/x.yml.j2`` -> ``.github/x.yml``).

    Args:
        template_name: The template's name relative to the templates folder.

    Returns:
        The generated file's POSIX path.
    """
    parts = template_name.removeprefix(_REPO_PREFIX).removesuffix(".j2").split("/")
    return "/".join("." + p.removeprefix("dot_") if p.startswith("dot_") else p for p in parts)


def file_tree(paths: list[str]) -> list[str]:
    """Return the lines of a ``tree``-style drawing of file paths.

    Args:
        paths: POSIX relative paths.

    Returns:
        One line per folder and file, folders first within each level.
    """
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for part in path.split("/"):
            node = node.setdefault(part, {})
    return [".", *_tree_lines(root, "")]


def _tree_lines(node: dict[str, Any], prefix: str) -> list[str]:
    names = sorted(node, key=lambda n: (not node[n], n))
    lines: list[str] = []
    for index, name in enumerate(names):
        last = index == len(names) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{name}{'/' if node[name] else ''}")
        lines.extend(_tree_lines(node[name], prefix + ("    " if last else "│   ")))
    return lines


# --------------------------------------------------------------------------- environment


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agentic_mlops.codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        json=_json,
        hcl=_hcl_string,
        py=_py_string,
        md=_markdown,
        pycomment=_py_comment,
        usd=lambda value: f"${value:,.2f}",
        pyliteral=_py_literal,
    )
    return env


def _json(value: Any, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)


def _hcl_string(value: Any) -> str:
    """Quote text as an HCL string, escaping interpolation sequences."""
    text = json.dumps(" ".join(str(value).split()), ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")


def _py_string(value: Any) -> str:
    return json.dumps(" ".join(str(value).split()), ensure_ascii=True)


def _py_literal(value: Any, indent: int = 0) -> str:
    """Return a Python literal of JSON-like data (dicts one key per line, sorted)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = " " * (indent + 4)
        items = [
            f"{pad}{json.dumps(str(k))}: {_py_literal(v, indent + 4)},"
            for k, v in sorted(value.items())
        ]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_py_literal(v, indent) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _markdown(value: Any) -> str:
    """Return text safe inside a Markdown table cell (one line, pipes escaped)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _py_comment(value: Any, indent: int = 0, width: int = 100) -> str:
    """Wrap text into ``#`` comment lines (the first line has no leading indentation)."""
    lines = textwrap.wrap(" ".join(str(value).split()), width=width - indent - 2) or [""]
    return ("\n" + " " * indent).join(f"# {line}".rstrip() for line in lines)


def _template_files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.extend(_template_files(entry, f"{path}/"))
        else:
            found.append((path, entry))
    return found


@cache
def _template_hash() -> str:
    digest = hashlib.sha256()
    folder = resources.files("agentic_mlops.codegen") / "templates"
    for path, entry in sorted(_template_files(folder), key=lambda item: item[0]):
        digest.update(path.encode("utf-8") + b"\0")
        digest.update(entry.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- context


def build_context(state: MLOpsProjectState) -> dict[str, Any]:
    """Return the template context derived from a state.

    Args:
        state: The approved state with a plan and constraints.

    Returns:
        A dict of plain values and the state's models; no clock, no randomness.

    Raises:
        InvalidInput: if the state has no plan or no constraints.
    """
    plan, constraints = state.plan, state.constraints
    if plan is None or constraints is None:
        raise InvalidInput("code generation needs an approved plan and its constraints")
    comp = {service: plan.by_service(service)[0] for service in plan.services()}
    if "sagemaker_training" not in comp:
        raise InvalidInput("code generation needs a plan with a sagemaker_training component")
    framework = _framework(constraints)
    sizing = job_sizing(comp, constraints, framework["name"])
    return {
        "plan": plan,
        "c": constraints,
        "comp": comp,
        "components": plan.components,
        "human": {key: value[0] for key, value in SERVICES.items()},
        "name": project_slug(plan),
        "model_package_group": f"{project_slug(plan)}-models",
        "has": _features(plan, comp),
        "cmk": "kms" in comp,
        "framework": framework,
        "task": _task(constraints, framework["family"]),
        "hyperparameters": _hyperparameters(framework["name"], constraints),
        "data": _data(comp, framework["name"]),
        **_serving(comp),
        "training": {
            **_training(comp["sagemaker_training"], constraints, state),
            **sizing["training"],
        },
        "processing": sizing["processing"],
        "schedules": _schedules(comp),
        "monitor": _monitor(plan, comp),
        **_sizing(plan, constraints, comp),
        "approval": _approval(state),
        "cost": state.cost,
        "policy": state.policy,
        "critique": state.technical_critique,
    }


def project_slug(plan: Plan, limit: int = 28) -> str:
    """Return a short resource-name prefix from the plan name (region suffix dropped).

    Args:
        plan: The plan whose name is shortened.
        limit: Maximum length; whole words are kept.

    Returns:
        Lower-case words joined by hyphens, at most ``limit`` characters.
    """
    base = re.sub(r"[^a-z0-9]+", "-", plan.name.lower()).strip("-")
    base = base.removesuffix(f"-{plan.region}") or "mlops"
    words: list[str] = []
    for word in base.split("-"):
        if len("-".join([*words, word])) > limit:
            break
        words.append(word)
    return "-".join(words) or base[:limit].strip("-")


def _features(plan: Plan, comp: dict[str, Component]) -> dict[str, bool]:
    services = set(comp)
    scheduler = comp.get("eventbridge_scheduler")
    schedule = str(scheduler.config.get("schedule", "")) if scheduler else ""
    return {
        "kms": "kms" in services,
        "vpc": plan.networking.vpc,
        "endpoint": "sagemaker_endpoint" in services,
        "batch": "sagemaker_batch_transform" in services,
        "streaming": bool(services & {"kinesis_data_streams", "managed_flink"}),
        "kinesis": "kinesis_data_streams" in services,
        "flink": "managed_flink" in services,
        "flink_features": {"managed_flink", "sagemaker_feature_store"} <= services,
        "feature_store": "sagemaker_feature_store" in services,
        "scheduler": "eventbridge_scheduler" in services
        and schedule.startswith(("cron(", "rate(")),
        "ecr": "ecr" in services,
        "cloudtrail": "cloudtrail" in services,
        "macie": "macie" in services,
        "audit": bool(services & {"cloudtrail", "macie"}),
        "glue": bool(services & {"glue_etl", "glue_data_catalog", "athena"}),
        "glue_etl": "glue_etl" in services,
        "glue_catalog": bool(services & {"glue_data_catalog", "athena", "glue_etl"}),
        "athena": "athena" in services,
        "monitor": "sagemaker_model_monitor" in services,
        "serverless": "sagemaker_serverless_inference" in services,
    }


def _framework(constraints: ConstraintSchema) -> dict[str, str]:
    requested = [re.sub(r"[^a-z0-9]+", "_", f.lower()).strip("_") for f in constraints.frameworks]
    for name in requested:
        if name in _FRAMEWORKS:
            used, family = _FRAMEWORKS[name]
            note = "" if used == name or name == "scikit_learn" else f"{name} requested; {used}"
            return {
                "name": used,
                "family": family,
                "requested": name,
                "note": note,
                **_FRAMEWORK_DETAILS[used],
            }
    problem = (constraints.problem_type or "").lower()
    if "llm" in problem:
        used = "huggingface"
    elif problem == "anomaly_detection":
        used = "sklearn"  # unsupervised: an isolation forest needs no labels
    elif problem == "recommendation":
        used = "sklearn"  # item-to-item collaborative filtering, served by its container
    elif problem == "computer_vision" or constraints.gpu_required or problem in ("nlp",):
        used = "pytorch"
    else:
        used = "xgboost"
    family = _FRAMEWORKS[used][1]
    return {"name": used, "family": family, "requested": "", "note": "", **_FRAMEWORK_DETAILS[used]}


def _hyperparameters(framework: str, constraints: ConstraintSchema) -> dict[str, Any]:
    if framework == "sklearn" and constraints.problem_type == "anomaly_detection":
        return dict(_HYPERPARAMETERS["sklearn-anomaly"])
    if framework == "sklearn" and constraints.problem_type == "recommendation":
        return dict(_HYPERPARAMETERS["sklearn-recommendation"])
    if framework == "pytorch" and constraints.problem_type == "computer_vision":
        return dict(_HYPERPARAMETERS["pytorch-image"])
    values = dict(_HYPERPARAMETERS[framework])
    if framework == "xgboost":
        regression = (constraints.problem_type or "") in _REGRESSION_PROBLEMS
        values["objective"] = "reg:squarederror" if regression else "binary:logistic"
        values["eval_metric"] = "rmse" if regression else "auc"
    return values


def _data(comp: dict[str, Component], framework: str = "") -> dict[str, Any]:
    glue = "glue_etl" in comp
    extra = {"base_model_prefix": "base-models/"} if framework == "huggingface" else {}
    return {
        **extra,
        "input_prefix": "processed/features/" if glue else "raw/",
        "label": "label",
        "id_column": "entity_id" if glue else "id",
        "validation_fraction": 0.15,
        "test_fraction": 0.15,
    }


def _serving(comp: dict[str, Component]) -> dict[str, list[str]]:
    endpoint = comp.get("sagemaker_endpoint")
    batch = comp.get("sagemaker_batch_transform")
    default = "ml.m5.large"
    serving = str((endpoint or batch).config["instance_type"]) if endpoint or batch else default
    transform = str(batch.config["instance_type"]) if batch else serving
    return {"serving_instances": [serving], "transform_instances": [transform]}


def _task(constraints: ConstraintSchema, family: str) -> dict[str, Any]:
    return {"forecasting": False, **_task_kind(constraints, family)}


def _task_kind(constraints: ConstraintSchema, family: str) -> dict[str, Any]:
    if family == "llm":
        return {"kind": "llm", "metric": "perplexity", "threshold": 20.0, "higher": False}
    if family == "deep" and constraints.problem_type == "computer_vision":
        # images: a classifier fine-tuned on GPU, gated on the held-out test accuracy
        return {"kind": "image", "metric": "accuracy", "threshold": 0.8, "higher": True}
    if family == "tabular" and constraints.problem_type == "recommendation":
        # ranked items: a user's next interaction must be among the top 10 recommended
        return {
            "kind": "recommendation",
            "metric": "hit_rate_at_10",
            "threshold": 0.05,
            "higher": True,
        }
    if constraints.problem_type == "anomaly_detection":
        # unsupervised: the gate bounds the share of held-out records flagged as anomalies
        return {"kind": "anomaly", "metric": "anomaly_rate", "threshold": 0.05, "higher": False}
    if constraints.problem_type == "forecasting":
        return {
            "kind": "regression",
            "forecasting": True,
            "metric": "r2",
            "threshold": 0.5,
            "higher": True,
        }
    if (constraints.problem_type or "") in _REGRESSION_PROBLEMS:
        return {"kind": "regression", "metric": "r2", "threshold": 0.5, "higher": True}
    return {"kind": "binary", "metric": "auc", "threshold": 0.75, "higher": True}


def _spot_reason(constraints: ConstraintSchema, state: MLOpsProjectState, planned: bool) -> str:
    changed = state.feedback and any(
        change.field == "use_spot_training" for change in state.feedback.changes
    )
    if changed and state.approval and state.approval.comment:
        verb = "enabled" if constraints.use_spot_training else "disabled"
        return f'{verb} by the approver\'s comment "{state.approval.comment}"'
    if constraints.use_spot_training is not None:
        return f"use_spot_training={constraints.use_spot_training} in the approved constraints"
    return "chosen by the planner" if planned else "not requested (on-demand training)"


def volume_gb(data_gb: float | None, instances: int = 1, floor_gb: int = 30) -> int:
    """Return the EBS volume per instance for a job reading ``data_gb`` over ``instances``.

    The one source of the derived volume size: each instance holds its share of the input
    and as much again for outputs and scratch, at least ``floor_gb``, at most 16 TiB.

    Args:
        data_gb: The stated data volume (None: unknown, the floor is used).
        instances: Instances sharing the input.
        floor_gb: The smallest volume.

    Returns:
        The volume size in GB.
    """
    share = float(data_gb or 0.0) / max(1, instances)
    return int(min(MAX_VOLUME_GB, max(floor_gb, math.ceil(share * 2 + 10))))


def job_sizing(
    comp: dict[str, Component], constraints: ConstraintSchema, framework: str
) -> dict[str, dict[str, Any]]:
    """Return the processing and training sizes: the plan's facts, derived where missing.

    Processing is sharded over more instances when the input exceeds what one instance
    handles; training streams large or image inputs with FastFile and runs on several
    instances only with a distribution strategy (XGBoost distributes natively over sharded
    input; PyTorch needs ``torchrun``).
    """
    data_gb = constraints.data_volume_gb
    processing = comp.get("sagemaker_processing") or comp.get("glue_etl")
    pcfg = processing.config if processing else {}
    p_count = int(pcfg.get("instance_count") or 0) or max(
        1, min(20, math.ceil(float(data_gb or 0) / PROCESSING_GB_PER_INSTANCE))
    )
    tcfg = comp["sagemaker_training"].config
    t_count = int(tcfg.get("instance_count", 1))
    image = (constraints.problem_type or "") == "computer_vision"
    mode = str(tcfg.get("input_mode") or "")
    if mode not in _INPUT_MODES:
        mode = "FastFile" if image or float(data_gb or 0) > FAST_FILE_ABOVE_GB else "File"
    distribution = str(tcfg.get("distribution") or "")
    if distribution not in _DISTRIBUTIONS:
        distribution = "none"
    if t_count > 1 and distribution == "none" and framework in ("pytorch", "huggingface"):
        distribution = "torchrun"
    if t_count > 1 and distribution == "none" and framework == "sklearn":
        t_count = 1  # scikit-learn cannot train across instances
    streamed = mode in ("FastFile", "Pipe")
    return {
        "processing": {
            "instance_type": str(pcfg.get("instance_type", "ml.m5.xlarge")),
            "instance_count": p_count,
            # images are only listed (the keys), never copied to the processing volume
            "volume_size_gb": int(
                pcfg.get("volume_size_gb") or volume_gb(0 if image else data_gb, p_count)
            ),
        },
        "training": {
            "instance_count": t_count,
            "input_mode": mode,
            "distribution": distribution,
            "volume_size_gb": int(
                tcfg.get("volume_size_gb") or volume_gb(0 if streamed else data_gb, t_count)
            ),
        },
    }


def _training(
    component: Component, constraints: ConstraintSchema, state: MLOpsProjectState
) -> dict[str, Any]:
    cfg = component.config
    hours = float(cfg.get("hours_per_run", 1.0))
    planned = bool(cfg.get("use_spot", cfg.get("spot")) is True)
    spot = planned if constraints.use_spot_training is None else constraints.use_spot_training
    planned_max = float(cfg.get("max_run_hours", 0) or 0) * 3600
    max_run = min(MAX_RUN_SECONDS, int(planned_max) or max(3600, math.ceil(hours * 5400)))
    max_wait = max(max_run, math.ceil(float(cfg.get("max_wait_hours", hours * 2)) * 3600))
    max_wait = min(MAX_RUN_SECONDS, max_wait)
    return {
        "instance_type": str(cfg["instance_type"]),
        "instance_count": int(cfg.get("instance_count", 1)),
        "hours_per_run": hours,
        "gpu": str(cfg["instance_type"]).startswith(("ml.g", "ml.p")),
        "max_run_seconds": max_run,
        "spot": bool(spot),
        "max_wait_seconds": max_wait,
        "spot_reason": _spot_reason(constraints, state, planned),
        "checkpoints": bool(spot or cfg.get("checkpoint_s3")),
    }


@cache
def _monitor_images() -> dict[str, Any]:
    text = resources.files("agentic_mlops.codegen").joinpath("model_monitor_images.json")
    return json.loads(text.read_text("utf-8"))


def _monitor(plan: Plan, comp: dict[str, Component]) -> dict[str, Any]:
    """Return the Model Monitor job's image, instance and schedule (hourly on an endpoint)."""
    component = comp.get("sagemaker_model_monitor")
    images = _monitor_images()
    account = images["registries"].get(plan.region)
    if component is not None and account is None:
        raise InvalidInput(f"Model Monitor has no analyzer image in {plan.region}")
    cfg = component.config if component else {}
    return {
        "image_account": account or "",
        "image_repository": images["repository"],
        "instance_type": str(cfg.get("instance_type", "ml.m5.xlarge")),
        "volume_size_gb": int(cfg.get("volume_size_gb", 30)),
        "schedule": "cron(0 * ? * * *)" if "sagemaker_endpoint" in comp else "cron(0 6 ? * * *)",
    }


def _cadence(runs_per_month: float, hour: int) -> str:
    if runs_per_month >= 700:
        return "rate(1 hour)"
    if runs_per_month >= 28:
        return f"cron(0 {hour} * * ? *)"
    if runs_per_month >= 4:
        return f"cron(0 {hour} ? * MON *)"
    return f"cron(0 {hour} 1 * ? *)"


def _schedules(comp: dict[str, Component]) -> dict[str, str]:
    schedules = {"retraining": "", "scoring": "", "glue": ""}
    if "eventbridge_scheduler" in comp:
        schedules["retraining"] = str(comp["eventbridge_scheduler"].config.get("schedule", ""))
    if "sagemaker_batch_transform" in comp:
        runs = float(comp["sagemaker_batch_transform"].config.get("runs_per_month", 30))
        schedules["scoring"] = _cadence(runs, 4)
    if "glue_etl" in comp:
        schedules["glue"] = _cadence(float(comp["glue_etl"].config.get("runs_per_month", 30)), 1)
    return schedules


def _sizing(plan: Plan, c: ConstraintSchema, comp: dict[str, Component]) -> dict[str, Any]:
    observability = comp["cloudwatch"].config if "cloudwatch" in comp else {}
    endpoints = comp["vpc_interface_endpoints"].config if "vpc_interface_endpoints" in comp else {}
    glue = comp["glue_etl"].config if "glue_etl" in comp else {}
    endpoint = comp["sagemaker_endpoint"].config if "sagemaker_endpoint" in comp else {}
    endpoint_type = str(endpoint.get("instance_type", ""))
    compliance = {re.sub(r"[^A-Z0-9]", "", x.upper()) for x in c.compliance}
    residency = c.data_residency.value if c.data_residency else ""
    return {
        "two_keys": "kms" in comp and int(comp["kms"].config.get("keys", 1)) >= 2,
        "allowed_regions": list(RESIDENCY_REGIONS.get(residency, ())),
        "plan_log_retention_days": int(observability.get("log_retention_days", 90)),
        "log_retention_days": _retention(int(observability.get("log_retention_days", 90))),
        "access_log_retention_days": 2192 if "HIPAA" in compliance else 365,
        "budget_usd": round(c.budget.monthly_usd, 2) if c.budget else 1000.0,
        "latency_alarm_ms": c.latency_target_ms or 1000,
        "endpoint_instance_storage": bool(_INSTANCE_STORAGE.match(endpoint_type)),
        "glue_workers": min(100, max(2, math.ceil(float(glue.get("dpu_hours_per_run", 4)) / 2))),
        "network": {
            "azs": int(endpoints.get("azs", 2)),
            "zones": [f"{plan.region}{z}" for z in "abc"[: int(endpoints.get("azs", 2))]],
            "interface_endpoints": [e for e in plan.networking.vpc_endpoints if e != "s3"],
        },
    }


def _retention(days: int) -> int:
    """Return the smallest valid CloudWatch retention of at least a year covering ``days``."""
    wanted = max(_MIN_LOG_RETENTION_DAYS, days)
    return next((value for value in _RETENTION_DAYS if value >= wanted), _RETENTION_DAYS[-1])


def _approval(state: MLOpsProjectState) -> dict[str, Any]:
    approval, feedback = state.approval, state.feedback
    changes = [
        {"field": c.field, "old": c.old, "new": c.new, "source": c.source}
        for c in (feedback.changes if feedback else [])
    ]
    return {
        "present": approval is not None,
        "decision": approval.decision if approval else "",
        "approver": approval.approver if approval else "",
        "comment": (approval.comment or "") if approval else "",
        "changes": changes,
        "unrecognised": list(feedback.unrecognised) if feedback else [],
    }
