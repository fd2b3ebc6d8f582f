"""Bad input: one clear message naming the setting, and nothing registered.

Every case runs a whole program (two providers and a MeshLink) on the mock engine; the
only registrations allowed are the two providers the program declares before the link.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from meshlink.mesh import (
    EgressGateway,
    ExistingIngressGateway,
    IngressGateway,
    LinkClient,
    LinkServer,
    MeshLink,
)
from meshlink.mesh.common import untyped
from meshlink.offline.engine import OfflineMocks, run_program
from meshlink.pki import CertificateAuthority
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh

PROVIDER = "pulumi:providers:kubernetes"
SECRET_KUBECONFIG = "users: [{user: {token: tok-3f9a-must-not-leak}}]"


class CountingMocks(OfflineMocks):
    def __init__(self) -> None:
        super().__init__(now=mesh.NOW, seed="validation")
        self.types: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        self.types.append(args.typ)
        return super().new_resource(args)


def run_bad(build: Any) -> tuple[MeshlinkValidationError, list[str]]:
    """Run a program that must fail validation; the error and what got registered."""
    mocks = CountingMocks()
    with pytest.raises(MeshlinkValidationError) as caught:
        run_program(build, project="meshlink-test", stack="test", mocks=mocks)
    return caught.value, [t for t in mocks.types if t != PROVIDER]


def link_with(**settings: Any) -> Any:
    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        args: Any = mesh.link_args(client, server, service_count=3)
        for path, value in settings.items():
            args = mesh.with_setting(args, path, value)
        MeshLink("mysql-link", args)

    return program


# (setting path -> value, text the message must contain)
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "cbc cipher suite": (
        {"cipher_suites": ["ECDHE-RSA-AES128-SHA"]},
        ["cipher_suites: 'ECDHE-RSA-AES128-SHA' is not an ECDHE suite with AES-GCM"],
    ),
    "no cipher suite": ({"cipher_suites": []}, ["cipher_suites: give at least one"]),
    "network tier of an internal load balancer": (
        {
            "server.ingress_gateway.internal": True,
            "server.ingress_gateway.network_tier": "STANDARD",
        },
        ["server.ingress_gateway: network_tier applies to external load balancers only"],
    ),
    "network tier by annotation": (
        {
            "server.ingress_gateway.service_annotations": {
                "cloud.google.com/network-tier": "Standard"
            }
        },
        ["cloud.google.com/network-tier is set by meshlink from network_tier"],
    ),
    "target without pod labels": (
        {"services[1].target_labels": mesh.DELETE},
        ["services[1].target_labels: required", "services[1].target_policies: false"],
    ),
    "target outside the cluster without a namespace": (
        {"services[0].target_host": "mysql.example.net"},
        ["services[0].target_namespace: 'mysql.example.net' is not a Kubernetes Service name"],
    ),
    "target labels with policies off": (
        {"services[0].target_policies": False},
        ["services[0]: target_labels only select the target for its policies"],
    ),
    "empty target labels": ({"services[0].target_labels": {}}, ["services[0].target_labels"]),
    "bad trust domain": ({"server.trust_domains": ["Not A Domain"]}, ["server.trust_domains"]),
    "client namespace is the egress gateway's": (
        {"client.namespaces": ["orders", "mysql-link-egress"]},
        ["client.namespaces: 'mysql-link-egress' is the egress gateway's namespace"],
    ),
    "existing gateway without its service account": (
        {
            "server.ingress_gateway": mesh.DELETE,
            "server.existing_ingress_gateway": {
                "namespace": "istio-ingress",
                "service_name": "istio-ingressgateway",
                "labels": {"istio": "ingressgateway"},
            },
        },
        ["server.existing_ingress_gateway.service_account: required"],
    ),
    "duplicate service name": (
        {"services[1].name": "mysql"},
        ["services[1].name: mysql is already used by services[0]"],
    ),
    "bad fqdn": ({"services[0].fqdn": "mysql"}, ["services[0].fqdn", "fully qualified"]),
    "wildcard fqdn": ({"services[2].fqdn": "*.link.example.com"}, ["services[2].fqdn"]),
    "duplicate fqdn": (
        {"services[2].fqdn": "mysql.link.example.com"},
        ["services[2].fqdn: mysql.link.example.com is already used by services[0]"],
    ),
    "port out of range": ({"services[0].app_port": 70000}, ["services[0].app_port"]),
    "port zero": ({"services[1].target_port": 0}, ["services[1].target_port"]),
    "duplicate link port": (
        {"services[1].link_port": 13306},
        ["services[1].link_port: 13306 is already used by services[0]"],
    ),
    "link port is the egress port": (
        {"services[0].link_port": 15443},
        ["services[0].link_port: 15443 is reserved by Istio"],
    ),
    "link port is the status port": (
        {"services[2].link_port": 15021},
        ["services[2].link_port: 15021 is reserved by Istio", "15000-15099 and 15443"],
    ),
    "app port reserved": ({"services[0].app_port": 15001}, ["services[0].app_port: 15001"]),
    "duplicate app port": (
        {"services[2].app_port": 3306},
        ["services[2].app_port: 3306 is already used by services[0]"],
    ),
    "app port is another link port": (
        {"services[1].app_port": 13306},
        ["services[1].app_port: 13306 is the link_port of services[0]"],
    ),
    "app port equals own link port": (
        {"services[0].link_port": 3306},
        ["services[0]", "app_port and link_port are both 3306"],
    ),
    "target host not qualified": (
        {"services[0].target_host": "mysql"},
        ["services[0].target_host"],
    ),
    "no services": ({"services": []}, ["services"]),
    "unknown service setting": ({"services[0].port": 1}, ["services[0].port"]),
    "open to the internet": (
        {"server.ingress_gateway.source_ranges": ["203.0.113.10/32", "0.0.0.0/0"]},
        ["server.ingress_gateway", "0.0.0.0/0 admits every address", "allow_any_source"],
    ),
    "open to the ipv6 internet": (
        {"server.ingress_gateway.source_ranges": ["::/0"]},
        ["server.ingress_gateway", "::/0 admits every address"],
    ),
    "no source ranges": (
        {"server.ingress_gateway.source_ranges": []},
        ["server.ingress_gateway.source_ranges"],
    ),
    "source range not a cidr": (
        {"server.ingress_gateway.source_ranges": ["203.0.113.300/32"]},
        ["server.ingress_gateway.source_ranges[0]", "is not a CIDR block"],
    ),
    "source range with host bits": (
        {"server.ingress_gateway.source_ranges": ["203.0.113.7/24"]},
        ["server.ingress_gateway.source_ranges[0]"],
    ),
    "bad static ip": (
        {"server.ingress_gateway.static_ip": "not-an-ip"},
        ["server.ingress_gateway.static_ip", "is not an IP address"],
    ),
    "deploy and reuse": (
        {
            "server.existing_ingress_gateway": {
                "namespace": "istio-ingress",
                "service_name": "gw",
                "labels": {"istio": "ingressgateway"},
            }
        },
        ["server: give exactly one of ingress_gateway"],
    ),
    "neither deploy nor reuse": (
        {"server.ingress_gateway": mesh.DELETE},
        ["server: give exactly one of ingress_gateway"],
    ),
    "reuse without labels": (
        {
            "server.ingress_gateway": mesh.DELETE,
            "server.existing_ingress_gateway": {"namespace": "istio-ingress", "service_name": "gw"},
        },
        ["server.existing_ingress_gateway.labels"],
    ),
    "one replica": ({"client.egress_gateway": {"replicas": 1}}, ["client.egress_gateway.replicas"]),
    "empty selector": ({"client.egress_gateway": {"labels": {}}}, ["client.egress_gateway.labels"]),
    "bad label key": (
        {"server.ingress_gateway.labels": {"bad key": "x"}},
        ["server.ingress_gateway.labels"],
    ),
    "bad gateway namespace": (
        {"client.egress_gateway": {"namespace": "Egress_NS"}},
        ["client.egress_gateway.namespace"],
    ),
    "unknown gateway setting": (
        {"client.egress_gateway": {"replica": 3}},
        ["client.egress_gateway.replica"],
    ),
    "no client namespaces": ({"client.namespaces": []}, ["client.namespaces"]),
    "bad client namespace": ({"client.namespaces": ["Orders"]}, ["client.namespaces[0]"]),
    "client provider is not a provider": (
        {"client.provider": "client-cluster"},
        ["client.provider", "expected a kubernetes.Provider"],
    ),
    "missing server": ({"server": mesh.DELETE}, ["server"]),
    "bad network policy cidr": (
        {"client.network_policy": {"dns_cidrs": ["169.254.20.0/33"]}},
        ["client.network_policy.dns_cidrs[0]"],
    ),
    "network policy peer without target": (
        {"client.network_policy": {"extra_egress": [{"ports": [443]}]}},
        ["client.network_policy.extra_egress[0]", "give cidr, namespace or pod_labels"],
    ),
    "unknown control plane": (
        {"client.network_policy": {"control_plane": {"kind": "remote"}}},
        ["client.network_policy.control_plane.kind"],
    ),
    "two client identities": (
        {"client_identity": {"dns_name": "a.example.com", "uri": "spiffe://x/y"}},
        ["client_identity", "exactly one of dns_name or uri"],
    ),
    "client identity not a uri": (
        {"client_identity": {"uri": "client-a"}},
        ["client_identity.uri", "not an absolute URI"],
    ),
    "bad additional identity": (
        {"additional_client_identities": ["not a name"]},
        ["additional_client_identities"],
    ),
    "ca arguments without subject": (
        {"link_ca": {"key": {"algorithm": "RSA"}}},
        ["link_ca.subject"],
    ),
    "ca of the wrong type": (
        {"link_ca": "my-ca"},
        ["link_ca: expected a link CA", "got str"],
    ),
    "tls 1.1": ({"min_tls_version": "TLSV1_1"}, ["min_tls_version"]),
    "unknown api version": ({"istio_api_version": "v2"}, ["istio_api_version"]),
    "unknown top-level setting": ({"link_port": 13306}, ["link_port"]),
    "prefix makes gateway names too long": (
        {"object_prefix": "a-very-long-object-prefix-for-a-link-name-x"},
        ["services[1].name", "longer than 63 characters", "-postgres-origination"],
    ),
    "prefix reserved by istio": (
        {"object_prefix": "istio-link"},
        ["object_prefix", "starts with 'istio'"],
    ),
    "readiness timeout": (
        {"client.readiness": {"kubeconfig": SECRET_KUBECONFIG, "timeout_seconds": 0}},
        ["client.readiness.timeout_seconds"],
    ),
    "readiness unknown setting": (
        {"server.readiness": {"kubeconfig": SECRET_KUBECONFIG, "kube_config": "x"}},
        ["server.readiness.kube_config"],
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_refused_before_anything_is_registered(case: str) -> None:
    settings, expected = CASES[case]
    error, registered = run_bad(link_with(**settings))
    assert registered == []
    message = str(error)
    assert message.startswith("MeshLink 'mysql-link': invalid settings:")
    for text in expected:
        assert text in message, message
    assert "tok-3f9a-must-not-leak" not in message


def test_all_problems_are_reported_together() -> None:
    error, registered = run_bad(
        link_with(
            **{
                "services[1].link_port": 13306,
                "client.egress_gateway": {"replicas": 1},
                "server.ingress_gateway.source_ranges": ["0.0.0.0/0"],
            }
        )
    )
    assert registered == []
    assert len(error.problems) == 3
    assert [p.split(":")[0] for p in error.problems] == [
        "client.egress_gateway.replicas",
        "server.ingress_gateway",
        "services[1].link_port",
    ]


def test_component_name_must_make_a_valid_prefix() -> None:
    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        MeshLink("MySQL_Link", mesh.link_args(client, server))

    error, registered = run_bad(program)
    assert registered == []
    assert "object_prefix: derived from the component name" in str(error)


def _issuer_program(build: Any) -> Any:
    def program() -> None:
        ca = CertificateAuthority("ca", {"subject": {"common_name": "CA"}})
        build(ca)

    return program


STANDALONE: dict[str, tuple[Any, list[str]]] = {
    "egress gateway with one replica": (
        lambda ca: EgressGateway("egress", {"replicas": 1}),
        ["EgressGateway 'egress'", "replicas"],
    ),
    "egress gateway named badly": (
        lambda ca: EgressGateway("Egress"),
        ["namespace: derived from the component name"],
    ),
    "ingress gateway on a reserved port": (
        lambda ca: IngressGateway(
            "ingress", {"link_ports": [13306, 15090], "source_ranges": ["203.0.113.1/32"]}
        ),
        ["link_ports[1]: port 15090 is reserved by Istio"],
    ),
    "ingress gateway without ports": (
        lambda ca: IngressGateway("ingress", {"source_ranges": ["203.0.113.1/32"]}),
        ["link_ports"],
    ),
    "existing gateway with a port twice": (
        lambda ca: ExistingIngressGateway(
            "ingress",
            {
                "namespace": "istio-ingress",
                "service_name": "gw",
                "labels": {"istio": "ingressgateway"},
                "link_ports": [13306, 13306],
            },
        ),
        ["link_ports[1]: port 13306 is listed twice"],
    ),
    "client side without issuer": (
        lambda ca: LinkClient(
            "link",
            untyped(
                {
                    "services": mesh.services(1),
                    "issuer": "not-a-ca",
                    "client_identity": {"dns_name": mesh.CLIENT_SAN},
                    "namespaces": ["orders"],
                }
            ),
        ),
        ["LinkClient 'link'", "issuer: expected a link CA"],
    ),
    "server side with a bad allowed identity": (
        lambda ca: LinkServer(
            "link",
            untyped(
                {
                    "services": mesh.services(1),
                    "issuer": ca,
                    "allowed_client_identities": ["*.example.com"],
                    "ingress_gateway": {"source_ranges": ["203.0.113.1/32"]},
                }
            ),
        ),
        ["LinkServer 'link'", "allowed_client_identities"],
    ),
    "server side admitting per service a service it does not link": (
        lambda ca: LinkServer(
            "link",
            untyped(
                {
                    "services": mesh.services(1),
                    "issuer": ca,
                    "service_client_identities": {"redis": [mesh.CLIENT_SAN]},
                    "ingress_gateway": {"source_ranges": ["203.0.113.1/32"]},
                }
            ),
        ),
        ["service_client_identities: 'redis' is not a linked service"],
    ),
    "server side with a service no client may use": (
        lambda ca: LinkServer(
            "link",
            untyped(
                {
                    "services": mesh.services(2),
                    "issuer": ca,
                    "service_client_identities": {"mysql": [mesh.CLIENT_SAN]},
                    "ingress_gateway": {"source_ranges": ["203.0.113.1/32"]},
                }
            ),
        ),
        ["service 'postgres' admits no client"],
    ),
    "server side with duplicate link ports": (
        lambda ca: LinkServer(
            "link",
            untyped(
                {
                    "services": [
                        *mesh.services(2)[:1],
                        {**mesh.services(2)[1], "link_port": 13306},
                    ],
                    "issuer": ca,
                    "allowed_client_identities": [mesh.CLIENT_SAN],
                    "ingress_gateway": {"source_ranges": ["203.0.113.1/32"]},
                }
            ),
        ),
        ["services[1].link_port"],
    ),
}


@pytest.mark.parametrize("case", list(STANDALONE), ids=list(STANDALONE))
def test_standalone_components_refuse_bad_input(case: str) -> None:
    build, expected = STANDALONE[case]
    mocks = CountingMocks()
    with pytest.raises(MeshlinkValidationError) as caught:
        run_program(_issuer_program(build), project="p", stack="s", mocks=mocks)
    before_component = [
        t for t in mocks.types if not t.startswith(("tls:", "meshlink:index:CertificateAuthority"))
    ]
    assert before_component == []
    for text in expected:
        assert text in str(caught.value), str(caught.value)


def test_an_output_static_ip_is_checked_when_known() -> None:
    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        args: Any = mesh.link_args(client, server)
        address = pulumi.Output.from_input("not-an-address")
        MeshLink(
            "mysql-link",
            untyped(mesh.with_setting(args, "server.ingress_gateway.static_ip", address)),
        )

    with pytest.raises(Exception, match=r"static_ip: 'not-an-address' is not an IP address"):
        mesh.run_link(program)
