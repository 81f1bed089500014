"""Offline extraction: constraints from free text, typed answers and follow-up questions."""

from __future__ import annotations

from typing import Any

import pytest

from agentic_mlops.domain import (
    ANSWERABLE_FIELDS,
    MANDATORY_FIELDS,
    ConstraintSchema,
    DataSensitivity,
    DeploymentMode,
    Residency,
)
from agentic_mlops.domain.services import RESIDENCY_REGIONS
from agentic_mlops.providers.base import InvalidAnswer
from agentic_mlops.providers.offline.extraction import (
    CURRENCY_TO_USD,
    extract,
    parse_answer,
    questions_for,
)

PII, PHI, PCI = DataSensitivity.PII, DataSensitivity.PHI, DataSensitivity.PCI
BATCH, REAL_TIME, STREAMING = (
    DeploymentMode.BATCH,
    DeploymentMode.REAL_TIME,
    DeploymentMode.STREAMING,
)

WORKLOAD_A = (
    "Nightly churn model on 40 GB of customer data with PII, eu-west-1 only, under "
    "$1,500/month, SageMaker preferred. Team knows Python and Terraform; XGBoost; retrain weekly."
)
WORKLOAD_B = (
    "Real-time fraud scoring API for card transactions, p99 under 50 ms at 300 requests per "
    "second, us-east-1, 200 GB of history, budget $6k per month, PCI DSS applies."
)
WORKLOAD_C = (
    "Streaming anomaly detection on IoT sensor events from Kinesis, 2 TB of data, eu-central-1, "
    "budget 4000 EUR a month, no personal data, retrain daily."
)
WORKLOAD_D = (
    "Fine-tune a Llama 3 8B LLM on 500 GB of support tickets (anonymised) in us-west-2 with "
    "GPUs, monthly retraining, budget $12,000/month, serve it behind a real-time endpoint with "
    "p99 under 2 seconds."
)
WORKLOAD_E = (
    "Hospital readmission risk predictions in batch from patient health records (PHI) under "
    "HIPAA, 80 GB, us-east-2, $2,500 per month, daily scoring, data scientists use scikit-learn."
)


def read(text: str) -> ConstraintSchema:
    constraints, _ = extract(text, {})
    return constraints


def budget_of(text: str) -> tuple[float, str, str, float] | None:
    budget = read(text).budget
    if budget is None:
        return None
    return budget.amount, budget.currency, budget.period, budget.monthly_usd


# --------------------------------------------------------------------------- reference runs

REFERENCE_EXPECTATIONS: list[tuple[str, dict[str, Any]]] = [
    (
        WORKLOAD_A,
        {
            "deployment_mode": BATCH,
            "region": "eu-west-1",
            "data_residency": Residency.EU,
            "data_volume_gb": 40.0,
            "data_sensitivity": [PII],
            "frameworks": ["xgboost"],
            "retraining_cadence": "weekly",
            "preferred_services": ["sagemaker"],
            "problem_type": "classification",
            "latency_p99_ms": None,
            "compliance": [],
        },
    ),
    (
        WORKLOAD_B,
        {
            "deployment_mode": REAL_TIME,
            "latency_p99_ms": 50,
            "throughput_rps": 300.0,
            "region": "us-east-1",
            "data_volume_gb": 200.0,
            "data_sensitivity": [PCI],
            "compliance": ["PCI-DSS"],
            "problem_type": "classification",
            "data_residency": None,
        },
    ),
    (
        WORKLOAD_C,
        {
            "deployment_mode": STREAMING,
            "region": "eu-central-1",
            "data_volume_gb": 2000.0,
            "data_sensitivity": [],
            "retraining_cadence": "daily",
            "problem_type": "anomaly_detection",
            "data_residency": None,
        },
    ),
    (
        WORKLOAD_D,
        {
            "deployment_mode": REAL_TIME,
            "latency_p99_ms": 2000,
            "region": "us-west-2",
            "data_volume_gb": 500.0,
            "data_sensitivity": [],
            "problem_type": "llm_fine_tuning",
            "gpu_required": True,
            "retraining_cadence": "monthly",
        },
    ),
    (
        WORKLOAD_E,
        {
            "deployment_mode": BATCH,
            "region": "us-east-2",
            "data_volume_gb": 80.0,
            "data_sensitivity": [PHI],
            "compliance": ["HIPAA"],
            "frameworks": ["scikit-learn"],
            "problem_type": "classification",
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), REFERENCE_EXPECTATIONS, ids="abcde")
def test_reference_workloads_extract_expected_fields(text: str, expected: dict[str, Any]) -> None:
    # Given a golden-run reference request / When it is extracted
    constraints, evidence = extract(text, {})
    # Then every noted field has the expected value and carries evidence
    for field, value in expected.items():
        assert getattr(constraints, field) == value, field
        if value not in (None, []) or field == "data_sensitivity":
            assert evidence.get(field), field


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        (WORKLOAD_A, (1500.0, "USD", "month", 1500.0)),
        (WORKLOAD_B, (6000.0, "USD", "month", 6000.0)),
        (WORKLOAD_C, (4000.0, "EUR", "month", 4320.0)),
        (WORKLOAD_D, (12000.0, "USD", "month", 12000.0)),
        (WORKLOAD_E, (2500.0, "USD", "month", 2500.0)),
    ],
    ids="abcde",
)
def test_reference_workload_budgets(text: str, budget: tuple[float, str, str, float]) -> None:
    assert budget_of(text) == budget


