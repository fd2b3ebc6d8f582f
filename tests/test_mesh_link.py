"""MeshLink under the mocks, with one and with three services: every object on the right
cluster and in the right namespace, the cross-references that make traffic flow, the
real certificates matching the names, the readiness gate in front of every Istio
object, and the CRD schemas of both Istio releases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.engine import OfflineMocks, OfflineRun, Registration
from tests.support import mesh
from tests.support.istio_schema import CRD_SETS, validate_manifest

EGRESS_NS = "mysql-link-egress"
INGRESS_NS = "mysql-link-ingress"
CLIENT = "client-cluster"
SERVER = "server-cluster"


@pytest.fixture(scope="module", params=[1, 3], ids=["1-service", "3-services"])
def link(request: pytest.FixtureRequest) -> tuple[OfflineRun, list[dict[str, Any]]]:
    count: int = request.param
    return mesh.run_link(mesh.link_program(service_count=count)), mesh.services(count)


def objects(run: OfflineRun, kind: str, cluster: str) -> list[dict[str, Any]]:
    return [m for c, m in mesh.by_cluster(run) if c == cluster and m["kind"] == kind]


def one(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [m for m in items if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} objects named {name!r}"
    return found[0]


def certificates(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode())


def secret_data(run: OfflineRun, cluster: str, namespace: str, name: str) -> dict[str, str]:
    secrets = [
        r
        for r in mesh.kubernetes_objects(run)
        if r.inputs.get("kind") == "Secret"
        and r.inputs["metadata"]["name"] == name
        and r.inputs["metadata"]["namespace"] == namespace
        and mesh.cluster_of(run, r) == cluster
    ]
    assert len(secrets) == 1, f"{len(secrets)} Secrets {namespace}/{name} on {cluster}"
    assert "stringData" in secrets[0].secret_inputs
    data: dict[str, str] = secrets[0].inputs["stringData"]
    return data


def sans(certificate: x509.Certificate) -> tuple[list[str], list[str]]:
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        extension.get_values_for_type(x509.DNSName),
        extension.get_values_for_type(x509.UniformResourceIdentifier),
    )


def ekus(certificate: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chains_to(leaf_chain: list[x509.Certificate], bundle: list[x509.Certificate]) -> bool:
    """Whether the leaf, through the intermediates sent after it, is signed by a bundle
    certificate."""
    current = leaf_chain[0]
    for intermediate in [*leaf_chain[1:], None]:
        if any(issued_by(current, root) for root in bundle):
            return True
        if intermediate is None or not issued_by(current, intermediate):
            return False
        current = intermediate
    return False


# --- placement ------------------------------------------------------------------------


def test_every_object_is_on_its_cluster_and_in_its_namespace(link: Any) -> None:
    run, services = link
    client_namespaces = {EGRESS_NS, *mesh.CLIENT_NAMESPACES}
    target_namespaces = {s["target_host"].split(".")[1] for s in services}
    placed: dict[str, set[str]] = {CLIENT: set(), SERVER: set()}
    for cluster, manifest in mesh.by_cluster(run):
        assert cluster in (CLIENT, SERVER), f"{manifest['kind']} on the default provider"
        namespace = manifest["metadata"].get("namespace") or manifest["metadata"]["name"]
        placed[cluster].add(namespace)
        if cluster == SERVER and namespace != INGRESS_NS:
            # The target's policies go where the target's pods are.
            assert manifest["kind"] in ("AuthorizationPolicy", "PeerAuthentication"), manifest
            assert namespace in target_namespaces, manifest
        elif manifest["kind"] not in ("NetworkPolicy", "Namespace"):
            assert namespace in ({EGRESS_NS} if cluster == CLIENT else {INGRESS_NS}), manifest
    assert placed[CLIENT] == client_namespaces
    assert placed[SERVER] == {INGRESS_NS, *target_namespaces}
    for namespace in mesh.CLIENT_NAMESPACES:
        policies = [
            m
            for m in objects(run, "NetworkPolicy", CLIENT)
            if m["metadata"]["namespace"] == namespace
        ]
        assert len(policies) == 1
    per_cluster = {
        cluster: sorted(m["kind"] for c, m in mesh.by_cluster(run) if c == cluster)
        for cluster in (CLIENT, SERVER)
    }
    n = len(services)
    assert per_cluster[CLIENT].count("ServiceEntry") == 2 * n
    assert per_cluster[CLIENT].count("AuthorizationPolicy") == 1
    assert per_cluster[CLIENT].count("PeerAuthentication") == 0
    assert per_cluster[SERVER].count("AuthorizationPolicy") == n
    assert per_cluster[SERVER].count("PeerAuthentication") == n
    assert per_cluster[CLIENT].count("Gateway") == n
    assert per_cluster[CLIENT].count("VirtualService") == n
    assert per_cluster[CLIENT].count("DestinationRule") == n + 1
    assert per_cluster[CLIENT].count("Secret") == 1
    assert per_cluster[SERVER].count("Gateway") == n
    assert per_cluster[SERVER].count("VirtualService") == n
    assert per_cluster[SERVER].count("Secret") == n
    assert "ServiceEntry" not in per_cluster[SERVER]


def test_objects_output_lists_what_was_declared(link: Any) -> None:
    run, _ = link
    declared: dict[str, set[str]] = {CLIENT: set(), SERVER: set()}
    for cluster, manifest in mesh.by_cluster(run):
        meta = manifest["metadata"]
        if "namespace" in meta:
            declared[cluster].add(f"{manifest['kind']} {meta['namespace']}/{meta['name']}")
    for side, cluster in (("client", CLIENT), ("server", SERVER)):
        listed = {
            f"{kind} {ref}" for kind, refs in run.outputs["objects"][side].items() for ref in refs
        }
        assert listed
        assert listed <= declared[cluster]


# --- cross-references -------------------------------------------------------------------


def test_client_virtual_service_names_the_real_egress_gateway(link: Any) -> None:
    run, services = link
    gateways = {m["metadata"]["name"]: m for m in objects(run, "Gateway", CLIENT)}
    egress_service = one(objects(run, "Service", CLIENT), EGRESS_NS)
    for service in services:
        vs = one(objects(run, "VirtualService", CLIENT), f"mysql-link-{service['name']}")
        spec = vs["spec"]
        assert "tls" not in spec and "http" not in spec
        assert spec["hosts"] == [service["fqdn"]]
        refs = [g for g in spec["gateways"] if g != "mesh"]
        assert "mesh" in spec["gateways"] and len(refs) == 1
        namespace, gateway_name = refs[0].split("/")
        assert namespace == EGRESS_NS == vs["metadata"]["namespace"]
        gateway = gateways[gateway_name]
        assert gateway["metadata"]["namespace"] == namespace
        (server,) = gateway["spec"]["servers"]
        assert server["port"] == {
            "number": 15443,
            "protocol": "TLS",
            "name": f"tls-{service['name']}",
        }
        assert server["hosts"] == [service["fqdn"]]
        assert server["tls"] == {"mode": "ISTIO_MUTUAL"}
        mesh_route, gateway_route = spec["tcp"]
        assert mesh_route["match"] == [{"gateways": ["mesh"], "port": service["app_port"]}]
        assert mesh_route["route"] == [
            {
                "destination": {
                    "host": f"{egress_service['metadata']['name']}.{EGRESS_NS}.svc.cluster.local",
                    "subset": service["name"],
                    "port": {"number": 15443},
                }
            }
        ]
        assert gateway_route["match"] == [{"gateways": refs, "port": 15443}]
        assert gateway_route["route"] == [
            {"destination": {"host": service["fqdn"], "port": {"number": service["link_port"]}}}
        ]


def test_egress_subsets_rule_targets_the_egress_service(link: Any) -> None:
    run, services = link
    egress_service = one(objects(run, "Service", CLIENT), EGRESS_NS)
    assert egress_service["spec"]["type"] == "ClusterIP"
    assert {"name": "tls", "port": 15443, "targetPort": 15443, "protocol": "TCP"} in egress_service[
        "spec"
    ]["ports"]
    rule = one(objects(run, "DestinationRule", CLIENT), "mysql-link-egress-subsets")
    host = rule["spec"]["host"]
    assert host == (
        f"{egress_service['metadata']['name']}.{egress_service['metadata']['namespace']}"
        ".svc.cluster.local"
    )
    subsets = {s["name"]: s for s in rule["spec"]["subsets"]}
    assert set(subsets) == {s["name"] for s in services}
    for service in services:
        (setting,) = subsets[service["name"]]["trafficPolicy"]["portLevelSettings"]
        assert setting == {
            "port": {"number": 15443},
            "tls": {"mode": "ISTIO_MUTUAL", "sni": service["fqdn"]},
        }


def test_every_credential_name_is_a_secret_in_that_gateways_namespace(link: Any) -> None:
    run, _ = link
    references: list[tuple[str, str, str]] = []
    for cluster in (CLIENT, SERVER):
        for gateway in objects(run, "Gateway", cluster):
            for server in gateway["spec"]["servers"]:
                name = server["tls"].get("credentialName")
                if name:
                    references.append((cluster, gateway["metadata"]["namespace"], name))
        for rule in objects(run, "DestinationRule", cluster):
            for setting in rule["spec"].get("trafficPolicy", {}).get("portLevelSettings", []):
                name = setting.get("tls", {}).get("credentialName")
                if name:
                    references.append((cluster, rule["metadata"]["namespace"], name))
    assert {c for c, _, _ in references} == {CLIENT, SERVER}
    for cluster, namespace, name in references:
        data = secret_data(run, cluster, namespace, name)
        assert set(data) == {"tls.crt", "tls.key", "ca.crt"}
        assert not name.startswith(("istio", "prometheus")) and not name.endswith("-cacert")


def test_gateway_selector_pod_labels_and_service_selector_agree(link: Any) -> None:
    run, _ = link
    for cluster, namespace in ((CLIENT, EGRESS_NS), (SERVER, INGRESS_NS)):
        deployment = one(objects(run, "Deployment", cluster), namespace)
        service = one(objects(run, "Service", cluster), namespace)
        pdb = one(objects(run, "PodDisruptionBudget", cluster), namespace)
        template = deployment["spec"]["template"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector
        assert service["spec"]["selector"] == selector
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        assert selector.items() <= template["metadata"]["labels"].items()
        for gateway in objects(run, "Gateway", cluster):
            assert gateway["spec"]["selector"] == selector
        # A gateway's listeners take their TLS from the Gateway object: a
        # PeerAuthentication on gateway pods would protect nothing and suggest it does.
        for peer in objects(run, "PeerAuthentication", cluster):
            assert peer["metadata"]["namespace"] != namespace, peer["metadata"]
            assert peer["spec"]["selector"]["matchLabels"] != selector, peer["metadata"]
        assert deployment["spec"]["replicas"] >= 2
        assert template["metadata"]["annotations"]["inject.istio.io/templates"] == "gateway"
        assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
        (container,) = template["spec"]["containers"]
        assert container["image"] == "auto"
        assert container["resources"]["requests"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        # Explicit, not left to the injection template: the istio-proxy user and group.
        assert container["securityContext"]["runAsUser"] == 1337
        assert container["securityContext"]["runAsGroup"] == 1337
        namespace_object = one(objects(run, "Namespace", cluster), namespace)
        assert namespace_object["metadata"]["labels"]["istio-injection"] == "enabled"


def test_gateway_service_account_may_read_secrets_in_its_namespace(link: Any) -> None:
    run, _ = link
    for cluster, namespace in ((CLIENT, EGRESS_NS), (SERVER, INGRESS_NS)):
        deployment = one(objects(run, "Deployment", cluster), namespace)
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        one(objects(run, "ServiceAccount", cluster), account)
        (binding,) = objects(run, "RoleBinding", cluster)
        assert binding["metadata"]["namespace"] == namespace
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": namespace}
        ]
        role = one(objects(run, "Role", cluster), binding["roleRef"]["name"])
        assert role["metadata"]["namespace"] == namespace
        (rule,) = role["rules"]
        assert rule["resources"] == ["secrets"] and "get" in rule["verbs"]


def test_link_ports_are_on_the_ingress_service_and_gateways(link: Any) -> None:
    run, services = link
    service = one(objects(run, "Service", SERVER), INGRESS_NS)
    spec = service["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerSourceRanges"] == list(mesh.CLIENT_EGRESS_CIDRS)
    assert spec["loadBalancerIP"] == mesh.STATIC_IP
    assert run.outputs["ingress_address"] == mesh.STATIC_IP
    service_ports = {p["port"]: p for p in spec["ports"]}
    for linked in services:
        port = service_ports[linked["link_port"]]
        assert port["targetPort"] == linked["link_port"] and port["protocol"] == "TCP"
        gateway = one(objects(run, "Gateway", SERVER), f"mysql-link-{linked['name']}-ingress")
        (server,) = gateway["spec"]["servers"]
        assert server["port"]["number"] == linked["link_port"]
        assert server["port"]["protocol"] == "TLS"
        assert server["hosts"] == [linked["fqdn"]]
        assert server["tls"]["mode"] == "MUTUAL"
        assert server["tls"]["minProtocolVersion"] == "TLSV1_2"
    assert set(service_ports) == {s["link_port"] for s in services}


def test_server_virtual_service_routes_to_the_target(link: Any) -> None:
    run, services = link
    for linked in services:
        vs = one(objects(run, "VirtualService", SERVER), f"mysql-link-{linked['name']}")
        assert vs["spec"]["gateways"] == [f"{INGRESS_NS}/mysql-link-{linked['name']}-ingress"]
        assert vs["spec"]["exportTo"] == ["."]
        assert vs["spec"]["tcp"] == [
            {
                "match": [{"port": linked["link_port"]}],
                "route": [
                    {
                        "destination": {
                            "host": linked["target_host"],
                            "port": {"number": linked["target_port"]},
                        }
                    }
                ],
            }
        ]


def _visible_in(entry: dict[str, Any], namespace: str) -> bool:
    """Whether a ServiceEntry is visible to proxies in ``namespace`` (Istio's exportTo:
    unset or ``*`` is everywhere, ``.`` is its own namespace)."""
    export_to = entry["spec"].get("exportTo", ["*"])
    own = entry["metadata"]["namespace"]
    return "*" in export_to or namespace in export_to or ("." in export_to and namespace == own)


def test_service_entries_declare_app_and_link_ports(link: Any) -> None:
    run, services = link
    for linked in services:
        app = one(objects(run, "ServiceEntry", CLIENT), f"mysql-link-{linked['name']}")
        tls = one(objects(run, "ServiceEntry", CLIENT), f"mysql-link-{linked['name']}-link")
        for entry in (app, tls):
            spec = entry["spec"]
            assert spec["hosts"] == [linked["fqdn"]]
            assert spec["location"] == "MESH_EXTERNAL" and spec["resolution"] == "DNS"
            assert "addresses" not in spec
        assert app["spec"]["ports"] == [
            {"number": linked["app_port"], "name": "tcp", "protocol": "TCP"}
        ]
        assert tls["spec"]["ports"] == [
            {"number": linked["link_port"], "name": "tls", "protocol": "TLS"}
        ]
        assert tls["spec"]["endpoints"] == [
            {"address": linked["fqdn"], "ports": {"tls": linked["link_port"]}}
        ]
        assert app["spec"]["exportTo"] == sorted(mesh.CLIENT_NAMESPACES)
        assert tls["spec"]["exportTo"] == ["."]


def test_client_sidecars_have_no_route_to_the_link_port(link: Any) -> None:
    """Each client namespace sees the app port (its route goes to the egress gateway) and
    never the link port, which would be a direct route to the ingress address; the
    egress gateway's namespace sees the link port and no app port."""
    run, services = link
    entries = objects(run, "ServiceEntry", CLIENT)
    for linked in services:
        for namespace in mesh.CLIENT_NAMESPACES:
            ports = {
                port["number"]
                for entry in entries
                if _visible_in(entry, namespace) and entry["spec"]["hosts"] == [linked["fqdn"]]
                for port in entry["spec"]["ports"]
            }
            assert ports == {linked["app_port"]}, namespace
        egress_ports = {
            port["number"]
            for entry in entries
            if _visible_in(entry, EGRESS_NS) and entry["spec"]["hosts"] == [linked["fqdn"]]
            for port in entry["spec"]["ports"]
        }
        assert egress_ports == {linked["link_port"]}


