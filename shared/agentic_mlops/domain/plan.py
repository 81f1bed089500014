"""The planned MLOps architecture."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentic_mlops.domain.constraints import DeploymentMode
from agentic_mlops.domain.services import CAPABILITIES, SERVICES

ConfigValue = str | int | float | bool


class Alternative(BaseModel):
    """An option that was considered and not chosen."""

    option: str
    reason: str


class Component(BaseModel):
    """One AWS service instance in the plan."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    service: str
    purpose: str
    capabilities: list[str] = Field(default_factory=list)
    config: dict[str, ConfigValue] = Field(default_factory=dict)
    stores_data: bool = False
    encrypted_at_rest: bool | None = Field(
        default=None, description="None for components that hold no data."
    )
    private_networking: bool = False

    @field_validator("service")
    @classmethod
    def _known_service(cls, value: str) -> str:
        if value not in SERVICES:
            raise ValueError(f"unknown service {value!r}; expected one of {sorted(SERVICES)}")
        return value

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}")
        return value


class NetworkPlan(BaseModel):
    """Networking posture of the plan."""

    vpc: bool = False
    private_subnets: bool = False
    vpc_endpoints: list[str] = Field(default_factory=list)
    nat_gateway: bool = False
    internet_egress: bool = True


class EncryptionPlan(BaseModel):
    """Encryption posture of the plan."""

    at_rest: Literal["aws-kms-cmk", "aws-managed", "none"] = "aws-managed"
    in_transit_tls: bool = True
    kms_key_rotation: bool = False


class Plan(BaseModel):
    """An MLOps architecture on AWS chosen for a set of constraints."""

    model_config = ConfigDict(extra="forbid")

    name: str
    region: str
    deployment_mode: DeploymentMode
    summary: str
    components: list[Component]
    networking: NetworkPlan = Field(default_factory=NetworkPlan)
    encryption: EncryptionPlan = Field(default_factory=EncryptionPlan)
    rationale: list[str] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)

    @field_validator("components")
    @classmethod
    def _unique_ids(cls, value: list[Component]) -> list[Component]:
        ids = [c.id for c in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate component ids {duplicates}")
        return value

    def capabilities(self) -> set[str]:
        """Return every capability provided by the plan's components."""
        return {cap for component in self.components for cap in component.capabilities}

    def services(self) -> list[str]:
        """Return the distinct services in component order."""
        return list(dict.fromkeys(c.service for c in self.components))

    def component(self, component_id: str) -> Component | None:
        """Return the component with this id, if any."""
        return next((c for c in self.components if c.id == component_id), None)

    def by_service(self, service: str) -> list[Component]:
        """Return the components that use a service."""
        return [c for c in self.components if c.service == service]
