"""Policy engine: rules as data, check registry, verdict logic."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from agentic_mlops.domain import (
    Budget,
    Component,
    ConstraintSchema,
    CostEstimate,
    EncryptionPlan,
    NetworkPlan,
    Plan,
)
from agentic_mlops.policy import (
    CHECKS,
    PolicyError,
    evaluate,
    load_ruleset,
    load_ruleset_file,
    parse_ruleset,
)


def component(cid: str, service: str, capabilities: list[str], **fields) -> Component:
    defaults = {"private_networking": True}
    if fields.get("stores_data"):
        defaults["encrypted_at_rest"] = True
    return Component(
        id=cid,
        service=service,
        purpose=f"test {cid}",
        capabilities=capabilities,
        **{**defaults, **fields},
    )


def compliant_components() -> list[Component]:
    return [
        component("lake", "s3", ["storage"], stores_data=True),
        component("train", "sagemaker_training", ["training"]),
        component("registry", "sagemaker_model_registry", ["model_registry"]),
        component("online", "sagemaker_endpoint", ["serving"]),
        component("monitor", "sagemaker_model_monitor", ["monitoring"]),
        component("keys", "kms", ["encryption"]),
        component("trail", "cloudtrail", ["audit"]),
    ]


def make_plan(components: list[Component] | None = None, **fields) -> Plan:
    base = {
        "name": "compliant",
        "region": "eu-west-1",
        "deployment_mode": "real_time",
        "summary": "test",
        "components": compliant_components() if components is None else components,
        "networking": NetworkPlan(vpc=True, private_subnets=True, internet_egress=False),
        "encryption": EncryptionPlan(at_rest="aws-kms-cmk", kms_key_rotation=True),
    }
    return Plan(**{**base, **fields})


def make_constraints(**fields) -> ConstraintSchema:
    base = {
        "region": "eu-west-1",
        "data_residency": "eu",
        "budget": Budget(amount=1000, monthly_usd=1000),
        "data_sensitivity": ["pii", "phi"],
        "compliance": ["HIPAA", "GDPR"],
    }
    return ConstraintSchema(**{**base, **fields})


def make_cost(total: float = 500.0) -> CostEstimate:
    return CostEstimate(
        region="eu-west-1",
        region_multiplier=1.12,
        monthly_total_usd=total,
        line_items=[],
        catalogue_source="test",
        catalogue_date="2026-10-01",
    )


def result(report, rule_id):
    return next(r for r in report.results if r.rule_id == rule_id)


def check(rule_id, constraints=None, plan=None, cost=None, ruleset=None):
    report = evaluate(
        constraints or make_constraints(), plan or make_plan(), cost or make_cost(), ruleset
    )
    return result(report, rule_id)


def single_rule(check_name: str, severity: str = "high", **params):
    body = {
        "ruleset": "custom",
        "version": "1",
        "rules": [
            {
                "id": "POL-X-001",
                "title": "x",
                "severity": severity,
                "check": check_name,
                "params": params,
            }
        ],
    }
    return parse_ruleset(json.dumps(body).encode())


def replace(components: list[Component], cid: str, **fields) -> list[Component]:
    return [c.model_copy(update=fields) if c.id == cid else c for c in components]


# --------------------------------------------------------------------------- loading


def test_default_ruleset_loads_with_file_hash():
    ruleset = load_ruleset()
    data = resources.files("agentic_mlops.policy").joinpath("rules/default.json").read_bytes()
    assert ruleset.sha256 == hashlib.sha256(data).hexdigest()
    assert ruleset.ruleset == "default"
    assert {rule.check for rule in ruleset.rules} <= set(CHECKS)
    assert len({rule.id for rule in ruleset.rules}) == len(ruleset.rules)
    required = {
        "encryption_at_rest", "region_residency", "allowed_regions", "pii_private_networking",
        "budget_ceiling", "model_registry_required", "monitoring_required",
        "audit_logging_for_regulated", "hipaa_eligible_services", "tls_in_transit",
    }  # fmt: skip
    assert required <= {rule.check for rule in ruleset.rules}


def test_compliant_plan_passes_everything():
    report = evaluate(make_constraints(), make_plan(), make_cost())
    assert report.overall == "pass"
    assert report.failed() == []
    assert report.ruleset == "default"
    assert report.ruleset_hash == load_ruleset().sha256
    assert [r.rule_id for r in report.results] == [r.id for r in load_ruleset().rules]


def test_unknown_check_in_custom_file_is_rejected(tmp_path):
    path = tmp_path / "custom.json"
    rule = {"id": "POL-X-001", "title": "x", "severity": "high", "check": "no_such_check"}
    path.write_text(json.dumps({"ruleset": "custom", "version": "1", "rules": [rule]}))
    with pytest.raises(ValueError, match="unknown check 'no_such_check'"):
        load_ruleset_file(path)


def test_custom_file_loads_and_hashes_its_bytes(tmp_path):
    path = tmp_path / "custom.json"
    rule = {"id": "POL-X-001", "title": "tls", "severity": "low", "check": "tls_in_transit"}
    path.write_text(json.dumps({"ruleset": "custom", "version": "2", "rules": [rule]}))
    ruleset = load_ruleset_file(path)
    assert ruleset.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    report = evaluate(make_constraints(), make_plan(), None, ruleset)
    assert report.ruleset == "custom"
    assert [r.rule_id for r in report.results] == ["POL-X-001"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"id": "POL-X-001", "title": "x", "severity": "high", "check": "tls_in_transit",
           "params": {"bogus": 1}}], "does not accept params"),
        ([{"id": "POL-X-001", "title": "x", "severity": "high", "check": "budget_ceiling",
           "params": {"tolerance": "high"}}], "tolerance"),
        ([{"id": "POL-X-001", "title": "x", "severity": "high", "check": "tls_in_transit"}] * 2,
         "duplicate rule ids"),
        ([{"id": "POL-X-001", "title": "x", "severity": "urgent", "check": "tls_in_transit"}],
         "severity"),
        ([], "rules"),
    ],
)  # fmt: skip
def test_invalid_rulesets_are_value_errors(rules, message):
    body = json.dumps({"ruleset": "custom", "version": "1", "rules": rules}).encode()
    with pytest.raises(ValueError, match=message):
        parse_ruleset(body)


def test_missing_files_and_unknown_names(tmp_path):
    with pytest.raises(PolicyError, match="cannot read ruleset file"):
        load_ruleset_file(tmp_path / "absent.json")
    with pytest.raises(ValueError, match=r"unknown ruleset 'nope'.*default"):
        load_ruleset("nope")
    with pytest.raises(ValueError, match="invalid ruleset"):
        parse_ruleset(b"{not json")


# --------------------------------------------------------------------------- rules


def test_encryption_at_rest_names_the_unencrypted_store():
    components = replace(compliant_components(), "lake", encrypted_at_rest=False)
    failed = check("POL-ENC-001", plan=make_plan(components))
    assert failed.status == "fail"
    assert "lake (s3)" in failed.evidence
    passed = check("POL-ENC-001")
    assert passed.status == "pass"
    assert "lake (s3)" in passed.evidence


def test_encryption_requires_cmk_for_sensitive_data():
    aws_managed = make_plan(encryption=EncryptionPlan(at_rest="aws-managed"))
    failed = check("POL-ENC-001", plan=aws_managed)
    assert failed.status == "fail"
    assert "aws-kms-cmk" in failed.evidence and "phi" in failed.evidence
    relaxed = single_rule("encryption_at_rest", cmk_when_sensitive=False)
    assert check("POL-X-001", plan=aws_managed, ruleset=relaxed).status == "pass"
    public = make_constraints(data_sensitivity=[], compliance=[])
    assert check("POL-ENC-001", constraints=public, plan=aws_managed).status == "pass"


def test_encryption_not_applicable_without_data_stores():
    components = [component("train", "sagemaker_training", ["training"])]
    assert check("POL-ENC-001", plan=make_plan(components)).status == "not_applicable"


def test_tls_and_key_rotation():
    no_tls = make_plan(encryption=EncryptionPlan(at_rest="aws-kms-cmk", in_transit_tls=False))
    assert check("POL-ENC-002", plan=no_tls).status == "fail"
    assert "in_transit_tls is false" in check("POL-ENC-002", plan=no_tls).evidence
    assert check("POL-ENC-002").status == "pass"
    no_rotation = make_plan(encryption=EncryptionPlan(at_rest="aws-kms-cmk"))
    assert check("POL-ENC-003", plan=no_rotation).status == "fail"
    assert check("POL-ENC-003").status == "pass"
    managed = make_plan(encryption=EncryptionPlan(at_rest="aws-managed"))
    assert check("POL-ENC-003", plan=managed).status == "not_applicable"


def test_region_residency():
    failed = check("POL-RES-001", plan=make_plan(region="us-east-1"))
    assert failed.status == "fail"
    assert "us-east-1" in failed.evidence and "EU" in failed.evidence
    assert check("POL-RES-001").status == "pass"
    no_residency = make_constraints(data_residency=None)
    assert check("POL-RES-001", constraints=no_residency).status == "not_applicable"
    uk = make_constraints(data_residency="uk")
    assert check("POL-RES-001", constraints=uk).status == "fail"  # eu-west-1 is Ireland


def test_allowed_regions():
    assert check("POL-RES-002").status == "pass"
    denied = single_rule("allowed_regions", denied=["eu-west-1"])
    failed = check("POL-X-001", ruleset=denied)
    assert failed.status == "fail" and "eu-west-1" in failed.evidence
    allow_list = single_rule("allowed_regions", allowed=["eu-central-1"])
    failed = check("POL-X-001", ruleset=allow_list)
    assert failed.status == "fail" and "allow list" in failed.evidence
    assert check("POL-X-001", plan=make_plan(region="eu-central-1"), ruleset=allow_list).passed


def test_private_networking_for_regulated_data():
    components = replace(compliant_components(), "online", private_networking=False)
    open_net = NetworkPlan(vpc=True, private_subnets=False, internet_egress=True)
    failed = check("POL-NET-001", plan=make_plan(components, networking=open_net))
    assert failed.status == "fail"
    assert "online (sagemaker_endpoint)" in failed.evidence
    assert "private_subnets" in failed.evidence and "internet_egress" in failed.evidence
    assert "lake" not in failed.evidence
    assert check("POL-NET-001").status == "pass"
    public = make_constraints(data_sensitivity=[], compliance=[])
    assert check("POL-NET-001", constraints=public, plan=make_plan(components)).status == (
        "not_applicable"
    )


def test_budget_ceiling():
    failed = check("POL-COST-001", cost=make_cost(1200))
    assert failed.status == "fail"
    assert "$1,200.00" in failed.evidence and "$200.00" in failed.evidence
    assert check("POL-COST-001", cost=make_cost(1000)).status == "pass"
    tolerant = single_rule("budget_ceiling", tolerance=1.25)
    assert check("POL-X-001", cost=make_cost(1200), ruleset=tolerant).status == "pass"
    report = evaluate(make_constraints(), make_plan(), None)
    assert result(report, "POL-COST-001").status == "not_applicable"
    no_budget = make_constraints(budget=None)
    assert check("POL-COST-001", constraints=no_budget).status == "not_applicable"


def test_model_registry_required():
    components = [c for c in compliant_components() if c.id != "registry"]
    failed = check("POL-GOV-001", plan=make_plan(components))
    assert failed.status == "fail" and "model_registry" in failed.evidence
    assert "registry (sagemaker_model_registry)" in check("POL-GOV-001").evidence


def test_monitoring_required_for_serving():
    components = [c for c in compliant_components() if c.id != "monitor"]
    failed = check("POL-MON-001", plan=make_plan(components))
    assert failed.status == "fail" and "online (sagemaker_endpoint)" in failed.evidence
    assert check("POL-MON-001").status == "pass"
    training_only = [c for c in components if c.id != "online"]
    assert check("POL-MON-001", plan=make_plan(training_only)).status == "not_applicable"


def test_audit_logging_for_regulated():
    components = [c for c in compliant_components() if c.id != "trail"]
    failed = check("POL-AUD-001", plan=make_plan(components))
    assert failed.status == "fail" and "phi" in failed.evidence
    pci = make_constraints(data_sensitivity=["pii"], compliance=["PCI DSS"])
    failed = check("POL-AUD-001", constraints=pci, plan=make_plan(components))
    assert failed.status == "fail" and "PCI DSS" in failed.evidence
    assert check("POL-AUD-001").status == "pass"
    plain = make_constraints(data_sensitivity=["pii"], compliance=["GDPR"])
    assert check("POL-AUD-001", constraints=plain).status == "not_applicable"


def test_hipaa_eligible_services():
    assert check("POL-HIPAA-001").status == "pass"
    [rule] = [r for r in load_ruleset().rules if r.check == "hipaa_eligible_services"]
    eligible = [s for s in rule.params["eligible"] if s != "cloudtrail"]
    narrow = single_rule("hipaa_eligible_services", eligible=eligible)
    failed = check("POL-X-001", ruleset=narrow)
    assert failed.status == "fail" and "trail (cloudtrail)" in failed.evidence
    no_phi = make_constraints(data_sensitivity=["pii"], compliance=[])
    assert check("POL-X-001", constraints=no_phi, ruleset=narrow).status == "not_applicable"


# --------------------------------------------------------------------------- verdict


def test_overall_fails_on_high_or_critical_failure():
    report = evaluate(make_constraints(), make_plan(region="us-east-1"), make_cost())
    assert result(report, "POL-RES-001").severity == "critical"
    assert report.overall == "fail"
    assert [r.rule_id for r in report.failed()] == ["POL-RES-001"]


def test_overall_passes_with_only_low_or_medium_failures():
    components = [c for c in compliant_components() if c.id not in {"registry", "monitor"}]
    plan = make_plan(components, encryption=EncryptionPlan(at_rest="aws-kms-cmk"))
    report = evaluate(make_constraints(), plan, make_cost())
    assert {r.severity for r in report.failed()} <= {"low", "medium"}
    assert len(report.failed()) == 3
    assert report.overall == "pass"


def test_evaluation_is_deterministic():
    plan = make_plan(region="us-east-1", encryption=EncryptionPlan(at_rest="none"))
    first = evaluate(make_constraints(), plan, make_cost(2000))
    second = evaluate(make_constraints(), plan, make_cost(2000))
    assert first.model_dump_json() == second.model_dump_json()
