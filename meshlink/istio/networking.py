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

import ipaddress
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import (
    LabelSelector,
    NonEmptyLabels,
    PortProtocol,
    PortSelectorInput,
)
from meshlink.istio.values import (
    CredentialName,
    DestinationHost,
    Duration,
    ExportTarget,
    GatewayHost,
    GatewayReference,
    IpBlock,
    PortName,
    ProxyFilePath,
    ServiceEntryAddress,
    ServiceEntryHost,
    SidecarHost,
    SniHost,
    SubjectAltName,
    SubsetName,
    check_export_to,
    check_service_host,
    sni_matches_host,
)
from meshlink.validation import Fqdn, KubernetesLabel, Port

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

NETWORKING = "networking.istio.io"

UInt32 = Annotated[int, Field(ge=0, le=4_294_967_295)]
PositiveInt32 = Annotated[int, Field(ge=1, le=2_147_483_647)]
Weight = Annotated[int, Field(ge=0, le=100)]


def _unique(values: list[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears more than once")
        seen.add(value)


# --- Gateway -------------------------------------------------------------------------


class ServerTLSMode(StrEnum):
    """How a gateway server handles TLS."""

    PASSTHROUGH = "PASSTHROUGH"
    SIMPLE = "SIMPLE"
    MUTUAL = "MUTUAL"
    AUTO_PASSTHROUGH = "AUTO_PASSTHROUGH"
    ISTIO_MUTUAL = "ISTIO_MUTUAL"
    OPTIONAL_MUTUAL = "OPTIONAL_MUTUAL"


class TLSProtocolVersion(StrEnum):
    """Bounds for the negotiated TLS version."""

    TLS_AUTO = "TLS_AUTO"
    TLSV1_0 = "TLSV1_0"
    TLSV1_1 = "TLSV1_1"
    TLSV1_2 = "TLSV1_2"
    TLSV1_3 = "TLSV1_3"


_TLS_ORDER = {
    TLSProtocolVersion.TLSV1_0: 0,
    TLSProtocolVersion.TLSV1_1: 1,
    TLSProtocolVersion.TLSV1_2: 2,
    TLSProtocolVersion.TLSV1_3: 3,
}

CipherSuite = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_+\[\]|-]+$")]


class ServerPort(IstioModel):
    """The port a gateway server listens on. Istio requires the name."""

    number: Port
    protocol: PortProtocol
    name: PortName


class ServerTLSSettings(IstioModel):
    """TLS on a gateway server.

    ``credential_name`` names a Secret in the gateway's own namespace; the file-path
    fields are the older alternative (files mounted into the gateway pod) and take paths,
    never key material.
    """

    mode: ServerTLSMode
    credential_name: CredentialName | None = None
    server_certificate: ProxyFilePath | None = None
    private_key: ProxyFilePath | None = None
    ca_certificates: ProxyFilePath | None = None
    subject_alt_names: list[SubjectAltName] | None = None
    """Client certificate SANs accepted (mutual modes)."""
    min_protocol_version: TLSProtocolVersion | None = None
    max_protocol_version: TLSProtocolVersion | None = None
    cipher_suites: list[CipherSuite] | None = None

    @model_validator(mode="after")
    def _certificates_match_mode(self) -> ServerTLSSettings:
        files = {
            "serverCertificate": self.server_certificate,
            "privateKey": self.private_key,
            "caCertificates": self.ca_certificates,
        }
        given_files = [name for name, value in files.items() if value is not None]
        mode = self.mode
        if mode is ServerTLSMode.ISTIO_MUTUAL:
            if self.credential_name is not None or given_files:
                raise ValueError(
                    "mode ISTIO_MUTUAL uses the mesh certificates; credentialName, "
                    "serverCertificate, privateKey and caCertificates must not be set"
                )
        elif mode in (ServerTLSMode.PASSTHROUGH, ServerTLSMode.AUTO_PASSTHROUGH):
            if self.credential_name is not None or given_files:
                raise ValueError(
                    f"mode {mode.value} does not terminate TLS, so credentialName and "
                    "certificate files would be ignored; remove them"
                )
        elif self.credential_name is not None:
            if given_files:
                raise ValueError(
                    "set either credentialName or certificate files "
                    f"({', '.join(given_files)}), not both"
                )
        else:
            needed = ["serverCertificate", "privateKey"]
            if mode in (ServerTLSMode.MUTUAL, ServerTLSMode.OPTIONAL_MUTUAL):
                needed.append("caCertificates")
            missing = [name for name in needed if files[name] is None]
            if missing:
                raise ValueError(
                    f"mode {mode.value} needs credentialName (a Secret in the gateway's "
                    f"namespace) or the files {', '.join(needed)}; missing: "
                    f"{', '.join(missing)}"
                )
        low, high = self.min_protocol_version, self.max_protocol_version
        if low in _TLS_ORDER and high in _TLS_ORDER and _TLS_ORDER[low] > _TLS_ORDER[high]:
            raise ValueError(
                f"minProtocolVersion {low.value} is above maxProtocolVersion {high.value}"
            )
        if self.cipher_suites is not None:
            _unique(list(self.cipher_suites), "cipher suite")
        return self


class Server(IstioModel):
    """One listener of a gateway."""

    port: ServerPort
    hosts: list[GatewayHost] = Field(min_length=1)
    tls: ServerTLSSettings | None = None
    name: KubernetesLabel | None = None
    """Optional server name, unique within the Gateway (shows up in metrics)."""

    @model_validator(mode="after")
    def _tls_matches_protocol(self) -> Server:
        protocol = self.port.protocol
        if protocol.is_tls and self.tls is None:
            raise ValueError(
                f"port protocol {protocol.value} needs tls settings (mode and credentials)"
            )
        if not protocol.is_tls and self.tls is not None:
            raise ValueError(f"tls settings need port protocol TLS or HTTPS, not {protocol.value}")
        return self


class Gateway(IstioSpec):
    """An Istio Gateway: which gateway pods listen on which ports for which hosts."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "Gateway"
    METADATA_NAME_IS_LABEL: ClassVar[bool] = True

    selector: NonEmptyLabels
    """Labels of the gateway pods; they must match the gateway Deployment's pod labels."""
    servers: list[Server] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Gateway:
        _unique([server.port.name for server in self.servers], "port name")
        _unique([s.name for s in self.servers if s.name is not None], "server name")
        return self


# --- VirtualService ------------------------------------------------------------------


class Destination(IstioModel):
    """The one service (and optionally subset and port) a route sends traffic to."""

    host: DestinationHost
    subset: SubsetName | None = None
    port: PortSelectorInput | None = None


class RouteDestination(IstioModel):
    destination: Destination
    weight: Weight | None = None


def _check_routes(routes: list[RouteDestination]) -> None:
    if len(routes) > 1 and sum(route.weight or 0 for route in routes) == 0:
        raise ValueError("with several destinations, give them weights (total weight is 0)")


class L4MatchAttributes(IstioModel):
    """Which connections a ``tcp`` route applies to."""

    destination_subnets: list[IpBlock] | None = None
    port: Port | None = None
    source_labels: NonEmptyLabels | None = None
    gateways: list[GatewayReference] | None = None
    source_namespace: KubernetesLabel | None = None


class TLSMatchAttributes(IstioModel):
    """Which TLS connections (by SNI) a ``tls`` route applies to."""

    sni_hosts: list[SniHost] = Field(min_length=1)
    destination_subnets: list[IpBlock] | None = None
    port: Port | None = None
    source_labels: NonEmptyLabels | None = None
    gateways: list[GatewayReference] | None = None
    source_namespace: KubernetesLabel | None = None


class TCPRoute(IstioModel):
    """An L4 route. Also the route for TLS that a gateway terminates (istio#24500)."""

    match: list[L4MatchAttributes] | None = None
    route: list[RouteDestination] = Field(min_length=1)

    @model_validator(mode="after")
    def _weights(self) -> TCPRoute:
        _check_routes(self.route)
        return self


class TLSRoute(IstioModel):
    """A route for TLS passed through unterminated, chosen by SNI."""

    match: list[TLSMatchAttributes] = Field(min_length=1)
    route: list[RouteDestination] = Field(min_length=1)

    @model_validator(mode="after")
    def _weights(self) -> TLSRoute:
        _check_routes(self.route)
        return self


def _check_virtual_service_host(value: str) -> str:
    return value if value == "*" else check_service_host(value)


VirtualServiceHost = Annotated[str, AfterValidator(_check_virtual_service_host)]


class VirtualService(IstioSpec):
    """Routing for traffic addressed to ``hosts``, in the sidecars (``mesh``) and/or the
    listed gateways. HTTP routes are not modelled: meshlink carries TCP."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "VirtualService"

    hosts: list[VirtualServiceHost] = Field(min_length=1)
    gateways: list[GatewayReference] | None = None
    """Where the routes apply: ``mesh`` for sidecars, gateway names for gateways.
    Unset means ``mesh`` only."""
    export_to: list[ExportTarget] | None = None
    tcp: list[TCPRoute] | None = None
    tls: list[TLSRoute] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> VirtualService:
        check_export_to(self.export_to, allow_none=False)
        if not self.tcp and not self.tls:
            raise ValueError("a VirtualService needs at least one tcp or tls route")
        _unique(list(self.hosts), "host")
        applies_to_mesh = not self.gateways or "mesh" in self.gateways
        if applies_to_mesh and "*" in self.hosts:
            raise ValueError("host '*' is only allowed when the routes apply to gateways only")
        for index, route in enumerate(self.tls or ()):
            for match in route.match:
                for sni in match.sni_hosts:
                    if not any(sni_matches_host(sni, host) for host in self.hosts):
                        raise ValueError(
                            f"tls[{index}]: SNI host {sni!r} is not covered by the "
                            f"VirtualService hosts {list(self.hosts)}"
                        )
        return self


# --- DestinationRule -----------------------------------------------------------------


class LoadBalancerAlgorithm(StrEnum):
    LEAST_CONN = "LEAST_CONN"
    RANDOM = "RANDOM"
    PASSTHROUGH = "PASSTHROUGH"
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_REQUEST = "LEAST_REQUEST"


class LoadBalancerSettings(IstioModel):
    simple: LoadBalancerAlgorithm


class TcpKeepalive(IstioModel):
    """TCP keepalive on upstream connections; long-lived database sessions through NAT
    need it."""

    probes: UInt32 | None = None
    time: Duration | None = None
    interval: Duration | None = None


class TCPSettings(IstioModel):
    max_connections: PositiveInt32 | None = None
    connect_timeout: Duration | None = None
    tcp_keepalive: TcpKeepalive | None = None
    max_connection_duration: Duration | None = None
    idle_timeout: Duration | None = None


class ConnectionPoolSettings(IstioModel):
    tcp: TCPSettings


class ClientTLSMode(StrEnum):
    """How a proxy originates TLS towards the destination."""

    DISABLE = "DISABLE"
    SIMPLE = "SIMPLE"
    MUTUAL = "MUTUAL"
    ISTIO_MUTUAL = "ISTIO_MUTUAL"


class ClientTLSSettings(IstioModel):
    """TLS that a proxy originates.

    Give both ``sni`` and ``subject_alt_names``: Envoy only checks the server
    certificate's names when ``subjectAltNames`` asks it to (istio#35436).
    """

    mode: ClientTLSMode
    credential_name: CredentialName | None = None
    """A Secret (``tls.crt``, ``tls.key``, ``ca.crt``) in the namespace of the proxy that
    originates TLS; only gateways can read it."""
    client_certificate: ProxyFilePath | None = None
    private_key: ProxyFilePath | None = None
    ca_certificates: ProxyFilePath | None = None
    subject_alt_names: list[SubjectAltName] | None = None
    sni: Fqdn | None = None
    insecure_skip_verify: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ClientTLSSettings:
        files = {
            "clientCertificate": self.client_certificate,
            "privateKey": self.private_key,
            "caCertificates": self.ca_certificates,
        }
        given_files = [name for name, value in files.items() if value is not None]
        mode = self.mode
        if mode is ClientTLSMode.DISABLE:
            others = self.model_dump(exclude={"mode"}, exclude_none=True, by_alias=True)
            if others:
                raise ValueError(f"mode DISABLE takes no other settings; remove {sorted(others)}")
            return self
        if mode is ClientTLSMode.ISTIO_MUTUAL:
            if self.credential_name is not None or given_files:
                raise ValueError(
                    "mode ISTIO_MUTUAL uses the mesh certificates; credentialName, "
                    "clientCertificate, privateKey and caCertificates must not be set"
                )
            return self
        if self.credential_name is not None and given_files:
            raise ValueError(
                f"set either credentialName or certificate files ({', '.join(given_files)}), "
                "not both"
            )
        if (
            mode is ClientTLSMode.MUTUAL
            and self.credential_name is None
            and (self.client_certificate is None or self.private_key is None)
        ):
            raise ValueError(
                "mode MUTUAL needs credentialName (a Secret in the gateway's namespace) or "
                "both clientCertificate and privateKey"
            )
        if self.insecure_skip_verify:
            if self.ca_certificates is not None or self.subject_alt_names is not None:
                raise ValueError(
                    "insecureSkipVerify turns off server verification; caCertificates and "
                    "subjectAltNames would be ignored"
                )
            if mode is ClientTLSMode.SIMPLE and self.credential_name is not None:
                raise ValueError("insecureSkipVerify with mode SIMPLE would ignore credentialName")
        return self


class PortTrafficPolicy(IstioModel):
    """Settings for one destination port; they replace (not merge with) the rule-wide ones."""

    port: PortSelectorInput
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    tls: ClientTLSSettings | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> PortTrafficPolicy:
        if self.load_balancer is None and self.connection_pool is None and self.tls is None:
            raise ValueError(
                f"port {self.port.number}: set at least one of loadBalancer, connectionPool or tls"
            )
        return self


class TrafficPolicy(IstioModel):
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    port_level_settings: list[PortTrafficPolicy] | None = Field(
        default=None, min_length=1, max_length=4096
    )
    tls: ClientTLSSettings | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> TrafficPolicy:
        if (
            self.load_balancer is None
            and self.connection_pool is None
            and self.port_level_settings is None
            and self.tls is None
        ):
            raise ValueError(
                "set at least one of loadBalancer, connectionPool, portLevelSettings or tls"
            )
        if self.port_level_settings:
            _unique([p.port.number for p in self.port_level_settings], "port")
        return self


class Subset(IstioModel):
    name: SubsetName
    labels: NonEmptyLabels | None = None
    traffic_policy: TrafficPolicy | None = None


class DestinationRule(IstioSpec):
    """Policies for traffic to ``host`` once routing has chosen it: TLS origination,
    load balancing, connection limits, and named subsets."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "DestinationRule"

    host: Annotated[str, AfterValidator(check_service_host)]
    traffic_policy: TrafficPolicy | None = None
    subsets: list[Subset] | None = Field(default=None, min_length=1)
    export_to: list[ExportTarget] | None = None
    workload_selector: LabelSelector | None = None
    """Limits the rule to these workloads in the rule's own namespace."""

    @model_validator(mode="after")
    def _consistent(self) -> DestinationRule:
        check_export_to(self.export_to, allow_none=False)
        if self.subsets:
            _unique([subset.name for subset in self.subsets], "subset name")
        if self.workload_selector is not None and self.export_to not in (None, ["."]):
            raise ValueError(
                "a DestinationRule with workloadSelector applies in its own namespace only; "
                "exportTo must be unset or ['.']"
            )
        return self


# --- ServiceEntry --------------------------------------------------------------------


class Location(StrEnum):
    MESH_EXTERNAL = "MESH_EXTERNAL"
    MESH_INTERNAL = "MESH_INTERNAL"


class Resolution(StrEnum):
    """How the proxy finds endpoints. ``DYNAMIC_DNS`` is newer than the oldest supported
    CRD set and is left out."""

    NONE = "NONE"
    STATIC = "STATIC"
    DNS = "DNS"
    DNS_ROUND_ROBIN = "DNS_ROUND_ROBIN"


class ServicePort(IstioModel):
    number: Port
    protocol: PortProtocol
    name: PortName
    target_port: Port | None = None


def _check_endpoint_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if value.startswith("unix://"):
            raise ValueError("Unix domain socket endpoints are not supported here") from None
        check_service_host(value)
        if "*" in value:
            raise ValueError(f"{value!r}: an endpoint address cannot be a wildcard") from None
    return value


EndpointAddress = Annotated[str, AfterValidator(_check_endpoint_address)]


class ServiceEntryEndpoint(IstioModel):
    """One endpoint of a ServiceEntry (Istio's WorkloadEntry shape)."""

    address: EndpointAddress
    ports: dict[PortName, Port] | None = None
    """Endpoint port per ServiceEntry port name, when it differs from the port number."""
    labels: NonEmptyLabels | None = None
    network: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    locality: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    weight: Annotated[int, Field(ge=1, le=4_294_967_295)] | None = None


class ServiceEntry(IstioSpec):
    """Adds ``hosts`` to the mesh's service registry, so sidecars and gateways can route
    to (and originate TLS towards) something outside the cluster."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "ServiceEntry"

    hosts: list[ServiceEntryHost] = Field(min_length=1, max_length=256)
    addresses: list[ServiceEntryAddress] | None = Field(default=None, min_length=1, max_length=256)
    """Virtual IPs. Without them a TCP port is matched by port number alone, so that port
    must not be used by any other service in the mesh."""
    ports: list[ServicePort] = Field(min_length=1, max_length=256)
    location: Location | None = None
    resolution: Resolution | None = None
    """Unset means ``NONE``."""
    endpoints: list[ServiceEntryEndpoint] | None = Field(
        default=None, min_length=1, max_length=4096
    )
    export_to: list[ExportTarget] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ServiceEntry:
        check_export_to(self.export_to, allow_none=True)
        _unique([port.name for port in self.ports], "port name")
        _unique([port.number for port in self.ports], "port number")
        _unique(list(self.hosts), "host")
        resolution = self.resolution or Resolution.NONE
        wildcards = [host for host in self.hosts if host.startswith("*")]
        if wildcards and resolution is not Resolution.NONE:
            raise ValueError(
                f"wildcard hosts {wildcards} need resolution NONE; with "
                f"{resolution.value} the host itself is what gets resolved"
            )
        cidrs = [address for address in self.addresses or () if "/" in address]
        if cidrs and resolution not in (Resolution.NONE, Resolution.STATIC):
            raise ValueError(
                f"CIDR addresses {cidrs} are only allowed with resolution NONE or STATIC"
            )
        endpoints = self.endpoints or ()
        if resolution is Resolution.NONE and endpoints:
            raise ValueError("resolution NONE takes no endpoints")
        if resolution is Resolution.DNS_ROUND_ROBIN and len(endpoints) > 1:
            raise ValueError("resolution DNS_ROUND_ROBIN allows at most one endpoint")
        port_names = {port.name for port in self.ports}
        for index, endpoint in enumerate(endpoints):
            if resolution is Resolution.STATIC and not _is_ip(endpoint.address):
                raise ValueError(
                    f"endpoints[{index}]: resolution STATIC needs IP addresses, "
                    f"not {endpoint.address!r}"
                )
            unknown = sorted(set(endpoint.ports or {}) - port_names)
            if unknown:
                raise ValueError(
                    f"endpoints[{index}].ports names {unknown}, which are not ports of this "
                    f"ServiceEntry ({sorted(port_names)})"
                )
        if resolution is not Resolution.NONE and len(self.hosts) > 1:
            opaque = [p.name for p in self.ports if not (p.protocol.is_http or p.protocol.is_tls)]
            if opaque:
                raise ValueError(
                    f"several hosts cannot share the plain TCP ports {opaque}: nothing in a "
                    "TCP connection tells them apart"
                )
        return self


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# --- Sidecar -------------------------------------------------------------------------


class CaptureMode(StrEnum):
    DEFAULT = "DEFAULT"
    IPTABLES = "IPTABLES"
    NONE = "NONE"


class SidecarPort(IstioModel):
    number: Port
    protocol: PortProtocol
    name: PortName | None = None


class IstioEgressListener(IstioModel):
    """Which services the sidecar may reach (on one port, or on all ports if ``port`` is
    unset)."""

    hosts: list[SidecarHost] = Field(min_length=1)
    port: SidecarPort | None = None
    capture_mode: CaptureMode | None = None


class OutboundTrafficPolicyMode(StrEnum):
    REGISTRY_ONLY = "REGISTRY_ONLY"
    ALLOW_ANY = "ALLOW_ANY"


class OutboundTrafficPolicy(IstioModel):
    mode: OutboundTrafficPolicyMode


class WorkloadSelector(IstioModel):
    """``{labels: ...}``: the Sidecar's workload selector (a different shape from the
    ``matchLabels`` of :class:`LabelSelector`)."""

    labels: NonEmptyLabels


class Sidecar(IstioSpec):
    """Narrows what a workload's sidecar can reach; with ``REGISTRY_ONLY`` anything not in
    the registry (or not listed) is refused by the sidecar."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "Sidecar"

    workload_selector: WorkloadSelector | None = None
    egress: list[IstioEgressListener] | None = Field(default=None, min_length=1)
    outbound_traffic_policy: OutboundTrafficPolicy | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Sidecar:
        if self.egress is None and self.outbound_traffic_policy is None:
            raise ValueError("set egress or outboundTrafficPolicy; an empty Sidecar is refused")
        listeners = self.egress or ()
        catch_all = [i for i, listener in enumerate(listeners) if listener.port is None]
        if len(catch_all) > 1:
            raise ValueError("only one egress listener may leave the port unset")
        if catch_all and catch_all[0] != len(listeners) - 1:
            raise ValueError("the egress listener without a port must be the last one")
        _unique([lst.port.number for lst in listeners if lst.port is not None], "egress port")
        return self
