"""The rehearsal refuses broken wiring before starting anything, naming what is wrong.

Every test breaks one thing in a valid render (built by tests/support) and checks that
the message names the object and the setting at fault.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.rehearse.render import RenderError, load_render
from meshlink.offline.rehearse.wiring import LinkPlan, WiringError, plan_links
from tests.support.rehearsal_fixture import (
    DNS_CLIENT,
    SPIFFE_CLIENT,
    FixtureLink,
    FixtureRender,
    key_pem,
    other_ca_pem,
    pem,
    write_render,
)


@pytest.fixture
def render(tmp_path: Path) -> FixtureRender:
    return write_render(tmp_path / "render")


def plans(fixture: FixtureRender) -> list[LinkPlan]:
    return plan_links(load_render(fixture.root))


def refusal(fixture: FixtureRender) -> str:
    with pytest.raises(WiringError) as caught:
        plans(fixture)
    return str(caught.value)


def _tls(doc: dict[str, Any]) -> dict[str, Any]:
    tls = doc["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]
    assert isinstance(tls, dict)
    return tls


def _server_tls(doc: dict[str, Any]) -> dict[str, Any]:
    tls = doc["spec"]["servers"][0]["tls"]
    assert isinstance(tls, dict)
    return tls


@pytest.mark.parametrize(
    ("client_san", "identity"), [("spiffe", SPIFFE_CLIENT), ("dns", DNS_CLIENT)]
)
def test_valid_render_yields_the_link(tmp_path: Path, client_san: str, identity: str) -> None:
    fixture = write_render(tmp_path / "render", client_san=client_san)
    [plan] = plans(fixture)
    assert plan.fqdn == plan.sni == "mysql.link.example.internal"
    assert (plan.client_cluster, plan.server_cluster) == ("client", "server")
    assert plan.link_port == 13306
    assert plan.target == "mysql.db.svc.cluster.local:3306"
    assert plan.allowed_client_sans == [identity]
    assert plan.server_names == ["mysql.link.example.internal"]
    assert plan.min_version == "TLSV1_2"
    assert "istio-egress/link-client" in plan.client_secret
    assert "istio-ingress/mysql-link-server" in plan.server_secret
    # The issuer's key was found among key-NN.pem by public key, not by file name.
    issuing = fixture.certificates["issuing-ca"]
    assert plan.client_issuer.certificate == issuing
    assert plan.server_issuer.certificate == issuing
    assert plan.client_issuer.key.public_key() == fixture.keys["issuing-ca"].public_key()
    assert plan.client.leaf == fixture.certificates["client"]
    assert len(plan.client.chain) == 2  # the leaf and the issuing CA, as rendered


def test_every_rendered_link_is_planned(tmp_path: Path) -> None:
    fixture = write_render(
        tmp_path / "render",
        links=[
            FixtureLink(),
            FixtureLink("pg", "pg.link.example.internal", 15432, "pg.db.svc.cluster.local", 5432),
        ],
    )
    found = {p.fqdn: (p.link_port, p.target) for p in plans(fixture)}
    assert found == {
        "mysql.link.example.internal": (13306, "mysql.db.svc.cluster.local:3306"),
        "pg.link.example.internal": (15432, "pg.db.svc.cluster.local:5432"),
    }


def test_absent_minimum_version_means_tls_1_2(tmp_path: Path) -> None:
    fixture = write_render(tmp_path / "render", min_protocol_version=None)
    assert plans(fixture)[0].min_version == "TLSV1_2"


def test_secret_values_may_come_base64_encoded_in_data(render: FixtureRender) -> None:
    def to_data(doc: dict[str, Any]) -> None:
        values = doc.pop("stringData")
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}

    render.edit("client_secret", to_data)
    assert plans(render)[0].client.leaf == render.certificates["client"]


def test_not_a_render_directory(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="no kubernetes/ folder"):
        load_render(tmp_path)


def test_missing_client_secret(render: FixtureRender) -> None:
    render.remove("client_secret")
    message = refusal(render)
    assert "client Secret istio-egress/link-client" in message
    assert "is missing from cluster 'client'" in message
    assert "DestinationRule istio-egress/mysql-origination" in message


def test_missing_server_secret(render: FixtureRender) -> None:
    render.remove("server_secret")
    message = refusal(render)
    assert "server Secret istio-ingress/mysql-link-server" in message
    assert "is missing from cluster 'server'" in message


def test_secret_outside_the_gateway_namespace(render: FixtureRender) -> None:
    render.edit("client_secret", lambda d: d["metadata"].update(namespace="app"))
    message = refusal(render)
    assert "client Secret istio-egress/link-client" in message
    assert "rendered in namespace(s) app" in message
    assert "namespace of the gateway that uses it" in message


def test_secret_namespace_follows_the_gateway_deployment(render: FixtureRender) -> None:
    # The Gateway object may live elsewhere; the Secret belongs where the pods run.
    render.edit("server_gateway", lambda d: d["metadata"].update(namespace="link-config"))
    render.edit(
        "virtual_service", lambda d: d["spec"].update(gateways=["link-config/link-ingress"])
    )
    assert plans(render)[0].server_secret.startswith("Secret istio-ingress/")

    # Without a rendered Deployment (a reused gateway), the Gateway's namespace is used.
    render.remove("ingress_deployment")
    message = refusal(render)
    assert "server Secret link-config/mysql-link-server" in message
    assert "rendered in namespace(s) istio-ingress" in message


def test_redacted_secrets_ask_for_private_keys(tmp_path: Path) -> None:
    fixture = write_render(tmp_path / "render", include_private_keys=False)
    message = refusal(fixture)
    assert message.count("render with --include-private-keys to rehearse") == 2
    assert "client Secret istio-egress/link-client" in message
    assert "ca.crt, tls.crt, tls.key" in message
    assert "BEGIN" not in message


def test_sni_not_among_gateway_hosts(render: FixtureRender) -> None:
    render.edit("origination_dr", lambda d: _tls(d).update(sni="db.link.example.internal"))
    message = refusal(render)
    assert "sni 'db.link.example.internal' is not among the hosts" in message
    assert "['mysql.link.example.internal']" in message
    assert "Gateway istio-ingress/link-ingress" in message


def test_server_certificate_san_differs_from_destination_rule(render: FixtureRender) -> None:
    render.edit(
        "origination_dr", lambda d: _tls(d).update(subjectAltNames=["db.link.example.internal"])
    )
    message = refusal(render)
    assert "SANs ['mysql.link.example.internal'] do not match the subjectAltNames" in message
    assert "['db.link.example.internal']" in message
    assert "the egress gateway would refuse the ingress" in message


def test_client_san_not_allowed_by_gateway(render: FixtureRender) -> None:
    allowed = "spiffe://client.link.example.internal/ns/other/sa/other"
    render.edit("server_gateway", lambda d: _server_tls(d).update(subjectAltNames=[allowed]))
    message = refusal(render)
    assert f"SANs ['{SPIFFE_CLIENT}'] are not among the subjectAltNames ['{allowed}']" in message
    assert "the ingress would refuse the egress gateway" in message


def test_client_bundle_does_not_verify_the_server(render: FixtureRender) -> None:
    render.edit("client_secret", lambda d: d["stringData"].update({"ca.crt": other_ca_pem()}))
    message = refusal(render)
    assert "its ca.crt does not verify the server chain" in message
    assert "unable to get local issuer certificate" in message
    assert "server chain" in message and "client chain" not in message


def test_server_bundle_does_not_verify_the_client(render: FixtureRender) -> None:
    render.edit("server_secret", lambda d: d["stringData"].update({"ca.crt": other_ca_pem()}))
    message = refusal(render)
    assert "server Secret istio-ingress/mysql-link-server" in message
    assert "its ca.crt does not verify the client chain" in message
    assert "server chain" not in message


def test_client_certificate_without_client_auth(render: FixtureRender) -> None:
    key = render.keys["client"]
    leaf = render.mint_leaf(
        "egress-gateway",
        sans=[x509.UniformResourceIdentifier(SPIFFE_CLIENT)],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        key=key,
    )
    chain = pem(leaf) + pem(render.certificates["issuing-ca"])
    render.edit("client_secret", lambda d: d["stringData"].update({"tls.crt": chain}))
    message = refusal(render)
    assert "extended key usage is serverAuth" in message
    assert "unless it includes clientAuth" in message
    assert "certificate purpose (X509 verify code 26)" in message  # OpenSSL agrees


def test_key_that_does_not_belong_to_the_certificate(render: FixtureRender) -> None:
    stranger = key_pem(ec.generate_private_key(ec.SECP256R1()))
    render.edit("client_secret", lambda d: d["stringData"].update({"tls.key": stranger}))
    message = refusal(render)
    assert "tls.key is not the private key of the first certificate in tls.crt" in message
    assert "BEGIN" not in message


def test_unreadable_pem_is_named_without_quoting_it(render: FixtureRender) -> None:
    render.edit("server_secret", lambda d: d["stringData"].update({"tls.key": "not a key"}))
    message = refusal(render)
    assert "server Secret istio-ingress/mysql-link-server" in message
    assert "tls.key is not an unencrypted PEM private key" in message
    assert "not a key" not in message


def test_destination_rule_port_differs_from_gateway(render: FixtureRender) -> None:
    render.edit(
        "origination_dr",
        lambda d: d["spec"]["trafficPolicy"]["portLevelSettings"][0].update(port={"number": 13307}),
    )
    message = refusal(render)
    assert "originates TLS on port 13307" in message
    assert "serves mysql.link.example.internal on port 13306" in message


def test_virtual_service_port_differs_from_gateway(render: FixtureRender) -> None:
    render.edit("virtual_service", lambda d: d["spec"]["tcp"][0].update(match=[{"port": 3306}]))
    message = refusal(render)
    assert "matches tcp port(s) [3306]" in message
    assert "serves the link on port 13306" in message


def test_service_entry_port_differs_from_gateway(render: FixtureRender) -> None:
    render.edit(
        "service_entry",
        lambda d: d["spec"]["endpoints"][0].update(ports={"tls": 443}),
    )
    message = refusal(render)
    assert "ServiceEntry app/mysql" in message
    assert "endpoints[0].ports.tls is 443" in message


def test_tls_route_instead_of_tcp(render: FixtureRender) -> None:
    def to_tls(doc: dict[str, Any]) -> None:
        route = doc["spec"].pop("tcp")[0]
        doc["spec"]["tls"] = [
            {"match": [{"sniHosts": ["mysql.link.example.internal"]}], "route": route["route"]}
        ]

    render.edit("virtual_service", to_tls)
    assert "routed by tcp: routes (istio#24500)" in refusal(render)


def test_unbound_virtual_service(render: FixtureRender) -> None:
    render.edit("virtual_service", lambda d: d["spec"].update(gateways=["mesh"]))
    assert "no VirtualService in cluster 'server' is bound to this Gateway" in refusal(render)


def test_destination_rule_without_subject_alt_names(render: FixtureRender) -> None:
    render.edit("origination_dr", lambda d: _tls(d).pop("subjectAltNames"))
    assert "no subjectAltNames" in refusal(render)
    assert "istio#35436" in refusal(render)


def test_destination_rule_without_sni(render: FixtureRender) -> None:
    render.edit("origination_dr", lambda d: _tls(d).pop("sni"))
    assert "no sni; the ingress gateway selects the link's server by SNI" in refusal(render)


def test_no_egress_gateway_for_the_host(render: FixtureRender) -> None:
    render.edit(
        "egress_gateway", lambda d: d["spec"]["servers"][0].update(hosts=["other.example.org"])
    )
    message = refusal(render)
    assert "no egress Gateway in cluster 'client' with a server on port 15443" in message


def test_no_mutual_destination_rule(render: FixtureRender) -> None:
    render.edit("origination_dr", lambda d: _tls(d).update(mode="SIMPLE"))
    assert "no DestinationRule in any cluster originates TLS with mode MUTUAL" in refusal(render)


def test_secret_name_istio_ignores(render: FixtureRender) -> None:
    render.edit("origination_dr", lambda d: _tls(d).update(credentialName="istio-link-client"))
    render.edit("client_secret", lambda d: d["metadata"].update(name="istio-link-client"))
    assert "Istio ignores credentialName Secrets whose name starts with 'istio'" in refusal(render)


def test_issuer_key_needed_for_negative_cases(render: FixtureRender) -> None:
    shutil.rmtree(render.root / "private-keys")
    message = refusal(render)
    assert "the private key of the issuing CA CN=Link Issuing CA is needed" in message
    assert "render with --include-private-keys" in message


def test_every_problem_is_reported_at_once(render: FixtureRender) -> None:
    render.remove("server_secret")
    render.edit("origination_dr", lambda d: _tls(d).pop("subjectAltNames"))
    with pytest.raises(WiringError) as caught:
        plans(render)
    problems = caught.value.problems
    assert len(problems) == 2
    assert any("mysql-link-server" in p for p in problems)
    assert any("istio#35436" in p for p in problems)


def test_integral_float_ports_are_read_as_integers(render: FixtureRender) -> None:
    # Some serialisers write protobuf numbers as 13306.0; the port is still 13306.
    render.edit(
        "origination_dr",
        lambda d: d["spec"]["trafficPolicy"]["portLevelSettings"][0].update(
            port={"number": 13306.0}
        ),
    )
    render.edit("server_gateway", lambda d: d["spec"]["servers"][0]["port"].update(number=13306.0))
    render.edit("virtual_service", lambda d: d["spec"]["tcp"][0].update(match=[{"port": 13306.0}]))
    [plan] = plans(render)
    assert plan.link_port == 13306 and isinstance(plan.link_port, int)