def test_reference_a_team_skills_and_evidence() -> None:
    constraints, evidence = extract(WORKLOAD_A, {})
    assert {"python", "terraform"} <= set(constraints.team_skills)
    assert evidence["region"] == "eu-west-1 only"
    assert evidence["budget"] == "$1,500/month"
    assert evidence["data_volume_gb"] == "40 GB"


@pytest.mark.parametrize("text", [WORKLOAD_A, WORKLOAD_B, WORKLOAD_C, WORKLOAD_D, WORKLOAD_E])
def test_reference_workloads_are_complete(text: str) -> None:
    assert read(text).coverage().complete


def test_request_without_mandatory_fields_leaves_them_unknown() -> None:
    # Given a vague request / When extracted
    constraints = read("Build a churn model for our telecom customers")
    # Then nothing mandatory is invented
    assert constraints.deployment_mode is None
    assert constraints.region is None
    assert constraints.budget is None
    assert constraints.data_volume_gb is None
    assert constraints.data_sensitivity is None
    assert constraints.missing_mandatory() == list(MANDATORY_FIELDS)
    assert constraints.problem_type == "classification"


def test_residency_without_region_does_not_invent_a_region() -> None:
    constraints = read("Churn predictions, data must stay in the EU")
    assert constraints.data_residency == Residency.EU
    assert constraints.region is None
    assert "region" in constraints.missing_mandatory()


# --------------------------------------------------------------------------- region & residency


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Deploy it in eu-west-1.", "eu-west-1"),
        ("Run everything in US-EAST-1", "us-east-1"),
        ("ap-southeast-2 is our home region", "ap-southeast-2"),
        ("Host it in Frankfurt", "eu-central-1"),
        ("Our account lives in Ireland", "eu-west-1"),
        ("Use the Dublin region", "eu-west-1"),
        ("London please", "eu-west-2"),
        ("Paris region", "eu-west-3"),
        ("Stockholm is fine", "eu-north-1"),
        ("N. Virginia", "us-east-1"),
        ("us-east-1 (N. Virginia)", "us-east-1"),
        ("in Virginia", "us-east-1"),
        ("Ohio region", "us-east-2"),
        ("Oregon", "us-west-2"),
        ("Tokyo", "ap-northeast-1"),
        ("Sydney", "ap-southeast-2"),
        ("Singapore", "ap-southeast-1"),
        ("Mumbai", "ap-south-1"),
        ("Canada", "ca-central-1"),
        ("Montreal", "ca-central-1"),
        ("not us-east-1, use eu-west-1", "eu-west-1"),
    ],
)
def test_region_by_code_or_name(text: str, region: str) -> None:
    assert read(text).region == region


@pytest.mark.parametrize(
    "text",
    [
        "Build a churn model",
        "GDPR applies to our customers",
        "data must stay in the EU",
        "data must stay in Canada",
        "an EU region would be nice",
        "let us know the cost",
    ],
)
def test_no_region_is_invented(text: str) -> None:
    assert read(text).region is None


