"""``LinkServer`` and ``LinkClient`` with pre-issued credentials (``credential``) instead of
an ``issuer``: the path the split server and client stacks take. The certificate and key
come in as given (for example from a StackReference), the key stays secret, nothing is
issued, and the choice between the two sources is validated before anything is declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from meshlink.mesh import LinkClient, LinkServer
from meshlink.offline.engine import OfflineRun, run_program
from meshlink.pki import CertificateAuthority, LeafCertificate
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh
from tests.support.istio_schema import CRD_SETS, validate_manifest
from tests.support.pki import verify_client, verify_server
from tests.test_stacks import RecordingMocks

FQDNS = ["mysql.link.example.com", "postgres.link.example.com"]
CLIENT_URI = "spiffe://link.example.com/cluster/client-a"


def _issued_elsewhere() -> dict[str, Any]:
    """A CA and two leaves, as the pki stack makes them, handed over as Outputs only."""
    ca = CertificateAuthority("pki-ca", {"subject": {"common_name": "Elsewhere Link CA"}})
    server = LeafCertificate("pki-server", {"issuer": ca, "role": "server", "dns_names": FQDNS})
    client = LeafCertificate("pki-client", {"issuer": ca, "role": "client", "uris": [CLIENT_URI]})
    return {
        "trust": ca.trust_bundle_pem,
        "server": {
            "full_chain_pem": server.full_chain_pem,
            "private_key_pem": server.private_key_pem,
        },
        "client": {
            "full_chain_pem": client.full_chain_pem,
            # As a StackReference without secret marks would hand it over: plain.
            "private_key_pem": client.private_key_pem.apply(lambda key: key),
        },
    }


def _program() -> None:
    issued = _issued_elsewhere()
    server_provider = k8s.Provider("server-cluster", kubeconfig="{}")
    client_provider = k8s.Provider("client-cluster", kubeconfig="{}")
    server_args: Any = {
        "services": mesh.services(2),
        "credential": issued["server"],
        "client_trust_bundle_pem": issued["trust"],
        "allowed_client_identities": [CLIENT_URI],
        "ingress_gateway": {"source_ranges": ["203.0.113.10/32"]},
    }
    LinkServer("link", server_args, opts=pulumi.ResourceOptions(provider=server_provider))
    client_args: Any = {
        "services": mesh.services(2),
        "credential": issued["client"],
        "server_trust_bundle_pem": issued["trust"],
        "namespaces": ["orders"],
    }
    client = LinkClient("link", client_args, opts=pulumi.ResourceOptions(provider=client_provider))
    pulumi.export("client_san", client.client_san)
    pulumi.export("trust", issued["trust"])


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return mesh.run_link(_program)


def _secret(run: OfflineRun, name: str) -> Any:
    (secret,) = [
        r
        for r in mesh.kubernetes_objects(run)
        if r.inputs.get("kind") == "Secret" and r.inputs["metadata"]["name"] == name
    ]
    return secret


def test_nothing_is_issued_inside_the_link(run: OfflineRun) -> None:
    leaves = [r.name for r in run.of_type("meshlink:index:LeafCertificate")]
    assert sorted(leaves) == ["pki-client", "pki-server"]
    link_urns = {r.urn for r in run.registrations if r.type.startswith("meshlink:index:Link")}
    inside = [
        r.type
        for r in run.registrations
        if r.type.startswith("tls:") and link_urns & set(run.ancestors(r.urn))
    ]
    assert inside == []


def test_one_server_credential_serves_every_service(run: OfflineRun) -> None:
    trust = run.outputs["trust"]
    chains = set()
    for service, fqdn in zip(("mysql", "postgres"), FQDNS, strict=True):
        secret = _secret(run, f"link-{service}-server-tls")
        assert "stringData" in secret.secret_inputs
        data = secret.inputs["stringData"]
        verify_server(data["tls.crt"], trust, fqdn, at=mesh.NOW)
        # Its ca.crt verifies the client's certificate.
        client_chain = _secret(run, "link-client-tls").inputs["stringData"]["tls.crt"]
        verify_client(client_chain, data["ca.crt"], at=mesh.NOW)
        chains.add(data["tls.crt"])
    assert len(chains) == 1


def test_a_plain_key_becomes_a_secret_input(run: OfflineRun) -> None:
    secret = _secret(run, "link-client-tls")
    assert "stringData" in secret.secret_inputs
    assert "PRIVATE KEY-----" in secret.inputs["stringData"]["tls.key"]
    assert run.outputs["client_san"] is None


def test_istio_objects_are_the_same_as_with_an_issuer(run: OfflineRun, istio_crds: Path) -> None:
    manifests = [mesh.manifest(r) for r in mesh.istio_objects(run)]
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds.count("Gateway") == 4  # two ingress, two egress
    for crd_set in CRD_SETS:
        for manifest in manifests:
            assert validate_manifest(manifest, crd_set) == [], manifest["metadata"]
    (rule,) = [
        m
        for m in manifests
        if m["kind"] == "DestinationRule" and m["metadata"]["name"] == "link-mysql-origination"
    ]
    tls = rule["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]
    assert tls["credentialName"] == "link-client-tls"
    assert tls["subjectAltNames"] == [FQDNS[0]]


PEM_CHAIN = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nsecret-material\n-----END PRIVATE KEY-----\n"


def _server_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "services": mesh.services(1),
        "credential": {"full_chain_pem": PEM_CHAIN, "private_key_pem": PEM_KEY},
        "client_trust_bundle_pem": PEM_CHAIN,
        "allowed_client_identities": [CLIENT_URI],
        "ingress_gateway": {"source_ranges": ["203.0.113.10/32"]},
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not mesh.DELETE}


def _client_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "services": mesh.services(1),
        "credential": {"full_chain_pem": PEM_CHAIN, "private_key_pem": PEM_KEY},
        "server_trust_bundle_pem": PEM_CHAIN,
        "namespaces": ["orders"],
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not mesh.DELETE}


def _rejected(component: type, args: dict[str, Any]) -> str:
    def program() -> None:
        provider = k8s.Provider("cluster", kubeconfig="{}")
        component("link", args, opts=pulumi.ResourceOptions(provider=provider))

    mocks = RecordingMocks(now=mesh.NOW)
    with pytest.raises(MeshlinkValidationError) as caught:
        run_program(program, project="t", stack="t", mocks=mocks)
    assert [r for r in mocks.requested if not r.startswith("pulumi:providers:")] == []
    message = str(caught.value)
    assert "secret-material" not in message
    return message


@pytest.mark.parametrize(
    ("component", "args", "expected"),
    [
        (LinkServer, _server_args(credential=mesh.DELETE), "give exactly one of issuer"),
        (
            LinkServer,
            _server_args(client_trust_bundle_pem=mesh.DELETE),
            "client_trust_bundle_pem is required with credential",
        ),
        (LinkServer, _server_args(rotation="2026-02"), "rotation cannot be set with credential"),
        (
            LinkServer,
            _server_args(
                credential={"full_chain_pem": PEM_CHAIN, "private_key_pem": "secret-material"}
            ),
            "credential.private_key_pem: expected a private key",
        ),
        (
            LinkServer,
            _server_args(credential={"full_chain_pem": "not a pem", "private_key_pem": PEM_KEY}),
            "credential.full_chain_pem: expected a certificate chain",
        ),
        (
            LinkClient,
            _client_args(server_trust_bundle_pem=mesh.DELETE),
            "server_trust_bundle_pem is required with credential",
        ),
        (
            LinkClient,
            _client_args(client_identity={"uri": CLIENT_URI}),
            "client_identity cannot be set with credential",
        ),
        (LinkClient, _client_args(credential=mesh.DELETE), "give exactly one of issuer"),
    ],
)
def test_the_certificate_source_is_validated_before_anything_is_declared(
    component: type, args: dict[str, Any], expected: str
) -> None:
    assert expected in _rejected(component, args)


def test_issuer_and_credential_together_are_refused() -> None:
    def program() -> None:
        ca = CertificateAuthority("ca", {"subject": {"common_name": "CA"}})
        provider = k8s.Provider("cluster", kubeconfig="{}")
        args: Any = _client_args(issuer=ca)
        LinkClient("link", args, opts=pulumi.ResourceOptions(provider=provider))

    with pytest.raises(MeshlinkValidationError, match="give exactly one of issuer"):
        run_program(program, project="t", stack="t")


def test_an_issuer_still_needs_the_client_identity() -> None:
    def program() -> None:
        ca = CertificateAuthority("ca", {"subject": {"common_name": "CA"}})
        provider = k8s.Provider("cluster", kubeconfig="{}")
        args: Any = _client_args(
            issuer=ca, credential=mesh.DELETE, server_trust_bundle_pem=mesh.DELETE
        )
        LinkClient("link", args, opts=pulumi.ResourceOptions(provider=provider))

    with pytest.raises(MeshlinkValidationError, match="client_identity is required with issuer"):
        run_program(program, project="t", stack="t")
