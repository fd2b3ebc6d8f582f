"""The whole GCP half of a link, as a composing program would declare it: two projects and a
separate fleet host project, two networks, two clusters sharing one servicemesh feature, the
ingress address with its allowlist, and the client's private DNS zone.

The other ``test_gcp_*`` modules import the program and the mocks from here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import mocks as pulumi_mocks

from meshlink.gcp import (
    DEFAULT_SERVICES,
    IngressAddress,
    LinkDnsZone,
    MeshCluster,
    MeshClusterArgs,
    MeshNetwork,
    MeshNetworkArgs,
    ProjectApis,
    ServiceMeshFeature,
    check_networks_disjoint,
)
from meshlink.offline import cloud_standins
from meshlink.offline.engine import OfflineMocks, OfflineRun, Registration, run_program
from meshlink.validation import MeshlinkValidationError

CLIENT_PROJECT = "acme-client-prod"
SERVER_PROJECT = "acme-server-prod"
FLEET_PROJECT = "acme-fleet-host"
REGION = "europe-west1"
ZONE_DOMAIN = "link.acme.internal"
FQDN = f"mysql.{ZONE_DOMAIN}"

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
ADDRESS = "gcp:compute/address:Address"
NETWORK = "gcp:compute/network:Network"
FEATURE = "gcp:gkehub/feature:Feature"
FEATURE_MEMBERSHIP = "gcp:gkehub/featureMembership:FeatureMembership"
MEMBERSHIP = "gcp:gkehub/membership:Membership"
SERVICE = "gcp:projects/service:Service"
IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
ZONE = "gcp:dns/managedZone:ManagedZone"
RECORD = "gcp:dns/recordSet:RecordSet"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def run_offline(program: Any, mocks: OfflineMocks | None = None) -> OfflineRun:
    return run_program(program, project="meshlink", stack="test", mocks=mocks or OfflineMocks())


def network_args(side: str, **overrides: Any) -> MeshNetworkArgs:
    """Disjoint ranges per side: client 10.10/16 + 10.64/14, server 10.20/16 + 10.72/14."""
    base = {"client": 10, "server": 20}[side]
    pods = {"client": "10.64.0.0/14", "server": "10.72.0.0/14"}[side]
    args: dict[str, Any] = {
        "project": {"client": CLIENT_PROJECT, "server": SERVER_PROJECT}[side],
        "region": REGION,
        "subnet_cidr": f"10.{base}.0.0/20",
        "pods_cidr": pods,
        "services_cidr": f"10.{base}.16.0/20",
        "control_plane_cidr": f"10.{base}.32.0/28",
    }
    args.update(overrides)
    return args  # type: ignore[return-value]


@dataclass
class Link:
    apis: ProjectApis
    mesh: ServiceMeshFeature
    networks: dict[str, MeshNetwork] = field(default_factory=dict)
    clusters: dict[str, MeshCluster] = field(default_factory=dict)
    ingress: IngressAddress | None = None
    dns: LinkDnsZone | None = None


def declare_link(
    client: MeshNetworkArgs | None = None,
    server: MeshNetworkArgs | None = None,
) -> Link:
    """What a composing program does, in the order it should do it."""
    client = client or network_args("client")
    server = server or network_args("server")
    check_networks_disjoint(client, server, names=("client", "server"))

    apis = ProjectApis(
        "apis", {"projects": [CLIENT_PROJECT, SERVER_PROJECT, FLEET_PROJECT, CLIENT_PROJECT]}
    )
    mesh = ServiceMeshFeature(
        "mesh",
        {"fleet_project": FLEET_PROJECT, "member_projects": [CLIENT_PROJECT, SERVER_PROJECT]},
        opts=pulumi.ResourceOptions(depends_on=apis.for_project(FLEET_PROJECT)),
    )
    link = Link(apis=apis, mesh=mesh)
    for side, args in (("client", client), ("server", server)):
        waits = pulumi.ResourceOptions(depends_on=apis.for_project(args["project"]))
        network = MeshNetwork(side, args, opts=waits)
        link.networks[side] = network
        cluster_args: MeshClusterArgs = {
            "project": args["project"],
            "location": REGION,
            "network": network.network_id,
            "subnetwork": network.subnetwork_id,
            "pods_range_name": network.pods_range_name,
            "services_range_name": network.services_range_name,
            "fleet_project": FLEET_PROJECT,
            "mesh_feature": mesh.feature_name,
            "master_authorized_networks": [
                {"cidr_block": "198.51.100.0/24", "display_name": "operators"}
            ],
        }
        if network.control_plane_cidr is not None:
            cluster_args["master_ipv4_cidr"] = network.control_plane_cidr
        link.clusters[side] = MeshCluster(side, cluster_args, opts=waits)
    link.ingress = IngressAddress(
        "mysql",
        {
            "project": SERVER_PROJECT,
            "region": REGION,
            "client_nat_addresses": link.networks["client"].nat_addresses,
        },
        opts=pulumi.ResourceOptions(depends_on=apis.for_project(SERVER_PROJECT)),
    )
    link.dns = LinkDnsZone(
        "link-names",
        {
            "project": CLIENT_PROJECT,
            "network": link.networks["client"].network_id,
            "dns_name": ZONE_DOMAIN,
            "fqdns": [FQDN],
            "address": link.ingress.address,
        },
        opts=pulumi.ResourceOptions(depends_on=apis.for_project(CLIENT_PROJECT)),
    )
    pulumi.export("source_ranges", link.ingress.source_ranges)
    pulumi.export("ingress_address", link.ingress.address)
    pulumi.export("client_nat", link.networks["client"].nat_addresses)
    pulumi.export("server_nat", link.networks["server"].nat_addresses)
    pulumi.export("client_kubeconfig", link.clusters["client"].kubeconfig)
    return link


def _program() -> None:
    declare_link()


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return run_offline(_program)


def side_of(run: OfflineRun, registration: Registration) -> str | None:
    """``client`` or ``server`` when the registration belongs to that side's network or
    cluster component (or is one)."""
    known = {r.urn: r for r in run.registrations}
    for urn in (registration.urn, *run.ancestors(registration.urn)):
        owner = known.get(urn)
        if owner and owner.type in {"meshlink:index:MeshNetwork", "meshlink:index:MeshCluster"}:
            return owner.name
    return None


def members(run: OfflineRun, side: str) -> list[Registration]:
    return [r for r in run.registrations if side_of(run, r) == side]


def test_no_dependency_path_between_the_two_sides(run: OfflineRun) -> None:
    client, server = members(run, "client"), members(run, "server")
    # Both sides are complete: network, router, NAT, cluster, pool, fleet, provider.
    for side in (client, server):
        kinds = {r.type for r in side}
        assert {NETWORK, CLUSTER, NODE_POOL, MEMBERSHIP, FEATURE_MEMBERSHIP, K8S_PROVIDER} <= kinds
    crossing = [
        (a.name, b.name)
        for a in client
        for b in server
        if run.depends_on(a.urn, b.urn) or run.depends_on(b.urn, a.urn)
    ]
    assert crossing == []


def test_dependency_check_sees_real_paths(run: OfflineRun) -> None:
    """The check above would notice a path: inside one side, paths exist."""
    pool = run.named(NODE_POOL, "client-node-pool")
    cluster = run.named(CLUSTER, "client-cluster")
    network = run.named(NETWORK, "client-network")
    provider = run.named(K8S_PROVIDER, "client")
    assert run.depends_on(pool.urn, cluster.urn)
    assert run.depends_on(cluster.urn, network.urn)
    assert run.depends_on(provider.urn, pool.urn)
    assert run.depends_on(provider.urn, run.named(FEATURE_MEMBERSHIP, "client-mesh").urn)


def test_ingress_address_waits_on_no_cluster_or_network(run: OfflineRun) -> None:
    address = run.named(ADDRESS, "mysql-ingress-ip")
    others = members(run, "client") + members(run, "server")
    assert others
    assert [o.name for o in others if run.depends_on(address.urn, o.urn)] == []
    assert address.inputs["addressType"] == "EXTERNAL"
    assert address.inputs["region"] == REGION
    assert address.inputs["project"] == SERVER_PROJECT


def test_allowlist_is_the_client_nat_addresses(run: OfflineRun) -> None:
    client_nat = [
        r.outputs["address"] for r in run.of_type(ADDRESS) if r.name.startswith("client-nat-ip-")
    ]
    assert len(client_nat) == 2
    assert run.outputs["client_nat"] == client_nat
    assert run.outputs["source_ranges"] == [f"{ip}/32" for ip in client_nat]
    assert not set(run.outputs["source_ranges"]) & {f"{ip}/32" for ip in run.outputs["server_nat"]}
    assert "0.0.0.0/0" not in run.outputs["source_ranges"]


def test_every_address_is_distinct(run: OfflineRun) -> None:
    addresses = [r.outputs["address"] for r in run.of_type(ADDRESS)]
    assert len(addresses) == 5  # 2 client NAT, 2 server NAT, 1 ingress
    assert len(set(addresses)) == len(addresses)


def test_dns_zone_is_private_to_the_client_vpc(run: OfflineRun) -> None:
    zone = run.named(ZONE, "link-names-zone")
    client_net = run.named(NETWORK, "client-network")
    server_net = run.named(NETWORK, "server-network")
    assert zone.inputs["visibility"] == "private"
    assert zone.inputs["dnsName"] == f"{ZONE_DOMAIN}."
    bound = [n["networkUrl"] for n in zone.inputs["privateVisibilityConfig"]["networks"]]
    # The same network the client cluster runs in, and only that one.
    assert bound == [run.named(CLUSTER, "client-cluster").inputs["network"]]
    assert bound == [f"projects/{CLIENT_PROJECT}/global/networks/{client_net.outputs['name']}"]
    assert run.named(CLUSTER, "server-cluster").inputs["network"] not in bound
    assert run.depends_on(zone.urn, client_net.urn)
    assert not run.depends_on(zone.urn, server_net.urn)
    assert zone.inputs["project"] == CLIENT_PROJECT


def test_a_record_points_at_the_ingress_address(run: OfflineRun) -> None:
    (record,) = run.of_type(RECORD)
    assert record.inputs["name"] == f"{FQDN}."
    assert record.inputs["type"] == "A"
    assert record.inputs["rrdatas"] == [run.outputs["ingress_address"]]
    assert record.inputs["managedZone"] == run.named(ZONE, "link-names-zone").outputs["name"]


def test_servicemesh_feature_is_declared_once_for_both_clusters(run: OfflineRun) -> None:
    (feature,) = run.of_type(FEATURE)
    assert feature.inputs["name"] == "servicemesh"
    assert feature.inputs["project"] == FLEET_PROJECT
    assert feature.inputs["location"] == "global"
    memberships = run.of_type(FEATURE_MEMBERSHIP)
    assert sorted(m.name for m in memberships) == ["client-mesh", "server-mesh"]
    for membership in memberships:
        assert membership.inputs["feature"] == "servicemesh"
        assert membership.inputs["project"] == FLEET_PROJECT
        assert membership.inputs["mesh"] == {"management": "MANAGEMENT_AUTOMATIC"}
        assert run.depends_on(membership.urn, feature.urn)


def test_cross_project_grants_are_declared_once_per_member_project(run: OfflineRun) -> None:
    number = cloud_standins.project_number(FLEET_PROJECT)
    grants = [r for r in run.of_type(IAM_MEMBER) if r.name.startswith("mesh-")]
    seen = Counter((g.inputs["project"], g.inputs["role"]) for g in grants)
    # Service agents created on request get no roles of their own: granted in the fleet
    # project too.
    assert seen == {
        (FLEET_PROJECT, "roles/gkehub.serviceAgent"): 1,
        (CLIENT_PROJECT, "roles/gkehub.serviceAgent"): 1,
        (SERVER_PROJECT, "roles/gkehub.serviceAgent"): 1,
        (FLEET_PROJECT, "roles/anthosservicemesh.serviceAgent"): 1,
        (CLIENT_PROJECT, "roles/anthosservicemesh.serviceAgent"): 1,
        (SERVER_PROJECT, "roles/anthosservicemesh.serviceAgent"): 1,
    }
    members_ = {g.inputs["member"] for g in grants}
    assert members_ == {
        f"serviceAccount:service-{number}@gcp-sa-gkehub.iam.gserviceaccount.com",
        f"serviceAccount:service-{number}@gcp-sa-servicemesh.iam.gserviceaccount.com",
    }
    # The agents are created before anything is granted to them.
    identities = {
        r.inputs["service"]: r for r in run.of_type("gcp:projects/serviceIdentity:ServiceIdentity")
    }
    assert set(identities) == {"gkehub.googleapis.com", "meshconfig.googleapis.com"}
    assert {i.inputs["project"] for i in identities.values()} == {FLEET_PROJECT}
    for grant in grants:
        agent = (
            identities["gkehub.googleapis.com"]
            if grant.inputs["role"] == "roles/gkehub.serviceAgent"
            else identities["meshconfig.googleapis.com"]
        )
        assert run.depends_on(grant.urn, agent.urn), grant.name
        assert grant.inputs["member"] == agent.outputs["member"]
    # Registration and the feature membership wait for the grants.
    for side in ("client", "server"):
        for kind, name in (
            (MEMBERSHIP, f"{side}-membership"),
            (FEATURE_MEMBERSHIP, f"{side}-mesh"),
        ):
            dependent = run.named(kind, name)
            assert all(run.depends_on(dependent.urn, g.urn) for g in grants)


def test_each_api_is_enabled_once_per_project_and_kept_on_destroy(run: OfflineRun) -> None:
    services = run.of_type(SERVICE)
    pairs = Counter((s.inputs["project"], s.inputs["service"]) for s in services)
    expected = {
        (project, service)
        for project in (CLIENT_PROJECT, SERVER_PROJECT, FLEET_PROJECT)
        for service in DEFAULT_SERVICES
    }
    assert set(pairs) == expected
    assert set(pairs.values()) == {1}
    assert all(s.inputs["disableOnDestroy"] is False for s in services)
    for api in ("container.googleapis.com", "gkehub.googleapis.com", "mesh.googleapis.com"):
        assert (FLEET_PROJECT, api) in pairs


def test_each_side_waits_on_its_own_project_apis_only(run: OfflineRun) -> None:
    def api(project: str, service: str) -> Registration:
        return next(
            s
            for s in run.of_type(SERVICE)
            if s.inputs["project"] == project and s.inputs["service"] == service
        )

    client_cluster = run.named(CLUSTER, "client-cluster")
    server_cluster = run.named(CLUSTER, "server-cluster")
    assert run.depends_on(client_cluster.urn, api(CLIENT_PROJECT, "container.googleapis.com").urn)
    assert not run.depends_on(
        client_cluster.urn, api(SERVER_PROJECT, "container.googleapis.com").urn
    )
    assert run.depends_on(server_cluster.urn, api(SERVER_PROJECT, "container.googleapis.com").urn)
    feature = run.named(FEATURE, "mesh-feature")
    assert run.depends_on(feature.urn, api(FLEET_PROJECT, "gkehub.googleapis.com").urn)


def test_providers_are_named_after_the_clusters(run: OfflineRun) -> None:
    providers = {p.name: p for p in run.of_type(K8S_PROVIDER)}
    assert set(providers) == {"client", "server"}
    for side, project in (("client", CLIENT_PROJECT), ("server", SERVER_PROJECT)):
        provider = providers[side]
        assert provider.inputs["clusterIdentifier"] == f"gke_{project}_{REGION}_{side}"
        assert "kubeconfig" in provider.secret_inputs
        config = yaml.safe_load(provider.inputs["kubeconfig"])
        assert config["clusters"][0]["name"] == provider.inputs["clusterIdentifier"]
    assert "client_kubeconfig" in run.secret_outputs


def test_every_child_is_parented_to_a_component(run: OfflineRun) -> None:
    components = {r.urn for r in run.registrations if r.type.startswith("meshlink:index:")}
    loose = [r.name for r in run.registrations if r.custom and r.parent not in components]
    assert loose == []


def test_two_runs_declare_identical_inputs(run: OfflineRun) -> None:
    again = run_offline(_program)

    def snapshot(r: OfflineRun) -> dict[str, Any]:
        return {reg.urn: (reg.inputs, reg.outputs) for reg in r.registrations}

    assert snapshot(again) == snapshot(run)
    assert again.outputs == run.outputs


def _overlapping_program() -> None:
    declare_link(server=network_args("server", pods_cidr="10.64.0.0/14"))


def test_overlap_between_the_networks_registers_nothing() -> None:
    registrations: list[str] = []

    class Recording(OfflineMocks):
        def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
            registrations.append(args.name)
            return super().new_resource(args)

    with pytest.raises(MeshlinkValidationError) as caught:
        run_offline(_overlapping_program, mocks=Recording())
    assert registrations == []
    message = str(caught.value)
    assert "server.pods_cidr: 10.64.0.0/14 overlaps client.pods_cidr 10.64.0.0/14" in message
