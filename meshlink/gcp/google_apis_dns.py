"""Private DNS that sends every ``*.googleapis.com`` name in one VPC to Google's private API
ranges.

The client side's NetworkPolicy lets Pods reach HTTPS only on the Private Google Access
ranges (``199.36.153.8/30`` for ``private.googleapis.com``, ``199.36.153.4/30`` for
``restricted.googleapis.com``), which is what the managed Cloud Service Mesh data plane
needs to reach its control plane, Mesh CA and telemetry. That holds only if the names the
proxies use resolve to those ranges inside the VPC; by default they resolve to public
Google addresses, and the policy would silently cut the sidecars off their control plane.

This zone makes it hold, following Google's documented setup for Private Google Access: a
private ``googleapis.com.`` zone bound to the VPC, with ``private.googleapis.com`` (or
``restricted.googleapis.com``) as four A records and ``*.googleapis.com`` as a CNAME to
it. Private Google Access must be on for the subnet (``MeshNetwork`` turns it on), and the
VPC keeps its default route to the internet gateway, which is how packets to these ranges
leave it (they never reach the internet).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import pulumi
from pulumi_gcp import dns
from pydantic import BaseModel, ConfigDict, Field

from meshlink.argdocs import documents
from meshlink.gcp._validation import GcpName, ProjectId, StrInput
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import validate_args

COMPONENT_TYPE = "meshlink:index:GoogleApisPrivateDns"

ENDPOINTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "private": (
        "199.36.153.8/30",
        ("199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"),
    ),
    "restricted": (
        "199.36.153.4/30",
        ("199.36.153.4", "199.36.153.5", "199.36.153.6", "199.36.153.7"),
    ),
}
"""Endpoint name -> (its range, its four addresses), as Google publishes them."""


class GoogleApisPrivateDnsArgs(TypedDict):
    """Which VPC resolves Google APIs privately, and through which endpoint."""

    project: str
    """The VPC's project; the zone lives there."""
    network: pulumi.Input[str]
    """The VPC (``MeshNetwork.network_id``); the only network that sees the zone."""
    endpoint: NotRequired[str]
    """``private`` (default: every Google API) or ``restricted`` (only APIs that VPC
    Service Controls supports; choose it when the project is inside a perimeter)."""
    zone_name: NotRequired[str]
    """Name of the zone in GCP; defaults to the component name."""
    ttl: NotRequired[int]
    """Record TTL in seconds (default 300)."""


class GoogleApisPrivateDnsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: ProjectId
    network: StrInput
    endpoint: Literal["private", "restricted"] = "private"
    zone_name: GcpName
    ttl: int = Field(default=300, ge=30, le=86400)

    @property
    def cidr(self) -> str:
        """The range the endpoint's addresses lie in (what a NetworkPolicy must allow)."""
        return ENDPOINTS[self.endpoint][0]

    @property
    def host(self) -> str:
        return f"{self.endpoint}.googleapis.com"


@documents(GoogleApisPrivateDnsArgs)
class GoogleApisPrivateDns(pulumi.ComponentResource):
    """A private ``googleapis.com`` zone in one VPC, pointing every Google API at the
    Private Google Access endpoint."""

    settings: GoogleApisPrivateDnsSettings
    zone: dns.ManagedZone
    records: list[dns.RecordSet]
    zone_name: Registered[pulumi.Output[str]]
    """The private zone's name."""
    endpoint: Registered[str]
    """The Private Google Access endpoint the zone points every Google API at."""
    cidr: Registered[str]
    """The endpoint's range, for the client NetworkPolicy (``google_api_cidrs``)."""

    def __init__(
        self,
        name: str,
        args: GoogleApisPrivateDnsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        values = dict(args)
        values.setdefault("zone_name", name)
        settings = validate_args(
            GoogleApisPrivateDnsSettings, values, where=f"GoogleApisPrivateDns {name!r}"
        )
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.settings = settings
        self.cidr = settings.cidr
        child = pulumi.ResourceOptions(parent=self)

        self.zone = dns.ManagedZone(
            f"{name}-zone",
            name=settings.zone_name,
            project=settings.project,
            dns_name="googleapis.com.",
            visibility="private",
            private_visibility_config={"networks": [{"network_url": settings.network}]},
            description=(f"meshlink: Google APIs through {settings.host} (Private Google Access)"),
            opts=child,
        )
        host = f"{settings.host}."
        self.records = [
            dns.RecordSet(
                f"{name}-{settings.endpoint}",
                project=settings.project,
                managed_zone=self.zone.name,
                name=host,
                type="A",
                ttl=settings.ttl,
                rrdatas=list(ENDPOINTS[settings.endpoint][1]),
                opts=child,
            ),
            dns.RecordSet(
                f"{name}-wildcard",
                project=settings.project,
                managed_zone=self.zone.name,
                name="*.googleapis.com.",
                type="CNAME",
                ttl=settings.ttl,
                rrdatas=[host],
                opts=child,
            ),
        ]
        self.zone_name = self.zone.name
        self.endpoint = settings.host
        register_declared_outputs(self)
