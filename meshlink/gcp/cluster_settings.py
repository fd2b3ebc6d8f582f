"""What ``MeshCluster`` takes: its arguments and the models that validate them."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal, NotRequired, TypedDict

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from meshlink.gcp._validation import (
    ClusterName,
    Labels,
    Location,
    ProjectId,
    StrInput,
    Zone,
    cidr_checker,
    region_of,
    resource_name_checker,
)
from meshlink.validation import covers_all_addresses


class NodePoolArgs(TypedDict):
    """The cluster's node pool. Sizes are per zone, as GKE counts them."""

    name: NotRequired[str]
    """Node pool name (default ``primary``)."""
    machine_type: NotRequired[str]
    """Default ``e2-standard-4``: the managed mesh's proxies and gateways need room."""
    min_nodes_per_zone: NotRequired[int]
    """Autoscaling floor per zone (default 1)."""
    max_nodes_per_zone: NotRequired[int]
    """Autoscaling ceiling per zone (default 3)."""
    disk_size_gb: NotRequired[int]
    """Boot disk size (default 100)."""
    disk_type: NotRequired[str]
    """``pd-standard``, ``pd-balanced`` (default) or ``pd-ssd``."""
    spot: NotRequired[bool]
    """Use Spot VMs (default false). Cheaper, but nodes can be taken away at any time."""


class AuthorizedNetwork(TypedDict):
    """A range allowed to reach the control plane."""

    cidr_block: str
    """IPv4 CIDR block, for example the operators' egress range."""
    display_name: NotRequired[str]
    """Shown in the console."""


class MeshClusterArgs(TypedDict):
    """A GKE Standard cluster in a ``MeshNetwork``, registered to a fleet with managed mesh."""

    project: str
    """GCP project of the cluster."""
    location: str
    """A region (regional cluster, control plane replicated across zones) or a zone
    (zonal cluster)."""
    network: pulumi.Input[str]
    """The VPC (``MeshNetwork.network_id``)."""
    subnetwork: pulumi.Input[str]
    """The subnet (``MeshNetwork.subnetwork_id``)."""
    pods_range_name: str
    """Secondary range for Pods (``MeshNetwork.pods_range_name``)."""
    services_range_name: str
    """Secondary range for Services (``MeshNetwork.services_range_name``)."""
    mesh_feature: pulumi.Input[str]
    """The fleet's ``servicemesh`` feature: pass ``ServiceMeshFeature.feature_name`` so that
    the fleet membership and the feature membership wait for the feature and its grants."""
    fleet_project: NotRequired[str]
    """Fleet host project (default: ``project``). Its number becomes the ``mesh_id``."""
    cluster_name: NotRequired[str]
    """Cluster name in GCP and fleet membership id; defaults to the component name."""
    release_channel: NotRequired[str]
    """``RAPID``, ``REGULAR`` (default), ``STABLE`` or ``EXTENDED``."""
    deletion_protection: NotRequired[bool]
    """Refuse to delete the cluster (default true). Set false before a planned teardown."""
    private_endpoint: NotRequired[bool]
    """Reach the control plane only on its private address (default false). Then Pulumi
    itself must run from inside the VPC or a connected network."""
    master_ipv4_cidr: NotRequired[str]
    """The /28 for the control plane (``MeshNetwork.control_plane_cidr``). Needed for
    clusters whose control plane is peered rather than reached over Private Service
    Connect."""
    master_authorized_networks: NotRequired[list[AuthorizedNetwork]]
    """Ranges allowed to reach the control plane. Required with a public endpoint, unless
    ``allow_public_endpoint``."""
    allow_public_endpoint: NotRequired[bool]
    """Accept a public control-plane endpoint with no authorised networks, reachable from
    anywhere (still authenticated by IAM). Off by default: give
    ``master_authorized_networks`` or ``private_endpoint``."""
    node_locations: NotRequired[list[str]]
    """Zones for the nodes, all in the cluster's region (default: GKE's choice)."""
    node_pool: NotRequired[NodePoolArgs]
    """The node pool."""
    labels: NotRequired[dict[str, str]]
    """Extra resource labels for the cluster. ``mesh_id`` is set by meshlink."""


class NodePoolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, resource_name_checker(40, "node pool name")] = "primary"
    machine_type: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")] = "e2-standard-4"
    min_nodes_per_zone: int = Field(default=1, ge=0, le=1000)
    max_nodes_per_zone: int = Field(default=3, ge=1, le=1000)
    disk_size_gb: int = Field(default=100, ge=10, le=65536)
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-balanced"
    spot: bool = False

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> NodePoolSettings:
        if self.min_nodes_per_zone > self.max_nodes_per_zone:
            raise ValueError(
                f"min_nodes_per_zone {self.min_nodes_per_zone} is larger than "
                f"max_nodes_per_zone {self.max_nodes_per_zone}"
            )
        return self


class AuthorizedNetworkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cidr_block: str
    display_name: Annotated[str, Field(max_length=100)] | None = None

    @field_validator("cidr_block")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 CIDR block with no host bits") from None
        if network.prefixlen == 0:
            raise ValueError(f"{value!r} would open the control plane to the whole internet")
        return value


class MeshClusterSettings(BaseModel):
    """Validated ``MeshClusterArgs``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: ProjectId
    location: Location
    network: StrInput
    subnetwork: StrInput
    pods_range_name: Annotated[str, resource_name_checker(63, "secondary range name")]
    services_range_name: Annotated[str, resource_name_checker(63, "secondary range name")]
    mesh_feature: StrInput
    fleet_project: ProjectId | None = None
    cluster_name: ClusterName
    release_channel: Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"] = "REGULAR"
    deletion_protection: bool = True
    private_endpoint: bool = False
    master_ipv4_cidr: Annotated[str, cidr_checker(shortest=28, longest=28)] | None = None
    allow_public_endpoint: bool = False
    master_authorized_networks: list[AuthorizedNetworkSettings] = Field(
        default_factory=list, validate_default=True
    )
    node_locations: list[Zone] = []
    node_pool: NodePoolSettings = NodePoolSettings()
    labels: Labels = {}

    @field_validator("labels")
    @classmethod
    def _mesh_id_is_ours(cls, value: dict[str, str]) -> dict[str, str]:
        if "mesh_id" in value:
            raise ValueError(
                "'mesh_id' is set by meshlink from the fleet project number; remove it"
            )
        return value

    @field_validator("master_authorized_networks")
    @classmethod
    def _endpoint_not_open(
        cls, value: list[AuthorizedNetworkSettings], info: ValidationInfo
    ) -> list[AuthorizedNetworkSettings]:
        if (
            not value
            and not info.data.get("private_endpoint", False)
            and not info.data.get("allow_public_endpoint", False)
        ):
            raise ValueError(
                "a public control-plane endpoint with no authorised networks accepts "
                "connections from the whole internet; list the ranges Pulumi and the "
                "operators connect from, or set private_endpoint, or allow_public_endpoint "
                "to accept this deliberately"
            )
        everything = covers_all_addresses([n.cidr_block for n in value])
        if everything is not None:
            raise ValueError(
                f"together the networks cover {everything}, which opens the control plane "
                "to the whole internet; list the ranges Pulumi and the operators connect from"
            )
        return value

    @field_validator("node_locations")
    @classmethod
    def _zones_in_region(cls, value: list[str], info: ValidationInfo) -> list[str]:
        location = info.data.get("location")
        if location is not None:
            region = region_of(location)
            stray = [zone for zone in value if region_of(zone) != region]
            if stray:
                raise ValueError(f"{stray} are outside the cluster's region {region!r}")
        return value

    @property
    def fleet(self) -> str:
        return self.fleet_project or self.project

    @property
    def workload_pool(self) -> str:
        return f"{self.project}.svc.id.goog"

    @property
    def context_name(self) -> str:
        """The name gcloud gives this cluster's kubeconfig context; stable for its lifetime."""
        return f"gke_{self.project}_{self.location}_{self.cluster_name}"

    @property
    def node_account_id(self) -> str:
        """6 to 30 characters, derived from the cluster name."""
        return f"{self.cluster_name[:24].rstrip('-')}-nodes"
