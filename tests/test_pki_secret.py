"""GatewayCredentialSecret: the Secret behind a gateway's credentialName (DESIGN facts 1, 2)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import VerificationError

from meshlink.pki import CertificateAuthority, GatewayCredentialSecret, LeafCertificate
from meshlink.validation import MeshlinkValidationError
from tests.support.pki import (
    SECRET,
    certificates,
    public_der,
    run_pki,
    verify_client,
    verify_server,
)

FQDN = "mysql.link.example.com"


def _two_sided_program() -> None:
    """A server CA and a client CA that differ, so that each Secret's ca.crt can only be
    right if it holds the *peer's* bundle."""
    server_ca = CertificateAuthority(
        "server-ca",
        {
            "subject": {"common_name": "Server Side Link Root"},
            "issuing_ca": {"subject": {"common_name": "Server Side Issuing"}},
        },
    )
    client_ca = CertificateAuthority(
        "client-ca", {"subject": {"common_name": "Client Side Link Root"}}
    )
    server_leaf = LeafCertificate(
        "server", {"issuer": server_ca, "role": "server", "dns_names": [FQDN]}
    )
    client_leaf = LeafCertificate(
        "client",
        {"issuer": client_ca, "role": "client", "uris": ["spiffe://client.example/cluster/a"]},
    )
    server_cluster = k8s.Provider("server-cluster", kubeconfig="{}")
    GatewayCredentialSecret(
        "server-credential",
        {
            "secret_name": "mysql-link-server",
            "namespace": "istio-ingress",
            "certificate": server_leaf,
            "peer_trust_bundle_pem": client_ca.trust_bundle_pem,
            "labels": {"app": "mysql"},
        },
        opts=pulumi.ResourceOptions(providers={"kubernetes": server_cluster}),
    )
    GatewayCredentialSecret(
        "client-credential",
        {
            "secret_name": "mysql-link-client",
            "namespace": "istio-egress",
            "certificate": client_leaf,
            "peer_trust_bundle_pem": server_ca.trust_bundle_pem,
        },
    )


def _data(run: Any, name: str) -> dict[str, str]:
    return run.named(SECRET, name).inputs["stringData"]


def test_each_secret_carries_its_chain_its_key_and_the_peers_bundle() -> None:
    run = run_pki(_two_sided_program)
    server = _data(run, "server-credential-secret")
    client = _data(run, "client-credential-secret")
    for data in (server, client):
        assert set(data) == {"tls.crt", "tls.key", "ca.crt"}
        assert "token" not in data
    # Fact 2: the client's ca.crt verifies the server chain, the server's the client chain.
    verify_server(server["tls.crt"], client["ca.crt"], FQDN)
    verify_client(client["tls.crt"], server["ca.crt"])
    # ... and the reverse pairing would not work, since the CAs differ.
    with pytest.raises(VerificationError):
        verify_server(server["tls.crt"], server["ca.crt"], FQDN)
    with pytest.raises(VerificationError):
        verify_client(client["tls.crt"], client["ca.crt"])
    # tls.crt is the leaf followed by the issuing CA; tls.key is the leaf's key.
    chain = certificates(server["tls.crt"])
    assert (
        len(chain) == 2
        and chain[1].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    )
    for data in (server, client):
        key = serialization.load_pem_private_key(data["tls.key"].encode(), password=None)
        assert public_der(key.public_key()) == public_der(
            certificates(data["tls.crt"])[0].public_key()
        )


def test_secret_metadata_and_secrecy() -> None:
    run = run_pki(_two_sided_program)
    recorded = run.component_outputs
    secret = run.named(SECRET, "server-credential-secret")
    component = run.named("meshlink:index:GatewayCredentialSecret", "server-credential")
    assert secret.parent == component.urn
    assert secret.provider_urn == run.named("pulumi:providers:kubernetes", "server-cluster").urn
    assert secret.inputs["metadata"]["name"] == "mysql-link-server"
    assert secret.inputs["metadata"]["namespace"] == "istio-ingress"
    assert secret.inputs["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "meshlink",
        "app": "mysql",
    }
    assert secret.inputs["type"] == "kubernetes.io/tls"
    assert "data" not in secret.inputs
    assert secret.secret_inputs == {"stringData"}
    assert "stringData" in secret.secret_outputs
    assert recorded[component.urn] == {
        "secret_name": "mysql-link-server",
        "namespace": "istio-ingress",
    }


@pytest.mark.parametrize(
    ("secret_name", "namespace", "words"),
    [
        ("istio-mysql", "istio-ingress", "starts with 'istio' or 'prometheus'"),
        ("prometheus-link", "istio-ingress", "starts with 'istio' or 'prometheus'"),
        ("mysql-link-cacert", "istio-ingress", "ends in '-cacert'"),
        ("MySQL_Link", "istio-ingress", "secret_name: 'MySQL_Link' is not a valid RFC 1123 name"),
        ("mysql-link", "istio.ingress", "namespace: 'istio.ingress' is not a valid RFC 1123 label"),
    ],
)
def test_names_istio_would_not_serve_are_refused(
    secret_name: str, namespace: str, words: str
) -> None:
    problems: list[str] = []

    def program() -> None:
        ca = CertificateAuthority("ca", {"subject": {"common_name": "Root"}})
        leaf = LeafCertificate("leaf", {"issuer": ca, "role": "server", "dns_names": [FQDN]})
        try:
            GatewayCredentialSecret(
                "credential",
                {
                    "secret_name": secret_name,
                    "namespace": namespace,
                    "certificate": leaf,
                    "peer_trust_bundle_pem": ca.trust_bundle_pem,
                },
            )
        except MeshlinkValidationError as error:
            problems.append(str(error))

    run = run_pki(program)
    assert len(problems) == 1 and words in problems[0]
    assert not run.of_type(SECRET)
    assert not run.of_type("meshlink:index:GatewayCredentialSecret")


def test_the_certificate_and_bundle_are_checked() -> None:
    problems: list[str] = []

    def program() -> None:
        try:
            GatewayCredentialSecret(
                "credential",
                {
                    "secret_name": "link",
                    "namespace": "istio-egress",
                    "certificate": "a certificate",
                    "peer_trust_bundle_pem": "not PEM",
                },
            )
        except MeshlinkValidationError as error:
            problems.append(str(error))

    run_pki(program)
    assert "certificate: expected a LeafCertificate" in problems[0]
    assert "peer_trust_bundle_pem: is not a PEM certificate bundle" in problems[0]
