"""Rules between keys that more than one program applies: the linked services against
each other and the link name, the gateways against the derived ingress settings, the DNS
zone against the services and the client NetworkPolicy."""

from __future__ import annotations

from collections.abc import Sequence

from meshlink.config.reader import ConfigReader, reject_derived
from meshlink.config.sections import DnsSection, GatewaysSection
from meshlink.gcp.google_apis_dns import ENDPOINTS as GOOGLE_API_ENDPOINTS
from meshlink.mesh.gateway_settings import EgressGatewaySettings, IngressGatewaySettings
from meshlink.mesh.hardening import ClientNetworkPolicy
from meshlink.mesh.naming import check_names
from meshlink.mesh.services import LinkedService, check_services, check_target_policies
from meshlink.validation import check_dns1123_label

DEFAULT_LINK_NAME = "link"


_PLACEHOLDER_ADDRESS = "192.0.2.1"
"""Stands in for derived addresses while a section is checked against its component model."""


_DERIVED_INGRESS_GATEWAY_KEYS = {
    "source_ranges": "is the client NAT addresses",
    "allow_any_source": "would open the link ports to the internet",
    "static_ip": "is the reserved ingress address",
    "static_ip_name": "is the reserved ingress address",
    "internal": "does not apply: the ingress address is external",
    "network_tier": "is the ingress address's network_tier",
}


def read_services(reader: ConfigReader, *, server_side: bool = True) -> list[LinkedService] | None:
    """The linked services; ``server_side`` when the program declares the server half,
    which needs each target's pod labels for its policies."""
    services = reader.items(LinkedService, "services", required=True)
    if services is not None:
        reader.problems.extend(check_services(services, setting=reader.path("services")))
        if server_side:
            reader.problems.extend(check_target_policies(services, setting=reader.path("services")))
    return services


def read_link_name(reader: ConfigReader, services: Sequence[LinkedService] | None) -> str:
    name = reader.text("link_name", required=False, check=check_dns1123_label) or DEFAULT_LINK_NAME
    if services is not None:
        for problem in check_names(
            name, [s.name for s in services], prefix_setting=reader.path("link_name")
        ):
            reader.problems.append(
                problem if problem.startswith(reader.namespace) else reader.path(problem)
            )
    return name


def read_gateways(reader: ConfigReader) -> GatewaysSection | None:
    gateways = reader.section(GatewaysSection, "gateways", required=False)
    if gateways is None:
        return None
    prefix = f"{reader.path('gateways')}."
    reader.part(EgressGatewaySettings, gateways.egress, f"{prefix}egress.")
    if reject_derived(reader, gateways.ingress, _DERIVED_INGRESS_GATEWAY_KEYS, f"{prefix}ingress."):
        reader.part(
            IngressGatewaySettings,
            {
                **gateways.ingress,
                "source_ranges": [f"{_PLACEHOLDER_ADDRESS}/32"],
                "static_ip": _PLACEHOLDER_ADDRESS,
            },
            f"{prefix}ingress.",
        )
    return gateways


def read_dns(
    reader: ConfigReader,
    services: Sequence[LinkedService] | None,
    policy: ClientNetworkPolicy,
) -> DnsSection | None:
    dns = reader.section(DnsSection, "dns", required=True)
    if dns is None:
        return None
    if services is not None:
        for index, service in enumerate(services):
            if not service.fqdn.endswith(f".{dns.zone}"):
                reader.problems.append(
                    f"{reader.path('services')}[{index}].fqdn: {service.fqdn!r} is not under "
                    f"the private zone {reader.path('dns')}.zone {dns.zone!r}, so the client "
                    "network could not resolve it to the ingress address"
                )
    plane = policy.control_plane
    if dns.google_apis != "none" and policy.enabled and plane.kind == "managed":
        cidr = GOOGLE_API_ENDPOINTS[dns.google_apis][0]
        if cidr not in plane.google_api_cidrs:
            reader.problems.append(
                f"{reader.path('dns')}.google_apis: {dns.google_apis} resolves Google APIs to "
                f"{cidr}, which {reader.path('client')}.network_policy.control_plane."
                f"google_api_cidrs {plane.google_api_cidrs} does not allow; the sidecars "
                "would lose their control plane"
            )
    return dns
