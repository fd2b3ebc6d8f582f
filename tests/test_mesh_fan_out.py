"""Fan-out: several links on one client cluster share one egress gateway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
import pytest

from meshlink.mesh import EgressGateway, MeshLink
from meshlink.offline.engine import OfflineRun
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh

MYSQL, POSTGRES = mesh.services(2)
GATEWAY_HOST = "egress.shared-egress.svc.cluster.local"


def fan_out_program(
    second_service: dict[str, Any] = POSTGRES, **second_client: Any
) -> Callable[[], None]:
    """Two links from the same client cluster through one shared egress gateway:
    ``orders-db`` (MySQL, the usual client namespaces) and ``billing-db``
    (``second_service``, client namespace ``payments``)."""

    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        gateway = EgressGateway(
            "egress",
            {"namespace": "shared-egress"},
            opts=pulumi.ResourceOptions(provider=client),
        )
        for name, service, extra in (
            ("orders-db", MYSQL, {}),
            ("billing-db", second_service, {"namespaces": ["payments"], **second_client}),
        ):
            args = mesh.link_args(client, server, services=[service])
            client_args = cast(dict[str, Any], args["client"])
            client_args.update({"shared_egress_gateway": gateway, **extra})
            MeshLink(name, args)

    return program


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return mesh.run_link(fan_out_program())


def _client_objects(run: OfflineRun, kind: str) -> list[dict[str, Any]]:
    client = run.named(mesh.K8S_PROVIDER_TYPE, "client-cluster")
    return [
        mesh.manifest(r)
        for r in mesh.kubernetes_objects(run)
        if r.inputs["kind"] == kind and r.provider_urn == client.urn
    ]


def _names(manifests: list[dict[str, Any]]) -> list[str]:
    return sorted(m["metadata"]["name"] for m in manifests)


def test_the_shared_gateway_is_declared_once(run: OfflineRun) -> None:
    for kind in ("Deployment", "Service", "ServiceAccount"):
        assert _names(_client_objects(run, kind)) == ["egress"], kind
    for kind in ("Role", "RoleBinding"):
        assert _names(_client_objects(run, kind)) == ["egress-secret-reader"], kind
    assert _names(_client_objects(run, "Namespace")) == ["shared-egress"]


def test_each_link_declares_its_own_routes_on_the_shared_gateway(run: OfflineRun) -> None:
    gateways = _client_objects(run, "Gateway")
    assert _names(gateways) == ["billing-db-postgres-egress", "orders-db-mysql-egress"]
    for gateway in gateways:
        assert gateway["metadata"]["namespace"] == "shared-egress"
        assert gateway["spec"]["selector"] == {"app": "egress", "istio": "egress"}
    routes = {m["metadata"]["name"]: m for m in _client_objects(run, "VirtualService")}
    assert sorted(routes) == ["billing-db-postgres", "orders-db-mysql"]
    to_gateway = routes["billing-db-postgres"]["spec"]["tcp"][0]["route"][0]["destination"]
    assert to_gateway == {"host": GATEWAY_HOST, "subset": "postgres", "port": {"number": 15443}}
    rules = {m["metadata"]["name"]: m["spec"] for m in _client_objects(run, "DestinationRule")}
    assert sorted(rules) == [
        "billing-db-egress-subsets",
        "billing-db-postgres-origination",
        "orders-db-egress-subsets",
        "orders-db-mysql-origination",
    ]
    assert [s["name"] for s in rules["billing-db-egress-subsets"]["subsets"]] == ["postgres"]
    assert rules["billing-db-egress-subsets"]["host"] == GATEWAY_HOST
    credential = rules["billing-db-postgres-origination"]["trafficPolicy"]["portLevelSettings"]
    assert credential[0]["tls"]["credentialName"] == "billing-db-client-tls"
    secrets = _client_objects(run, "Secret")
    assert sorted((s["metadata"]["namespace"], s["metadata"]["name"]) for s in secrets) == [
        ("shared-egress", "billing-db-client-tls"),
        ("shared-egress", "orders-db-client-tls"),
    ]


def test_each_link_admits_its_own_client_namespaces(run: OfflineRun) -> None:
    policies = _client_objects(run, "AuthorizationPolicy")
    assert _names(policies) == ["billing-db-egress-clients", "orders-db-egress-clients"]
    for policy in policies:
        assert policy["spec"]["selector"] == {"matchLabels": {"app": "egress", "istio": "egress"}}


def test_every_object_passes_both_istio_crd_sets_and_kubernetes(
    run: OfflineRun, istio_crds: Path
) -> None:
    mesh.assert_every_object_valid(run)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"app_port": MYSQL["app_port"]}, "services[0].app_port: port 3306"),
        ({"link_port": MYSQL["link_port"]}, "services[0].link_port: port 13306"),
        ({"app_port": MYSQL["link_port"]}, "services[0].app_port: port 13306"),
        ({"fqdn": MYSQL["fqdn"]}, "services[0].fqdn: fqdn mysql.link.example.com"),
        ({"name": MYSQL["name"]}, "services[0].name: service name mysql"),
    ],
)
def test_a_second_link_reusing_what_the_first_holds_is_refused(
    change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(fan_out_program({**POSTGRES, **change}))
    message = str(error.value)
    assert "MeshLink 'billing-db'" in message
    assert expected in message
    assert "already used by link 'orders-db' on the shared egress gateway 'egress'" in message


def test_a_second_link_sharing_a_client_namespace_is_refused() -> None:
    """Each link exports its rule for the gateway host to its client namespaces; a
    namespace of both links would see two rules for one host."""
    shared = mesh.CLIENT_NAMESPACES[0]
    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(fan_out_program(namespaces=["payments", shared]))
    message = str(error.value)
    assert "MeshLink 'billing-db'" in message
    assert f"client.namespaces[1]: client namespace {shared} is already used by link " in message
    assert "'orders-db' on the shared egress gateway 'egress'" in message


def test_a_link_cannot_have_a_gateway_of_its_own_and_a_shared_one() -> None:
    program = fan_out_program(egress_gateway={"replicas": 3})
    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(program)
    assert "give egress_gateway" in str(error.value)
    assert "or shared_egress_gateway" in str(error.value)


def test_the_shared_gateway_must_be_an_egress_gateway_component() -> None:
    program = fan_out_program(shared_egress_gateway={"namespace": "shared-egress"})
    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(program)
    assert "shared_egress_gateway" in str(error.value)
    assert "expected an EgressGateway component, got dict" in str(error.value)
