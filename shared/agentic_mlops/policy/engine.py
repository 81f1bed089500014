"""Policy rules as data, evaluated by a registry of named check functions.

A ruleset file lists rules (id, title, severity, check name, params); each check is a
function ``(constraints, plan, cost, params) -> (status, evidence)`` registered here under
its name. Unknown check names and unknown params are rejected when a ruleset is loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentic_mlops.domain.assessment import CostEstimate, PolicyReport, PolicyResult, Severity
from agentic_mlops.domain.constraints import ConstraintSchema
from agentic_mlops.domain.plan import Component, Plan
from agentic_mlops.domain.services import RESIDENCY_REGIONS
from agentic_mlops.errors import InvalidInput

Status = Literal["pass", "fail", "not_applicable"]
CheckResult = tuple[Status, str]
CheckFunction = Callable[[ConstraintSchema, Plan, CostEstimate | None, dict[str, Any]], CheckResult]
BLOCKING_SEVERITIES: frozenset[str] = frozenset({"high", "critical"})


class PolicyError(InvalidInput, ValueError):
    """A ruleset that cannot be loaded or evaluated; the message names the problem."""


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its function and the params it accepts, with defaults."""

    name: str
    function: CheckFunction
    defaults: dict[str, Any]


CHECKS: dict[str, CheckSpec] = {}
"""Registry of check functions by name."""


def register_check(name: str, **defaults: Any) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``name``; ``defaults`` are its accepted params.

    Args:
        name: The name rules refer to in their ``check`` field.
        **defaults: Every param the check reads, with its default value.

    Returns:
        A decorator that registers and returns the function unchanged.
    """

    def register(function: CheckFunction) -> CheckFunction:
        CHECKS[name] = CheckSpec(name, function, dict(defaults))
        return function

    return register


class Rule(BaseModel):
    """One policy rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
    title: str = Field(min_length=1)
    severity: Severity
    check: str
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class RulesetFile(BaseModel):
    """The content of a ruleset JSON file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ruleset: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    rules: list[Rule] = Field(min_length=1)


class Ruleset(RulesetFile):
    """A validated ruleset with the sha256 of the file it was read from."""

    sha256: str


# --------------------------------------------------------------------------- loading


def _params(rule: Rule) -> dict[str, Any]:
    """Return the rule's params merged over its check's defaults, validated."""
    spec = CHECKS.get(rule.check)
    if spec is None:
        raise PolicyError(
            f"rule {rule.id}: unknown check {rule.check!r}; known checks: "
            f"{', '.join(sorted(CHECKS))}"
        )
    unknown = sorted(set(rule.params) - set(spec.defaults))
    if unknown:
        raise PolicyError(
            f"rule {rule.id}: check {rule.check!r} does not accept params {unknown}; "
            f"accepted: {sorted(spec.defaults)}"
        )
    for key, value in rule.params.items():
        if not _same_kind(spec.defaults[key], value):
            raise PolicyError(
                f"rule {rule.id}: param {key!r} must be like {spec.defaults[key]!r}, got {value!r}"
            )
    return {**spec.defaults, **rule.params}


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, type(default))


def parse_ruleset(data: bytes, origin: str = "<bytes>") -> Ruleset:
    """Parse and validate ruleset JSON.

    Args:
        data: The file's bytes; their sha256 becomes ``Ruleset.sha256``.
        origin: Where the bytes came from, for error messages.

    Raises:
        PolicyError: Invalid JSON or structure, duplicate rule ids, unknown checks or params.
    """
    try:
        content = RulesetFile.model_validate_json(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid ruleset {origin}: {exc}") from exc
    ids = [rule.id for rule in content.rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PolicyError(f"invalid ruleset {origin}: duplicate rule ids {duplicates}")
    for rule in content.rules:
        _params(rule)
    return Ruleset(**content.model_dump(), sha256=hashlib.sha256(data).hexdigest())


def load_ruleset_file(path: str | Path) -> Ruleset:
    """Load a custom ruleset from a JSON file.

    Raises:
        PolicyError: The file is missing or invalid (see :func:`parse_ruleset`).
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read ruleset file {file}: {exc.strerror}") from exc
    return parse_ruleset(data, str(file))


def _rules_dir() -> Traversable:
    return resources.files("agentic_mlops.policy").joinpath("rules")


