"""plan_link_client and plan_link_server: what each half of a link declares, decided from
its validated settings with no Pulumi engine."""

from __future__ import annotations

from typing import Any

import pytest

from meshlink.istio import TLSProtocolVersion
from meshlink.mesh.client_settings import LinkClientSettings
from meshlink.mesh.gateway_settings import (
    StandaloneExistingIngressGatewaySettings,
    StandaloneIngressGatewaySettings,
)
from meshlink.mesh.half_plans import (
    LinkClientPlan,
    LinkServerPlan,
    egress_namespace_problems,
    plan_link_client,
    plan_link_server,
)
from meshlink.mesh.naming import LinkNames
from meshlink.mesh.server_settings import LinkServerSettings
from tests.support.mesh import services

PREFIX = "orders-link"
CLIENT_SAN = "client-a.link.example.com"
CERTIFICATE_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
CREDENTIAL = {"full_chain_pem": CERTIFICATE_PEM, "private_key_pem": KEY_PEM}


class StandInIssuer:
    """Has what ``LinkIssuer`` asks for; a plan only passes it on to the leaves."""

    issuer_cert_pem = CERTIFICATE_PEM
    issuer_private_key_pem = KEY_PEM
    chain_pem = ""
    trust_bundle_pem = CERTIFICATE_PEM
    root_cert_pem = CERTIFICATE_PEM
    not_ready_reason = None


ISSUER = StandInIssuer()


def client_plan(service_count: int = 1, **overrides: Any) -> LinkClientPlan:
    settings: dict[str, Any] = {
        "services": services(service_count),
        "namespaces": ["orders", "billing"],
        "issuer": ISSUER,
        "client_identity": {"dns_name": CLIENT_SAN},
        **overrides,
    }
    return plan_link_client(LinkClientSettings(**settings), LinkNames(PREFIX))


def server_plan(service_count: int = 1, **overrides: Any) -> LinkServerPlan:
    settings: dict[str, Any] = {
        "services": services(service_count),
        "ingress_gateway": {"source_ranges": ["203.0.113.10/32"]},
        "issuer": ISSUER,
        "allowed_client_identities": [CLIENT_SAN],
        **overrides,
    }
    return plan_link_server(LinkServerSettings(**settings), LinkNames(PREFIX))


# --- client side ---------------------------------------------------------------------


def test_the_egress_gateway_defaults_to_the_prefix_for_namespace_and_name() -> None:
    plan = client_plan()
    assert plan.egress_namespace == "orders-link-egress"
    assert plan.egress_gateway is not None
    assert (plan.egress_gateway.namespace, plan.egress_gateway.name) == (
        "orders-link-egress",
        "orders-link-egress",
    )


def test_a_given_egress_namespace_is_where_every_istio_object_goes() -> None:
    plan = client_plan(egress_gateway={"namespace": "edge", "name": "out"})
    assert plan.egress_namespace == "edge"
    assert plan.egress_gateway is not None
    assert plan.egress_gateway.name == "out"


def test_egress_objects_are_exported_to_their_own_namespace_and_the_client_namespaces() -> None:
    plan = client_plan(namespaces=["orders", "billing", "orders-ui"])
    assert plan.export_to == (".", "billing", "orders", "orders-ui")
    assert plan.app_export_to == ("billing", "orders", "orders-ui")
    assert plan.client_namespaces == ("orders", "billing", "orders-ui")


def test_each_service_gets_its_own_names_under_the_prefix() -> None:
    plan = client_plan(service_count=2)
    assert [(s.service.name, s.egress_gateway, s.origination) for s in plan.services] == [
        ("mysql", "orders-link-mysql-egress", "orders-link-mysql-origination"),
        ("postgres", "orders-link-postgres-egress", "orders-link-postgres-origination"),
    ]
    assert plan.services[1].link_service_entry == "orders-link-postgres-link"
    assert plan.credential_name == "orders-link-client-tls"


def test_a_dns_identity_becomes_the_client_certificates_dns_name() -> None:
    plan = client_plan()
    assert plan.leaf == {"issuer": ISSUER, "role": "client", "dns_names": [CLIENT_SAN]}
    assert plan.client_san == CLIENT_SAN


def test_a_uri_identity_becomes_the_client_certificates_uri() -> None:
    uri = "spiffe://link.example.com/cluster/client-a"
    plan = client_plan(client_identity={"uri": uri})
    assert plan.leaf == {"issuer": ISSUER, "role": "client", "uris": [uri]}
    assert plan.client_san == uri


def test_a_credential_issued_elsewhere_means_no_certificate_is_issued_here() -> None:
    plan = client_plan(
        issuer=None,
        client_identity=None,
        credential=CREDENTIAL,
        server_trust_bundle_pem=CERTIFICATE_PEM,
    )
    assert plan.leaf is None
    assert plan.client_san is None
    assert plan.credential_name == "orders-link-client-tls"


