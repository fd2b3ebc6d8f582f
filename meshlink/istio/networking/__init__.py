"""``networking.istio.io`` kinds: Gateway, VirtualService, DestinationRule, ServiceEntry,
Sidecar.

Each model covers what a TCP/TLS link through gateways needs, and mirrors the Istio field
names. The cross-field checks are the ones istiod's validating webhook applies (so a
mistake shows up at ``pulumi preview``, not as an admission error mid-``up``), plus a few
where Istio silently ignores a setting and meshlink would rather say so. Fields that exist
only in newer Istio releases are left out: everything here must validate against the
oldest supported CRD set (1.22) too.
"""

from __future__ import annotations

from meshlink.istio.networking.destination_rule import (
    ClientTLSMode,
    ClientTLSSettings,
    ConnectionPoolSettings,
    DestinationRule,
    LoadBalancerAlgorithm,
    LoadBalancerSettings,
    PortTrafficPolicy,
    Subset,
    TcpKeepalive,
    TCPSettings,
    TrafficPolicy,
)
from meshlink.istio.networking.gateway import (
    Gateway,
    Server,
    ServerPort,
    ServerTLSMode,
    ServerTLSSettings,
    TLSProtocolVersion,
)
from meshlink.istio.networking.service_entry import (
    Location,
    Resolution,
    ServiceEntry,
    ServiceEntryEndpoint,
    ServicePort,
)
from meshlink.istio.networking.sidecar import (
    CaptureMode,
    IstioEgressListener,
    OutboundTrafficPolicy,
    OutboundTrafficPolicyMode,
    Sidecar,
    SidecarPort,
    WorkloadSelector,
)
from meshlink.istio.networking.virtual_service import (
    Destination,
    L4MatchAttributes,
    RouteDestination,
    TCPRoute,
    TLSMatchAttributes,
    TLSRoute,
    VirtualService,
)

__all__ = [
    "CaptureMode",
    "ClientTLSMode",
    "ClientTLSSettings",
    "ConnectionPoolSettings",
    "Destination",
    "DestinationRule",
    "Gateway",
    "IstioEgressListener",
    "L4MatchAttributes",
    "LoadBalancerAlgorithm",
    "LoadBalancerSettings",
    "Location",
    "OutboundTrafficPolicy",
    "OutboundTrafficPolicyMode",
    "PortTrafficPolicy",
    "Resolution",
    "RouteDestination",
    "Server",
    "ServerPort",
    "ServerTLSMode",
    "ServerTLSSettings",
    "ServiceEntry",
    "ServiceEntryEndpoint",
    "ServicePort",
    "Sidecar",
    "SidecarPort",
    "Subset",
    "TCPRoute",
    "TCPSettings",
    "TLSMatchAttributes",
    "TLSProtocolVersion",
    "TLSRoute",
    "TcpKeepalive",
    "TrafficPolicy",
    "VirtualService",
    "WorkloadSelector",
]
