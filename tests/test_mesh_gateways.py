"""The gateways on their own, and the shape of the component tree MeshLink builds."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from meshlink.mesh import EgressGateway, ExistingIngressGateway, IngressGateway
from meshlink.offline.engine import OfflineRun
from tests.support import mesh


def manifests(run: OfflineRun, kind: str) -> list[dict[str, Any]]:
    return [mesh.manifest(r) for r in mesh.kubernetes_objects(run) if r.inputs["kind"] == kind]


def test_standalone_egress_gateway_defaults_and_settings() -> None:
    def program() -> None:
        provider = k8s.Provider("client-cluster", kubeconfig="{}")
        gateway = EgressGateway(
            "team-egress",
            {
                "replicas": 3,
                "node_selector": {"cloud.google.com/gke-nodepool": "egress"},
                "tolerations": [
                    {
                        "key": "dedicated",
                        "operator": "Equal",
                        "value": "egress",
                        "effect": "NoSchedule",
                    }
                ],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
            },
            opts=pulumi.ResourceOptions(provider=provider),
        )
        pulumi.export("host", gateway.service_host)

    run = mesh.run_link(program)
    assert run.outputs["host"] == "team-egress.team-egress.svc.cluster.local"
    provider = run.named("pulumi:providers:kubernetes", "client-cluster")
    for registration in mesh.kubernetes_objects(run):
        assert registration.provider_urn == provider.urn, registration.name
        assert registration.inputs["metadata"].get("namespace", "team-egress") == "team-egress"
    (deployment,) = manifests(run, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3
    assert pod["nodeSelector"] == {"cloud.google.com/gke-nodepool": "egress"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert "sysctls" not in pod["securityContext"]
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app": "team-egress",
        "istio": "team-egress",
    }
    # The gateway's TLS is the Gateway objects' business: no PeerAuthentication (or any
    # other Istio object) comes with the gateway itself.
    assert mesh.istio_objects(run) == []


def test_standalone_ingress_gateway_in_an_existing_namespace() -> None:
    def program() -> None:
        provider = k8s.Provider("server-cluster", kubeconfig="{}")
        IngressGateway(
            "edge",
            {
                "namespace": "link-edge",
                "name": "edge-gateway",
                "labels": {"gateway": "edge"},
                "link_ports": [443, 13306],
                "source_ranges": ["203.0.113.0/28"],
                "create_namespace": False,
            },
            opts=pulumi.ResourceOptions(provider=provider),
        )

    run = mesh.run_link(program)
    assert manifests(run, "Namespace") == []
    assert mesh.istio_objects(run) == []
    (service,) = manifests(run, "Service")
    assert service["metadata"]["namespace"] == "link-edge"
    assert service["spec"]["selector"] == {"gateway": "edge"}
    assert [p["port"] for p in service["spec"]["ports"]] == [443, 13306]
    (deployment,) = manifests(run, "Deployment")
    assert deployment["metadata"]["name"] == "edge-gateway"
    # Lets the non-root proxy bind 443.
    assert deployment["spec"]["template"]["spec"]["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    ]


def test_existing_ingress_gateway_declares_only_the_patch() -> None:
    def program() -> None:
        provider = k8s.Provider("server-cluster", kubeconfig="{}")
        ExistingIngressGateway(
            "shared-gw",
            {
                "namespace": "istio-system",
                "service_name": "istio-ingressgateway",
                "labels": {"istio": "ingressgateway"},
                "link_ports": [13306],
            },
            opts=pulumi.ResourceOptions(provider=provider),
        )

    run = mesh.run_link(program)
    kinds = [r.type for r in run.registrations if r.custom and r.type.startswith("kubernetes:")]
    assert kinds == ["kubernetes:core/v1:ServicePatch"]
    (patch,) = run.of_type("kubernetes:core/v1:ServicePatch")
    assert patch.inputs["metadata"]["annotations"] == {
        "pulumi.com/patchFieldManager": "meshlink-shared-gw"
    }


def test_component_tree_and_providers() -> None:
    run = mesh.run_link(mesh.link_program(service_count=2))
    (link,) = run.of_type("meshlink:index:MeshLink")
    components = [r for r in run.registrations if not r.custom]
    assert {r.type for r in components} >= {
        "meshlink:index:MeshLink",
        "meshlink:index:LinkClient",
        "meshlink:index:LinkServer",
        "meshlink:index:EgressGateway",
        "meshlink:index:IngressGateway",
        "meshlink:index:CertificateAuthority",
        "meshlink:index:LeafCertificate",
        "meshlink:index:GatewayCredentialSecret",
    }
    for registration in run.registrations:
        if registration.type in ("pulumi:providers:kubernetes", "meshlink:index:MeshLink"):
            continue
        assert link.urn in run.ancestors(registration.urn), registration.name
    for component in components:
        assert component.type.startswith("meshlink:index:"), component.type
    sides = {
        r.urn: r.type.rsplit(":", 1)[1]
        for r in components
        if r.type in ("meshlink:index:LinkClient", "meshlink:index:LinkServer")
    }
    expected_cluster = {"LinkClient": "client-cluster", "LinkServer": "server-cluster"}
    for registration in mesh.kubernetes_objects(run):
        (side,) = [sides[a] for a in run.ancestors(registration.urn) if a in sides]
        assert mesh.cluster_of(run, registration) == expected_cluster[side], registration.name
