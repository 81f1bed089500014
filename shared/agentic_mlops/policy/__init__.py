"""Policy rules as data and the engine that evaluates them."""

from agentic_mlops.policy.engine import (
    CHECKS,
    PolicyError,
    Rule,
    Ruleset,
    available_rulesets,
    evaluate,
    load_ruleset,
    load_ruleset_file,
    parse_ruleset,
    register_check,
)

__all__ = [
    "CHECKS",
    "PolicyError",
    "Rule",
    "Ruleset",
    "available_rulesets",
    "evaluate",
    "load_ruleset",
    "load_ruleset_file",
    "parse_ruleset",
    "register_check",
]
