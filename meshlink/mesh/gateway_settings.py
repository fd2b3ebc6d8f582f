"""The arguments and settings of the gateway components: one ``TypedDict`` per component
(what users write and the schema shows) and the pydantic model that validates it.

Kept apart from :mod:`meshlink.mesh.gateways` (which declares resources) and
:mod:`meshlink.mesh.gateway_plan` (which plans them), which both read these models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshlink.mesh.common import (
    RESERVED_PORTS,
    RESERVED_PORTS_TEXT,
    Cidr,
    IpAddress,
    Labels,
    Selector,
)
from meshlink.validation import (
    SYSTEM_NAMESPACES,
    KubernetesLabel,
    KubernetesName,
    Port,
    covers_all_addresses,
)

# GKE's LoadBalancer Service parameters
# (https://cloud.google.com/kubernetes-engine/docs/concepts/service-load-balancer-parameters):
# the static address by the *name* of a reserved address, in place of the deprecated
# spec.loadBalancerIP, and the network tier of an external load balancer.
STATIC_IP_ANNOTATION = "networking.gke.io/load-balancer-ip-addresses"
NETWORK_TIER_ANNOTATION = "cloud.google.com/network-tier"
NETWORK_TIER_VALUES = {"PREMIUM": "Premium", "STANDARD": "Standard"}

_DEFAULT_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "2", "memory": "1Gi"},
}


class GatewayResourcesArgs(TypedDict, total=False):
    """CPU and memory for the gateway's proxy container."""

    requests: Mapping[str, str]
    """Defaults to ``{cpu: 100m, memory: 128Mi}``; the scheduler needs requests to place
    replicas where they fit, and autoscalers need them to scale."""
    limits: Mapping[str, str]
    """Defaults to ``{cpu: "2", memory: 1Gi}``."""


class GatewayArgs(TypedDict, total=False):
    """What both gateways have in common."""

    namespace: str
    """Namespace of the gateway and of the Secrets its ``credentialName``s point to.
    Defaults to the component's name."""
    name: str
    """Name of the Deployment, Service, ServiceAccount and Istio ``Gateway`` objects.
    Defaults to the component's name."""
    labels: Mapping[str, str]
    """The selector labels (pods, Service, PodDisruptionBudget, Istio ``Gateway``).
    Defaults to ``{app: <name>, istio: <name>}``."""
    create_namespace: bool
    """Create the namespace (default). When False it must exist and have sidecar
    injection enabled."""
    revision: str
    """Istio revision to inject from (``istio.io/rev`` on the namespace, e.g.
    ``asm-managed``). Omitted: ``istio-injection: enabled``, the default revision."""
    replicas: int
    """At least 2 (default 2), so a node drain never takes the link down."""
    resources: GatewayResourcesArgs
    node_selector: Mapping[str, str]
    """Pin the gateway to a node pool, e.g. one whose egress the VPC firewall allows."""
    tolerations: Sequence[Mapping[str, Any]]
    """Tolerations for a dedicated gateway node pool, as Kubernetes writes them."""
    allow_system_namespace: bool
    """Accept ``namespace`` being ``kube-system``, ``istio-system`` or another system
    namespace (off by default): meshlink labels the namespace for injection, may declare
    it (``create_namespace``, and so delete it on ``pulumi destroy``) and lets the gateway
    read every Secret in it. Meant for a platform that keeps all gateways in
    ``istio-system`` with ``create_namespace: false``."""


class EgressGatewayArgs(GatewayArgs, total=False):
    """The client cluster's egress gateway."""


class IngressGatewaySettingsArgs(GatewayArgs, total=False):
    """The server cluster's ingress gateway, as :class:`~meshlink.mesh.MeshLink` takes it."""

    source_ranges: Sequence[pulumi.Input[str]]
    """CIDR blocks allowed to reach the link ports: the client cluster's egress (NAT)
    addresses. Required; ``0.0.0.0/0`` only with ``allow_any_source``."""
    allow_any_source: bool
    """Accept a source range that covers every address. Off by default."""
    static_ip: pulumi.Input[str]
    """The reserved address of the load balancer, where the FQDNs must resolve in the
    client's network. Alone, it goes into ``spec.loadBalancerIP`` (deprecated since
    Kubernetes 1.24; for clusters other than GKE). With ``static_ip_name`` it is only
    reported as the ``ingress_address``."""
    static_ip_name: str
    """The *name* of the reserved regional address, passed in GKE's
    ``networking.gke.io/load-balancer-ip-addresses`` annotation, which replaces
    ``spec.loadBalancerIP`` on GKE; no ``loadBalancerIP`` is written then."""
    network_tier: Literal["PREMIUM", "STANDARD"]
    """The network tier of the reserved address (``cloud.google.com/network-tier``):
    GKE creates the forwarding rule in this tier, which must match the address's. External
    load balancers only. Unset: GKE's default (the project's default tier)."""
    internal: bool
    """Make an internal passthrough load balancer (clusters linked through VPC peering,
    VPN or Interconnect). Default False: external."""
    service_annotations: Mapping[str, str]
    """Further annotations for the LoadBalancer Service."""


