"""plan_mesh_cluster: what a MeshCluster declares, decided from its settings alone, with
no Pulumi engine and no resources."""

from __future__ import annotations

from typing import Any

import pulumi

from meshlink.gcp.cluster_plan import AuthorizedNetworkPlan, MeshClusterPlan, plan_mesh_cluster
from meshlink.gcp.cluster_settings import MeshClusterSettings

PROJECT = "acme-server-prod"
FLEET = "acme-fleet"
REGION = "europe-west1"


def plan(name: str = "server", **overrides: Any) -> MeshClusterPlan:
    values: dict[str, Any] = {
        "project": PROJECT,
        "location": REGION,
        "network": f"projects/{PROJECT}/global/networks/server",
        "subnetwork": f"projects/{PROJECT}/regions/{REGION}/subnetworks/server-nodes",
        "pods_range_name": "server-pods",
        "services_range_name": "server-services",
        "mesh_feature": "servicemesh",
        "cluster_name": name,
        "master_authorized_networks": [{"cidr_block": "198.51.100.0/24", "display_name": "ops"}],
    }
    values.update(overrides)
    return plan_mesh_cluster(name, MeshClusterSettings(**values))


def test_private_endpoint_plans_no_public_endpoint_and_no_authorised_networks() -> None:
    private = plan(private_endpoint=True, master_authorized_networks=[])
    assert private.public_endpoint is False
    assert private.authorized_networks is None


def test_public_endpoint_carries_exactly_the_authorised_networks() -> None:
    public = plan(
        master_authorized_networks=[
            {"cidr_block": "198.51.100.0/24", "display_name": "ops"},
            {"cidr_block": "203.0.113.8/29"},
        ]
    )
    assert public.public_endpoint is True
    assert public.authorized_networks == (
        AuthorizedNetworkPlan("198.51.100.0/24", "ops"),
        AuthorizedNetworkPlan("203.0.113.8/29", None),
    )


def test_deliberately_open_public_endpoint_plans_no_authorised_networks() -> None:
    open_plan = plan(master_authorized_networks=[], allow_public_endpoint=True)
    assert open_plan.public_endpoint is True
    assert open_plan.authorized_networks is None


def test_fleet_defaults_to_the_cluster_project_and_names_the_mesh_identity() -> None:
    own = plan()
    assert own.fleet_project == PROJECT
    assert own.workload_pool == f"{PROJECT}.svc.id.goog"
    assert plan(fleet_project=FLEET).fleet_project == FLEET
    # The workload pool stays the cluster's project even in another fleet.
    assert plan(fleet_project=FLEET).workload_pool == f"{PROJECT}.svc.id.goog"


def test_cluster_name_is_the_membership_id_and_the_context_the_provider_is_keyed_by() -> None:
    named = plan(name="server", cluster_name="payments-eu")
    assert named.cluster_name == "payments-eu"
    assert named.membership_id == "payments-eu"
    assert named.context_name == f"gke_{PROJECT}_{REGION}_payments-eu"
    # Resource names follow the component name, not the cluster name.
    assert named.cluster_resource_name == "server-cluster"
    assert named.provider_name == "server"


def test_node_identity_gets_only_the_minimum_node_role() -> None:
    identity = plan(name="server").node_identity
    assert [(g.resource_name, g.role) for g in identity.role_grants] == [
        (
            "server-node-sa-container-defaultnodeserviceaccount",
            "roles/container.defaultNodeServiceAccount",
        )
    ]


def test_node_account_id_fits_30_characters_without_a_dangling_hyphen() -> None:
    long_name = "a-very-long-cluster-name-x-with-more"
    identity = plan(name="server", cluster_name=long_name).node_identity
    assert identity.account_id == "a-very-long-cluster-name-nodes"
    assert len(identity.account_id) <= 30
    hyphen_at_cut = plan(cluster_name="abcdefghijklmnopqrstuvw-xyz").node_identity
    assert hyphen_at_cut.account_id == "abcdefghijklmnopqrstuvw-nodes"


def test_node_pool_defaults_and_overrides() -> None:
    default = plan().node_pool
    assert (default.name, default.machine_type, default.disk_type, default.spot) == (
        "primary",
        "e2-standard-4",
        "pd-balanced",
        False,
    )
    assert (default.min_nodes_per_zone, default.max_nodes_per_zone) == (1, 3)
    assert default.node_labels == {"meshlink-cluster": "server"}
    spot = plan(node_pool={"name": "spot", "spot": True, "max_nodes_per_zone": 5}).node_pool
    assert (spot.name, spot.spot, spot.max_nodes_per_zone) == ("spot", True, 5)


def test_node_locations_left_to_gke_unless_given() -> None:
    assert plan().node_locations_input is None
    zoned = plan(node_locations=["europe-west1-b", "europe-west1-c"])
    assert zoned.node_locations_input == ["europe-west1-b", "europe-west1-c"]


def test_resource_labels_are_the_users_and_leave_mesh_id_to_the_fleet_lookup() -> None:
    labelled = plan(labels={"team": "payments"})
    assert labelled.resource_labels == {"team": "payments"}


def test_outputs_are_passed_through_untouched() -> None:
    network = pulumi.Output.from_input("projects/p/global/networks/n")
    feature = pulumi.Output.from_input("servicemesh")
    passed = plan(network=network, mesh_feature=feature)
    assert passed.network is network
    assert passed.mesh_feature is feature
