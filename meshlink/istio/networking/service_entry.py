"""ServiceEntry: hosts added to the mesh's service registry, with their ports and
endpoints."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import NonEmptyLabels, PortProtocol
from meshlink.istio.networking.shared import NETWORKING, unique
from meshlink.istio.values import (
    ExportTarget,
    PortName,
    ServiceEntryAddress,
    ServiceEntryHost,
    check_export_to,
    check_service_host,
)
from meshlink.validation import Port


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
        unique([port.name for port in self.ports], "port name")
        unique([port.number for port in self.ports], "port number")
        unique(list(self.hosts), "host")
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
