"""VirtualService: the TCP and TLS routes for traffic addressed to its hosts."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import NonEmptyLabels, PortSelectorInput
from meshlink.istio.networking.shared import NETWORKING, unique
from meshlink.istio.values import (
    DestinationHost,
    ExportTarget,
    GatewayReference,
    IpBlock,
    SniHost,
    SubsetName,
    check_export_to,
    check_service_host,
    sni_matches_host,
)
from meshlink.validation import KubernetesLabel, Port

Weight = Annotated[int, Field(ge=0, le=100)]


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
        unique(list(self.hosts), "host")
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
