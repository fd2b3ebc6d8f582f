"""The settings that change what a link declares: TLS version, API version, identities,
injection revision, rotation, reused or internal ingress gateways, the NetworkPolicy,
a CA from outside, and separate CAs for the two sides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from cryptography import x509

from meshlink.mesh import LinkClient, LinkServer, MeshLink
from meshlink.mesh.hardening import PRIVATE_GOOGLE_ACCESS_CIDRS
from meshlink.offline.engine import OfflineRun
from meshlink.pki import CertificateAuthority
from tests.support import mesh
from tests.support.istio_schema import CRD_SETS, validate_manifest

CLIENT = "client-cluster"
SERVER = "server-cluster"


def objects(run: OfflineRun, kind: str, cluster: str | None = None) -> list[dict[str, Any]]:
    return [
        m
        for c, m in mesh.by_cluster(run)
        if m["kind"] == kind and (cluster is None or c == cluster)
    ]


def secret_string_data(run: OfflineRun, name: str) -> dict[str, str]:
    (secret,) = [
        r
        for r in mesh.kubernetes_objects(run)
        if r.inputs.get("kind") == "Secret" and r.inputs["metadata"]["name"] == name
    ]
    data: dict[str, str] = secret.inputs["stringData"]
    return data


def leaf(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates(pem.encode())[0]


def test_tls13_v1beta1_uri_identity_revision_and_rotation(istio_crds: Path) -> None:
    uri = "spiffe://link.example.com/cluster/client-a"
    run = _run_variant(uri)
    istio = [mesh.manifest(r) for r in mesh.istio_objects(run)]
    assert {m["apiVersion"].rsplit("/", 1)[1] for m in istio} == {"v1beta1"}
    for crd_set in CRD_SETS:
        for manifest in istio:
            assert validate_manifest(manifest, crd_set) == [], manifest["metadata"]
    for gateway in objects(run, "Gateway", SERVER):
        (server,) = gateway["spec"]["servers"]
        assert server["tls"]["minProtocolVersion"] == "TLSV1_3"
        assert server["tls"]["subjectAltNames"] == [uri, "client-b.link.example.com"]
    client_cert = leaf(secret_string_data(run, "mysql-link-client-tls")["tls.crt"])
    san = client_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [uri]
    assert san.get_values_for_type(x509.DNSName) == []
    gates = [r for r in run.registrations if r.type == mesh.GATE_TYPE]
    assert {g.inputs["groupVersions"]["networking.istio.io"] for g in gates} == {
        "networking.istio.io/v1beta1"
    }
    (egress_namespace,) = [
        m for m in objects(run, "Namespace", CLIENT) if m["metadata"]["name"] == "mysql-link-egress"
    ]
    assert egress_namespace["metadata"]["labels"]["istio.io/rev"] == "asm-managed"
    assert "istio-injection" not in egress_namespace["metadata"]["labels"]
    leaves = [r for r in run.registrations if r.type.startswith("tls:") and "-ca-" not in r.name]
    assert leaves and all(r.replacement_trigger == "2026-07" for r in leaves)
    ca_parts = [r for r in run.registrations if r.type.startswith("tls:") and "-ca-" in r.name]
    assert ca_parts and all(r.replacement_trigger is None for r in ca_parts)


def _run_variant(uri: str) -> OfflineRun:
    def program() -> None:
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        args: Any = mesh.link_args(
            client,
            server,
            service_count=3,
            min_tls_version="TLSV1_3",
            istio_api_version="v1beta1",
            client_identity={"uri": uri},
            additional_client_identities=["client-b.link.example.com"],
            rotation="2026-07",
        )
        args = mesh.with_setting(args, "client.egress_gateway", {"revision": "asm-managed"})
        MeshLink("mysql-link", args)

    return mesh.run_link(program)


def _program(name: str = "mysql-link", **settings: Any) -> Any:
    """A program whose MeshLink args get each ``path=value`` of ``settings`` applied."""

    def program() -> None:
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        args: Any = mesh.link_args(client, server, service_count=2)
        for path, value in settings.items():
            args = mesh.with_setting(args, path.replace("__", "."), value)
        link = MeshLink(name, args)
        pulumi.export("ingress_address", link.ingress_address)

    return program


def test_reusing_an_existing_ingress_gateway_patches_its_service(istio_crds: Path) -> None:
    existing = {
        "namespace": "istio-ingress",
        "service_name": "istio-ingressgateway",
        "labels": {"istio": "ingressgateway", "app": "istio-ingressgateway"},
        "service_account": "istio-ingressgateway",
    }
    run = mesh.run_link(
        _program(server__ingress_gateway=mesh.DELETE, server__existing_ingress_gateway=existing)
    )
    (patch_registration,) = run.of_type("kubernetes:core/v1:ServicePatch")
    patch = mesh.manifest(patch_registration)
    assert mesh.cluster_of(run, patch_registration) == SERVER
    assert patch["metadata"]["name"] == "istio-ingressgateway"
    assert patch["metadata"]["namespace"] == "istio-ingress"
    assert patch["metadata"]["annotations"] == {
        "pulumi.com/patchFieldManager": "meshlink-mysql-link"
    }
    ports = {p["port"]: p for p in patch["spec"]["ports"]}
    assert set(ports) == {13306, 15432}
    assert all(p["targetPort"] == n and p["protocol"] == "TCP" for n, p in ports.items())
    server_kinds = {m["kind"] for m in objects(run, "Deployment", SERVER)}
    assert server_kinds == set()
    assert objects(run, "Namespace", SERVER) == []
    # The only PeerAuthentications are the targets' own, none in the gateway's namespace.
    assert {p["metadata"]["namespace"] for p in objects(run, "PeerAuthentication", SERVER)} == {
        "db"
    }
    for policy in objects(run, "AuthorizationPolicy", SERVER):
        (rule,) = policy["spec"]["rules"]
        assert rule["from"][0]["source"]["principals"] == [
            "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"
        ]
    for gateway in objects(run, "Gateway", SERVER):
        assert gateway["metadata"]["namespace"] == "istio-ingress"
        assert gateway["spec"]["selector"] == existing["labels"]
        (server,) = gateway["spec"]["servers"]
        assert server["port"]["number"] in ports
    secrets = objects(run, "Secret", SERVER)
    assert len(secrets) == 2 and {s["metadata"]["namespace"] for s in secrets} == {"istio-ingress"}
    for vs in objects(run, "VirtualService", SERVER):
        assert vs["spec"]["gateways"][0].startswith("istio-ingress/")
        for crd_set in CRD_SETS:
            assert validate_manifest(vs, crd_set) == []
    assert run.outputs["ingress_address"] is None


def test_reused_gateway_field_manager_can_be_pinned() -> None:
    existing = {
        "namespace": "istio-ingress",
        "service_name": "istio-ingressgateway",
        "labels": {"istio": "ingressgateway"},
        "service_account": "istio-ingressgateway",
        "field_manager": "platform-team-links",
        "address": "198.51.100.99",
    }
    run = mesh.run_link(
        _program(server__ingress_gateway=mesh.DELETE, server__existing_ingress_gateway=existing)
    )
    (patch,) = run.of_type("kubernetes:core/v1:ServicePatch")
    assert patch.inputs["metadata"]["annotations"] == {
        "pulumi.com/patchFieldManager": "platform-team-links"
    }
    assert run.outputs["ingress_address"] == "198.51.100.99"


def test_internal_load_balancer_with_a_named_gke_address() -> None:
    run = mesh.run_link(
        _program(
            server__ingress_gateway__static_ip=mesh.DELETE,
            server__ingress_gateway__static_ip_name="mysql-link-ingress-ip",
            server__ingress_gateway__internal=True,
        )
    )
    (service,) = [m for m in objects(run, "Service", SERVER) if m["spec"]["type"] == "LoadBalancer"]
    assert service["metadata"]["annotations"] == {
        "networking.gke.io/load-balancer-type": "Internal",
        "networking.gke.io/load-balancer-ip-addresses": "mysql-link-ingress-ip",
    }
    assert "loadBalancerIP" not in service["spec"]
    assert run.outputs["ingress_address"] is None


def test_external_address_by_name_in_its_network_tier() -> None:
    """On GKE the reserved address is named in GKE's annotation instead of the deprecated
    spec.loadBalancerIP, and the forwarding rule asks for the address's network tier."""
    run = mesh.run_link(
        _program(
            server__ingress_gateway__static_ip_name="mysql-link-ingress",
            server__ingress_gateway__network_tier="STANDARD",
        )
    )
    (service,) = [m for m in objects(run, "Service", SERVER) if m["spec"]["type"] == "LoadBalancer"]
    assert service["metadata"]["annotations"] == {
        "networking.gke.io/load-balancer-ip-addresses": "mysql-link-ingress",
        "cloud.google.com/network-tier": "Standard",
    }
    assert "loadBalancerIP" not in service["spec"]
    # The address is still known for the outputs (and the client's DNS record).
    assert run.outputs["ingress_address"] == mesh.STATIC_IP


