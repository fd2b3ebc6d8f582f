"""The network pieces that join the two sides of a link: the server's ingress address with
its allowlist, and the client's private DNS name for it.

Neither waits on a cluster. The address is reserved as soon as the project allows it, so
DNS and the allowlist are known while both clusters are still being created, and the server
cluster's gateway can claim the address whenever it comes up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pulumi
from pulumi_gcp import compute, dns
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from meshlink.argdocs import documents
from meshlink.gcp._validation import (
    AddressInput,
    GcpName,
    ProjectId,
    Region,
    StrInput,
    check_host_address,
    check_link_zone,
)
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import Fqdn, validate_args

INGRESS_COMPONENT_TYPE = "meshlink:index:IngressAddress"
DNS_COMPONENT_TYPE = "meshlink:index:LinkDnsZone"


def allowlist(addresses: Sequence[Any]) -> list[str]:
    """``loadBalancerSourceRanges`` for a list of NAT addresses: one /32 each, in order.

    An empty list is refused, because an empty ``loadBalancerSourceRanges`` admits every
    source; so is anything that is not a single IPv4 address.
    """
    if not addresses:
        raise ValueError("the allowlist is empty, which would admit every source address")
    return [f"{check_host_address(address)}/32" for address in addresses]


def _check_addresses(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(
            f"expected a list of IPv4 addresses or a pulumi Output of one, found {value!r}"
        )
    if not value:
        raise ValueError("the list is empty, which would admit every source address")
    for address in value:
        if not isinstance(address, pulumi.Output):
            check_host_address(address)
    return list(value)


class IngressAddressArgs(TypedDict):
    """The server side's public entry point and who may use it."""

    project: str
    """The server cluster's project."""
    region: str
    """The server cluster's region: a LoadBalancer Service can only use a regional address
    of its own region."""
    client_nat_addresses: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The client network's NAT addresses (``MeshNetwork.nat_addresses``), or the same
    addresses as plain strings when the client side lives in another stack."""
    address_name: NotRequired[str]
    """Name of the address in GCP; defaults to ``<component name>-ingress``."""
    network_tier: NotRequired[str]
    """``PREMIUM`` (default) or ``STANDARD``."""


class IngressAddressSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: ProjectId
    region: Region
    client_nat_addresses: Annotated[Any, AfterValidator(_check_addresses)]
    address_name: GcpName
    network_tier: Literal["PREMIUM", "STANDARD"] = "PREMIUM"


@documents(IngressAddressArgs)
class IngressAddress(pulumi.ComponentResource):
    """A regional static external address for the server's ingress gateway, and the
    allowlist its ``loadBalancerSourceRanges`` must carry.

    The allowlist is the client network's NAT addresses as /32s and nothing else: the
    gateway port is never open to the internet at large.
    """

    settings: IngressAddressSettings
    ingress_address: compute.Address
    address: Registered[pulumi.Output[str]]
    """The reserved IPv4 address (the gateway Service's ``loadBalancerIP``)."""
    address_self_link: Registered[pulumi.Output[str]]
    """The address resource's self link."""
    source_ranges: Registered[pulumi.Output[list[str]]]
    """The allowlist: one ``<address>/32`` per client NAT address."""

    def __init__(
        self,
        name: str,
        args: IngressAddressArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        values = dict(args)
        values.setdefault("address_name", f"{name}-ingress")
        settings = validate_args(IngressAddressSettings, values, where=f"IngressAddress {name!r}")
        super().__init__(INGRESS_COMPONENT_TYPE, name, None, opts)
        self.settings = settings

        self.ingress_address = compute.Address(
            f"{name}-ingress-ip",
            name=settings.address_name,
            project=settings.project,
            region=settings.region,
            address_type="EXTERNAL",
            network_tier=settings.network_tier,
            description="meshlink: ingress gateway of a cross-cluster link",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.address = self.ingress_address.address
        self.address_self_link = self.ingress_address.self_link
        nat = settings.client_nat_addresses
        if isinstance(nat, pulumi.Output):
            self.source_ranges = nat.apply(allowlist)
        else:
            self.source_ranges = pulumi.Output.all(*nat).apply(allowlist)

        register_declared_outputs(self)

    @property
    def address_name(self) -> str:
        """The address's name in GCP, for annotations that name the address rather than
        give its IP."""
        return self.settings.address_name


class LinkDnsZoneArgs(TypedDict):
    """A private zone, visible only inside the client VPC, naming the server's ingress."""

    project: str
    """The client network's project."""
    network: pulumi.Input[str]
    """The client VPC (``MeshNetwork.network_id``); the only network that sees the zone."""
    dns_name: str
    """The zone's domain, without the trailing dot, for example ``link.example.internal``.
    Inside the client VPC this zone answers for every name under it, so pick a subdomain
    used for nothing else."""
    fqdns: list[str]
    """The linked FQDNs; each must lie under ``dns_name``. Each gets an A record."""
    address: pulumi.Input[str]
    """The address the FQDNs resolve to (``IngressAddress.address``)."""
    zone_name: NotRequired[str]
    """Name of the zone in GCP; defaults to the component name."""
    ttl: NotRequired[int]
    """Record TTL in seconds (default 300)."""


class LinkDnsZoneSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: ProjectId
    network: StrInput
    dns_name: Annotated[Fqdn, AfterValidator(check_link_zone)]
    fqdns: list[Fqdn] = Field(min_length=1)
    address: AddressInput
    zone_name: GcpName
    ttl: int = Field(default=300, ge=30, le=86400)

    @field_validator("fqdns")
    @classmethod
    def _names_in_zone(cls, value: list[str], info: ValidationInfo) -> list[str]:
        repeated = sorted({f for f in value if value.count(f) > 1})
        if repeated:
            raise ValueError(f"{repeated} are listed more than once")
        zone = info.data.get("dns_name")
        if zone is not None:
            outside = [f for f in value if not f.endswith(f".{zone}")]
            if outside:
                raise ValueError(f"{outside} are not under the zone {zone!r}")
        return value


@documents(LinkDnsZoneArgs)
class LinkDnsZone(pulumi.ComponentResource):
    """A Cloud DNS private zone bound to the client VPC only, with an A record per linked
    FQDN pointing at the server's ingress address.

    The client mesh resolves the ServiceEntry host (``resolution: DNS``) through it, and
    no other network, nor the public internet, learns the name.
    """

    settings: LinkDnsZoneSettings
    zone: dns.ManagedZone
    records: dict[str, dns.RecordSet]
    """The A record of each FQDN."""
    zone_name: Registered[pulumi.Output[str]]
    """The private zone's name."""
    dns_name: Registered[pulumi.Output[str]]
    """The zone's DNS name, with its trailing dot."""
    fqdns: Registered[list[str]]
    """The names the zone answers for."""

    def __init__(
        self,
        name: str,
        args: LinkDnsZoneArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        values = dict(args)
        values.setdefault("zone_name", name)
        settings = validate_args(LinkDnsZoneSettings, values, where=f"LinkDnsZone {name!r}")
        super().__init__(DNS_COMPONENT_TYPE, name, None, opts)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)

        self.zone = dns.ManagedZone(
            f"{name}-zone",
            name=settings.zone_name,
            project=settings.project,
            dns_name=f"{settings.dns_name}.",
            visibility="private",
            private_visibility_config={"networks": [{"network_url": settings.network}]},
            description="meshlink: names of linked services, visible in the client VPC only",
            opts=child,
        )
        self.records = {
            fqdn: dns.RecordSet(
                f"{name}-{fqdn}",
                project=settings.project,
                managed_zone=self.zone.name,
                name=f"{fqdn}.",
                type="A",
                ttl=settings.ttl,
                rrdatas=[settings.address],
                opts=child,
            )
            for fqdn in settings.fqdns
        }

        self.zone_name = self.zone.name
        self.dns_name = self.zone.dns_name
        self.fqdns = list(self.records)
        register_declared_outputs(self)