def available_rulesets() -> list[str]:
    """Return the names of the rulesets shipped with the package."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in _rules_dir().iterdir()
        if entry.name.endswith(".json")
    )


@cache
def load_ruleset(name: str = "default") -> Ruleset:
    """Load a ruleset shipped with the package (cached).

    Args:
        name: The file name under ``policy/rules`` without ``.json``.

    Raises:
        PolicyError: No such ruleset, or it is invalid.
    """
    entry = _rules_dir().joinpath(f"{name}.json")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) or not entry.is_file():
        raise PolicyError(f"unknown ruleset {name!r}; available: {', '.join(available_rulesets())}")
    return parse_ruleset(entry.read_bytes(), f"{name}.json")


# --------------------------------------------------------------------------- evaluation


def evaluate(
    constraints: ConstraintSchema,
    plan: Plan,
    cost: CostEstimate | None,
    ruleset: Ruleset | None = None,
) -> PolicyReport:
    """Evaluate every rule of a ruleset against a plan, in rule order.

    Args:
        constraints: The workload constraints.
        plan: The plan to check.
        cost: The plan's cost estimate; cost rules are ``not_applicable`` without it.
        ruleset: The rules to apply; the shipped ``default`` ruleset when ``None``.

    Returns:
        The report; ``overall`` is ``fail`` when any ``high`` or ``critical`` rule fails.
    """
    ruleset = ruleset or load_ruleset()
    results = []
    for rule in ruleset.rules:
        params = _params(rule)
        status, evidence = CHECKS[rule.check].function(constraints, plan, cost, params)
        results.append(
            PolicyResult(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                status=status,
                evidence=evidence,
            )
        )
    blocking = any(r.status == "fail" and r.severity in BLOCKING_SEVERITIES for r in results)
    return PolicyReport(
        overall="fail" if blocking else "pass",
        ruleset=ruleset.ruleset,
        ruleset_hash=ruleset.sha256,
        results=results,
    )


# --------------------------------------------------------------------------- helpers


def _names(components: Iterable[Component]) -> str:
    return ", ".join(f"{c.id} ({c.service})" for c in components)


def _sensitivities(constraints: ConstraintSchema) -> list[str]:
    return [s.value for s in constraints.data_sensitivity or []]


def _normalise(label: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", label.upper())


def _compliance_matches(constraints: ConstraintSchema, wanted: Iterable[str]) -> list[str]:
    """Return the user's compliance labels that name one of ``wanted`` (PCI ~ PCI-DSS)."""
    targets = [_normalise(w) for w in wanted]
    return [
        label
        for label in constraints.compliance
        if (n := _normalise(label)) and any(n.startswith(t) or t.startswith(n) for t in targets)
    ]


def _providers(plan: Plan, capability: str) -> list[Component]:
    return [c for c in plan.components if capability in c.capabilities]


# --------------------------------------------------------------------------- checks