def test_sni_fqdn_and_server_certificate_san_are_one_name(link: Any) -> None:
    run, services = link
    client_secret = secret_data(run, CLIENT, EGRESS_NS, "mysql-link-client-tls")
    for linked in services:
        rule = one(
            objects(run, "DestinationRule", CLIENT), f"mysql-link-{linked['name']}-origination"
        )
        assert rule["spec"]["host"] == linked["fqdn"]
        assert rule["spec"]["exportTo"] == ["."]
        (setting,) = rule["spec"]["trafficPolicy"]["portLevelSettings"]
        assert setting["port"] == {"number": linked["link_port"]}
        tls = setting["tls"]
        assert tls["mode"] == "MUTUAL"
        assert tls["sni"] == linked["fqdn"]
        assert tls["subjectAltNames"] == [linked["fqdn"]]
        assert tls["credentialName"] == "mysql-link-client-tls"

        server_secret = secret_data(
            run, SERVER, INGRESS_NS, f"mysql-link-{linked['name']}-server-tls"
        )
        chain = certificates(server_secret["tls.crt"])
        dns_names, uris = sans(chain[0])
        assert dns_names == [tls["sni"]] and uris == []
        assert ExtendedKeyUsageOID.SERVER_AUTH in ekus(chain[0])
        # Fact 2: the client's ca.crt verifies the server's chain.
        assert chains_to(chain, certificates(client_secret["ca.crt"]))