def test_static_ip_alone_still_sets_load_balancer_ip() -> None:
    run = mesh.run_link(_program())
    (service,) = [m for m in objects(run, "Service", SERVER) if m["spec"]["type"] == "LoadBalancer"]
    assert service["spec"]["loadBalancerIP"] == mesh.STATIC_IP
    assert "annotations" not in service["metadata"]


def test_gateway_tls_pins_ecdhe_aead_suites(istio_crds: Path) -> None:
    run = mesh.run_link(_program())
    for gateway in objects(run, "Gateway", SERVER):
        (server,) = gateway["spec"]["servers"]
        suites = server["tls"]["cipherSuites"]
        assert suites == [
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-RSA-CHACHA20-POLY1305",
        ]
        for crd_set in CRD_SETS:
            assert validate_manifest(gateway, crd_set) == []
    # ClientTLSSettings has no cipherSuites in either CRD set: none is emitted there.
    for rule in objects(run, "DestinationRule", CLIENT):
        for setting in rule["spec"].get("trafficPolicy", {}).get("portLevelSettings", []):
            assert "cipherSuites" not in setting["tls"]
    custom = mesh.run_link(_program(cipher_suites=["ECDHE-ECDSA-CHACHA20-POLY1305"]))
    for gateway in objects(custom, "Gateway", SERVER):
        (server,) = gateway["spec"]["servers"]
        assert server["tls"]["cipherSuites"] == ["ECDHE-ECDSA-CHACHA20-POLY1305"]