@pytest.mark.parametrize(
    ("text", "residency"),
    [
        ("EU only", Residency.EU),
        ("data must stay in the EU", Residency.EU),
        ("EU data residency is required", Residency.EU),
        ("everything stays within the EU", Residency.EU),
        ("European Union only", Residency.EU),
        ("data must never leave the EU", Residency.EU),
        ("US only", Residency.US),
        ("UK only, please", Residency.UK),
        ("data must remain in the UK", Residency.UK),
        ("data must stay in Canada", Residency.CA),
        ("APAC only", Residency.APAC),
        ("eu-west-1 only", Residency.EU),
        ("only eu-central-1", Residency.EU),
        ("London only", Residency.UK),
        ("data must stay in Germany", Residency.DE),
        ("us-east-1, data residency matters", Residency.US),
    ],
)
def test_data_residency(text: str, residency: Residency) -> None:
    assert read(text).data_residency == residency


@pytest.mark.parametrize(
    "text",
    [
        "GDPR applies",
        "eu-west-1",
        "Run in Frankfurt",
        "let us only use managed services",
        "our US customers",
    ],
)
def test_no_residency_without_an_exclusive_statement(text: str) -> None:
    assert read(text).data_residency is None


# --------------------------------------------------------------------------- budget


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("$1,500/month", (1500.0, "USD", "month", 1500.0)),
        ("under $1.5k per month", (1500.0, "USD", "month", 1500.0)),
        ("budget of 20000 EUR per year", (20000.0, "EUR", "year", 1800.0)),
        ("£800 a month", (800.0, "GBP", "month", 1016.0)),
        ("€2k/mo", (2000.0, "EUR", "month", 2160.0)),
        ("USD 300 per week", (300.0, "USD", "week", 1300.0)),
        ("$50 per day", (50.0, "USD", "day", 1520.83)),
        ("1.2 million dollars a year", (1200000.0, "USD", "year", 100000.0)),
        ("$20k per quarter", (20000.0, "USD", "quarter", 6666.67)),
        ("C$2,000 per month", (2000.0, "CAD", "month", 1460.0)),
        ("A$1500/month", (1500.0, "AUD", "month", 990.0)),
        ("¥100000 a month", (100000.0, "JPY", "month", 670.0)),
        ("INR 80,000 monthly", (80000.0, "INR", "month", 960.0)),
        ("monthly budget of $3,000", (3000.0, "USD", "month", 3000.0)),
        ("annual budget: €24k", (24000.0, "EUR", "year", 2160.0)),
        ("we can spend 5000 per month", (5000.0, "USD", "month", 5000.0)),
        ("budget 1500 USD", (1500.0, "USD", "month", 1500.0)),
    ],
)
def test_budget_normalised_to_monthly_usd(text: str, budget: tuple[float, str, str, float]) -> None:
    assert budget_of(text) == budget


@pytest.mark.parametrize(
    "text",
    ["40 GB of data", "we have 10 servers and 300 users", "p99 under 50 ms", "retrain weekly"],
)
def test_no_budget_without_money(text: str) -> None:
    assert read(text).budget is None


def test_currency_rates_are_the_documented_fixed_rates() -> None:
    assert CURRENCY_TO_USD == {
        "USD": 1.0,
        "EUR": 1.08,
        "GBP": 1.27,
        "CAD": 0.73,
        "AUD": 0.66,
        "JPY": 0.0067,
        "INR": 0.012,
    }


# --------------------------------------------------------------------------- volume, latency, rate


@pytest.mark.parametrize(
    ("text", "gb"),
    [
        ("40 GB of data", 40.0),
        ("2.5TB", 2500.0),
        ("500 MB of logs", 0.5),
        ("1 PB archive", 1_000_000.0),
        ("300 gigabytes", 300.0),
        ("1,200 GB", 1200.0),
        ("data grows 5 GB/day, currently 120 GB", 120.0),
        ("GPU with 80 GB memory, dataset is 60 GB", 60.0),
    ],
)
def test_data_volume_in_decimal_gb(text: str, gb: float) -> None:
    assert read(text).data_volume_gb == gb


@pytest.mark.parametrize(
    "text", ["10 million rows", "ingest 10 GB per day", "a model with 16 GB RAM", "8B parameters"]
)
def test_data_volume_not_guessed(text: str) -> None:
    assert read(text).data_volume_gb is None


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("p99 under 100 ms", 100),
        ("latency below 50ms", 50),
        ("sub-second responses", 1000),
        ("respond within 2 seconds", 2000),
        ("latency of 250 milliseconds at p99", 250),
        ("120 ms p99 latency", 120),
        ("real-time inference p99 200ms, 10 rps", 200),
        ("p99 latency 40ms", 40),
        ("p99: 150 ms", 150),
        ("near-real-time alerts within 5 minutes", 300_000),
        ("alert within 2 s", 2000),
        ("scores must be available within 1 hour", 3_600_000),
    ],
)
def test_latency_in_ms(text: str, ms: int) -> None:
    assert read(text).latency_p99_ms == ms


