"""Offline interpretation of an approver's comment: constraint changes, never mutation."""

from __future__ import annotations

from typing import Any

import pytest

from agentic_mlops.domain import (
    Budget,
    ConstraintSchema,
    DataSensitivity,
    DeploymentMode,
    Residency,
)
from agentic_mlops.providers.offline.extraction import apply_feedback


@pytest.fixture
def constraints() -> ConstraintSchema:
    """A real-time fraud workload, as extraction would produce it."""
    return ConstraintSchema(
        summary="Real-time fraud scoring API",
        problem_type="classification",
        deployment_mode=DeploymentMode.REAL_TIME,
        region="us-east-1",
        budget=Budget(amount=6000, currency="USD", period="month", monthly_usd=6000),
        data_volume_gb=200,
        latency_p99_ms=100,
        throughput_rps=300,
        data_sensitivity=[DataSensitivity.PCI],
        compliance=["PCI-DSS"],
        frameworks=["xgboost"],
        preferred_services=["sagemaker", "emr"],
    )


@pytest.mark.parametrize(
    ("comment", "field", "new"),
    [
        ("use spot instances for training", "use_spot_training", True),
        ("Move to eu-west-1.", "region", "eu-west-1"),
        ("switch from us-east-1 to eu-west-2", "region", "eu-west-2"),
        ("Host it in Frankfurt instead", "region", "eu-central-1"),
        (
            "budget is now $800/month",
            "budget",
            {"amount": 800.0, "currency": "USD", "period": "month", "monthly_usd": 800.0},
        ),
        (
            "cut the budget by 20%",
            "budget",
            {"amount": 4800.0, "currency": "USD", "period": "month", "monthly_usd": 4800.0},
        ),
        (
            "increase the budget by $1,000 per month",
            "budget",
            {"amount": 7000.0, "currency": "USD", "period": "month", "monthly_usd": 7000.0},
        ),
        ("make the endpoint highly available", "high_availability", True),
        ("deploy across multiple AZs, multi-AZ please", "high_availability", True),
        ("avoid EMR", "avoided_services", ["emr"]),
        ("prefer serverless", "preferred_services", ["sagemaker", "emr", "serverless"]),
        ("we need p99 under 50 ms", "latency_p99_ms", 50),
        ("latency must be within 2 seconds", "latency_p99_ms", 2000),
        ("switch to batch scoring", "deployment_mode", "batch"),
        ("data must stay in the EU", "data_residency", "eu"),
        ("the data also contains PII", "data_sensitivity", ["pii", "pci"]),
        ("no GPUs needed", "gpu_required", False),
        ("retrain daily", "retraining_cadence", "daily"),
        ("add GDPR", "compliance", ["PCI-DSS", "GDPR"]),
        ("drop PCI DSS", "compliance", []),
        ("use LightGBM instead of XGBoost", "frameworks", ["lightgbm"]),
        ("the team also knows Kubernetes", "team_skills", ["kubernetes"]),
        ("expect 1,000 requests per second at peak", "throughput_rps", 1000.0),
        ("the data set is actually 2 TB", "data_volume_gb", 2000.0),
    ],
)
def test_comment_changes_one_field(
    constraints: ConstraintSchema, comment: str, field: str, new: Any
) -> None:
    # Given approved-plan constraints / When the approver comments
    updated, result = apply_feedback(comment, constraints)
    # Then the field changes and the change is recorded with its source phrase
    change = next(c for c in result.changes if c.field == field)
    assert change.new == new
    assert change.source
    assert change.source.lower() in comment.lower()
    assert result.unrecognised == []
    dumped = updated.model_dump(mode="json")[field]
    assert dumped == new


def test_avoiding_a_preferred_service_removes_it_from_preferences(
    constraints: ConstraintSchema,
) -> None:
    updated, result = apply_feedback("avoid EMR", constraints)
    assert updated.preferred_services == ["sagemaker"]
    assert updated.avoided_services == ["emr"]
    assert {c.field for c in result.changes} == {"preferred_services", "avoided_services"}


