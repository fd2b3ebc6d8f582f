"""What an ingress gateway's Service carries, decided from its settings: the link ports,
the load balancer annotations and source ranges, and where its address is reported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshlink.mesh.common import check_cidr, is_any_source, validated_later
from meshlink.mesh.gateway_settings import (
    NETWORK_TIER_ANNOTATION,
    NETWORK_TIER_VALUES,
    STATIC_IP_ANNOTATION,
    IngressGatewaySettings,
)


def _field(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def lb_address(status: Any) -> str | None:
    """The first address the load balancer reports (``status.loadBalancer.ingress``)."""
    for entry in _field(_field(status, "load_balancer"), "ingress") or []:
        address = _field(entry, "ip") or _field(entry, "hostname")
        if address:
            return str(address)
    return None


def link_port_spec(port: int) -> dict[str, Any]:
    return {"name": f"tls-{port}", "port": port, "target_port": port, "protocol": "TCP"}


def service_annotations(settings: IngressGatewaySettings) -> dict[str, str]:
    """The Service annotations given, plus those that choose the load balancer: internal,
    static address by name, network tier."""
    annotations = dict(settings.service_annotations)
    if settings.internal:
        annotations["networking.gke.io/load-balancer-type"] = "Internal"
    if settings.static_ip_name:
        annotations[STATIC_IP_ANNOTATION] = settings.static_ip_name
    if settings.network_tier is not None:
        annotations[NETWORK_TIER_ANNOTATION] = NETWORK_TIER_VALUES[settings.network_tier]
    return annotations


def load_balancer_source_ranges(settings: IngressGatewaySettings, where: str) -> list[Any]:
    """The load balancer's source ranges; those known only once deployed are checked
    then, as the ones given directly were by the settings."""
    return [
        cidr
        if isinstance(cidr, str)
        else validated_later(
            cidr,
            (lambda c: check_cidr(c)) if settings.allow_any_source else _check_not_any_source,
            f"{where}: source_ranges",
        )
        for cidr in settings.source_ranges
    ]


def _check_not_any_source(cidr: str) -> str:
    check_cidr(cidr)
    if is_any_source(cidr):
        raise ValueError(
            f"{cidr} admits every address; list the client cluster's egress addresses, or "
            "set allow_any_source"
        )
    return cidr