@pytest.mark.parametrize(
    "text",
    [
        "low latency is important",
        "retrain within 2 hours",
        "300 requests per second",
        "the nightly job finishes within 3 hours",
    ],
)
def test_latency_not_invented(text: str) -> None:
    assert read(text).latency_p99_ms is None


@pytest.mark.parametrize(
    ("text", "p95", "p99"),
    [
        ("p95 < 1.5 s", 1500, None),
        ("Real-time recommendation API, 2,000 requests/s, p95 under 80 ms", 80, None),
        ("Fraud API with p95 40 ms and p99 120 ms at 500 rps", 40, 120),
        ("95th percentile latency below 300 ms", 300, None),
        ("p99 under 100 ms", None, 100),
    ],
)
def test_p95_and_p99_are_kept_apart(text: str, p95: int | None, p99: int | None) -> None:
    c = read(text)
    assert (c.latency_p95_ms, c.latency_p99_ms) == (p95, p99)


def test_a_p95_target_satisfies_the_real_time_latency_question() -> None:
    c = read("Real-time scoring API, p95 under 80 ms")
    assert c.deployment_mode == REAL_TIME
    assert "latency_p99_ms" not in c.missing_mandatory()
    assert c.latency_target_ms == 80


@pytest.mark.parametrize(
    ("text", "gb_per_month"),
    [
        ("edge devices upload 2 TB/month of images", 2000.0),
        ("we ingest 50 GB a day", 1520.833),
        ("about 10 GB per week of new logs", 43.333),
        ("grows by 500 GB monthly", 500.0),
    ],
)
def test_ingest_rates_are_read(text: str, gb_per_month: float) -> None:
    c = read(text)
    assert c.data_growth_gb_per_month == pytest.approx(gb_per_month, rel=1e-3)
    assert c.data_volume_gb is None  # a rate is not the size of the data set


@pytest.mark.parametrize(
    ("text", "cadence"),
    [
        ("Fine-tune a 7B open model on 50k support tickets weekly", "weekly"),
        ("retrain quarterly on the new claims", "quarterly"),
        ("we refit the model every quarter", "quarterly"),
        ("weekly fine-tuning on fresh tickets", "weekly"),
        ("models are updated monthly", "monthly"),
        ("rebuild it every night", "daily"),
    ],
)
def test_cadence_attached_to_any_verb(text: str, cadence: str) -> None:
    assert read(text).retraining_cadence == cadence


@pytest.mark.parametrize(
    ("text", "residency", "region"),
    [
        ("data residency in Canada, batch scoring", Residency.CA, None),
        ("our data must stay in Japan", Residency.JP, "ap-northeast-1"),
        ("data must remain in Quebec", Residency.CA, None),
        ("customer data must stay in California", Residency.US, None),
        ("data residency in Australia", Residency.AU, "ap-southeast-2"),
        ("data must not leave India", Residency.IN, "ap-south-1"),
        ("data must stay in Frankfurt", Residency.DE, "eu-central-1"),
    ],
)
def test_residency_by_country_state_or_city(
    text: str, residency: Residency, region: str | None
) -> None:
    c = read(text)
    assert c.data_residency == residency
    assert c.region == region


def test_residency_in_a_multi_region_country_asks_among_its_regions() -> None:
    c = read("Loan default model, data residency in Canada, batch, 20 GB, $3k/month, no PII")
    assert c.region is None
    [question] = questions_for(c, ["region"])
    assert "Canada" in question.question
    assert "ca-central-1" in question.why and "ca-west-1" in question.why
    for example in question.examples:
        assert parse_answer("region", example) in ("ca-central-1", "ca-west-1")


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("loan model on personal financial data", [DataSensitivity.PII]),
        ("customers' bank account details", [DataSensitivity.PII]),
        ("we store payment details", [DataSensitivity.PCI]),
        ("patient data from the clinic", [DataSensitivity.PHI]),
    ],
)
def test_sensitivity_synonyms(text: str, classes: list[DataSensitivity]) -> None:
    assert read(text).data_sensitivity == classes


