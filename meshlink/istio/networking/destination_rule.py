"""DestinationRule: TLS origination, load balancing and connection limits for traffic to
one host."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import LabelSelector, NonEmptyLabels, PortSelectorInput
from meshlink.istio.networking.shared import NETWORKING, unique
from meshlink.istio.values import (
    CredentialName,
    Duration,
    ExportTarget,
    ProxyFilePath,
    SubjectAltName,
    SubsetName,
    check_export_to,
    check_service_host,
)
from meshlink.validation import Fqdn

UInt32 = Annotated[int, Field(ge=0, le=4_294_967_295)]
PositiveInt32 = Annotated[int, Field(ge=1, le=2_147_483_647)]


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
            unique([p.port.number for p in self.port_level_settings], "port")
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
            unique([subset.name for subset in self.subsets], "subset name")
        if self.workload_selector is not None and self.export_to not in (None, ["."]):
            raise ValueError(
                "a DestinationRule with workloadSelector applies in its own namespace only; "
                "exportTo must be unset or ['.']"
            )
        return self
