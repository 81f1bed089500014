"""Cost estimation from a shipped pricing catalogue, and the cost critic."""

from agentic_mlops.pricing.critic import cost_findings
from agentic_mlops.pricing.estimator import (
    Catalogue,
    PricingError,
    catalogue_hash,
    estimate,
    load_catalogue,
)

__all__ = [
    "Catalogue",
    "PricingError",
    "catalogue_hash",
    "cost_findings",
    "estimate",
    "load_catalogue",
]