def test_real_time_api_over_clickstream_is_real_time_serving() -> None:
    c = read(
        "Real-time recommendation API, 2,000 requests/s, p95 under 80 ms, us-west-2, "
        "user clickstream with PII, GDPR not applicable, $25k/month."
    )
    assert c.deployment_mode == REAL_TIME
    assert c.problem_type == "recommendation"
    assert c.latency_p95_ms == 80 and c.latency_p99_ms is None


def test_a_vague_request_is_asked_what_to_predict() -> None:
    c = read("Just want some ML for our sales team.")
    assert c.problem_type is None
    missing = c.missing_to_ask()
    assert missing[-1] == "problem_type"
    question = questions_for(c, missing)[-1]
    assert question.field == "problem_type"
    assert "predict" in question.question
    answered, evidence = extract(
        "Just want some ML for our sales team.",
        {"problem_type": "which leads will convert (classification)"},
    )
    assert answered.problem_type == "classification"
    assert answered.prediction_target == "which leads will convert"
    assert "prediction_target" in evidence


def test_a_known_problem_is_not_asked_again() -> None:
    c = read("Churn classification, us-east-1")
    assert "problem_type" not in c.missing_to_ask()


def test_prediction_target_is_read_from_the_request() -> None:
    c = read("We want to predict which customers will churn, from 40 GB of usage data")
    assert c.prediction_target == "which customers will churn"


@pytest.mark.parametrize(
    ("text", "rps"),
    [
        ("200 requests per second", 200.0),
        ("2k rps", 2000.0),
        ("1M predictions per day", 11.574),
        ("peak 6,000 requests per minute", 100.0),
        ("10k events per second", 10000.0),
        ("300 RPS", 300.0),
    ],
)
def test_throughput_in_rps(text: str, rps: float) -> None:
    assert read(text).throughput_rps == rps


@pytest.mark.parametrize("text", ["10 million rows per day", "5 GB/day", "50 ms"])
def test_throughput_not_invented(text: str) -> None:
    assert read(text).throughput_rps is None


# --------------------------------------------------------------------------- deployment mode


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("Nightly scoring of all accounts", BATCH),
        ("batch scoring of invoices", BATCH),
        ("daily predictions for the sales team", BATCH),
        ("offline scoring is enough", BATCH),
        ("batch is fine, no real-time needed", BATCH),
        ("real-time recommendations on our website", REAL_TIME),
        ("online inference for the mobile app", REAL_TIME),
        ("expose the model as an API", REAL_TIME),
        ("an endpoint for the checkout service", REAL_TIME),
        ("needs low latency", REAL_TIME),
        ("per request scoring", REAL_TIME),
        ("nightly retraining with real-time endpoint", REAL_TIME),
        ("retrain nightly, serve via API", REAL_TIME),
        ("streaming fraud detection on Kafka", STREAMING),
        ("clickstream in real time", STREAMING),
        ("Real-time recommendation API over user clickstream", REAL_TIME),
        ("an endpoint that scores each clickstream event", REAL_TIME),
        ("event stream from Kinesis with real-time alerts", STREAMING),
    ],
)
def test_deployment_mode(text: str, mode: DeploymentMode) -> None:
    assert read(text).deployment_mode == mode


@pytest.mark.parametrize(
    "text",
    [
        "Build a churn model for our telecom customers",
        "we are an online retailer",
        "retrain weekly on 40 GB",
    ],
)
def test_deployment_mode_unknown_without_serving_cue(text: str) -> None:
    assert read(text).deployment_mode is None


# ---------------------------------------------------------------- sensitivity & compliance


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("contains PII", [PII]),
        ("personal data of EU citizens", [PII]),
        ("customer names and emails", [PII]),
        ("personally identifiable information", [PII]),
        ("patient records", [PHI]),
        ("health records from clinics", [PHI]),
        ("HIPAA regulated", [PHI]),
        ("credit card numbers", [PCI]),
        ("cardholder data", [PCI]),
        ("PII plus card data and medical notes", [PII, PHI, PCI]),
        ("no PII", []),
        ("anonymised data", []),
        ("no sensitive data", []),
        ("public data sets", []),
        ("non-PII telemetry", []),
        ("de-identified patient data", []),
        ("nothing special about the data", None),
        ("Build a churn model", None),
    ],
)
def test_data_sensitivity(text: str, classes: list[DataSensitivity] | None) -> None:
    assert read(text).data_sensitivity == classes