def test_any_source_only_when_asked_for() -> None:
    run = mesh.run_link(
        _program(
            server__ingress_gateway__source_ranges=["0.0.0.0/0"],
            server__ingress_gateway__allow_any_source=True,
        )
    )
    (service,) = objects(run, "Service", SERVER)
    assert service["spec"]["loadBalancerSourceRanges"] == ["0.0.0.0/0"]


def test_source_range_from_an_output_is_checked_once_known() -> None:
    def program() -> None:
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        args: Any = mesh.link_args(client, server)
        nat = pulumi.Output.from_input("203.0.113.77/32")
        args = mesh.with_setting(args, "server.ingress_gateway.source_ranges", [nat])
        MeshLink("mysql-link", args)

    run = mesh.run_link(program)
    (service,) = objects(run, "Service", SERVER)
    assert service["spec"]["loadBalancerSourceRanges"] == ["203.0.113.77/32"]

    def open_program() -> None:
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        args: Any = mesh.link_args(client, server)
        anywhere = pulumi.Output.from_input("0.0.0.0/0")
        args = mesh.with_setting(args, "server.ingress_gateway.source_ranges", [anywhere])
        MeshLink("mysql-link", args)

    with pytest.raises(Exception, match=r"source_ranges: 0\.0\.0\.0/0 admits every address"):
        mesh.run_link(open_program)


def _policy_rules(run: OfflineRun) -> list[dict[str, Any]]:
    policies = objects(run, "NetworkPolicy", CLIENT)
    assert {p["metadata"]["namespace"] for p in policies} == set(mesh.CLIENT_NAMESPACES)
    specs = [p["spec"] for p in policies]
    assert all(s == specs[0] for s in specs)
    assert specs[0]["podSelector"] == {} and specs[0]["policyTypes"] == ["Egress"]
    rules: list[dict[str, Any]] = specs[0]["egress"]
    return rules


def test_network_policy_allows_only_gateway_dns_and_managed_control_plane() -> None:
    run = mesh.run_link(mesh.link_program())
    rules = _policy_rules(run)
    deployment = objects(run, "Deployment", CLIENT)[0]
    gateway_rule = rules[0]
    assert gateway_rule == {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "mysql-link-egress"}
                },
                "podSelector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]},
            }
        ],
        "ports": [{"port": 15443, "protocol": "TCP"}],
    }
    ports_by_peer: dict[str, set[tuple[int, str]]] = {}
    for rule in rules[1:]:
        for peer in rule["to"]:
            key = peer.get("ipBlock", {}).get("cidr") or str(peer)
            ports_by_peer.setdefault(key, set()).update(
                (p["port"], p["protocol"]) for p in rule["ports"]
            )
    dns = {(53, "UDP"), (53, "TCP")}
    assert ports_by_peer["169.254.20.10/32"] == dns
    assert ports_by_peer["169.254.169.254/32"] == dns | {(80, "TCP")}
    assert ports_by_peer["169.254.169.252/32"] == {(988, "TCP")}
    for cidr in PRIVATE_GOOGLE_ACCESS_CIDRS:
        assert ports_by_peer[cidr] == {(443, "TCP")}
    kube_dns = [k for k in ports_by_peer if "kube-dns" in k]
    assert len(kube_dns) == 1 and ports_by_peer[kube_dns[0]] == dns
    assert all("ports" in rule for rule in rules), "a rule without ports opens every port"
    assert not any(
        peer.get("ipBlock", {}).get("cidr", "").endswith("/0") for r in rules for peer in r["to"]
    )