def test_client_certificate_is_admitted_by_every_server_gateway(link: Any) -> None:
    run, services = link
    client_secret = secret_data(run, CLIENT, EGRESS_NS, "mysql-link-client-tls")
    chain = certificates(client_secret["tls.crt"])
    dns_names, uris = sans(chain[0])
    assert dns_names == [mesh.CLIENT_SAN] and uris == []
    assert ekus(chain[0]) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    for linked in services:
        gateway = one(objects(run, "Gateway", SERVER), f"mysql-link-{linked['name']}-ingress")
        (server,) = gateway["spec"]["servers"]
        assert mesh.CLIENT_SAN in server["tls"]["subjectAltNames"]
        server_secret = secret_data(run, SERVER, INGRESS_NS, server["tls"]["credentialName"])
        # Fact 2: the server's ca.crt verifies the client's chain.
        assert chains_to(chain, certificates(server_secret["ca.crt"]))
    assert "PRIVATE KEY" in client_secret["tls.key"]


# --- readiness, secrets, schema -----------------------------------------------------------


CRD_NAMES = {
    "Gateway": "gateways.networking.istio.io",
    "VirtualService": "virtualservices.networking.istio.io",
    "DestinationRule": "destinationrules.networking.istio.io",
    "ServiceEntry": "serviceentries.networking.istio.io",
    "PeerAuthentication": "peerauthentications.security.istio.io",
    "AuthorizationPolicy": "authorizationpolicies.security.istio.io",
}


