"""One VPC per side of a link: the subnet the cluster lives in, Cloud NAT with reserved egress
addresses, and a baseline firewall.

The NAT addresses are reserved rather than auto-allocated because they are the client side's
identity on the internet: the server side's ingress gateway admits exactly these addresses
(``loadBalancerSourceRanges``), so they must not change when NAT scales or is recreated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi
from pulumi_gcp import compute
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from meshlink.argdocs import documents
from meshlink.gcp._validation import GcpName, ProjectId, Region, cidr_checker
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import MeshlinkValidationError, validate_args

COMPONENT_TYPE = "meshlink:index:MeshNetwork"

GOOGLE_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
"""Where Google Cloud load balancer health checks come from."""

_RANGE_FIELDS = ("subnet_cidr", "pods_cidr", "services_cidr", "control_plane_cidr")


class MeshNetworkArgs(TypedDict):
    """One side's network. All ranges are private IPv4 blocks that must not overlap each
    other, nor (checked by ``check_networks_disjoint``) the other side's ranges, so that the
    two networks can still be peered or connected later."""

    project: str
    """GCP project that owns the network."""
    region: str
    """Region of the subnet, the Cloud Router and the NAT addresses; the cluster's region."""
    subnet_cidr: str
    """Primary range of the subnet: node addresses. Between /8 and /29."""
    pods_cidr: str
    """Secondary range for Pod addresses (VPC-native). Each node takes a /24 from it, so at
    most /24."""
    services_cidr: str
    """Secondary range for Service cluster IPs. Between /8 and /29."""
    control_plane_cidr: NotRequired[str]
    """A /28 kept free for the cluster's control plane (``MeshCluster`` ``master_ipv4_cidr``).
    Declaring it here lets overlaps be caught before anything is created."""
    nat_address_count: NotRequired[int]
    """How many static external addresses Cloud NAT uses (1 to 16, default 2). Each one is
    an entry in the other side's allowlist."""
    network_name: NotRequired[str]
    """Name of the VPC in GCP, and the prefix of every resource name in it. Defaults to the
    component name; at most 40 characters."""
    flow_logs: NotRequired[bool]
    """Record VPC flow logs on the subnet (default true): evidence of who talked to whom."""
    log_denied_ingress: NotRequired[bool]
    """Log what the baseline deny rule drops (default true)."""


NetworkName = Annotated[GcpName, Field(max_length=40)]