def test_change_records_old_and_new_values(constraints: ConstraintSchema) -> None:
    _, result = apply_feedback("Move to eu-west-1", constraints)
    (change,) = result.changes
    assert (change.field, change.old, change.new) == ("region", "us-east-1", "eu-west-1")


def test_region_with_only_also_sets_residency(constraints: ConstraintSchema) -> None:
    updated, _ = apply_feedback("move to eu-west-1 only", constraints)
    assert updated.region == "eu-west-1"
    assert updated.data_residency == Residency.EU


def test_multi_sentence_comment(constraints: ConstraintSchema) -> None:
    # Given a comment mixing chit-chat and three requests
    comment = (
        "Looks good overall. Use spot instances for training; move from us-east-1 to "
        "eu-west-2. Budget is now £800 a month!"
    )
    # When applied
    updated, result = apply_feedback(comment, constraints)
    # Then each request is applied and the chit-chat is reported as unrecognised
    assert updated.use_spot_training is True
    assert updated.region == "eu-west-2"
    assert updated.budget is not None
    assert (updated.budget.currency, updated.budget.monthly_usd) == ("GBP", 1016.0)
    assert [c.field for c in result.changes] == ["use_spot_training", "region", "budget"]
    assert result.unrecognised == ["Looks good overall."]


@pytest.mark.parametrize(
    "comment",
    ["Approved, thanks!", "Looks good.", "Nice work, ship it", "LGTM", ""],
)
def test_comment_without_requests_changes_nothing(
    constraints: ConstraintSchema, comment: str
) -> None:
    updated, result = apply_feedback(comment, constraints)
    assert updated == constraints
    assert result.changes == []
    assert result.unrecognised == ([comment] if comment else [])


def test_restating_the_current_value_is_unrecognised(constraints: ConstraintSchema) -> None:
    updated, result = apply_feedback("Keep us-east-1.", constraints)
    assert updated.region == "us-east-1"
    assert result.changes == []
    assert result.unrecognised == ["Keep us-east-1."]


def test_feedback_never_mutates_the_input(constraints: ConstraintSchema) -> None:
    # Given a snapshot of the input
    before = constraints.model_dump()
    preferred = constraints.preferred_services
    # When a comment touching many fields is applied
    comment = (
        "Avoid EMR. Prefer serverless. The data also contains PII. Add GDPR. Move to "
        "eu-west-1. Budget is now $800/month. Use spot instances."
    )
    updated, result = apply_feedback(comment, constraints)
    # Then the input is unchanged and the output differs
    assert constraints.model_dump() == before
    assert constraints.preferred_services is preferred
    assert preferred == ["sagemaker", "emr"]
    assert updated != constraints
    assert len(result.changes) >= 7


def test_result_validates(constraints: ConstraintSchema) -> None:
    comment = "Switch to streaming. Data must stay in the UK. Move to London. No PII."
    updated, _ = apply_feedback(comment, constraints)
    assert ConstraintSchema.model_validate(updated.model_dump()) == updated
    assert updated.deployment_mode == DeploymentMode.STREAMING
    assert updated.data_residency == Residency.UK
    assert updated.region == "eu-west-2"


def test_later_sentences_see_earlier_changes(constraints: ConstraintSchema) -> None:
    _, result = apply_feedback("Move to eu-west-1. Actually, move to eu-central-1.", constraints)
    assert [(c.old, c.new) for c in result.changes] == [
        ("us-east-1", "eu-west-1"),
        ("eu-west-1", "eu-central-1"),
    ]


def test_no_sensitive_data_clears_classes(constraints: ConstraintSchema) -> None:
    updated, _ = apply_feedback("There is no sensitive data after all.", constraints)
    assert updated.data_sensitivity == []


def test_feedback_is_deterministic(constraints: ConstraintSchema) -> None:
    comment = "Avoid EMR and prefer serverless. Make the endpoint highly available."
    first = apply_feedback(comment, constraints)
    second = apply_feedback(comment, constraints)
    assert first[0].model_dump_json() == second[0].model_dump_json()
    assert first[1].model_dump_json() == second[1].model_dump_json()
