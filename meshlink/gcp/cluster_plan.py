"""What a ``MeshCluster`` declares, decided from its validated settings without declaring
anything: :func:`plan_mesh_cluster`, which the component declares exactly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from meshlink.gcp.cluster_settings import MeshClusterSettings

NODE_ROLES: tuple[str, ...] = ("roles/container.defaultNodeServiceAccount",)
"""The one role GKE documents as the minimum for a node service account: writing logs and
metrics and reading the metadata the agents need. Nothing else."""


@dataclass(frozen=True)
class RoleGrantPlan:
    resource_name: str
    role: str


@dataclass(frozen=True)
class NodeIdentityPlan:
    """The node service account and the only roles it is granted."""

    resource_name: str
    account_id: str
    display_name: str
    description: str
    role_grants: tuple[RoleGrantPlan, ...]


@dataclass(frozen=True)
class AuthorizedNetworkPlan:
    cidr_block: str
    display_name: str | None


@dataclass(frozen=True)
class NodePoolPlan:
    resource_name: str
    name: str
    machine_type: str
    min_nodes_per_zone: int
    max_nodes_per_zone: int
    disk_size_gb: int
    disk_type: str
    spot: bool
    node_labels: Mapping[str, str]


@dataclass(frozen=True)
class MeshClusterPlan:
    """Everything a ``MeshCluster`` declares that its settings decide. Pulumi Inputs
    (network, subnetwork, mesh_feature) are carried through untouched; the ``mesh_id``
    label is not here because it is looked up from the fleet project at deployment."""

    project: str
    location: str
    fleet_project: str
    cluster_name: str
    workload_pool: str
    context_name: str
    network: pulumi.Input[str]
    subnetwork: pulumi.Input[str]
    pods_range_name: str
    services_range_name: str
    mesh_feature: pulumi.Input[str]
    release_channel: str
    deletion_protection: bool
    public_endpoint: bool
    """Whether the control plane has a public address (nodes are always private)."""
    master_ipv4_cidr: str | None
    authorized_networks: tuple[AuthorizedNetworkPlan, ...] | None
    """None: no authorised-networks configuration at all."""
    node_locations: tuple[str, ...]
    """Empty: GKE chooses the zones."""
    resource_labels: Mapping[str, str]
    node_identity: NodeIdentityPlan
    node_pool: NodePoolPlan
    cluster_resource_name: str
    membership_resource_name: str
    membership_id: str
    feature_membership_resource_name: str
    provider_name: str

    @property
    def node_locations_input(self) -> list[str] | None:
        return list(self.node_locations) or None


def _role_grant_resource_name(name: str, role: str) -> str:
    return f"{name}-node-sa-{role.rsplit('/', 1)[-1].replace('.', '-').lower()}"


def plan_mesh_cluster(name: str, settings: MeshClusterSettings) -> MeshClusterPlan:
    """What ``MeshCluster(name, ...)`` declares for validated ``settings``; creates nothing."""
    pool = settings.node_pool
    return MeshClusterPlan(
        project=settings.project,
        location=settings.location,
        fleet_project=settings.fleet,
        cluster_name=settings.cluster_name,
        workload_pool=settings.workload_pool,
        context_name=settings.context_name,
        network=settings.network,
        subnetwork=settings.subnetwork,
        pods_range_name=settings.pods_range_name,
        services_range_name=settings.services_range_name,
        mesh_feature=settings.mesh_feature,
        release_channel=settings.release_channel,
        deletion_protection=settings.deletion_protection,
        public_endpoint=not settings.private_endpoint,
        master_ipv4_cidr=settings.master_ipv4_cidr,
        authorized_networks=tuple(
            AuthorizedNetworkPlan(cidr_block=n.cidr_block, display_name=n.display_name)
            for n in settings.master_authorized_networks
        )
        or None,
        node_locations=tuple(settings.node_locations),
        resource_labels=dict(settings.labels),
        node_identity=NodeIdentityPlan(
            resource_name=f"{name}-node-sa",
            account_id=settings.node_account_id,
            display_name=f"GKE nodes of {settings.cluster_name}",
            description="meshlink: node identity limited to writing logs and metrics",
            role_grants=tuple(
                RoleGrantPlan(_role_grant_resource_name(name, role), role) for role in NODE_ROLES
            ),
        ),
        node_pool=NodePoolPlan(
            resource_name=f"{name}-node-pool",
            name=pool.name,
            machine_type=pool.machine_type,
            min_nodes_per_zone=pool.min_nodes_per_zone,
            max_nodes_per_zone=pool.max_nodes_per_zone,
            disk_size_gb=pool.disk_size_gb,
            disk_type=pool.disk_type,
            spot=pool.spot,
            node_labels={"meshlink-cluster": settings.cluster_name},
        ),
        cluster_resource_name=f"{name}-cluster",
        membership_resource_name=f"{name}-membership",
        membership_id=settings.cluster_name,
        feature_membership_resource_name=f"{name}-mesh",
        provider_name=name,
    )
