"""``security.istio.io`` kinds: PeerAuthentication and AuthorizationPolicy.

They harden both ends of a link: the server side accepts only mesh mTLS from the ingress
gateway, and the ingress gateway accepts only the link port. Only the L4 attributes are
modelled (principals, namespaces, IP blocks, ports), because those are the only ones
Istio can enforce on TCP traffic; an HTTP-only rule on a TCP port denies everything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, field_serializer, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import LabelSelector
from meshlink.istio.values import IpBlock
from meshlink.validation import KubernetesLabel, WirePort

__all__ = [
    "AuthorizationAction",
    "AuthorizationPolicy",
    "Condition",
    "ExtensionProvider",
    "Operation",
    "PeerAuthentication",
    "PeerAuthenticationMode",
    "PeerMutualTLS",
    "Rule",
    "RuleFrom",
    "RuleTo",
    "Source",
]

SECURITY = "security.istio.io"

NonEmptyString = Annotated[str, Field(min_length=1)]


class PeerAuthenticationMode(StrEnum):
    UNSET = "UNSET"
    DISABLE = "DISABLE"
    PERMISSIVE = "PERMISSIVE"
    STRICT = "STRICT"


class PeerMutualTLS(IstioModel):
    mode: PeerAuthenticationMode


class PeerAuthentication(IstioSpec):
    """Whether workloads accept plain text or only mesh mTLS."""

    API_GROUP: ClassVar[str] = SECURITY
    KIND: ClassVar[str] = "PeerAuthentication"

    selector: LabelSelector | None = None
    """Unset means every workload in the namespace (or the mesh, in the root namespace)."""
    mtls: PeerMutualTLS | None = None
    port_level_mtls: dict[WirePort, PeerMutualTLS] | None = Field(default=None, min_length=1)
    """Per workload port (the container port, not the Service port)."""

    @model_validator(mode="after")
    def _port_level_needs_selector(self) -> PeerAuthentication:
        if self.port_level_mtls is not None and self.selector is None:
            raise ValueError(
                "portLevelMtls needs a selector: Istio refuses port-level settings in a "
                "namespace- or mesh-wide policy"
            )
        return self


class AuthorizationAction(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    AUDIT = "AUDIT"
    CUSTOM = "CUSTOM"


class Source(IstioModel):
    """Who the connection comes from. Principals are SPIFFE identities without the
    ``spiffe://`` prefix (``cluster.local/ns/<ns>/sa/<sa>``)."""

    principals: list[NonEmptyString] | None = Field(default=None, min_length=1)
    not_principals: list[NonEmptyString] | None = Field(default=None, min_length=1)
    namespaces: list[KubernetesLabel] | None = Field(default=None, min_length=1)
    not_namespaces: list[KubernetesLabel] | None = Field(default=None, min_length=1)
    ip_blocks: list[IpBlock] | None = Field(default=None, min_length=1)
    not_ip_blocks: list[IpBlock] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Source:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a source needs at least one field; Istio refuses an empty one")
        return self


class Operation(IstioModel):
    """What the connection is for. Ports are strings on the wire."""

    ports: list[WirePort] | None = Field(default=None, min_length=1)
    not_ports: list[WirePort] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Operation:
        if self.ports is None and self.not_ports is None:
            raise ValueError("an operation needs ports or notPorts")
        return self

    @field_serializer("ports", "not_ports")
    def _ports_as_strings(self, ports: list[int] | None) -> list[str] | None:
        return None if ports is None else [str(port) for port in ports]


class RuleFrom(IstioModel):
    source: Source


class RuleTo(IstioModel):
    operation: Operation


class Condition(IstioModel):
    """An extra condition, for example ``key="destination.port"``."""

    key: NonEmptyString
    values: list[NonEmptyString] | None = Field(default=None, min_length=1)
    not_values: list[NonEmptyString] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _has_values(self) -> Condition:
        if self.values is None and self.not_values is None:
            raise ValueError(f"condition {self.key!r} needs values or notValues")
        return self


class Rule(IstioModel):
    """Matches when every given part matches. An empty rule matches everything."""

    from_: list[RuleFrom] | None = Field(default=None, alias="from", min_length=1)
    to: list[RuleTo] | None = Field(default=None, min_length=1)
    when: list[Condition] | None = Field(default=None, min_length=1)


class ExtensionProvider(IstioModel):
    name: NonEmptyString


class AuthorizationPolicy(IstioSpec):
    """Allows or denies connections to the selected workloads."""

    API_GROUP: ClassVar[str] = SECURITY
    KIND: ClassVar[str] = "AuthorizationPolicy"

    selector: LabelSelector | None = None
    action: AuthorizationAction | None = None
    """Unset means ``ALLOW``."""
    provider: ExtensionProvider | None = None
    rules: list[Rule] | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _consistent(self) -> AuthorizationPolicy:
        action = self.action or AuthorizationAction.ALLOW
        if action is AuthorizationAction.CUSTOM:
            if self.provider is None:
                raise ValueError("action CUSTOM needs a provider")
            if self.rules is None:
                raise ValueError("action CUSTOM needs rules (use [{}] to match everything)")
        elif self.provider is not None:
            raise ValueError(f"provider is only used with action CUSTOM, not {action.value}")
        if action is AuthorizationAction.DENY and self.rules is None:
            raise ValueError(
                "action DENY without rules never matches; give rules ([{}] denies everything)"
            )
        return self