@pytest.mark.parametrize(("enabled", "expected"), [(False, ()), (True, ("orders", "billing"))])
def test_the_network_policy_goes_into_every_client_namespace_only_when_enabled(
    enabled: bool, expected: tuple[str, ...]
) -> None:
    plan = client_plan(network_policy={"enabled": enabled})
    assert plan.network_policy_namespaces == expected
    assert plan.network_policy_name == "orders-link-client-egress"


def test_a_client_namespace_that_is_the_egress_namespace_is_named_as_a_problem() -> None:
    plan = client_plan(egress_gateway={"namespace": "orders"})
    problems = egress_namespace_problems(
        plan.egress_namespace, ["billing", "orders"], setting="client.namespaces"
    )
    assert len(problems) == 1
    assert problems[0].startswith("client.namespaces: 'orders' is the egress gateway's namespace")
    assert egress_namespace_problems(plan.egress_namespace, ["billing"], setting="x") == []
    assert egress_namespace_problems(None, ["orders"], setting="x") == []


# --- server side ---------------------------------------------------------------------


def test_a_deployed_ingress_gateway_exposes_every_link_port_through_its_service() -> None:
    plan = server_plan(service_count=3)
    gateway = plan.ingress_gateway
    assert isinstance(gateway, StandaloneIngressGatewaySettings)
    assert plan.deploys_gateway
    assert (gateway.namespace, gateway.name) == ("orders-link-ingress", "orders-link-ingress")
    assert gateway.link_ports == [13306, 15432, 16379]
    assert gateway.source_ranges == ["203.0.113.10/32"]
    assert plan.ingress_namespace == "orders-link-ingress"
    assert plan.ingress_service_kind == "Service"


EXISTING = {
    "namespace": "istio-ingress",
    "service_name": "istio-ingressgateway",
    "labels": {"istio": "ingressgateway"},
    "service_account": "istio-ingressgateway",
}


def test_an_existing_ingress_gateway_is_patched_under_a_field_manager_of_the_prefix() -> None:
    plan = server_plan(ingress_gateway=None, existing_ingress_gateway=EXISTING)
    gateway = plan.ingress_gateway
    assert isinstance(gateway, StandaloneExistingIngressGatewaySettings)
    assert not plan.deploys_gateway
    assert gateway.field_manager == "meshlink-orders-link"
    assert gateway.link_ports == [13306]
    assert plan.ingress_namespace == "istio-ingress"
    assert plan.ingress_service_kind == "ServicePatch"


def test_a_given_field_manager_is_kept() -> None:
    existing = {**EXISTING, "field_manager": "platform-team"}
    plan = server_plan(ingress_gateway=None, existing_ingress_gateway=existing)
    assert isinstance(plan.ingress_gateway, StandaloneExistingIngressGatewaySettings)
    assert plan.ingress_gateway.field_manager == "platform-team"


def test_with_an_issuer_each_service_gets_a_certificate_for_its_own_fqdn() -> None:
    plan = server_plan(service_count=2)
    assert [s.leaf for s in plan.services] == [
        {"issuer": ISSUER, "role": "server", "dns_names": ["mysql.link.example.com"]},
        {"issuer": ISSUER, "role": "server", "dns_names": ["postgres.link.example.com"]},
    ]
    assert [s.credential_name for s in plan.services] == [
        "orders-link-mysql-server-tls",
        "orders-link-postgres-server-tls",
    ]


def test_with_a_credential_no_certificate_is_issued_here() -> None:
    plan = server_plan(
        service_count=2,
        issuer=None,
        credential=CREDENTIAL,
        client_trust_bundle_pem=CERTIFICATE_PEM,
    )
    assert [s.leaf for s in plan.services] == [None, None]


def test_target_policies_go_into_the_targets_namespace() -> None:
    plan = server_plan(service_count=3)
    policies = [s.target_policies for s in plan.services]
    assert [(p.namespace, p.authorization, p.peer_authentication) for p in policies if p] == [
        ("db", "orders-link-mysql-authz", "orders-link-mysql-mtls"),
        ("db", "orders-link-postgres-authz", "orders-link-postgres-mtls"),
        ("cache", "orders-link-redis-authz", "orders-link-redis-mtls"),
    ]


def test_a_service_with_target_policies_off_gets_none() -> None:
    linked = services(2)
    del linked[1]["target_labels"]
    linked[1]["target_policies"] = False
    plan = server_plan(services=linked)
    assert plan.services[0].target_policies is not None
    assert plan.services[1].target_policies is None
    assert plan.services[1].gateway == "orders-link-postgres-ingress"


@pytest.mark.parametrize("version", ["TLSV1_2", "TLSV1_3"])
def test_the_minimum_tls_version_is_the_one_given(version: str) -> None:
    plan = server_plan(min_tls_version=version)
    assert plan.min_tls_version is TLSProtocolVersion(version)
