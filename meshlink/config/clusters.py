"""The ``client`` and ``server`` keys: each cluster's network checked against
``MeshNetworkSettings`` and its cluster against ``MeshClusterSettings``, with the values the
program derives filled in and refused when set by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi

from meshlink.config.reader import ConfigReader, reject_derived
from meshlink.config.sections import ClientSection, ClusterSection
from meshlink.gcp import MeshClusterArgs, MeshNetwork, MeshNetworkArgs
from meshlink.gcp._validation import check_project_id
from meshlink.gcp.cluster import MeshClusterSettings
from meshlink.gcp.network import MeshNetworkSettings
from meshlink.mesh.hardening import ClientNetworkPolicy

DERIVED_NETWORK_KEYS = {
    "project": "is the side's project (set it one level up)",
    "region": "is the side's region (set it one level up)",
}
_DERIVED_CLUSTER_KEYS = {
    "project": "is the side's project (set it one level up)",
    "network": "is the side's network",
    "subnetwork": "is the side's subnet",
    "pods_range_name": "is derived from the network",
    "services_range_name": "is derived from the network",
    "mesh_feature": "is the fleet's servicemesh feature",
    "fleet_project": "is the fleet_project key",
    "master_ipv4_cidr": "is the network's control_plane_cidr",
}


@dataclass(frozen=True)
class ClusterConfig:
    """A validated ``client`` or ``server`` key: what its ``MeshNetwork`` and ``MeshCluster``
    are given."""

    name: str
    """``client`` or ``server``: the component names, and so the provider names."""
    section: ClusterSection
    network: MeshNetworkSettings

    @property
    def project(self) -> str:
        return self.section.project

    @property
    def region(self) -> str:
        return self.section.region

    def network_args(self) -> MeshNetworkArgs:
        return cast(
            MeshNetworkArgs,
            {
                **self.section.network,
                "project": self.project,
                "region": self.region,
                "network_name": self.network.network_name,
            },
        )

    def cluster_args(
        self, network: MeshNetwork, *, mesh_feature: pulumi.Input[str], fleet_project: str
    ) -> MeshClusterArgs:
        args: dict[str, Any] = {
            "location": self.region,
            **self.section.cluster,
            "project": self.project,
            "network": network.network_id,
            "subnetwork": network.subnetwork_id,
            "pods_range_name": network.pods_range_name,
            "services_range_name": network.services_range_name,
            "mesh_feature": mesh_feature,
            "fleet_project": fleet_project,
        }
        if network.control_plane_cidr is not None:
            args["master_ipv4_cidr"] = network.control_plane_cidr
        return cast(MeshClusterArgs, args)


def network_values(section: ClusterSection, name: str) -> dict[str, Any]:
    return {
        **section.network,
        "project": section.project,
        "region": section.region,
        "network_name": section.network.get("network_name", name),
    }


def read_cluster(
    reader: ConfigReader,
    key: str,
    model: type[ClusterSection],
    *,
    fleet_project: str | None,
    check_network: bool = True,
) -> tuple[ClusterSection | None, MeshNetworkSettings | None]:
    """A cluster key's section, its network checked alone (``check_network``) and its cluster
    checked against ``MeshClusterSettings``."""
    section = reader.section(model, key, required=True)
    if section is None:
        return None, None
    prefix = f"{reader.path(key)}."
    network_ok = reject_derived(reader, section.network, DERIVED_NETWORK_KEYS, f"{prefix}network.")
    network: MeshNetworkSettings | None = None
    if network_ok and check_network:
        network = reader.part(
            MeshNetworkSettings, network_values(section, key), f"{prefix}network."
        )
    if reject_derived(reader, section.cluster, _DERIVED_CLUSTER_KEYS, f"{prefix}cluster."):
        control_plane = section.network.get("control_plane_cidr")
        values: dict[str, Any] = {
            "location": section.region,
            "cluster_name": key,
            **section.cluster,
            "project": section.project,
            "network": "derived",
            "subnetwork": "derived",
            "pods_range_name": "derived",
            "services_range_name": "derived",
            "mesh_feature": "servicemesh",
            "fleet_project": fleet_project or section.fleet_project or section.project,
        }
        if isinstance(control_plane, str):
            values["master_ipv4_cidr"] = control_plane
        reader.part(MeshClusterSettings, values, f"{prefix}cluster.")
    return section, network


def read_client_policy(reader: ConfigReader, section: ClientSection | None) -> ClientNetworkPolicy:
    if section is None:
        return ClientNetworkPolicy()
    policy = reader.part(
        ClientNetworkPolicy, section.network_policy, f"{reader.path('client')}.network_policy."
    )
    return policy or ClientNetworkPolicy()


def fleet_of(section: ClusterSection) -> str:
    """The cluster's fleet host project: ``fleet_project``, or else its own project."""
    return section.fleet_project or section.project


def read_fleet_project(reader: ConfigReader) -> str | None:
    return reader.text("fleet_project", required=False, check=check_project_id)