def _gates(run: OfflineRun) -> dict[str, Registration]:
    gates = {r.inputs["cluster"]: r for r in run.registrations if r.type == mesh.GATE_TYPE}
    assert set(gates) == {CLIENT, SERVER}
    return gates


def test_every_istio_object_waits_for_its_clusters_gate(link: Any) -> None:
    run, _ = link
    gates = _gates(run)
    istio = mesh.istio_objects(run)
    assert istio
    for registration in istio:
        cluster = mesh.cluster_of(run, registration)
        assert run.depends_on(registration.urn, gates[cluster].urn), registration.name
        assert gates[cluster].urn in registration.dependencies
    kinds = {(mesh.cluster_of(run, r), r.inputs["kind"]) for r in istio}
    for cluster, gate in gates.items():
        expected = {CRD_NAMES[kind] for c, kind in kinds if c == cluster}
        assert expected <= set(gate.inputs["crds"])
        assert gate.inputs["wait"] is True
        assert "kubeconfig" in gate.secret_inputs


def test_private_keys_are_secret_everywhere(link: Any) -> None:
    run, _ = link
    for registration in run.registrations:
        plain_inputs = {
            k: v for k, v in registration.inputs.items() if k not in registration.secret_inputs
        }
        plain_outputs = {
            k: v for k, v in registration.outputs.items() if k not in registration.secret_outputs
        }
        assert "PRIVATE KEY" not in repr(plain_inputs), registration.name
        assert "PRIVATE KEY" not in repr(plain_outputs), registration.name
    assert "PRIVATE KEY" not in repr(run.outputs)
    assert "BEGIN CERTIFICATE" in run.outputs["ca_certificate_pem"]


