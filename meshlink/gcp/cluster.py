"""A GKE Standard cluster ready for managed Cloud Service Mesh, and a Kubernetes provider
for it.

What managed Cloud Service Mesh needs from a cluster: Workload Identity with the pool
``<project>.svc.id.goog``, the label ``mesh_id: proj-<fleet project number>``, a fleet
membership, and a ``servicemesh`` feature membership with automatic management. The rest
is hardening a regulated deployment expects: private nodes, shielded nodes, Dataplane V2
(so NetworkPolicy is enforced and Pods cannot bypass the egress gateway), a node service
account that can only write logs and metrics, and the GKE metadata server instead of the
node's credentials.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_gcp import container, gkehub, projects, serviceaccount
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from meshlink.argdocs import documents
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
from meshlink.gcp.fleet import FLEET_LOCATION, fleet_project_number, mesh_id_label
from meshlink.validation import covers_all_addresses, validate_args

COMPONENT_TYPE = "meshlink:index:MeshCluster"

NODE_ROLES: tuple[str, ...] = ("roles/container.defaultNodeServiceAccount",)
"""The one role GKE documents as the minimum for a node service account: writing logs and
metrics and reading the metadata the agents need. Nothing else."""

AUTH_PLUGIN = "gke-gcloud-auth-plugin"
NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
"""With a dedicated service account, IAM roles (not scopes) limit what nodes can do."""


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


def gke_kubeconfig(context: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig for a GKE cluster that authenticates through ``gke-gcloud-auth-plugin``.

    No token or key is written into it: the plugin fetches short-lived credentials of
    whoever runs Pulumi. ``ca_certificate`` is the base64 PEM GKE reports.
    """
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": f"https://{endpoint}",
                    "certificate-authority-data": ca_certificate,
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": AUTH_PLUGIN,
                        "installHint": (
                            "Install gke-gcloud-auth-plugin: "
                            "gcloud components install gke-gcloud-auth-plugin"
                        ),
                        "provideClusterInfo": True,
                        "interactiveMode": "IfAvailable",
                    }
                },
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


