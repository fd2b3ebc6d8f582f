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
from collections.abc import Mapping
from dataclasses import dataclass
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
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import covers_all_addresses, validate_args

COMPONENT_TYPE = "meshlink:index:MeshCluster"

NODE_ROLES: tuple[str, ...] = ("roles/container.defaultNodeServiceAccount",)
"""The one role GKE documents as the minimum for a node service account: writing logs and
metrics and reading the metadata the agents need. Nothing else."""

AUTH_PLUGIN = "gke-gcloud-auth-plugin"
NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
"""With a dedicated service account, IAM roles (not scopes) limit what nodes can do."""
NODE_METADATA = {"disable-legacy-endpoints": "true"}


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


# --- the plan: what the component declares, decided without declaring anything ----------


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
    cluster_name: Registered[str]
    """The GKE cluster's name."""
    cluster_id: Registered[pulumi.Output[str]]
    """The GKE cluster's resource id."""
    mesh_id: Registered[pulumi.Output[str]]
    """``proj-<fleet project number>``."""
    endpoint: Registered[pulumi.Output[str]]
    """The control plane's address."""
    ca_certificate: Registered[pulumi.Output[str]]
    """The cluster CA (base64 PEM), as GKE reports it."""
    workload_pool: Registered[str]
    """The fleet's workload identity pool, ``<fleet project>.svc.id.goog``."""
    membership_id: Registered[pulumi.Output[str]]
    """The fleet membership's resource id."""
    node_service_account_email: Registered[pulumi.Output[str]]
    """The nodes' service account."""
    kubeconfig: Registered[pulumi.Output[str]]
    """A secret kubeconfig using the ``gke-gcloud-auth-plugin`` exec credential. It resolves
    once the node pool and the mesh feature membership exist, so nothing is applied to a
    cluster that has no nodes or no mesh requested yet."""
    control_plane_kubeconfig: Registered[pulumi.Output[str]]
    """The same credentials, resolving as soon as the control plane and the mesh feature
    membership exist, without waiting for the node pool: for readiness gates, which only
    read CustomResourceDefinitions, and the API server itself marks a CRD Established
    (kubernetes.io, "Extend the Kubernetes API with CustomResourceDefinitions"). A gate
    given it polls while the nodes are still being created."""

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
        plan = plan_mesh_cluster(name, settings)
        self.cluster_name = plan.cluster_name
        self.workload_pool = plan.workload_pool
        self.mesh_id = fleet_project_number(plan.fleet_project, self).apply(mesh_id_label)
        self._declare_node_identity(plan)
        self._declare_cluster(plan)
        self._declare_node_pool(plan)
        self._declare_fleet_registration(plan)
        self._declare_provider(plan)
        self.cluster_id = self.cluster.id
        self.membership_id = self.membership.id
        self.node_service_account_email = self.node_service_account.email
        register_declared_outputs(self)

    def _declare_node_identity(self, plan: MeshClusterPlan) -> None:
        child = pulumi.ResourceOptions(parent=self)
        identity = plan.node_identity
        self.node_service_account = serviceaccount.Account(
            identity.resource_name,
            project=plan.project,
            account_id=identity.account_id,
            display_name=identity.display_name,
            description=identity.description,
            opts=child,
        )
        self.node_role_grants = [
            projects.IAMMember(
                grant.resource_name,
                project=plan.project,
                role=grant.role,
                member=self.node_service_account.member,
                opts=child,
            )
            for grant in identity.role_grants
        ]

    def _declare_cluster(self, plan: MeshClusterPlan) -> None:
        authorized = (
            container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=network.cidr_block, display_name=network.display_name
                    )
                    for network in plan.authorized_networks
                ]
            )
            if plan.authorized_networks is not None
            else None
        )
        self.cluster = container.Cluster(
            plan.cluster_resource_name,
            name=plan.cluster_name,
            project=plan.project,
            location=plan.location,
            node_locations=plan.node_locations_input,
            network=plan.network,
            subnetwork=plan.subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=plan.pods_range_name,
                services_secondary_range_name=plan.services_range_name,
                stack_type="IPV4",
            ),
            datapath_provider="ADVANCED_DATAPATH",
            workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=plan.workload_pool
            ),
            release_channel=container.ClusterReleaseChannelArgs(channel=plan.release_channel),
            private_cluster_config=container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=not plan.public_endpoint,
                master_ipv4_cidr_block=plan.master_ipv4_cidr,
            ),
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
                service_account=self.node_service_account.email,
                oauth_scopes=NODE_SCOPES,
                shielded_instance_config=container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=container.ClusterNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                metadata=dict(NODE_METADATA),
            ),
            deletion_protection=plan.deletion_protection,
            resource_labels={**plan.resource_labels, "mesh_id": self.mesh_id},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Only the short-lived default pool reads node_config; GKE reports the
                # remaining pools' settings there afterwards, which must not read as drift.
                ignore_changes=["nodeConfig"],
            ),
        )

    def _declare_node_pool(self, plan: MeshClusterPlan) -> None:
        pool = plan.node_pool
        self.node_pool = container.NodePool(
            pool.resource_name,
            name=pool.name,
            project=plan.project,
            location=plan.location,
            cluster=self.cluster.name,
            node_locations=plan.node_locations_input,
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
                service_account=self.node_service_account.email,
                oauth_scopes=NODE_SCOPES,
                shielded_instance_config=container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                metadata=dict(NODE_METADATA),
                machine_type=pool.machine_type,
                disk_size_gb=pool.disk_size_gb,
                disk_type=pool.disk_type,
                image_type="COS_CONTAINERD",
                spot=pool.spot,
                labels=dict(pool.node_labels),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes start logging at once; the role has to be there first.
                depends_on=list(self.node_role_grants),
                # Same name, so a replacement must go first.
                delete_before_replace=True,
            ),
        )

    def _declare_fleet_registration(self, plan: MeshClusterPlan) -> None:
        child = pulumi.ResourceOptions(parent=self)
        fleet_project = plan.fleet_project
        # The membership is created in the fleet project once the feature and its
        # cross-project grants exist (mesh_feature resolves only then).
        fleet_after_feature = pulumi.Output.from_input(plan.mesh_feature).apply(
            lambda _feature: fleet_project
        )
        self.membership = gkehub.Membership(
            plan.membership_resource_name,
            membership_id=plan.membership_id,
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
            plan.feature_membership_resource_name,
            project=fleet_project,
            location=FLEET_LOCATION,
            feature=plan.mesh_feature,
            membership=self.membership.membership_id,
            membership_location=self.membership.location,
            mesh={"management": "MANAGEMENT_AUTOMATIC"},
            opts=child,
        )

    def _declare_provider(self, plan: MeshClusterPlan) -> None:
        self.endpoint = self.cluster.endpoint
        self.ca_certificate = self.cluster.master_auth.cluster_ca_certificate.apply(
            lambda ca: ca or ""
        )
        context = plan.context_name
        self.control_plane_kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                self.cluster.endpoint, self.ca_certificate, self.feature_membership.id
            ).apply(lambda v: gke_kubeconfig(context, str(v[0]), str(v[1])))
        )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                self.cluster.endpoint,
                self.ca_certificate,
                self.node_pool.id,
                self.feature_membership.id,
            ).apply(lambda v: gke_kubeconfig(context, str(v[0]), str(v[1])))
        )
        self.provider = k8s.Provider(
            plan.provider_name,
            kubeconfig=self.kubeconfig,
            cluster_identifier=context,
            # Without it the Kubernetes provider replaces a Secret whose data changes, and a
            # Secret with a fixed name is deleted before it is created again: every
            # certificate rotation would leave the gateways without their credential for a
            # moment. Mutable Secrets update in place (pulumi-kubernetes provider config
            # `enableSecretMutable`; the real-engine suite shows the difference).
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