def test_network_policy_for_an_in_cluster_control_plane_and_extra_peers() -> None:
    run = mesh.run_link(
        _program(
            client__network_policy={
                "enabled": True,
                "control_plane": {"kind": "in_cluster"},
                "extra_egress": [
                    {"cidr": "10.20.0.0/16", "ports": [5432]},
                    {"namespace": "shared", "pod_labels": {"app": "cache"}},
                ],
            }
        )
    )
    rules = _policy_rules(run)
    text = repr(rules)
    assert "199.36.153" not in text and "169.254.169.252" not in text
    (istiod,) = [r for r in rules if "istiod" in repr(r)]
    assert istiod == {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "istio-system"}
                },
                "podSelector": {"matchLabels": {"app": "istiod"}},
            }
        ],
        "ports": [{"port": 15012, "protocol": "TCP"}],
    }
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    } in rules
    assert {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shared"}},
                "podSelector": {"matchLabels": {"app": "cache"}},
            }
        ]
    } in rules


def test_network_policy_can_be_turned_off() -> None:
    run = mesh.run_link(_program(client__network_policy={"enabled": False}))
    assert objects(run, "NetworkPolicy") == []


def test_a_ca_from_outside_the_link_is_used_as_is() -> None:
    def program() -> None:
        ca = CertificateAuthority("org-link-ca", {"subject": {"common_name": "Org Link CA"}})
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        link = MeshLink("mysql-link", mesh.link_args(client, server, link_ca=ca))
        pulumi.export("link_ca", link.ca_certificate_pem)
        pulumi.export("org_ca", ca.root_cert_pem)

    run = mesh.run_link(program)
    assert run.outputs["link_ca"] == run.outputs["org_ca"]
    cas = run.of_type("meshlink:index:CertificateAuthority")
    assert [c.name for c in cas] == ["org-link-ca"]
    ca_cert = x509.load_pem_x509_certificate(run.outputs["org_ca"].encode())
    server_leaf = leaf(secret_string_data(run, "mysql-link-mysql-server-tls")["tls.crt"])
    server_leaf.verify_directly_issued_by(ca_cert)


def test_separate_cas_each_secret_trusts_the_peers_ca() -> None:
    """Fact 2 with two CAs: the client Secret's ca.crt is the server CA, and the other way
    round, so mixing them up would fail the handshake in both directions."""

    def program() -> None:
        client_ca = CertificateAuthority("client-ca", {"subject": {"common_name": "Client CA"}})
        server_ca = CertificateAuthority("server-ca", {"subject": {"common_name": "Server CA"}})
        services = mesh.services(1)
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        client_args: Any = {
            "services": services,
            "issuer": client_ca,
            "client_identity": {"dns_name": mesh.CLIENT_SAN},
            "namespaces": ["orders"],
            "server_trust_bundle_pem": server_ca.trust_bundle_pem,
        }
        LinkClient("mysql-link", client_args, opts=pulumi.ResourceOptions(provider=client))
        server_args: Any = {
            "services": services,
            "issuer": server_ca,
            "allowed_client_identities": [mesh.CLIENT_SAN],
            "client_trust_bundle_pem": client_ca.trust_bundle_pem,
            "ingress_gateway": {"source_ranges": ["203.0.113.10/32"]},
        }
        LinkServer("mysql-link", server_args, opts=pulumi.ResourceOptions(provider=server))
        pulumi.export("client_ca", client_ca.root_cert_pem)
        pulumi.export("server_ca", server_ca.root_cert_pem)

    run = mesh.run_link(program)
    client_ca = x509.load_pem_x509_certificate(run.outputs["client_ca"].encode())
    server_ca = x509.load_pem_x509_certificate(run.outputs["server_ca"].encode())
    client_secret = secret_string_data(run, "mysql-link-client-tls")
    server_secret = secret_string_data(run, "mysql-link-mysql-server-tls")
    assert x509.load_pem_x509_certificate(client_secret["ca.crt"].encode()) == server_ca
    assert x509.load_pem_x509_certificate(server_secret["ca.crt"].encode()) == client_ca
    leaf(client_secret["tls.crt"]).verify_directly_issued_by(client_ca)
    leaf(server_secret["tls.crt"]).verify_directly_issued_by(server_ca)
    with pytest.raises(ValueError):
        leaf(server_secret["tls.crt"]).verify_directly_issued_by(client_ca)
    sides = {r.urn: r.name for r in run.registrations if r.type.startswith("meshlink:index:Link")}
    for registration in mesh.kubernetes_objects(run):
        (side,) = [sides[a] for a in run.ancestors(registration.urn) if a in sides]
        owner = next(a for a in run.ancestors(registration.urn) if a in sides)
        expected = CLIENT if owner.split("::")[-2].endswith("LinkClient") else SERVER
        assert mesh.cluster_of(run, registration) == expected, (side, registration.name)