@documents(MeshClusterArgs)
class MeshCluster(pulumi.ComponentResource):
    """A private, shielded GKE Standard cluster with Dataplane V2, its node pool, fleet
    registration and managed Cloud Service Mesh, plus a ``kubernetes.Provider`` for it.

    The provider's logical name is the component's name, so renders and the dev stack can
    call the clusters ``client`` and ``server``. Its ``cluster_identifier`` is the
    cluster's gcloud context name, which only changes if the cluster itself is replaced,
    so a new endpoint or CA does not replace every Kubernetes object declared through it.
    """

    settings: MeshClusterSettings
    node_service_account: serviceaccount.Account
    node_role_grants: list[projects.IAMMember]
    cluster: container.Cluster
    node_pool: container.NodePool
    membership: gkehub.Membership
    feature_membership: gkehub.FeatureMembership
    provider: k8s.Provider
    """The Kubernetes provider for this cluster."""
    mesh_id: pulumi.Output[str]
    """``proj-<fleet project number>``."""
    endpoint: pulumi.Output[str]
    """The control plane's address."""
    ca_certificate: pulumi.Output[str]
    """The cluster CA (base64 PEM), as GKE reports it."""
    kubeconfig: pulumi.Output[str]
    """A secret kubeconfig using the ``gke-gcloud-auth-plugin`` exec credential. It resolves
    once the node pool and the mesh feature membership exist, so nothing is applied to a
    cluster that has no nodes or no mesh requested yet."""

    def __init__(
        self,
        name: str,
        args: MeshClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        values = dict(args)
        values.setdefault("cluster_name", name)
        settings = validate_args(MeshClusterSettings, values, where=f"MeshCluster {name!r}")
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)
        project, location = settings.project, settings.location
        pool = settings.node_pool

        self.mesh_id = fleet_project_number(settings.fleet, self).apply(mesh_id_label)

        self.node_service_account = serviceaccount.Account(
            f"{name}-node-sa",
            project=project,
            account_id=settings.node_account_id,
            display_name=f"GKE nodes of {settings.cluster_name}",
            description="meshlink: node identity limited to writing logs and metrics",
            opts=child,
        )
        self.node_role_grants = [
            projects.IAMMember(
                f"{name}-node-sa-{role.rsplit('/', 1)[-1].replace('.', '-').lower()}",
                project=project,
                role=role,
                member=self.node_service_account.member,
                opts=child,
            )
            for role in NODE_ROLES
        ]

        email = self.node_service_account.email
        metadata = {"disable-legacy-endpoints": "true"}

        private_cluster = container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True,
            enable_private_endpoint=settings.private_endpoint,
            master_ipv4_cidr_block=settings.master_ipv4_cidr,
        )
        authorized = (
            container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=network.cidr_block, display_name=network.display_name
                    )
                    for network in settings.master_authorized_networks
                ]
            )
            if settings.master_authorized_networks
            else None
        )

        self.cluster = container.Cluster(
            f"{name}-cluster",
            name=settings.cluster_name,
            project=project,
            location=location,
            node_locations=list(settings.node_locations) or None,
            network=settings.network,
            subnetwork=settings.subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=settings.pods_range_name,
                services_secondary_range_name=settings.services_range_name,
                stack_type="IPV4",
            ),
            datapath_provider="ADVANCED_DATAPATH",
            workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=settings.workload_pool
            ),
            release_channel=container.ClusterReleaseChannelArgs(channel=settings.release_channel),
            private_cluster_config=private_cluster,
            master_authorized_networks_config=authorized,
            master_auth=container.ClusterMasterAuthArgs(
                client_certificate_config=container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                )
            ),
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            remove_default_node_pool=True,
            initial_node_count=1,
            # The default pool exists for a moment before it is removed; give it the same
            # narrow identity so it never runs as the Compute Engine default account.
            node_config=container.ClusterNodeConfigArgs(
                service_account=email,
                oauth_scopes=NODE_SCOPES,
                shielded_instance_config=container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=container.ClusterNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                metadata=metadata,
            ),
            deletion_protection=settings.deletion_protection,
            resource_labels={**settings.labels, "mesh_id": self.mesh_id},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Only the short-lived default pool reads node_config; GKE reports the
                # remaining pools' settings there afterwards, which must not read as drift.
                ignore_changes=["nodeConfig"],
            ),
        )

        self.node_pool = container.NodePool(
            f"{name}-node-pool",
            name=pool.name,
            project=project,
            location=location,
            cluster=self.cluster.name,
            node_locations=list(settings.node_locations) or None,
            autoscaling=container.NodePoolAutoscalingArgs(
                min_node_count=pool.min_nodes_per_zone,
                max_node_count=pool.max_nodes_per_zone,
                location_policy="BALANCED",
            ),
            management=container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE", max_surge=1, max_unavailable=0
            ),
            node_config=container.NodePoolNodeConfigArgs(
                service_account=email,
                oauth_scopes=NODE_SCOPES,
                shielded_instance_config=container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                metadata=metadata,
                machine_type=pool.machine_type,
                disk_size_gb=pool.disk_size_gb,
                disk_type=pool.disk_type,
                image_type="COS_CONTAINERD",
                spot=pool.spot,
                labels={"meshlink-cluster": settings.cluster_name},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes start logging at once; the role has to be there first.
                depends_on=list(self.node_role_grants),
                # Same name, so a replacement must go first.
                delete_before_replace=True,
            ),
        )

        # The membership is created in the fleet project once the feature and its
        # cross-project grants exist (mesh_feature resolves only then).
        fleet_after_feature = pulumi.Output.from_input(settings.mesh_feature).apply(
            lambda _feature: settings.fleet
        )
        self.membership = gkehub.Membership(
            f"{name}-membership",
            membership_id=settings.cluster_name,
            project=fleet_after_feature,
            location=FLEET_LOCATION,
            endpoint={
                "gke_cluster": {
                    "resource_link": pulumi.Output.concat(
                        "//container.googleapis.com/", self.cluster.id
                    )
                }
            },
            authority={
                "issuer": pulumi.Output.concat(
                    "https://container.googleapis.com/v1/", self.cluster.id
                )
            },
            opts=child,
        )
        self.feature_membership = gkehub.FeatureMembership(
            f"{name}-mesh",
            project=settings.fleet,
            location=FLEET_LOCATION,
            feature=settings.mesh_feature,
            membership=self.membership.membership_id,
            membership_location=self.membership.location,
            mesh={"management": "MANAGEMENT_AUTOMATIC"},
            opts=child,
        )

        self.endpoint = self.cluster.endpoint
        self.ca_certificate = self.cluster.master_auth.cluster_ca_certificate.apply(
            lambda ca: ca or ""
        )
        context = settings.context_name
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                self.cluster.endpoint,
                self.ca_certificate,
                self.node_pool.id,
                self.feature_membership.id,
            ).apply(lambda v: gke_kubeconfig(context, str(v[0]), str(v[1])))
        )
        self.provider = k8s.Provider(
            name,
            kubeconfig=self.kubeconfig,
            cluster_identifier=context,
            # Without it the Kubernetes provider replaces a Secret whose data changes, and a
            # Secret with a fixed name is deleted before it is created again: every
            # certificate rotation would leave the gateways without their credential for a
            # moment. Mutable Secrets update in place (pulumi-kubernetes provider config
            # `enableSecretMutable`; the real-engine suite shows the difference).
            enable_secret_mutable=True,
            opts=child,
        )

        self.register_outputs(
            {
                "cluster_name": settings.cluster_name,
                "cluster_id": self.cluster.id,
                "endpoint": self.endpoint,
                "ca_certificate": self.ca_certificate,
                "kubeconfig": self.kubeconfig,
                "mesh_id": self.mesh_id,
                "workload_pool": settings.workload_pool,
                "membership_id": self.membership.id,
                "node_service_account": self.node_service_account.email,
            }
        )

    @property
    def cluster_name(self) -> str:
        return self.settings.cluster_name

    @property
    def workload_pool(self) -> str:
        """``<project>.svc.id.goog``."""
        return self.settings.workload_pool
