"""The NetworkPolicy that keeps client pods from going around the egress gateway.

Istio routes link traffic through the egress gateway, but it cannot stop a pod from
opening a connection of its own to the server cluster's address: a sidecar passes
unknown traffic through, and a pod can skip its sidecar entirely. A NetworkPolicy,
enforced below the pod (GKE Dataplane V2 enforces it without extra setup), closes that:
each client namespace may send traffic only to

- the egress gateway pods, on 15443;
- DNS: kube-dns in ``kube-system``, and on GKE the NodeLocal DNSCache address
  (169.254.20.10) and the metadata server (169.254.169.254), which answers DNS under
  Cloud DNS for GKE;
- the mesh control plane, which the sidecars need for configuration and certificates:

  - ``managed`` (the default, managed Cloud Service Mesh): the control plane is a
    Google API reached over HTTPS, and the sidecar authenticates with a token from the
    GKE metadata server. Allowed: TCP 443 to ``google_api_cidrs`` (by default the
    Private Google Access ranges ``private.googleapis.com`` 199.36.153.8/30 and
    ``restricted.googleapis.com`` 199.36.153.4/30, which requires that the client VPC
    resolves ``*.googleapis.com`` to them), TCP 80 to 169.254.169.254 and TCP 988 to
    169.254.169.252 (the GKE metadata server with Workload Identity Federation).
    A Kubernetes NetworkPolicy can only name addresses, not host names; if the VPC
    reaches Google APIs on their public addresses, list those ranges here.
  - ``in_cluster``: istiod pods (``app: istiod`` in ``istio-system`` by default) on
    15012, the port for configuration and certificates.

- anything listed in ``extra_egress`` (other services the workloads need).

Policies add up: a namespace that already has a policy allowing more keeps allowing
it. The policy covers egress only.

**Off unless asked for.** A client namespace often holds workloads that were there
before the link, and this policy blocks *every other outbound connection* of the pods it
selects: other services in the cluster, databases outside it, public APIs, and (with
``control_plane.kind: managed``) a self-managed istiod's port 15012. Imported into such a
namespace by surprise, it would cut them off. So it is declared only when
``enabled: true``, and it selects

- the pods matching ``pod_selector``, when given: the link's own workloads, and nothing
  else of the namespace;
- every pod of the namespace otherwise: the full lock-down, for namespaces that hold
  nothing but link clients (the dev stack turns it on this way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshlink.mesh.common import Cidr, Labels, Selector, untyped
from meshlink.mesh.gateways import GatewayRef
from meshlink.validation import KubernetesLabel, Port, covers_all_addresses

PRIVATE_GOOGLE_ACCESS_CIDRS = ("199.36.153.8/30", "199.36.153.4/30")
METADATA_SERVER = "169.254.169.254/32"
WORKLOAD_IDENTITY_METADATA = "169.254.169.252/32"
NODE_LOCAL_DNS = "169.254.20.10/32"


class EgressPeerArgs(TypedDict, total=False):
    """One more destination client pods may reach: an address block, or pods."""

    cidr: str
    """An address block (e.g. a database outside the mesh)."""
    namespace: str
    """Pods in this namespace (all pods, or those matching ``pod_labels``)."""
    pod_labels: Mapping[str, str]
    """Pods with these labels, in ``namespace`` or in the client namespace itself."""
    ports: Sequence[int]
    """Destination ports; all ports when omitted."""
    protocol: Literal["TCP", "UDP", "SCTP"]
    """Protocol of ``ports`` (default TCP)."""


class ControlPlaneArgs(TypedDict, total=False):
    """Where the sidecars' control plane lives."""

    kind: Literal["managed", "in_cluster"]
    """``managed`` (default) for managed Cloud Service Mesh, ``in_cluster`` for istiod."""
    google_api_cidrs: Sequence[str]
    """``managed``: where Google APIs are reached (default: the Private Google Access
    ranges)."""
    metadata_server: bool
    """``managed``: allow the GKE metadata server (default True)."""
    istiod_namespace: str
    """``in_cluster``: istiod's namespace (default ``istio-system``)."""
    istiod_labels: Mapping[str, str]
    """``in_cluster``: istiod's pod labels (default ``{app: istiod}``)."""
    istiod_ports: Sequence[int]
    """``in_cluster``: istiod's ports (default 15012)."""


class ClientNetworkPolicyArgs(TypedDict, total=False):
    """The egress lock-down of the client namespaces."""

    enabled: bool
    """Declare the policy (default False): it blocks every other outbound connection of
    the pods it selects, so it is turned on deliberately."""
    pod_selector: Mapping[str, str]
    """Confine only the pods with these labels (the link's clients); every pod of each
    client namespace when omitted (the full lock-down)."""
    control_plane: ControlPlaneArgs
    kube_dns: bool
    """Allow kube-dns in ``kube-system`` (default True)."""
    dns_cidrs: Sequence[str]
    """Further DNS servers (UDP and TCP 53). Default: NodeLocal DNSCache and the GKE
    metadata server."""
    extra_egress: Sequence[EgressPeerArgs]


class EgressPeer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cidr: Cidr | None = None
    namespace: KubernetesLabel | None = None
    pod_labels: Selector | None = None
    ports: list[Port] = Field(default_factory=list)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"

    @model_validator(mode="after")
    def _one_kind(self) -> EgressPeer:
        if self.cidr is not None and (self.namespace is not None or self.pod_labels is not None):
            raise ValueError("give either cidr, or namespace and/or pod_labels, not both")
        if self.cidr is None and self.namespace is None and self.pod_labels is None:
            raise ValueError("give cidr, namespace or pod_labels")
        return self


