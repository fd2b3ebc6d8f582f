"""MeshCluster: the inputs managed Cloud Service Mesh and a hardened GKE cluster need, the
kubeconfig and provider it hands to the mesh layer, and the settings it refuses."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import mocks as pulumi_mocks

from meshlink.gcp import MeshCluster, MeshClusterArgs, ServiceMeshFeature, gke_kubeconfig
from meshlink.gcp.cluster_plan import NODE_ROLES
from meshlink.offline import cloud_standins
from meshlink.offline.engine import OfflineMocks, OfflineRun
from meshlink.validation import MeshlinkValidationError
from tests.test_gcp_program import (
    CLUSTER,
    FEATURE_MEMBERSHIP,
    FLEET_PROJECT,
    IAM_MEMBER,
    K8S_PROVIDER,
    MEMBERSHIP,
    NODE_POOL,
    REGION,
    run_offline,
)

PROJECT = "acme-server-prod"
NETWORK_ID = f"projects/{PROJECT}/global/networks/server"
SUBNET_ID = f"projects/{PROJECT}/regions/{REGION}/subnetworks/server-nodes"


def cluster_args(**overrides: Any) -> MeshClusterArgs:
    args: dict[str, Any] = {
        "project": PROJECT,
        "location": REGION,
        "network": NETWORK_ID,
        "subnetwork": SUBNET_ID,
        "pods_range_name": "server-pods",
        "services_range_name": "server-services",
        "mesh_feature": "servicemesh",
        "fleet_project": FLEET_PROJECT,
        "master_authorized_networks": [{"cidr_block": "198.51.100.0/24", "display_name": "ops"}],
    }
    args.update(overrides)
    return args  # type: ignore[return-value]


def _declare(**overrides: Any) -> None:
    mesh = ServiceMeshFeature(
        "mesh", {"fleet_project": FLEET_PROJECT, "member_projects": [PROJECT]}
    )
    cluster = MeshCluster("server", cluster_args(mesh_feature=mesh.feature_name, **overrides))
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("mesh_id", cluster.mesh_id)
    pulumi.export("endpoint", cluster.endpoint)


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return run_offline(lambda: _declare())


def test_workload_identity_pool_is_the_cluster_project(run: OfflineRun) -> None:
    cluster = run.named(CLUSTER, "server-cluster")
    assert cluster.inputs["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}


def test_mesh_id_label_comes_from_the_fleet_project_number_lookup(run: OfflineRun) -> None:
    number = cloud_standins.project_number(FLEET_PROJECT)
    assert number != cloud_standins.project_number(PROJECT)
    labels = run.named(CLUSTER, "server-cluster").inputs["resourceLabels"]
    assert labels == {"mesh_id": f"proj-{number}"}
    assert run.outputs["mesh_id"] == f"proj-{number}"


def test_release_channel_dataplane_v2_and_vpc_native(run: OfflineRun) -> None:
    inputs = run.named(CLUSTER, "server-cluster").inputs
    assert inputs["releaseChannel"] == {"channel": "REGULAR"}
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in inputs  # Dataplane V2 enforces NetworkPolicy itself
    assert inputs["networkingMode"] == "VPC_NATIVE"
    assert inputs["ipAllocationPolicy"]["clusterSecondaryRangeName"] == "server-pods"
    assert inputs["ipAllocationPolicy"]["servicesSecondaryRangeName"] == "server-services"
    assert inputs["network"] == NETWORK_ID
    assert inputs["subnetwork"] == SUBNET_ID


def test_private_nodes_and_shielded_nodes(run: OfflineRun) -> None:
    inputs = run.named(CLUSTER, "server-cluster").inputs
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert inputs["enableShieldedNodes"] is True
    assert inputs["enableLegacyAbac"] is False
    assert inputs["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False
    pool = run.named(NODE_POOL, "server-node-pool").inputs["nodeConfig"]
    assert pool["shieldedInstanceConfig"] == {
        "enableSecureBoot": True,
        "enableIntegrityMonitoring": True,
    }
    assert pool["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pool["metadata"]["disable-legacy-endpoints"] == "true"


def test_default_pool_is_removed_and_protection_is_on(run: OfflineRun) -> None:
    inputs = run.named(CLUSTER, "server-cluster").inputs
    assert inputs["removeDefaultNodePool"] is True
    assert inputs["initialNodeCount"] == 1
    assert inputs["deletionProtection"] is True


def test_node_pool_autoscales_self_heals_and_uses_its_own_account(run: OfflineRun) -> None:
    pool = run.named(NODE_POOL, "server-node-pool")
    cluster = run.named(CLUSTER, "server-cluster")
    account = run.named("gcp:serviceaccount/account:Account", "server-node-sa")
    assert pool.inputs["cluster"] == cluster.outputs["name"]
    assert pool.inputs["autoscaling"]["minNodeCount"] == 1
    assert pool.inputs["autoscaling"]["maxNodeCount"] == 3
    assert pool.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert pool.inputs["nodeConfig"]["serviceAccount"] == account.outputs["email"]
    # The short-lived default pool gets the same identity, never the Compute default.
    assert cluster.inputs["nodeConfig"]["serviceAccount"] == account.outputs["email"]
    assert run.depends_on(pool.urn, cluster.urn)


def test_node_account_holds_only_the_node_role(run: OfflineRun) -> None:
    account = run.named("gcp:serviceaccount/account:Account", "server-node-sa")
    grants = [r for r in run.of_type(IAM_MEMBER) if r.inputs["member"] == account.outputs["member"]]
    assert sorted(g.inputs["role"] for g in grants) == sorted(NODE_ROLES)
    assert all(not g.inputs["role"].startswith(("roles/editor", "roles/owner")) for g in grants)
    pool = run.named(NODE_POOL, "server-node-pool")
    assert all(run.depends_on(pool.urn, g.urn) for g in grants)


def test_cluster_is_registered_to_the_fleet(run: OfflineRun) -> None:
    cluster = run.named(CLUSTER, "server-cluster")
    cluster_id = f"projects/{PROJECT}/locations/{REGION}/clusters/server"
    assert cluster.outputs["selfLink"].endswith(cluster_id)
    membership = run.named(MEMBERSHIP, "server-membership")
    assert membership.inputs["project"] == FLEET_PROJECT
    assert membership.inputs["membershipId"] == "server"
    assert membership.inputs["endpoint"] == {
        "gkeCluster": {"resourceLink": f"//container.googleapis.com/{cluster_id}"}
    }
    assert membership.inputs["authority"] == {
        "issuer": f"https://container.googleapis.com/v1/{cluster_id}"
    }
    assert run.depends_on(membership.urn, cluster.urn)


def test_feature_membership_turns_on_managed_mesh(run: OfflineRun) -> None:
    membership = run.named(MEMBERSHIP, "server-membership")
    feature_membership = run.named(FEATURE_MEMBERSHIP, "server-mesh")
    assert feature_membership.inputs["mesh"] == {"management": "MANAGEMENT_AUTOMATIC"}
    assert feature_membership.inputs["feature"] == "servicemesh"
    assert feature_membership.inputs["membership"] == membership.inputs["membershipId"]
    assert feature_membership.inputs["membershipLocation"] == membership.outputs["location"]
    assert feature_membership.inputs["project"] == FLEET_PROJECT
    feature = run.named("gcp:gkehub/feature:Feature", "mesh-feature")
    assert run.depends_on(feature_membership.urn, feature.urn)


def test_kubeconfig_uses_the_auth_plugin_and_the_cluster_endpoint(run: OfflineRun) -> None:
    cluster = run.named(CLUSTER, "server-cluster")
    assert "kubeconfig" in run.secret_outputs
    config = yaml.safe_load(run.outputs["kubeconfig"])
    (entry,) = config["clusters"]
    assert entry["cluster"]["server"] == f"https://{cluster.outputs['endpoint']}"
    assert (
        entry["cluster"]["certificate-authority-data"]
        == (cluster.outputs["masterAuth"]["clusterCaCertificate"])
    )
    (user,) = config["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert set(user["user"]) == {"exec"}  # no token, no key, no password
    assert config["current-context"] == config["contexts"][0]["name"]


def test_provider_is_named_after_the_cluster_and_keyed_by_a_stable_identifier(
    run: OfflineRun,
) -> None:
    provider = run.named(K8S_PROVIDER, "server")
    component = run.named("meshlink:index:MeshCluster", "server")
    assert provider.parent == component.urn
    assert provider.inputs["clusterIdentifier"] == f"gke_{PROJECT}_{REGION}_server"
    assert provider.inputs["kubeconfig"] == run.outputs["kubeconfig"]
    assert "kubeconfig" in provider.secret_inputs
    assert run.depends_on(provider.urn, run.named(NODE_POOL, "server-node-pool").urn)


class _MovedEndpoint(OfflineMocks):
    """The same cluster reporting a different endpoint and CA, as after a CA rotation."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == CLUSTER:
            outputs = {**outputs, "endpoint": "192.0.2.200"}
            outputs["masterAuth"] = {**outputs["masterAuth"], "clusterCaCertificate": "Zm9v"}
        return resource_id, outputs