@register_check("encryption_at_rest", cmk_when_sensitive=True)
def _encryption_at_rest(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    stores = [c for c in plan.components if c.stores_data]
    if not stores:
        return "not_applicable", "no component stores data"
    problems = []
    unencrypted = [c for c in stores if c.encrypted_at_rest is not True]
    if unencrypted:
        problems.append(f"not encrypted at rest: {_names(unencrypted)}")
    at_rest = plan.encryption.at_rest
    if at_rest == "none":
        problems.append("plan encryption.at_rest is 'none'")
    sensitive = _sensitivities(constraints)
    if params["cmk_when_sensitive"] and sensitive and at_rest != "aws-kms-cmk":
        problems.append(
            f"data classes {', '.join(sensitive)} require customer managed KMS keys "
            f"(aws-kms-cmk) but the plan uses {at_rest!r}"
        )
    if problems:
        return "fail", "; ".join(problems)
    return "pass", f"{len(stores)} data stores encrypted at rest with {at_rest}: {_names(stores)}"


@register_check("tls_in_transit")
def _tls_in_transit(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    if plan.encryption.in_transit_tls:
        return "pass", "plan encryption.in_transit_tls is true: TLS enforced for data in transit"
    return "fail", "plan encryption.in_transit_tls is false: data in transit is not TLS-protected"


@register_check("kms_key_rotation")
def _kms_key_rotation(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    if plan.encryption.at_rest != "aws-kms-cmk":
        return "not_applicable", f"no customer managed keys (at_rest {plan.encryption.at_rest!r})"
    if plan.encryption.kms_key_rotation:
        return "pass", "customer managed keys rotate automatically (kms_key_rotation true)"
    return "fail", "customer managed keys without automatic rotation (kms_key_rotation false)"


@register_check("region_residency")
def _region_residency(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    residency = constraints.data_residency
    if residency is None:
        return "not_applicable", "no data residency requirement"
    allowed = RESIDENCY_REGIONS[residency.value]
    label = residency.value.upper()
    if plan.region in allowed:
        return "pass", f"plan region {plan.region} is in the {label} residency regions"
    return "fail", (
        f"plan region {plan.region} is outside the {label} residency regions ({', '.join(allowed)})"
    )


@register_check("allowed_regions", denied=[], allowed=[])
def _allowed_regions(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    denied, allowed = params["denied"], params["allowed"]
    if plan.region in denied:
        return "fail", f"plan region {plan.region} is on the deny list ({', '.join(denied)})"
    if allowed and plan.region not in allowed:
        return "fail", (
            f"plan region {plan.region} is not on the allow list ({', '.join(allowed)})"
        )
    scope = f"allow list {', '.join(allowed)}" if allowed else "no allow list"
    deny = f"deny list {', '.join(denied)}" if denied else "empty deny list"
    return "pass", f"plan region {plan.region} permitted ({deny}; {scope})"


@register_check("pii_private_networking", data_services=[])
def _pii_private_networking(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    sensitive = _sensitivities(constraints)
    if not sensitive:
        return "not_applicable", "no regulated data classes declared"
    net = plan.networking
    problems = [
        text
        for ok, text in (
            (net.vpc, "plan has no VPC (networking.vpc false)"),
            (net.private_subnets, "no private subnets (networking.private_subnets false)"),
            (not net.internet_egress, "internet egress allowed (networking.internet_egress true)"),
        )
        if not ok
    ]
    exposed = [
        c
        for c in plan.components
        if (c.stores_data or c.service in params["data_services"]) and not c.private_networking
    ]
    if exposed:
        problems.append(f"components handling data without private networking: {_names(exposed)}")
    classes = ", ".join(sensitive)
    if problems:
        return "fail", f"{classes} data: " + "; ".join(problems)
    return "pass", (
        f"{classes} data kept on private networking: VPC with private subnets, no internet "
        "egress, every data-handling component private"
    )


@register_check("budget_ceiling", tolerance=1.0)
def _budget_ceiling(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    if cost is None:
        return "not_applicable", "no cost estimate to compare"
    if constraints.budget is None:
        return "not_applicable", "no budget stated"
    budget = constraints.budget.monthly_usd
    ceiling = budget * params["tolerance"]
    total = cost.monthly_total_usd
    comparison = (
        f"estimated ${total:,.2f}/month vs ceiling ${ceiling:,.2f}/month "
        f"(budget ${budget:,.2f} × tolerance {params['tolerance']:g})"
    )
    if total <= ceiling:
        return "pass", comparison
    return "fail", f"{comparison}: over by ${total - ceiling:,.2f}"


@register_check("model_registry_required")
def _model_registry_required(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    registry = _providers(plan, "model_registry")
    if registry:
        return "pass", f"model registry provided by {_names(registry)}"
    return "fail", "no component provides the model_registry capability"


@register_check("monitoring_required", when_capabilities=["serving", "batch_inference"])
def _monitoring_required(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    triggers = [cap for cap in params["when_capabilities"] if cap in plan.capabilities()]
    if not triggers:
        return "not_applicable", "plan neither serves nor runs batch inference"
    monitors = _providers(plan, "monitoring")
    deployed = _names(c for c in plan.components if set(c.capabilities) & set(triggers))
    if monitors:
        return "pass", f"{deployed} monitored by {_names(monitors)}"
    return "fail", f"{deployed} deployed but no component provides the monitoring capability"


@register_check("audit_logging_for_regulated", sensitivities=[], compliance=[])
def _audit_logging_for_regulated(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    reasons = [s for s in _sensitivities(constraints) if s in params["sensitivities"]]
    reasons += _compliance_matches(constraints, params["compliance"])
    if not reasons:
        return "not_applicable", "no regulated data classes or compliance regimes needing audit"
    auditors = _providers(plan, "audit")
    because = ", ".join(reasons)
    if auditors:
        return "pass", f"{because}: audit logging by {_names(auditors)}"
    return "fail", f"{because} require audit logging but no component provides the audit capability"


@register_check("hipaa_eligible_services", eligible=[], also_when_compliance=[])
def _hipaa_eligible_services(
    constraints: ConstraintSchema, plan: Plan, cost: CostEstimate | None, params: dict[str, Any]
) -> CheckResult:
    phi = "phi" in _sensitivities(constraints)
    regimes = _compliance_matches(constraints, params["also_when_compliance"])
    if not phi and not regimes:
        return "not_applicable", "no PHI and no HIPAA compliance requirement"
    ineligible = [c for c in plan.components if c.service not in params["eligible"]]
    reason = ", ".join((["phi"] if phi else []) + regimes)
    if ineligible:
        return "fail", f"{reason}: services not on the HIPAA-eligible list: {_names(ineligible)}"
    return "pass", f"{reason}: all {len(plan.services())} services are HIPAA-eligible"