class ControlPlane(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["managed", "in_cluster"] = "managed"
    google_api_cidrs: list[Cidr] = Field(
        default_factory=lambda: list(PRIVATE_GOOGLE_ACCESS_CIDRS), min_length=1
    )
    metadata_server: bool = True
    istiod_namespace: KubernetesLabel = "istio-system"
    istiod_labels: Selector = Field(default_factory=lambda: {"app": "istiod"})
    istiod_ports: list[Port] = Field(default_factory=lambda: [15012], min_length=1)


class ClientNetworkPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    pod_selector: Selector | None = None
    control_plane: ControlPlane = Field(default_factory=ControlPlane)
    kube_dns: bool = True
    dns_cidrs: list[Cidr] = Field(default_factory=lambda: [NODE_LOCAL_DNS, METADATA_SERVER])
    extra_egress: list[EgressPeer] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_void(self) -> ClientNetworkPolicy:
        everything = covers_all_addresses([p.cidr for p in self.extra_egress if p.cidr])
        if everything is not None:
            raise ValueError(
                f"extra_egress: the cidr entries together cover {everything}, so the "
                "NetworkPolicy would let the client pods bypass the egress gateway; list "
                "the ranges they need, or set enabled: false to go without the policy"
            )
        return self

    @model_validator(mode="after")
    def _enabled_when_configured(self) -> ClientNetworkPolicy:
        # Settings without ``enabled: true`` would leave the caller believing in a policy
        # that is not there.
        ignored = sorted(self.model_fields_set - {"enabled"})
        if ignored and not self.enabled:
            raise ValueError(
                f"{', '.join(ignored)} set, but enabled is false (the default), so no "
                "policy is declared; set enabled: true to declare it, or remove them"
            )
        return self


def _namespace_selector(namespace: str) -> dict[str, Any]:
    # Kubernetes sets this label on every namespace (1.21+); a name cannot be spoofed.
    return {"match_labels": {"kubernetes.io/metadata.name": namespace}}


def _ports(ports: Sequence[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": port, "protocol": protocol} for port in ports]


def _dns_ports() -> list[dict[str, Any]]:
    return [*_ports([53], "UDP"), *_ports([53], "TCP")]


def _dns_rules(settings: ClientNetworkPolicy) -> list[dict[str, Any]]:
    """Name resolution: kube-dns, and the node-local and metadata resolvers."""
    dns_peers: list[dict[str, Any]] = []
    if settings.kube_dns:
        dns_peers.append(
            {
                "namespace_selector": _namespace_selector("kube-system"),
                "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
            }
        )
    dns_peers += [{"ip_block": {"cidr": cidr}} for cidr in settings.dns_cidrs]
    return [{"to": dns_peers, "ports": _dns_ports()}] if dns_peers else []


def _control_plane_rules(plane: ControlPlane) -> list[dict[str, Any]]:
    """The rules toward the control plane: Google's API ranges (and the metadata server
    when enabled) with ``kind: managed``, istiod's pods otherwise."""
    if plane.kind != "managed":
        return [
            {
                "to": [
                    {
                        "namespace_selector": _namespace_selector(plane.istiod_namespace),
                        "pod_selector": {"match_labels": dict(plane.istiod_labels)},
                    }
                ],
                "ports": _ports(plane.istiod_ports),
            }
        ]
    rules = [
        {
            "to": [{"ip_block": {"cidr": cidr}} for cidr in plane.google_api_cidrs],
            "ports": _ports([443]),
        }
    ]
    if plane.metadata_server:
        rules.append({"to": [{"ip_block": {"cidr": METADATA_SERVER}}], "ports": _ports([80])})
        rules.append(
            {"to": [{"ip_block": {"cidr": WORKLOAD_IDENTITY_METADATA}}], "ports": _ports([988])}
        )
    return rules


def _extra_rule(peer: EgressPeer) -> dict[str, Any]:
    target: dict[str, Any]
    if peer.cidr is not None:
        target = {"ip_block": {"cidr": peer.cidr}}
    else:
        target = {}
        if peer.namespace is not None:
            target["namespace_selector"] = _namespace_selector(peer.namespace)
        if peer.pod_labels is not None:
            target["pod_selector"] = {"match_labels": dict(peer.pod_labels)}
    rule: dict[str, Any] = {"to": [target]}
    if peer.ports:
        rule["ports"] = _ports(peer.ports, peer.protocol)
    return rule


def egress_rules(
    settings: ClientNetworkPolicy, egress_gateway: GatewayRef, egress_port: int
) -> list[dict[str, Any]]:
    """The egress rules of a client namespace's policy, as NetworkPolicy writes them."""
    to_gateway = {
        "to": [
            {
                "namespace_selector": _namespace_selector(egress_gateway.namespace),
                "pod_selector": {"match_labels": dict(egress_gateway.labels)},
            }
        ],
        "ports": _ports([egress_port]),
    }
    return [
        to_gateway,
        *_dns_rules(settings),
        *_control_plane_rules(settings.control_plane),
        *(_extra_rule(peer) for peer in settings.extra_egress),
    ]


def client_network_policy(
    resource_name: str,
    *,
    metadata_name: str,
    namespace: str,
    rules: list[dict[str, Any]],
    pod_selector: Mapping[str, str] | None,
    labels: Labels,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    # An empty podSelector selects every pod of the namespace (the full lock-down).
    selector = {"match_labels": dict(pod_selector)} if pod_selector else {}
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={"name": metadata_name, "namespace": namespace, "labels": dict(labels)},
        spec=untyped({"pod_selector": selector, "policy_types": ["Egress"], "egress": rules}),
        opts=opts,
    )
