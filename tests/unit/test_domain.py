"""Domain models: coverage scoring, plan validators, policy reports, canonical JSON, budgets."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from agentic_mlops.canonical import canonical_json, canonical_json_hash
from agentic_mlops.domain import (
    MANDATORY_FIELDS,
    Budget,
    Component,
    ConstraintSchema,
    DataSensitivity,
    DeploymentMode,
    Plan,
    PolicyReport,
    PolicyResult,
)
from agentic_mlops.domain.constraints import OPTIONAL_FIELDS

BUDGET = Budget(amount=1500, currency="USD", period="month", monthly_usd=1500)


def complete_batch(**fields) -> ConstraintSchema:
    """Every mandatory field of a batch workload known, no optional field."""
    base = {
        "deployment_mode": DeploymentMode.BATCH,
        "region": "eu-west-1",
        "data_volume_gb": 40,
        "budget": BUDGET,
        "data_sensitivity": [DataSensitivity.PII],
    }
    return ConstraintSchema(**{**base, **fields})


# coverage -------------------------------------------------------------------------------


def test_empty_constraints_have_zero_coverage_and_miss_every_mandatory_field() -> None:
    # Given constraints with nothing known
    constraints = ConstraintSchema()

    # When their coverage is scored
    coverage = constraints.coverage()

    # Then nothing is known and every mandatory field is missing, in asking order
    assert coverage.score == 0.0
    assert coverage.mandatory_known == 0
    assert coverage.mandatory_total == len(MANDATORY_FIELDS) == 5
    assert coverage.missing_mandatory == list(MANDATORY_FIELDS)
    assert coverage.known_optional == []
    assert coverage.complete is False


@pytest.mark.parametrize(
    ("fields", "expected_score"),
    [
        # batch: weight total = 3 * 5 mandatory + 10 optional = 25
        ({"region": "eu-west-1"}, round(3 / 25, 3)),
        ({"problem_type": "classification"}, round(1 / 25, 3)),
        ({"region": "eu-west-1", "problem_type": "classification"}, round(4 / 25, 3)),
        ({"region": "eu-west-1", "data_volume_gb": 10, "frameworks": ["xgboost"]}, 0.28),
    ],
)
def test_mandatory_fields_weigh_three_times_optional_ones(
    fields: dict[str, object], expected_score: float
) -> None:
    # Given constraints with some mandatory and/or optional fields known
    constraints = ConstraintSchema(**fields)

    # When their coverage is scored
    coverage = constraints.coverage()

    # Then each mandatory field counts 3 and each optional field counts 1
    assert coverage.score == expected_score


def test_every_mandatory_field_known_is_complete_even_without_optional_fields() -> None:
    # Given a batch workload with exactly the mandatory fields known
    constraints = complete_batch()

    # When its coverage is scored
    coverage = constraints.coverage()

    # Then planning may start, although the score is below 1
    assert coverage.complete is True
    assert coverage.missing_mandatory == []
    assert coverage.mandatory_known == coverage.mandatory_total == 5
    assert coverage.score == round(15 / 25, 3)


def test_all_fields_known_scores_one() -> None:
    # Given a batch workload with every mandatory and optional field known
    constraints = complete_batch(
        problem_type="classification",
        data_residency="eu",
        latency_p99_ms=200,
        throughput_rps=10,
        compliance=["GDPR"],
        frameworks=["xgboost"],
        retraining_cadence="weekly",
        team_skills=["python"],
        preferred_services=["sagemaker"],
        gpu_required=False,
    )

    # When its coverage is scored
    coverage = constraints.coverage()

    # Then the score is 1 and every optional field is listed as known
    assert coverage.score == 1.0
    assert coverage.known_optional == list(OPTIONAL_FIELDS)


def test_latency_becomes_mandatory_for_real_time_serving() -> None:
    # Given a real-time workload whose other mandatory fields are known but not latency
    constraints = complete_batch(deployment_mode=DeploymentMode.REAL_TIME)

    # When its coverage is scored
    coverage = constraints.coverage()

    # Then latency is a missing mandatory field and weighs 3 (total 3 * 6 + 9 = 27)
    assert constraints.mandatory_for() == [*MANDATORY_FIELDS, "latency_p99_ms"]
    assert coverage.mandatory_total == 6
    assert coverage.missing_mandatory == ["latency_p99_ms"]
    assert coverage.complete is False
    assert coverage.score == round(15 / 27, 3)


def test_known_latency_completes_real_time_and_is_not_counted_as_optional() -> None:
    # Given a real-time workload with latency known
    constraints = complete_batch(deployment_mode=DeploymentMode.REAL_TIME, latency_p99_ms=50)

    # When its coverage is scored
    coverage = constraints.coverage()

    # Then latency counts as mandatory (3), not optional
    assert coverage.complete is True
    assert coverage.mandatory_known == 6
    assert "latency_p99_ms" not in coverage.known_optional
    assert coverage.score == round(18 / 27, 3)


def test_latency_stays_optional_for_batch() -> None:
    # Given a batch workload with latency known
    constraints = complete_batch(latency_p99_ms=500)

    # When its coverage is scored
    coverage = constraints.coverage()

    # Then latency is an optional field worth 1
    assert coverage.mandatory_total == 5
    assert coverage.known_optional == ["latency_p99_ms"]
    assert coverage.score == round(16 / 25, 3)


def test_empty_data_sensitivity_list_counts_as_known() -> None:
    # Given a workload whose data holds no regulated class (an empty list)
    empty = ConstraintSchema(data_sensitivity=[])
    unknown = ConstraintSchema(data_sensitivity=None)

    # When the coverages are scored
    known_coverage, unknown_coverage = empty.coverage(), unknown.coverage()

    # Then the empty list is a known answer and None is not
    assert "data_sensitivity" not in known_coverage.missing_mandatory
    assert known_coverage.mandatory_known == 1
    assert known_coverage.score == round(3 / 25, 3)
    assert "data_sensitivity" in unknown_coverage.missing_mandatory
    assert unknown_coverage.score == 0.0


def test_empty_optional_lists_do_not_count_as_known() -> None:
    # Given optional list fields that are present but empty
    constraints = ConstraintSchema(
        compliance=[], frameworks=[], team_skills=[], preferred_services=[]
    )

    # When coverage is scored
    coverage = constraints.coverage()

    # Then none of them is known
    assert coverage.known_optional == []
    assert coverage.score == 0.0


def test_false_boolean_counts_as_known() -> None:
    # Given an explicit "no GPU" answer
    constraints = ConstraintSchema(gpu_required=False)

    # When coverage is scored
    coverage = constraints.coverage()

    # Then False is a known value, unlike None
    assert coverage.known_optional == ["gpu_required"]
    assert coverage.score == round(1 / 25, 3)


def test_constraints_reject_unknown_fields_and_malformed_regions() -> None:
    # Given inputs with an unknown field or a malformed region
    # When they are validated
    # Then validation fails
    with pytest.raises(ValidationError, match="extra"):
        ConstraintSchema(colour="blue")
    with pytest.raises(ValidationError, match="region"):
        ConstraintSchema(region="Europe")


# plan validators ------------------------------------------------------------------------


def _component(cid: str = "lake", service: str = "s3", capabilities=("storage",)) -> Component:
    return Component(id=cid, service=service, purpose="test", capabilities=list(capabilities))


def _plan(components: list[Component]) -> Plan:
    return Plan(
        name="p",
        region="eu-west-1",
        deployment_mode="batch",
        summary="s",
        components=components,
    )


def test_valid_plan_lists_services_and_capabilities() -> None:
    # Given a plan of known services and capabilities
    plan = _plan([_component(), _component("train", "sagemaker_training", ["training"])])

    # When it is inspected
    # Then its services and capabilities are those of its components
    assert plan.services() == ["s3", "sagemaker_training"]
    assert plan.capabilities() == {"storage", "training"}
    assert plan.component("train") is not None
    assert plan.component("missing") is None


def test_component_with_unknown_service_is_rejected() -> None:
    # Given a component naming a service outside the vocabulary
    # When it is validated
    # Then validation fails naming the service
    with pytest.raises(ValidationError, match="unknown service 'emr'"):
        _component(service="emr")


def test_component_with_unknown_capability_is_rejected() -> None:
    # Given a component claiming an unknown capability
    # When it is validated
    # Then validation fails naming the capability
    with pytest.raises(ValidationError, match="unknown capabilities \\['teleportation'\\]"):
        _component(capabilities=["storage", "teleportation"])


def test_plan_with_duplicate_component_ids_is_rejected() -> None:
    # Given two components with the same id
    components = [_component("lake"), _component("lake", "kms", ["encryption"])]

    # When a plan is built from them
    # Then validation fails naming the duplicate id
    with pytest.raises(ValidationError, match="duplicate component ids \\['lake'\\]"):
        _plan(components)


def test_component_id_must_be_snake_case() -> None:
    # Given a component id with upper case and a dash
    # When it is validated
    # Then validation fails
    with pytest.raises(ValidationError, match="id"):
        _component(cid="Data-Lake")


# policy report --------------------------------------------------------------------------


def _result(rule_id: str, status: str, severity: str = "high") -> PolicyResult:
    return PolicyResult(
        rule_id=rule_id, title=rule_id, severity=severity, status=status, evidence="e"
    )


def test_policy_report_failed_returns_only_failed_rules_in_order() -> None:
    # Given a report mixing passed, failed and not-applicable rules
    report = PolicyReport(
        overall="fail",
        ruleset="default",
        ruleset_hash="h" * 64,
        results=[
            _result("R1", "pass"),
            _result("R2", "fail", "critical"),
            _result("R3", "not_applicable"),
            _result("R4", "fail", "low"),
        ],
    )

    # When its failed rules are asked for
    failed = report.failed()

    # Then exactly the failed ones are returned, in order; not-applicable counts as passed
    assert [r.rule_id for r in failed] == ["R2", "R4"]
    assert [r.passed for r in report.results] == [True, False, True, False]


def test_policy_report_without_failures_has_no_failed_rules() -> None:
    # Given a report where every rule passed or did not apply
    report = PolicyReport(
        overall="pass",
        ruleset="default",
        ruleset_hash="h",
        results=[_result("R1", "pass"), _result("R2", "not_applicable")],
    )

    # When its failed rules are asked for
    # Then there are none
    assert report.failed() == []


# canonical JSON -------------------------------------------------------------------------


def test_canonical_json_is_independent_of_key_order() -> None:
    # Given the same data with keys in different orders, nested too
    first = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    second = {"a": {"x": "é", "y": [1, 2]}, "b": 1}

    # When both are serialised canonically
    text_first, text_second = canonical_json(first), canonical_json(second)

    # Then the text and hash are identical, compact, with sorted keys and UTF-8 kept
    assert text_first == text_second == '{"a":{"x":"é","y":[1,2]},"b":1}'
    expected_hash = hashlib.sha256(text_first.encode("utf-8")).hexdigest()
    assert canonical_json_hash(first) == canonical_json_hash(second) == expected_hash


def test_canonical_json_hash_changes_with_content() -> None:
    # Given two documents that differ in one value
    # When both are hashed
    # Then the hashes differ (list order is significant)
    assert canonical_json_hash({"a": 1}) != canonical_json_hash({"a": 2})
    assert canonical_json_hash([1, 2]) != canonical_json_hash([2, 1])


# budget ---------------------------------------------------------------------------------


def test_budget_accepts_a_normalised_budget() -> None:
    # Given a yearly euro budget normalised to dollars per month
    # When it is validated
    budget = Budget(amount=20000, currency="EUR", period="year", monthly_usd=1800)

    # Then its fields are kept
    assert (budget.amount, budget.currency, budget.period, budget.monthly_usd) == (
        20000,
        "EUR",
        "year",
        1800,
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0, "monthly_usd": 100}, "amount"),
        ({"amount": -5, "monthly_usd": 100}, "amount"),
        ({"amount": 100, "monthly_usd": 0}, "monthly_usd"),
        ({"amount": 100, "monthly_usd": 100, "currency": "usd"}, "currency"),
        ({"amount": 100, "monthly_usd": 100, "currency": "DOLLARS"}, "currency"),
        ({"amount": 100, "monthly_usd": 100, "period": "fortnight"}, "period"),
        ({"amount": 100}, "monthly_usd"),
    ],
)
def test_budget_rejects_invalid_values(fields: dict[str, object], field: str) -> None:
    # Given an invalid budget
    # When it is validated
    # Then validation fails on the offending field
    with pytest.raises(ValidationError) as info:
        Budget(**fields)
    assert [error["loc"][0] for error in info.value.errors()] == [field]


def test_budget_is_immutable() -> None:
    # Given a budget
    budget = Budget(amount=100, monthly_usd=100)

    # When a field is assigned
    # Then it is refused (budgets are frozen values)
    with pytest.raises(ValidationError, match="frozen"):
        budget.amount = 200  # type: ignore[misc]
    assert budget.currency == "USD"
    assert budget.period == "month"