def test_every_istio_object_validates_against_both_crd_sets(link: Any, istio_crds: Path) -> None:
    run, _ = link
    manifests = [mesh.manifest(r) for r in mesh.istio_objects(run)]
    assert {m["kind"] for m in manifests} == {
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "ServiceEntry",
        "PeerAuthentication",
        "AuthorizationPolicy",
    }
    for crd_set in CRD_SETS:
        for manifest in manifests:
            assert validate_manifest(manifest, crd_set) == [], (crd_set, manifest["metadata"])


def _stable_inputs(run: OfflineRun) -> Iterator[tuple[str, Any]]:
    for registration in run.registrations:
        if registration.type.startswith(("tls:", "pulumi-python:dynamic")):
            continue
        yield (
            registration.urn,
            {k: v for k, v in registration.inputs.items() if k not in registration.secret_inputs},
        )


def test_inputs_do_not_depend_on_clock_or_randomness() -> None:
    import datetime as dt

    from meshlink.offline.engine import run_program

    first = mesh.run_link(mesh.link_program(service_count=3))
    second = run_program(
        mesh.link_program(service_count=3),
        project="meshlink-test",
        stack="test",
        mocks=OfflineMocks(now=mesh.NOW + dt.timedelta(days=40), seed="another-seed"),
    )
    assert dict(_stable_inputs(first)) == dict(_stable_inputs(second))


@pytest.mark.parametrize("kubernetes_version", ["1.29.0", "1.33.0"])
def test_every_kubernetes_object_validates_against_the_kubernetes_schema(
    link: Any, kubernetes_version: str
) -> None:
    """Strict: an unknown or misspelt field is an error, as with
    ``kubectl apply --validate=strict``."""
    run, _ = link
    checked: set[str] = set()
    for registration in mesh.kubernetes_objects(run):
        if mesh.is_istio(registration):
            continue
        manifest = mesh.manifest(registration)
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
        checked.add(manifest["kind"])
    assert checked == {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "Secret",
        "NetworkPolicy",
    }