@pytest.mark.parametrize(
    ("text", "regimes"),
    [
        ("GDPR and SOC 2 apply", ["GDPR", "SOC2"]),
        ("SOC2 Type II, ISO 27001 and FedRAMP", ["SOC2", "ISO27001", "FEDRAMP"]),
        ("PCI-DSS compliant", ["PCI-DSS"]),
        ("PCI DSS scope", ["PCI-DSS"]),
        ("under HIPAA", ["HIPAA"]),
        ("not subject to HIPAA", []),
        ("card data", []),
    ],
)
def test_compliance_regimes(text: str, regimes: list[str]) -> None:
    assert read(text).compliance == regimes


# --------------------------------------------------------------------------- ML details


@pytest.mark.parametrize(
    ("text", "frameworks"),
    [
        ("XGBoost and LightGBM", ["xgboost", "lightgbm"]),
        ("sklearn pipeline", ["scikit-learn"]),
        ("PyTorch with Hugging Face transformers", ["pytorch", "huggingface"]),
        ("TensorFlow/Keras", ["tensorflow"]),
        ("spark MLlib", ["spark-mllib"]),
        ("CatBoost and Prophet", ["catboost", "prophet"]),
        ("we don't use TensorFlow, we use PyTorch", ["pytorch"]),
    ],
)
def test_frameworks(text: str, frameworks: list[str]) -> None:
    assert read(text).frameworks == frameworks


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("predict customer churn", "classification"),
        ("fraud scoring", "classification"),
        ("classify invoices", "classification"),
        ("logistic regression for loan approval", "classification"),
        ("predict house prices", "regression"),
        ("estimate customer lifetime value", "regression"),
        ("forecast demand for 500 stores", "forecasting"),
        ("sales forecasting with Prophet", "forecasting"),
        ("recommend products to users", "recommendation"),
        ("sentiment analysis on reviews", "nlp"),
        ("classify support tickets", "nlp"),
        ("images from the production line for object detection", "computer_vision"),
        ("fine-tune Mistral 7B", "llm_fine_tuning"),
        ("an LLM for our support bot", "llm_fine_tuning"),
        ("detect outliers in payments", "anomaly_detection"),
        ("retrain on demand", None),
    ],
)
def test_problem_type(text: str, problem: str | None) -> None:
    assert read(text).problem_type == problem


@pytest.mark.parametrize(
    ("text", "cadence"),
    [
        ("retrain every hour", "hourly"),
        ("retrain nightly", "daily"),
        ("daily retraining", "daily"),
        ("the model should be refreshed every week", "weekly"),
        ("weekly training runs", "weekly"),
        ("monthly retraining", "monthly"),
        ("retrain on demand", "on_demand"),
        ("retrain when drift is detected", "on_demand"),
        ("ad hoc retraining", "on_demand"),
        ("daily scoring, training data is 40 GB", None),
        ("use on-demand instances", None),
    ],
)
def test_retraining_cadence(text: str, cadence: str | None) -> None:
    assert read(text).retraining_cadence == cadence


@pytest.mark.parametrize(
    ("text", "skills", "preferred", "avoided"),
    [
        ("team knows Terraform", ["terraform"], [], []),
        ("we are strong in Python", ["python"], [], []),
        ("familiar with SageMaker", ["sagemaker"], [], []),
        ("data scientists only", ["data_science"], [], []),
        ("no Kubernetes experience", [], [], ["eks"]),
        (
            "our team is fluent in Python, SQL and Spark but has no Kubernetes experience",
            ["python", "sql", "spark"],
            [],
            ["eks"],
        ),
        ("SageMaker preferred", [], ["sagemaker"], []),
        ("prefer serverless", [], ["serverless"], []),
        ("we use Kinesis", [], ["kinesis"], []),
        ("avoid EMR", [], [], ["emr"]),
        ("no Kubernetes", [], [], ["eks"]),
        ("prefer serverless and avoid EMR", [], ["serverless"], ["emr"]),
        ("we would rather use Lambda than EKS", [], ["lambda"], ["eks"]),
        ("Glue is not allowed", [], [], ["glue"]),
        ("events arrive from Kinesis", [], [], []),
    ],
)
def test_skills_and_services(
    text: str, skills: list[str], preferred: list[str], avoided: list[str]
) -> None:
    constraints = read(text)
    assert constraints.team_skills == skills
    assert constraints.preferred_services == preferred
    assert constraints.avoided_services == avoided