def test_a_new_endpoint_changes_the_kubeconfig_but_not_the_identifier(run: OfflineRun) -> None:
    moved = run_offline(lambda: _declare(), mocks=_MovedEndpoint())
    before, after = run.named(K8S_PROVIDER, "server"), moved.named(K8S_PROVIDER, "server")
    assert before.inputs["kubeconfig"] != after.inputs["kubeconfig"]
    assert "https://192.0.2.200" in after.inputs["kubeconfig"]
    assert before.inputs["clusterIdentifier"] == after.inputs["clusterIdentifier"]


def test_options_reach_the_cluster() -> None:
    run = run_offline(
        lambda: _declare(
            location="europe-west1-b",
            release_channel="STABLE",
            deletion_protection=False,
            private_endpoint=True,
            master_ipv4_cidr="172.16.0.16/28",
            master_authorized_networks=[{"cidr_block": "10.0.0.0/8", "display_name": "vpn"}],
            node_pool={"machine_type": "n2-standard-8", "min_nodes_per_zone": 2, "spot": True},
            labels={"team": "payments"},
            cluster_name="payments-server",
        )
    )
    inputs = run.named(CLUSTER, "server-cluster").inputs
    assert inputs["location"] == "europe-west1-b"
    assert inputs["name"] == "payments-server"
    assert inputs["releaseChannel"] == {"channel": "STABLE"}
    assert inputs["deletionProtection"] is False
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert inputs["privateClusterConfig"]["masterIpv4CidrBlock"] == "172.16.0.16/28"
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "10.0.0.0/8", "displayName": "vpn"}]
    }
    assert inputs["resourceLabels"]["team"] == "payments"
    assert inputs["resourceLabels"]["mesh_id"].startswith("proj-")
    pool = run.named(NODE_POOL, "server-node-pool").inputs
    assert pool["nodeConfig"]["machineType"] == "n2-standard-8"
    assert pool["nodeConfig"]["spot"] is True
    assert pool["autoscaling"]["minNodeCount"] == 2
    # With a private endpoint, the kubeconfig points at the private address.
    config = yaml.safe_load(run.outputs["kubeconfig"])
    assert config["clusters"][0]["cluster"]["server"] == "https://172.16.0.18"
    assert run.named(MEMBERSHIP, "server-membership").inputs["membershipId"] == "payments-server"