class IngressGatewayArgs(IngressGatewaySettingsArgs, total=False):
    """A standalone ingress gateway."""

    link_ports: Sequence[int]
    """The ports to expose, one per linked service."""


class ExistingIngressGatewaySettingsArgs(TypedDict, total=False):
    """An ingress gateway that is deployed by someone else, as ``MeshLink`` takes it."""

    namespace: str
    """Its namespace (required). The server credential Secrets are created there."""
    service_name: str
    """Its Service (required); the link ports are added to it."""
    labels: Mapping[str, str]
    """Its pods' selector labels (required), for the Istio ``Gateway`` selector."""
    service_account: str
    """Its pods' service account: the mesh identity the targets' AuthorizationPolicies
    admit. Required while any service has ``target_policies`` on."""
    field_manager: str
    """Server-side-apply field manager that owns the added ports. Defaults to
    ``meshlink-<component name>``; keep it stable, it is how the ports are removed."""
    address: pulumi.Input[str]
    """Its load balancer address, if known, for the ``ingress_address`` output."""


class ExistingIngressGatewayArgs(ExistingIngressGatewaySettingsArgs, total=False):
    link_ports: Sequence[int]
    """The ports to add, one per linked service."""


class GatewayResources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_RESOURCES["requests"]))
    limits: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_RESOURCES["limits"]))


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: KubernetesLabel | None = None
    name: KubernetesLabel | None = None
    labels: Selector | None = None
    create_namespace: bool = True
    revision: KubernetesLabel | None = None
    replicas: int = Field(default=2, ge=2, le=100)
    resources: GatewayResources = Field(default_factory=GatewayResources)
    node_selector: Labels = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    allow_system_namespace: bool = False

    @model_validator(mode="after")
    def _own_namespace(self) -> GatewaySettings:
        if self.namespace in SYSTEM_NAMESPACES and not self.allow_system_namespace:
            raise ValueError(
                f"namespace: {self.namespace!r} is a system namespace; meshlink would label "
                "it for injection, may declare it (and delete it on destroy) and let the "
                "gateway read every Secret in it; choose a namespace of the gateway's own, "
                "or set allow_system_namespace to accept this deliberately"
            )
        return self


class EgressGatewaySettings(GatewaySettings):
    pass


class IngressGatewaySettings(GatewaySettings):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    source_ranges: list[Cidr] = Field(min_length=1)
    allow_any_source: bool = False
    static_ip: IpAddress | None = None
    static_ip_name: KubernetesName | None = None
    network_tier: Literal["PREMIUM", "STANDARD"] | None = None
    internal: bool = False
    service_annotations: Labels = Field(default_factory=dict)

    @model_validator(mode="after")
    def _checks(self) -> IngressGatewaySettings:
        if self.internal and self.network_tier is not None:
            raise ValueError(
                "network_tier applies to external load balancers only; remove it with internal"
            )
        for key in (STATIC_IP_ANNOTATION, NETWORK_TIER_ANNOTATION):
            if key in self.service_annotations:
                raise ValueError(
                    f"service_annotations: {key} is set by meshlink from "
                    f"{'static_ip_name' if key == STATIC_IP_ANNOTATION else 'network_tier'}; "
                    "use that setting"
                )
        if not self.allow_any_source:
            everything = covers_all_addresses([c for c in self.source_ranges if isinstance(c, str)])
            if everything is not None:
                raise ValueError(
                    f"source_ranges: {everything} admits every address on the internet to "
                    "the link ports (the ranges together cover it); list the client "
                    "cluster's egress addresses, or set allow_any_source to accept this "
                    "deliberately"
                )
        return self


class StandaloneIngressGatewaySettings(IngressGatewaySettings):
    link_ports: list[Port] = Field(min_length=1)


class ExistingIngressGatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    namespace: KubernetesLabel
    service_name: KubernetesLabel
    labels: Selector
    service_account: KubernetesName | None = None
    field_manager: str | None = Field(default=None, min_length=1, max_length=128)
    address: IpAddress | None = None


class StandaloneExistingIngressGatewaySettings(ExistingIngressGatewaySettings):
    link_ports: list[Port] = Field(min_length=1)


def check_link_ports(ports: Sequence[int], *, setting: str) -> list[str]:
    """Problems with a set of link ports: duplicates and Istio's reserved range."""
    problems = []
    seen: set[int] = set()
    for index, port in enumerate(ports):
        if port in RESERVED_PORTS:
            problems.append(
                f"{setting}[{index}]: port {port} is reserved by Istio on its proxies and "
                f"gateways ({RESERVED_PORTS_TEXT})"
            )
        if port in seen:
            problems.append(f"{setting}[{index}]: port {port} is listed twice")
        seen.add(port)
    return problems