@pytest.mark.parametrize(
    ("text", "gpu", "spot", "ha"),
    [
        ("train on A100 GPUs", True, None, None),
        ("p4d.24xlarge instances", True, None, None),
        ("CPU only", False, None, None),
        ("no GPU needed", False, None, None),
        ("deep learning model", None, None, None),
        ("use spot instances for training", None, True, None),
        ("no spot instances please", None, False, None),
        ("highly available endpoint", None, None, True),
        ("multi-AZ deployment", None, None, True),
        ("99.9% availability", None, None, True),
        ("single AZ is fine", None, None, False),
        ("HA is not required", None, None, False),
    ],
)
def test_infrastructure_flags(
    text: str, gpu: bool | None, spot: bool | None, ha: bool | None
) -> None:
    constraints = read(text)
    assert constraints.gpu_required is gpu
    assert constraints.use_spot_training is spot
    assert constraints.high_availability is ha


def test_summary_is_first_sentence_trimmed() -> None:
    assert read(WORKLOAD_A).summary == (
        "Nightly churn model on 40 GB of customer data with PII, eu-west-1 only, under "
        "$1,500/month, SageMaker preferred"
    )
    long_summary = read(WORKLOAD_D).summary
    assert long_summary is not None
    assert len(long_summary) <= 120
    assert long_summary.endswith("...")
    assert read("").summary is None


# --------------------------------------------------------------------------- answers & determinism


def test_answers_override_the_text_and_are_evidenced() -> None:
    # Given a request that says us-east-1 / When the user answers region=Frankfurt
    constraints, evidence = extract(WORKLOAD_B, {"region": "Frankfurt", "data_sensitivity": "none"})
    # Then the answers win and the evidence says so
    assert constraints.region == "eu-central-1"
    assert constraints.data_sensitivity == []
    assert evidence["region"] == "answer: Frankfurt"
    assert evidence["data_sensitivity"] == "answer: none"


def test_answers_fill_missing_fields() -> None:
    answers = {
        "deployment_mode": "batch",
        "region": "eu-west-1",
        "data_volume_gb": "40 GB",
        "budget": "$1,500/month",
        "data_sensitivity": "pii",
    }
    constraints, _ = extract("Build a churn model for our telecom customers", answers)
    assert constraints.coverage().complete


def test_bad_answer_in_extract_raises() -> None:
    with pytest.raises(InvalidAnswer):
        extract("Build a churn model", {"budget": "abc"})


@pytest.mark.parametrize("text", [WORKLOAD_A, WORKLOAD_B, WORKLOAD_C, WORKLOAD_D, WORKLOAD_E])
def test_extraction_is_deterministic(text: str) -> None:
    first = extract(text, {"gpu_required": "no"})
    second = extract(text, {"gpu_required": "no"})
    assert first[0].model_dump_json() == second[0].model_dump_json()
    assert list(first[1].items()) == list(second[1].items())


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("budget", "1500", 1500.0),
        ("budget", "$2k per month", 2000.0),
        ("budget", "20000 EUR per year", 1800.0),
        ("region", "Frankfurt", "eu-central-1"),
        ("region", "eu-west-1", "eu-west-1"),
        ("data_sensitivity", "no", []),
        ("data_sensitivity", "none", []),
        ("data_sensitivity", "PII and card data", [PII, PCI]),
        ("data_sensitivity", "phi, pii", [PII, PHI]),
        ("data_volume_gb", "40", 40.0),
        ("data_volume_gb", "2.5 TB", 2500.0),
        ("latency_p99_ms", "50", 50),
        ("latency_p99_ms", "2 seconds", 2000),
        ("latency_p99_ms", "sub-second", 1000),
        ("throughput_rps", "300", 300.0),
        ("throughput_rps", "1M per day", 11.574),
        ("deployment_mode", "online", REAL_TIME),
        ("deployment_mode", "Real-time", REAL_TIME),
        ("deployment_mode", "nightly batch", BATCH),
        ("deployment_mode", "streaming", STREAMING),
        ("gpu_required", "yes", True),
        ("gpu_required", "No", False),
        ("gpu_required", "true", True),
        ("gpu_required", "false", False),
        ("compliance", "GDPR and SOC 2", ["GDPR", "SOC2"]),
        ("compliance", "none", []),
        ("frameworks", "sklearn, PyTorch", ["scikit-learn", "pytorch"]),
        ("retraining_cadence", "every week", "weekly"),
        ("retraining_cadence", "on demand", "on_demand"),
        ("team_skills", "python and terraform", ["python", "terraform"]),
        ("preferred_services", "SageMaker, Lambda", ["sagemaker", "lambda"]),
        ("data_residency", "EU", Residency.EU),
        ("data_residency", "none", None),
        ("problem_type", "computer vision", "computer_vision"),
        ("problem_type", "churn", "classification"),
        ("summary", "  Churn model  ", "Churn model"),
    ],
)
def test_parse_answer(field: str, value: str, expected: Any) -> None:
    parsed = parse_answer(field, value)
    if field == "budget":
        parsed = parsed.monthly_usd
    assert parsed == expected


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        ("budget", "abc", "an amount such as '$1,500/month' or '20000 EUR per year'"),
        ("region", "EU", "eu-west-1"),
        ("data_sensitivity", "yes", "pii"),
        ("data_volume_gb", "10 million rows", "GB"),
        ("latency_p99_ms", "fast", "ms"),
        ("throughput_rps", "many", "per second"),
        ("deployment_mode", "maybe", "batch"),
        ("gpu_required", "perhaps", "yes or no"),
        ("retraining_cadence", "sometimes", "weekly"),
        ("data_residency", "mars", "EU"),
        ("problem_type", "xyz", "classification"),
        ("summary", "   ", "description"),
    ],
)
def test_parse_answer_rejects_unreadable_values(field: str, value: str, hint: str) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        parse_answer(field, value)
    assert caught.value.field == field
    assert hint in caught.value.expected
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("field", ["foo", "avoided_services", "use_spot_training"])
def test_parse_answer_rejects_unknown_fields(field: str) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        parse_answer(field, "x")
    assert field in str(caught.value)
    assert "region" in caught.value.expected
    assert "budget" in caught.value.expected


