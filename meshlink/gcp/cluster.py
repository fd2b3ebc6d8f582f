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

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_gcp import container, gkehub, projects, serviceaccount

from meshlink.argdocs import documents
from meshlink.gcp.cluster_plan import MeshClusterPlan, plan_mesh_cluster
from meshlink.gcp.cluster_settings import MeshClusterArgs, MeshClusterSettings
from meshlink.gcp.fleet import FLEET_LOCATION, fleet_project_number, mesh_id_label
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import validate_args

COMPONENT_TYPE = "meshlink:index:MeshCluster"

AUTH_PLUGIN = "gke-gcloud-auth-plugin"
NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
"""With a dedicated service account, IAM roles (not scopes) limit what nodes can do."""
NODE_METADATA = {"disable-legacy-endpoints": "true"}


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


def _authorized_networks(
    plan: MeshClusterPlan,
) -> container.ClusterMasterAuthorizedNetworksConfigArgs | None:
    if plan.authorized_networks is None:
        return None
    return container.ClusterMasterAuthorizedNetworksConfigArgs(
        cidr_blocks=[
            container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                cidr_block=network.cidr_block, display_name=network.display_name
            )
            for network in plan.authorized_networks
        ]
    )


def _default_pool_node_config(
    service_account_email: pulumi.Input[str],
) -> container.ClusterNodeConfigArgs:
    """The short-lived default pool's nodes: the same narrow identity and hardening as the
    cluster's own pool."""
    return container.ClusterNodeConfigArgs(
        service_account=service_account_email,
        oauth_scopes=NODE_SCOPES,
        shielded_instance_config=container.ClusterNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        workload_metadata_config=container.ClusterNodeConfigWorkloadMetadataConfigArgs(
            mode="GKE_METADATA"
        ),
        metadata=dict(NODE_METADATA),
    )


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
            master_authorized_networks_config=_authorized_networks(plan),
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
            node_config=_default_pool_node_config(self.node_service_account.email),
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