def test_fleet_defaults_to_the_cluster_project() -> None:
    def program() -> None:
        args = cluster_args()
        del args["fleet_project"]
        cluster = MeshCluster("server", args)
        pulumi.export("mesh_id", cluster.mesh_id)

    run = run_offline(program)
    assert run.outputs["mesh_id"] == f"proj-{cloud_standins.project_number(PROJECT)}"
    assert run.named(MEMBERSHIP, "server-membership").inputs["project"] == PROJECT


BAD_SETTINGS = [
    ({"location": "europe"}, "location: 'europe' is neither a GCP region"),
    ({"release_channel": "BETA"}, "release_channel: "),
    ({"labels": {"mesh_id": "proj-1"}}, "labels: 'mesh_id' is set by meshlink"),
    ({"master_ipv4_cidr": "172.16.0.0/24"}, "master_ipv4_cidr: '172.16.0.0/24' is a /24"),
    (
        {"master_authorized_networks": [{"cidr_block": "0.0.0.0/0"}]},
        "master_authorized_networks[0].cidr_block: '0.0.0.0/0' would open",
    ),
    (
        {
            "master_authorized_networks": [
                {"cidr_block": "0.0.0.0/1"},
                {"cidr_block": "128.0.0.0/1"},
            ]
        },
        "master_authorized_networks: together the networks cover 0.0.0.0/0",
    ),
    (
        {"node_pool": {"min_nodes_per_zone": 5, "max_nodes_per_zone": 2}},
        "node_pool: min_nodes_per_zone 5 is larger than max_nodes_per_zone 2",
    ),
    (
        {"node_locations": ["us-east1-b"]},
        "node_locations: ['us-east1-b'] are outside the cluster's region 'europe-west1'",
    ),
    ({"network": ""}, "network: expected a non-empty string or a pulumi Output"),
    ({"cluster_name": "x" * 41}, "cluster_name: "),
    ({"fleet_project": "Fleet"}, "fleet_project: 'Fleet' is not a GCP project id"),
    ({"node_pool": {"disk_type": "hdd"}}, "node_pool.disk_type: "),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_SETTINGS)