# --------------------------------------------------------------------------- questions


QUESTION_CONTEXTS = [
    "Build a churn model for our telecom customers",
    "Churn predictions, data must stay in the EU",
    "Real-time API at 200 rps, GDPR applies",
    "Streaming anomalies from Kafka, UK only",
    "Fine-tune Llama on GPUs in eu-west-1",
    "Real-time scoring, US only",
]


@pytest.mark.parametrize("text", QUESTION_CONTEXTS)
def test_every_question_example_parses(text: str) -> None:
    constraints = read(text)
    questions = questions_for(constraints, list(ANSWERABLE_FIELDS))
    assert [q.field for q in questions] == list(ANSWERABLE_FIELDS)
    for question in questions:
        assert question.question and question.why and question.examples
        for example in question.examples:
            parse_answer(question.field, example)


def test_one_question_per_missing_field_in_order() -> None:
    constraints = read("Build a churn model for our telecom customers")
    missing = constraints.missing_mandatory()
    questions = questions_for(constraints, [*missing, missing[0], "avoided_services"])
    assert [q.field for q in questions] == missing


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("Churn predictions, data must stay in the EU", "eu"),
        ("Streaming anomalies from Kafka, UK only", "uk"),
        ("Real-time scoring, US only", "us"),
        ("data must stay in Canada", "ca"),
        ("APAC only", "apac"),
    ],
)
def test_region_question_respects_residency(text: str, area: str) -> None:
    # Given a known residency / When the region is asked
    (question,) = questions_for(read(text), ["region"])
    # Then the question names the area and every example is an allowed region
    assert "region" in question.question
    assert RESIDENCY_REGIONS[area][0] in question.why
    for example in question.examples:
        assert parse_answer("region", example) in RESIDENCY_REGIONS[area]


def test_eu_region_question_wording() -> None:
    (question,) = questions_for(read("data must stay in the EU"), ["region"])
    assert question.question == "Which EU region should the workload run in?"
    assert "must stay in the EU" in question.why


def test_latency_question_explains_real_time_need() -> None:
    constraints = read("Real-time API at 200 rps")
    (question,) = questions_for(constraints, ["latency_p99_ms"])
    assert "Real-time" in question.why
    assert "200 requests per second" in question.why


def test_budget_question_mentions_gpu_cost() -> None:
    (question,) = questions_for(read("Fine-tune Llama on GPUs"), ["budget"])
    assert "GPU" in question.why


def test_questions_are_deterministic() -> None:
    constraints = read(WORKLOAD_C)
    first = questions_for(constraints, list(ANSWERABLE_FIELDS))
    second = questions_for(constraints, list(ANSWERABLE_FIELDS))
    assert [q.model_dump() for q in first] == [q.model_dump() for q in second]
