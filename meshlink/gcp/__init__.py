"""The GCP half of a link: networks, GKE clusters with managed Cloud Service Mesh, the
ingress address with its allowlist, and private DNS.

Nothing here knows about Istio objects; the mesh layer receives only a
``kubernetes.Provider`` per cluster (``MeshCluster.provider``), the ingress address and the
allowlist (``IngressAddress.address`` and ``.source_ranges``).
"""

from meshlink.extras import require_extra

require_extra("gcp", "meshlink.gcp")

from meshlink.gcp.apis import DEFAULT_SERVICES, ProjectApis, ProjectApisArgs
from meshlink.gcp.cluster import MeshCluster, gke_kubeconfig
from meshlink.gcp.cluster_settings import AuthorizedNetwork, MeshClusterArgs, NodePoolArgs
from meshlink.gcp.fleet import ServiceMeshFeature, ServiceMeshFeatureArgs
from meshlink.gcp.google_apis_dns import GoogleApisPrivateDns, GoogleApisPrivateDnsArgs
from meshlink.gcp.link import (
    IngressAddress,
    IngressAddressArgs,
    LinkDnsZone,
    LinkDnsZoneArgs,
    allowlist,
)
from meshlink.gcp.network import MeshNetwork, MeshNetworkArgs, check_networks_disjoint

__all__ = [
    "DEFAULT_SERVICES",
    "AuthorizedNetwork",
    "GoogleApisPrivateDns",
    "GoogleApisPrivateDnsArgs",
    "IngressAddress",
    "IngressAddressArgs",
    "LinkDnsZone",
    "LinkDnsZoneArgs",
    "MeshCluster",
    "MeshClusterArgs",
    "MeshNetwork",
    "MeshNetworkArgs",
    "NodePoolArgs",
    "ProjectApis",
    "ProjectApisArgs",
    "ServiceMeshFeature",
    "ServiceMeshFeatureArgs",
    "allowlist",
    "check_networks_disjoint",
    "gke_kubeconfig",
]
