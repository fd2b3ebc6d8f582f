"""Authorization at both ends of the link, not only authentication.

- Client side: the egress gateway admits only the link's client namespaces, by their
  mesh identity, on 15443.
- Server side: each target workload admits only the ingress gateway's mesh identity on
  the target port, and only mesh mTLS (STRICT), unless the service opts out.

Each test reads the objects as the API server would get them, so removing a control (or
widening it) turns a test red.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi_kubernetes as k8s

from meshlink.mesh import MeshLink
from meshlink.offline.engine import OfflineRun
from tests.support import mesh
from tests.support.istio_schema import CRD_SETS, validate_manifest

CLIENT = "client-cluster"
SERVER = "server-cluster"
EGRESS_NS = "mysql-link-egress"
INGRESS_NS = "mysql-link-ingress"


def _run(**settings: Any) -> OfflineRun:
    def program() -> None:
        client = k8s.Provider(CLIENT, kubeconfig="{}")
        server = k8s.Provider(SERVER, kubeconfig="{}")
        args: Any = mesh.link_args(client, server, service_count=3)
        for path, value in settings.items():
            args = mesh.with_setting(args, path, value)
        MeshLink("mysql-link", args)

    return mesh.run_link(program)


def objects(run: OfflineRun, kind: str, cluster: str) -> list[dict[str, Any]]:
    return [m for c, m in mesh.by_cluster(run) if c == cluster and m["kind"] == kind]


def _gateway_pods(run: OfflineRun, cluster: str, namespace: str) -> tuple[dict[str, str], str]:
    """The gateway's pod labels and service account, from its Deployment."""
    (deployment,) = [
        m for m in objects(run, "Deployment", cluster) if m["metadata"]["namespace"] == namespace
    ]
    template = deployment["spec"]["template"]
    return template["metadata"]["labels"], template["spec"]["serviceAccountName"]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_egress_gateway_admits_only_the_client_namespaces_on_15443(istio_crds: Path) -> None:
    run = _run()
    labels, _ = _gateway_pods(run, CLIENT, EGRESS_NS)
    policies = objects(run, "AuthorizationPolicy", CLIENT)
    selecting = [p for p in policies if _selects(p["spec"]["selector"]["matchLabels"], labels)]
    assert len(selecting) == 1, policies
    (policy,) = selecting
    assert policy["metadata"]["namespace"] == EGRESS_NS
    assert policy["metadata"]["name"] == "mysql-link-egress-clients"
    assert policy["spec"]["action"] == "ALLOW"
    (rule,) = policy["spec"]["rules"]
    (source,) = rule["from"]
    assert source == {"source": {"namespaces": sorted(mesh.CLIENT_NAMESPACES)}}
    (to,) = rule["to"]
    assert to == {"operation": {"ports": ["15443"]}}
    assert "when" not in rule
    for crd_set in CRD_SETS:
        assert validate_manifest(policy, crd_set) == []


def test_egress_gateway_policy_follows_the_namespaces() -> None:
    run = _run(**{"client.namespaces": ["payments"]})
    (policy,) = objects(run, "AuthorizationPolicy", CLIENT)
    (rule,) = policy["spec"]["rules"]
    assert rule["from"][0]["source"]["namespaces"] == ["payments"]


def test_each_target_admits_only_the_ingress_gateway_identity(istio_crds: Path) -> None:
    run = _run()
    _, account = _gateway_pods(run, SERVER, INGRESS_NS)
    principal = f"cluster.local/ns/{INGRESS_NS}/sa/{account}"
    policies = objects(run, "AuthorizationPolicy", SERVER)
    peers = objects(run, "PeerAuthentication", SERVER)
    for service in mesh.services(3):
        target_namespace = service["target_host"].split(".")[1]
        selector = service["target_labels"]
        (policy,) = [p for p in policies if p["spec"]["selector"]["matchLabels"] == selector]
        assert policy["metadata"]["namespace"] == target_namespace
        assert policy["spec"]["action"] == "ALLOW"
        (rule,) = policy["spec"]["rules"]
        assert rule["from"] == [{"source": {"principals": [principal]}}]
        assert rule["to"] == [{"operation": {"ports": [str(service["target_port"])]}}]
        (peer,) = [p for p in peers if p["spec"]["selector"]["matchLabels"] == selector]
        assert peer["metadata"]["namespace"] == target_namespace
        assert peer["spec"] == {"selector": {"matchLabels": selector}, "mtls": {"mode": "STRICT"}}
        for crd_set in CRD_SETS:
            assert validate_manifest(policy, crd_set) == []
            assert validate_manifest(peer, crd_set) == []


def test_target_policies_use_the_configured_trust_domains_and_container_port() -> None:
    run = _run(
        **{
            "server.trust_domains": ["meshlink-dev-server.svc.id.goog", "cluster.local"],
            "services[0].target_container_port": 33060,
        }
    )
    (policy,) = [
        p
        for p in objects(run, "AuthorizationPolicy", SERVER)
        if p["spec"]["selector"]["matchLabels"] == {"app": "mysql"}
    ]
    (rule,) = policy["spec"]["rules"]
    assert rule["from"][0]["source"]["principals"] == [
        f"meshlink-dev-server.svc.id.goog/ns/{INGRESS_NS}/sa/{INGRESS_NS}",
        f"cluster.local/ns/{INGRESS_NS}/sa/{INGRESS_NS}",
    ]
    assert rule["to"] == [{"operation": {"ports": ["33060"]}}]


def test_a_target_meshlink_does_not_own_can_opt_out() -> None:
    run = _run(
        **{
            "services[1].target_labels": mesh.DELETE,
            "services[1].target_policies": False,
            "services[2].target_namespace": "cache-pods",
        }
    )
    policies = objects(run, "AuthorizationPolicy", SERVER)
    peers = objects(run, "PeerAuthentication", SERVER)
    selectors = [p["spec"]["selector"]["matchLabels"] for p in policies]
    assert selectors == [{"app": "mysql"}, {"app": "redis"}]
    assert [p["spec"]["selector"]["matchLabels"] for p in peers] == selectors
    redis = [
        p for p in [*policies, *peers] if p["spec"]["selector"]["matchLabels"]["app"] == "redis"
    ]
    assert {p["metadata"]["namespace"] for p in redis} == {"cache-pods"}


def test_no_peer_authentication_on_gateway_pods() -> None:
    """A gateway's listeners take their TLS from the Gateway object; PeerAuthentication
    configures sidecar inbound listeners only, so one on gateway pods protects nothing."""
    run = _run()
    for cluster, namespace in ((CLIENT, EGRESS_NS), (SERVER, INGRESS_NS)):
        labels, _ = _gateway_pods(run, cluster, namespace)
        for peer in objects(run, "PeerAuthentication", cluster):
            selector = peer["spec"].get("selector", {}).get("matchLabels", {})
            assert peer["metadata"]["namespace"] != namespace, peer["metadata"]
            assert not _selects(selector, labels), peer["metadata"]


def test_link_objects_wait_for_the_security_crds() -> None:
    run = _run()
    gates = {r.inputs["cluster"]: r for r in run.registrations if r.type == mesh.GATE_TYPE}
    assert "authorizationpolicies.security.istio.io" in gates[CLIENT].inputs["crds"]
    assert "peerauthentications.security.istio.io" not in gates[CLIENT].inputs["crds"]
    assert {
        "authorizationpolicies.security.istio.io",
        "peerauthentications.security.istio.io",
    } <= set(gates[SERVER].inputs["crds"])
