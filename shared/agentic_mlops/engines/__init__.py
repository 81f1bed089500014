"""Engines run decision sets: in-process (the embedded default) or on AWS Step Functions."""

from agentic_mlops.engines.base import Engine
from agentic_mlops.engines.local import LocalEngine

__all__ = ["Engine", "LocalEngine"]