class MeshNetworkSettings(BaseModel):
    """Validated ``MeshNetworkArgs``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: ProjectId
    region: Region
    subnet_cidr: Annotated[str, cidr_checker(shortest=8, longest=29)]
    pods_cidr: Annotated[str, cidr_checker(shortest=8, longest=24)]
    services_cidr: Annotated[str, cidr_checker(shortest=8, longest=29)]
    control_plane_cidr: Annotated[str, cidr_checker(shortest=28, longest=28)] | None = None
    nat_address_count: int = Field(default=2, ge=1, le=16)
    network_name: NetworkName
    flow_logs: bool = True
    log_denied_ingress: bool = True

    @field_validator("pods_cidr", "services_cidr", "control_plane_cidr")
    @classmethod
    def _disjoint_from_earlier_ranges(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or info.field_name is None:
            return value
        mine = ipaddress.IPv4Network(value)
        for other in _RANGE_FIELDS[: _RANGE_FIELDS.index(info.field_name)]:
            theirs = info.data.get(other)
            if theirs is not None and ipaddress.IPv4Network(theirs).overlaps(mine):
                raise ValueError(f"{value} overlaps {other} {theirs}; every range must be disjoint")
        return value

    def ranges(self) -> dict[str, ipaddress.IPv4Network]:
        """Each declared range by its setting name."""
        out = {}
        for field_name in _RANGE_FIELDS:
            value = getattr(self, field_name)
            if value is not None:
                out[field_name] = ipaddress.IPv4Network(value)
        return out

    @property
    def pods_range_name(self) -> str:
        return f"{self.network_name}-pods"

    @property
    def services_range_name(self) -> str:
        return f"{self.network_name}-services"


def _settings(
    args: Mapping[str, Any], *, default_name: str, where: str, prefix: str = ""
) -> MeshNetworkSettings:
    values = dict(args)
    values.setdefault("network_name", default_name)
    return validate_args(MeshNetworkSettings, values, where=where, prefix=prefix)


def check_networks_disjoint(
    first: MeshNetworkArgs | Mapping[str, Any],
    second: MeshNetworkArgs | Mapping[str, Any],
    *,
    names: tuple[str, str] = ("first", "second"),
    where: str = "meshlink",
) -> None:
    """Reject two networks of one link whose ranges overlap.

    Call it with both sides' args before declaring either ``MeshNetwork``, so that a bad
    pair registers nothing. ``names`` prefix each setting in the message (for example
    ``meshlink:client.network``) so it points at the configuration key to fix. Each network
    is fully validated on the way, so a malformed range is reported here as well.
    """
    problems: list[str] = []
    settings: list[MeshNetworkSettings] = []
    for index, (label, args) in enumerate(zip(names, (first, second), strict=True)):
        try:
            # The component name is not known here; a placeholder stands in for an absent
            # network_name so that the ranges can still be checked.
            placeholder = f"unnamed-network-{index}"
            settings.append(
                _settings(args, default_name=placeholder, where=where, prefix=f"{label}.")
            )
        except MeshlinkValidationError as error:
            problems.extend(error.problems)
    if not problems:
        a, b = settings
        for a_field, a_range in a.ranges().items():
            for b_field, b_range in b.ranges().items():
                if a_range.overlaps(b_range):
                    problems.append(
                        f"{names[1]}.{b_field}: {b_range} overlaps {names[0]}.{a_field} "
                        f"{a_range}; the two networks of a link must not overlap, so that "
                        "they can be peered or connected later"
                    )
        explicit = "network_name" in first and "network_name" in second
        if explicit and a.project == b.project and a.network_name == b.network_name:
            problems.append(
                f"{names[1]}.network_name: {b.network_name!r} is also {names[0]}'s network "
                f"name in project {a.project!r}; the two sides need separate VPCs"
            )
    if problems:
        raise MeshlinkValidationError(where, problems)


@documents(MeshNetworkArgs)
class MeshNetwork(pulumi.ComponentResource):
    """A custom-mode VPC for one cluster: subnet with Pod and Service ranges and Private
    Google Access, Cloud Router and Cloud NAT on reserved addresses, and a baseline firewall.

    Firewall posture: GCP denies ingress by default and GKE adds the rules its own cluster
    needs (node to node, control plane to nodes, load balancer traffic limited to
    ``loadBalancerSourceRanges``). On top of that this component allows traffic from the
    subnet and the Pod range, allows Google's health-check ranges over TCP, and adds an
    explicit lowest-priority deny that is logged, so dropped probes leave a record. Egress
    stays open: nodes reach Google APIs privately and the internet only through the NAT.
    """

    settings: MeshNetworkSettings
    network: compute.Network
    subnetwork: compute.Subnetwork
    router: compute.Router
    nat: compute.RouterNat
    nat_ips: list[compute.Address]
    firewalls: list[compute.Firewall]
    network_id: Registered[pulumi.Output[str]]
    """``projects/<project>/global/networks/<name>``."""
    network_self_link: Registered[pulumi.Output[str]]
    """The VPC's self link."""
    subnetwork_id: Registered[pulumi.Output[str]]
    """The subnet's resource id."""
    subnetwork_self_link: Registered[pulumi.Output[str]]
    """The subnet's self link."""
    pods_range_name: Registered[str]
    """Secondary range name for the cluster's Pods (``MeshCluster`` ``pods_range_name``)."""
    services_range_name: Registered[str]
    """Secondary range name for Services (``MeshCluster`` ``services_range_name``)."""
    nat_addresses: Registered[pulumi.Output[list[str]]]
    """The NAT's static egress addresses, in order."""

    def __init__(
        self,
        name: str,
        args: MeshNetworkArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = _settings(args, default_name=name, where=f"MeshNetwork {name!r}")
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.settings = settings
        self._declare_network(name, settings)
        self._declare_nat(name, settings)
        self._declare_firewalls(name, settings)

        self.network_id = self.network.id
        self.network_self_link = self.network.self_link
        self.subnetwork_id = self.subnetwork.id
        self.subnetwork_self_link = self.subnetwork.self_link
        self.nat_addresses = pulumi.Output.all(*[a.address for a in self.nat_ips]).apply(list)

        self.pods_range_name = settings.pods_range_name
        self.services_range_name = settings.services_range_name
        register_declared_outputs(self)

    def _declare_network(self, name: str, settings: MeshNetworkSettings) -> None:
        """The VPC and its one subnet, with the Pod and Service ranges."""
        child = pulumi.ResourceOptions(parent=self)
        net = settings.network_name
        self.network = compute.Network(
            f"{name}-network",
            name=net,
            project=settings.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description="meshlink: one side of a cross-cluster link",
            opts=child,
        )
        self.subnetwork = compute.Subnetwork(
            f"{name}-subnet",
            name=f"{net}-nodes",
            project=settings.project,
            region=settings.region,
            network=self.network.id,
            ip_cidr_range=settings.subnet_cidr,
            secondary_ip_ranges=[
                {"range_name": settings.pods_range_name, "ip_cidr_range": settings.pods_cidr},
                {
                    "range_name": settings.services_range_name,
                    "ip_cidr_range": settings.services_cidr,
                },
            ],
            private_ip_google_access=True,
            stack_type="IPV4_ONLY",
            log_config=(
                {
                    "aggregation_interval": "INTERVAL_5_SEC",
                    "flow_sampling": 0.5,
                    "metadata": "INCLUDE_ALL_METADATA",
                }
                if settings.flow_logs
                else None
            ),
            opts=child,
        )

    def _declare_nat(self, name: str, settings: MeshNetworkSettings) -> None:
        """Cloud Router and Cloud NAT on reserved addresses: the side's egress identity."""
        child = pulumi.ResourceOptions(parent=self)
        net = settings.network_name
        project, region = settings.project, settings.region
        self.router = compute.Router(
            f"{name}-router",
            name=f"{net}-router",
            project=project,
            region=region,
            network=self.network.id,
            opts=child,
        )
        self.nat_ips = [
            compute.Address(
                f"{name}-nat-ip-{index}",
                name=f"{net}-nat-{index}",
                project=project,
                region=region,
                address_type="EXTERNAL",
                network_tier="PREMIUM",
                description="meshlink: Cloud NAT egress address, allowlisted by the peer",
                opts=child,
            )
            for index in range(settings.nat_address_count)
        ]
        self.nat = compute.RouterNat(
            f"{name}-nat",
            name=f"{net}-nat",
            project=project,
            region=region,
            router=self.router.name,
            nat_ip_allocate_option="MANUAL_ONLY",
            nat_ips=[address.self_link for address in self.nat_ips],
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                {"name": self.subnetwork.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}
            ],
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

    def _declare_firewalls(self, name: str, settings: MeshNetworkSettings) -> None:
        """The baseline firewall on top of GCP's and GKE's own rules."""
        net = settings.network_name
        project = settings.project
        replace_first = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        self.firewalls = [
            compute.Firewall(
                f"{name}-fw-allow-internal",
                name=f"{net}-allow-internal",
                project=project,
                network=self.network.id,
                direction="INGRESS",
                priority=1000,
                source_ranges=[settings.subnet_cidr, settings.pods_cidr],
                allows=[{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
                description="meshlink: nodes and Pods of this network reach each other",
                opts=replace_first,
            ),
            compute.Firewall(
                f"{name}-fw-allow-health-checks",
                name=f"{net}-allow-health-checks",
                project=project,
                network=self.network.id,
                direction="INGRESS",
                priority=1000,
                source_ranges=list(GOOGLE_HEALTH_CHECK_RANGES),
                allows=[{"protocol": "tcp"}],
                description="meshlink: Google Cloud load balancer health checks",
                opts=replace_first,
            ),
            compute.Firewall(
                f"{name}-fw-deny-ingress",
                name=f"{net}-deny-ingress",
                project=project,
                network=self.network.id,
                direction="INGRESS",
                priority=65534,
                source_ranges=["0.0.0.0/0"],
                denies=[{"protocol": "all"}],
                log_config=(
                    {"metadata": "INCLUDE_ALL_METADATA"} if settings.log_denied_ingress else None
                ),
                description="meshlink: everything not allowed above is dropped (and logged)",
                opts=replace_first,
            ),
        ]

    @property
    def control_plane_cidr(self) -> str | None:
        """The /28 kept for the control plane, if one was declared."""
        return self.settings.control_plane_cidr

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def region(self) -> str:
        return self.settings.region
