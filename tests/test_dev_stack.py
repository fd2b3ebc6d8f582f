"""The dev stack (the repository's root program with ``Pulumi.dev.yaml``) declares the
article's scenario end to end: two clusters, their networks, one mesh feature, the ingress
address admitting only the client NAT, the private names pointing at it, the link CA, the
MySQL link between the two clusters, and the demo workloads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml
from cryptography import x509

from meshlink.config import CA_CERT_KEY, CA_KEY_KEY
from meshlink.gcp.google_apis_dns import ENDPOINTS
from meshlink.offline import cloud_standins
from meshlink.offline.engine import OfflineRun
from meshlink.offline.random_emulation import PASSWORD_TYPE
from tests.support.mesh import by_cluster, cluster_of, kubernetes_objects, manifest, of_kind
from tests.support.pki import certificates, make_ca, plain_text, verify_server
from tests.test_stacks import (
    NOW,
    ROOT,
    RecordingMocks,
    edit_config,
    loaded_config,
    run_stack,
)

FQDN = "mysql.link.internal.example.com"
ZONE = "link.internal.example.com"

ADDRESS = "gcp:compute/address:Address"
NETWORK = "gcp:compute/network:Network"
CLUSTER = "gcp:container/cluster:Cluster"
FEATURE = "gcp:gkehub/feature:Feature"
FEATURE_MEMBERSHIP = "gcp:gkehub/featureMembership:FeatureMembership"
FLEET_MEMBERSHIP = "gcp:gkehub/membership:Membership"
ZONE_TYPE = "gcp:dns/managedZone:ManagedZone"
RECORD = "gcp:dns/recordSet:RecordSet"
K8S_PROVIDER = "pulumi:providers:kubernetes"
MESH_LINK = "meshlink:index:MeshLink"
GATE = "pulumi-python:dynamic/meshlink:IstioCrdGate"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"


@pytest.fixture(scope="module")
def dev() -> OfflineRun:
    return run_stack(ROOT, "dev")


def _named_object(run: OfflineRun, kind: str, name: str) -> tuple[str, dict[str, Any]]:
    matches = [
        (c, m) for c, m in by_cluster(run) if m["kind"] == kind and m["metadata"]["name"] == name
    ]
    assert len(matches) == 1, matches
    return matches[0]


def test_two_clusters_two_networks_two_fleets_two_meshes(dev: OfflineRun) -> None:
    assert sorted(r.name for r in dev.of_type(CLUSTER)) == ["client-cluster", "server-cluster"]
    networks = {r.name: r.inputs for r in dev.of_type(NETWORK)}
    assert {n["project"] for n in networks.values()} == {
        "meshlink-dev-client",
        "meshlink-dev-server",
    }
    # Each side is a fleet and a mesh of its own: a servicemesh feature in its own project,
    # its cluster registered there, its own mesh_id; nothing registered across projects.
    features = {f.inputs["project"]: f for f in dev.of_type(FEATURE)}
    assert set(features) == {"meshlink-dev-client", "meshlink-dev-server"}
    assert all(f.inputs["name"] == "servicemesh" for f in features.values())
    memberships = dev.of_type(FEATURE_MEMBERSHIP)
    assert len(memberships) == 2
    assert all(m.inputs["mesh"] == {"management": "MANAGEMENT_AUTOMATIC"} for m in memberships)
    mesh_ids = set()
    for side in ("client", "server"):
        project = f"meshlink-dev-{side}"
        cluster = dev.named(CLUSTER, f"{side}-cluster")
        assert cluster.inputs["project"] == project
        registration = dev.named(FLEET_MEMBERSHIP, f"{side}-membership")
        assert registration.inputs["project"] == project
        (membership,) = [m for m in memberships if m.name == f"{side}-mesh"]
        assert membership.inputs["project"] == project
        mesh_id = cluster.inputs["resourceLabels"]["mesh_id"]
        assert mesh_id == f"proj-{cloud_standins.project_number(project)}"
        mesh_ids.add(mesh_id)
    assert len(mesh_ids) == 2
    assert sorted(p.name for p in dev.of_type(K8S_PROVIDER)) == ["client", "server"]


def test_the_link_uses_both_clusters_providers(dev: OfflineRun) -> None:
    (link,) = dev.of_type(MESH_LINK)
    assert link.name == "link"
    placed = {(cluster, m["kind"]) for cluster, m in by_cluster(dev)}
    assert ("client", "ServiceEntry") in placed and ("server", "ServiceEntry") not in placed
    assert ("server", "Gateway") in placed and ("client", "Gateway") in placed
    assert ("server", "VirtualService") in placed
    assert {c for c, _ in by_cluster(dev)} == {"client", "server"}
    # The readiness gates reach their own cluster with its kubeconfig, kept secret.
    gates = {g.name: g for g in dev.of_type(GATE)}
    for side in ("client", "server"):
        (gate,) = [g for n, g in gates.items() if n.startswith(f"link-{side}")]
        assert "kubeconfig" in gate.secret_inputs
        config = yaml.safe_load(gate.inputs["kubeconfig"])
        assert config["current-context"].endswith(f"_meshlink-dev-{side}")


def test_dns_name_points_at_the_ingress_address_in_the_client_vpc_only(dev: OfflineRun) -> None:
    records = {r.inputs["name"]: r for r in dev.of_type(RECORD)}
    link_record = records[f"{FQDN}."]
    assert link_record.inputs["type"] == "A"
    assert link_record.inputs["rrdatas"] == [dev.outputs["ingress_address"]]
    ingress_ip = dev.named(ADDRESS, "link-ingress-ip")
    assert ingress_ip.outputs["address"] == dev.outputs["ingress_address"]
    zones = {z.inputs["dnsName"]: z for z in dev.of_type(ZONE_TYPE)}
    client_net = dev.named(NETWORK, "client-network")
    client_url = f"projects/meshlink-dev-client/global/networks/{client_net.inputs['name']}"
    for dns_name in (f"{ZONE}.", "googleapis.com."):
        zone = zones[dns_name]
        assert zone.inputs["visibility"] == "private"
        bound = [n["networkUrl"] for n in zone.inputs["privateVisibilityConfig"]["networks"]]
        assert bound == [client_url]


def test_google_apis_resolve_to_the_range_the_network_policy_allows(dev: OfflineRun) -> None:
    records = {r.inputs["name"]: r.inputs for r in dev.of_type(RECORD)}
    cidr, addresses = ENDPOINTS["private"]
    assert records["private.googleapis.com."]["rrdatas"] == list(addresses)
    assert records["private.googleapis.com."]["type"] == "A"
    assert records["*.googleapis.com."]["type"] == "CNAME"
    assert records["*.googleapis.com."]["rrdatas"] == ["private.googleapis.com."]
    policies = of_kind(dev, "NetworkPolicy")
    assert policies
    for policy in policies:
        https = [
            r
            for r in policy["spec"]["egress"]
            if r.get("ports") == [{"port": 443, "protocol": "TCP"}]
        ]
        allowed = {peer["ipBlock"]["cidr"] for rule in https for peer in rule["to"]}
        assert cidr in allowed


def test_ingress_admits_only_the_client_nat_addresses(dev: OfflineRun) -> None:
    client_nat = [
        r.outputs["address"] for r in dev.of_type(ADDRESS) if r.name.startswith("client-nat-ip-")
    ]
    server_nat = [
        r.outputs["address"] for r in dev.of_type(ADDRESS) if r.name.startswith("server-nat-ip-")
    ]
    assert len(client_nat) == 2 and len(server_nat) == 1
    assert dev.outputs["client_nat_addresses"] == client_nat
    (service,) = [s for s in of_kind(dev, "Service") if s["spec"]["type"] == "LoadBalancer"]
    assert service["spec"]["loadBalancerSourceRanges"] == [f"{ip}/32" for ip in client_nat]
    # The reserved address by name, in GKE's annotation (not loadBalancerIP), in its tier.
    assert "loadBalancerIP" not in service["spec"]
    annotations = service["metadata"]["annotations"]
    (reserved,) = [
        r
        for r in dev.of_type(ADDRESS)
        if r.inputs.get("name") == annotations["networking.gke.io/load-balancer-ip-addresses"]
    ]
    assert reserved.outputs["address"] == dev.outputs["ingress_address"]
    assert annotations["cloud.google.com/network-tier"].upper() == reserved.inputs["networkTier"]
    assert 13306 in {p["port"] for p in service["spec"]["ports"]}


def test_server_certificate_names_the_fqdn_under_the_generated_ca(dev: OfflineRun) -> None:
    _, secret = _named_object(dev, "Secret", "link-mysql-server-tls")
    registration = next(
        r
        for r in kubernetes_objects(dev)
        if r.inputs.get("metadata", {}).get("name") == "link-mysql-server-tls"
    )
    data = registration.inputs["stringData"]
    assert "stringData" in registration.secret_inputs
    path = verify_server(data["tls.crt"], dev.outputs["ca_certificate_pem"], FQDN, at=NOW)
    assert len(path) == 3  # leaf, issuing CA, root
    root = certificates(dev.outputs["ca_certificate_pem"])[0]
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    assert secret["metadata"]["namespace"] == "link-ingress"


def test_exports_hold_what_an_operator_needs_and_keep_kubeconfigs_secret(dev: OfflineRun) -> None:
    assert dev.outputs["fqdns"] == [FQDN]
    assert dev.outputs["dns_zone"] == ZONE
    assert dev.secret_outputs == {"client_kubeconfig", "server_kubeconfig"}
    for side in ("client", "server"):
        config = yaml.safe_load(dev.outputs[f"{side}_kubeconfig"])
        assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert "csr_pem" not in dev.outputs
    assert "PRIVATE KEY" not in plain_text(dev.outputs)


def test_demo_mysql_runs_in_the_server_cluster_and_its_client_in_the_client_cluster(
    dev: OfflineRun,
) -> None:
    cluster, server = _named_object(dev, "Deployment", "mysql")
    assert cluster == "server"
    assert server["metadata"]["namespace"] == "demo-db"
    cluster, client = _named_object(dev, "Deployment", "mysql-client")
    assert cluster == "client"
    assert client["metadata"]["namespace"] == "demo-app"
    script = " ".join(client["spec"]["template"]["spec"]["containers"][0]["args"])
    assert f"--host={FQDN} --port=3306" in script
    cluster, service = _named_object(dev, "Service", "mysql")
    assert cluster == "server"
    # The link's target is exactly this Service.
    (entry,) = [m for c, m in by_cluster(dev) if c == "server" and m["kind"] == "VirtualService"]
    destination = entry["spec"]["tcp"][0]["route"][0]["destination"]
    assert destination["host"] == "mysql.demo-db.svc.cluster.local"
    assert destination["port"]["number"] == service["spec"]["ports"][0]["port"] == 3306
    namespaces = {
        (c, m["metadata"]["name"]): m["metadata"]["labels"]
        for c, m in by_cluster(dev)
        if m["kind"] == "Namespace"
    }
    assert namespaces[("server", "demo-db")]["istio-injection"] == "enabled"
    assert namespaces[("client", "demo-app")]["istio-injection"] == "enabled"
    for image in (server, client):
        assert image["spec"]["template"]["spec"]["containers"][0]["image"] == "mysql:8.4.3"


def _password_env(secret: str, env_name: str) -> dict[str, Any]:
    return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}


def test_demo_passwords_reach_the_pods_only_through_secrets(dev: OfflineRun) -> None:
    passwords = {p.name: p for p in dev.of_type(PASSWORD_TYPE)}
    assert set(passwords) == {"demo-root-password", "demo-client-password"}
    for password in passwords.values():
        assert {"result", "bcryptHash"} <= password.secret_outputs
        assert len(password.outputs["result"]) == 32
    root = passwords["demo-root-password"].outputs["result"]
    user = passwords["demo-client-password"].outputs["result"]
    assert root != user
    _, server = _named_object(dev, "Deployment", "mysql")
    assert server["spec"]["template"]["spec"]["containers"][0]["env"] == [
        _password_env("mysql-root", "MYSQL_ROOT_PASSWORD"),
        {"name": "MYSQL_USER", "value": "linkdemo"},
        _password_env("mysql-client", "MYSQL_PASSWORD"),
    ]
    _, client = _named_object(dev, "Deployment", "mysql-client")
    container = client["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [_password_env("mysql-client", "MYSQL_PWD")]
    # The client logs in as the dedicated user, never as root.
    script = " ".join(container["args"])
    assert "--user=linkdemo" in script and "root" not in script
    secrets: dict[tuple[str, str], Any] = {
        (cluster_of(dev, r), r.inputs["metadata"]["name"]): r
        for r in kubernetes_objects(dev)
        if r.inputs.get("kind") == "Secret"
        and r.inputs["metadata"]["name"] in ("mysql-root", "mysql-client")
    }
    # The root password never leaves the server cluster.
    assert set(secrets) == {
        ("server", "mysql-root"),
        ("server", "mysql-client"),
        ("client", "mysql-client"),
    }
    for (_, name), secret in secrets.items():
        assert secret.inputs["stringData"] == {"password": root if name == "mysql-root" else user}
        assert "stringData" in secret.secret_inputs
    # Nowhere else, and nowhere in plain text.
    for value in (root, user):
        for registration in dev.registrations:
            plain = {
                k: v for k, v in registration.inputs.items() if k not in registration.secret_inputs
            }
            assert value not in plain_text(plain), registration.name
        assert value not in plain_text(dev.outputs)
    for registration in dev.registrations:
        if cluster_of(dev, registration) == "client":
            assert root not in plain_text(registration.inputs), registration.name


def test_the_link_waits_for_the_demo_client_namespace(dev: OfflineRun) -> None:
    namespace = next(
        r
        for r in kubernetes_objects(dev)
        if manifest(r)["kind"] == "Namespace" and r.inputs["metadata"]["name"] == "demo-app"
    )
    policy = next(
        r
        for r in kubernetes_objects(dev)
        if manifest(r)["kind"] == "NetworkPolicy"
        and r.inputs["metadata"]["namespace"] == "demo-app"
    )
    assert dev.depends_on(policy.urn, namespace.urn)


def test_every_child_has_a_component_parent_and_names_are_deterministic(dev: OfflineRun) -> None:
    components = {r.urn for r in dev.registrations if r.type.startswith("meshlink:index:")}
    loose = [r.name for r in dev.registrations if r.custom and r.parent not in components]
    assert loose == []
    again = run_stack(ROOT, "dev")
    assert {r.urn: r.inputs for r in again.registrations} == {
        r.urn: r.inputs for r in dev.registrations
    }


# --------------------------------------------------------------------------- CA modes


def test_external_ca_first_run_exports_the_request_and_declares_no_link() -> None:
    config = edit_config(
        loaded_config(ROOT, "dev"),
        "meshlink:ca",
        None,
        {"mode": "external", "subject": {"common_name": "Example link issuing CA"}},
    )
    run = run_stack(ROOT, "dev", config=config)
    assert run.of_type(MESH_LINK) == []
    request = x509.load_pem_x509_csr(run.outputs["csr_pem"].encode())
    assert request.subject.rfc4514_string() == "CN=Example link issuing CA"
    # The clusters and names are declared all the same, so the second run only adds the link.
    assert len(run.of_type(CLUSTER)) == 2
    assert run.outputs["ingress_address"]


def test_bring_your_own_ca_from_secret_configuration_signs_the_leaves() -> None:
    ca = make_ca("Example Corp link CA", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    config = edit_config(loaded_config(ROOT, "dev"), "meshlink:ca", None, {"mode": "existing"})
    config[f"meshlink:{CA_CERT_KEY}"] = ca.cert_pem
    config[f"meshlink:{CA_KEY_KEY}"] = ca.key_pem
    run = run_stack(
        ROOT,
        "dev",
        config=config,
        secret_keys=[f"meshlink:{CA_CERT_KEY}", f"meshlink:{CA_KEY_KEY}"],
        mocks=RecordingMocks(now=dt.datetime.now(dt.UTC)),
    )
    assert certificates(run.outputs["ca_certificate_pem"]) == [ca.cert]
    registration = next(
        r
        for r in kubernetes_objects(run)
        if r.inputs.get("metadata", {}).get("name") == "link-mysql-server-tls"
    )
    verify_server(
        registration.inputs["stringData"]["tls.crt"], ca.cert_pem, FQDN, at=dt.datetime.now(dt.UTC)
    )
    assert ca.key_pem not in plain_text(run.outputs)


def test_neither_side_waits_for_the_other_sides_cluster(dev: OfflineRun) -> None:
    clusters = {r.name.removesuffix("-cluster"): r.urn for r in dev.of_type(GKE_CLUSTER)}
    assert set(clusters) == {"client", "server"}
    objects = kubernetes_objects(dev)
    assert {cluster_of(dev, r) for r in objects} == {"client", "server"}
    for registration in objects:
        side = cluster_of(dev, registration)
        other = "server" if side == "client" else "client"
        assert dev.depends_on(registration.urn, clusters[side])
        assert not dev.depends_on(registration.urn, clusters[other]), registration.name


def test_the_readiness_gates_kubeconfig_does_not_wait_for_the_node_pools(
    dev: OfflineRun,
) -> None:
    """The gate reads CRDs, which need no nodes: its kubeconfig resolves once the control
    plane and the mesh membership exist. (In the dev stack its half still waits for the
    demo namespace, which does need the nodes.)"""
    gates = dev.of_type(GATE)
    pools = {r.name.removesuffix("-node-pool"): r.urn for r in dev.of_type(NODE_POOL)}
    assert len(gates) == 2
    for gate in gates:
        side = "client" if "-client-" in gate.name else "server"
        cluster = next(r.urn for r in dev.of_type(GKE_CLUSTER) if r.name == f"{side}-cluster")
        assert cluster in gate.dependencies
        for dependency in gate.dependencies:
            assert dependency != pools[side], gate.name
            assert not dev.depends_on(dependency, pools[side]), gate.name