def test_bad_settings_are_refused_before_anything_is_registered(
    overrides: dict[str, Any], expected: str
) -> None:
    names: list[str] = []

    class Recording(OfflineMocks):
        def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
            names.append(args.name)
            return super().new_resource(args)

    def program() -> None:
        MeshCluster("server", cluster_args(**overrides))

    with pytest.raises(MeshlinkValidationError) as caught:
        run_offline(program, mocks=Recording())
    assert names == []
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_missing_required_settings_are_each_named() -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        MeshCluster("server", {"project": PROJECT})  # type: ignore[typeddict-item]
    missing = sorted(p.split(":", 1)[0] for p in caught.value.problems)
    assert missing == sorted(
        [
            "location",
            "network",
            "subnetwork",
            "pods_range_name",
            "services_range_name",
            "mesh_feature",
            # A public endpoint needs authorised networks (or private_endpoint).
            "master_authorized_networks",
        ]
    )


def test_a_public_endpoint_open_to_everyone_is_refused_unless_asked_for() -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        MeshCluster("server", cluster_args(master_authorized_networks=[]))
    (problem,) = caught.value.problems
    assert problem.startswith("master_authorized_networks: a public control-plane endpoint")
    assert "private_endpoint" in problem and "allow_public_endpoint" in problem

    def program() -> None:
        MeshCluster("private", cluster_args(master_authorized_networks=[], private_endpoint=True))
        MeshCluster("open", cluster_args(master_authorized_networks=[], allow_public_endpoint=True))

    run = run_offline(program)
    private = run.named("gcp:container/cluster:Cluster", "private-cluster")
    assert private.inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True
    opened = run.named("gcp:container/cluster:Cluster", "open-cluster")
    assert "masterAuthorizedNetworksConfig" not in opened.inputs


def test_gke_kubeconfig_is_plain_yaml_without_credentials() -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    text = gke_kubeconfig("gke_p_r_c", "198.51.100.9", ca)
    config = yaml.safe_load(text)
    assert config["clusters"][0]["cluster"] == {
        "server": "https://198.51.100.9",
        "certificate-authority-data": ca,
    }
    assert "token" not in text and "client-key" not in text
