"""Client-only links to a partner's mutual-TLS endpoint (``PartnerLink``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.mesh import PartnerLink
from meshlink.offline.engine import OfflineRun
from meshlink.pki import CertificateAuthority
from meshlink.pki.external import SignedCertificateMismatch
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh
from tests.support.pki import MadeCa, make_ca, make_key

HOST = "api.clearing.example.net"
SNI = "mtls.clearing.example.net"
SERVER_NAMES = ["mtls.clearing.example.net", "spiffe://clearing.example.net/gateway"]
PARTNER_CA = make_ca("Clearing House Client and Server CA")


def _clock() -> dt.datetime:
    return mesh.NOW


def partner_args(provider: k8s.Provider, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "endpoint": {
            "host": HOST,
            "port": 8443,
            "ca_bundle_pem": PARTNER_CA.cert_pem,
            "sni": SNI,
            "subject_alt_names": SERVER_NAMES,
        },
        "app_port": 9000,
        "service_name": "clearing",
        "client": {
            "provider": provider,
            "namespaces": ["payments"],
            "readiness": {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
        },
        "signed_by_partner": {"subject": {"common_name": "payments.example.com"}},
    }
    args.update(overrides)
    return args


def partner_program(**overrides: Any) -> Callable[[], None]:
    def program() -> None:
        provider = k8s.Provider("client-cluster", kubeconfig="{}")
        args: Any = partner_args(provider, **overrides)
        link = PartnerLink("clearing", args, clock=_clock)
        pulumi.export("csr", link.csr_pem)
        pulumi.export("not_ready", link.not_ready_reason)
        pulumi.export("objects", link.objects)

    return program


def sign_client(
    csr_pem: str,
    ca: MadeCa,
    *,
    usages: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    days: int = 365,
) -> str:
    """What the partner does with the link's request: a client certificate from its CA."""
    request = x509.load_pem_x509_csr(csr_pem.encode())
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.cert.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(mesh.NOW - dt.timedelta(days=1))
        .not_valid_after(mesh.NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def with_signed(signed_cert_pem: str) -> dict[str, Any]:
    return {
        "signed_by_partner": {
            "subject": {"common_name": "payments.example.com"},
            "signed_cert_pem": signed_cert_pem,
        }
    }


@pytest.fixture(scope="module")
def requested() -> OfflineRun:
    return mesh.run_link(partner_program())


@pytest.fixture(scope="module")
def signed(requested: OfflineRun) -> OfflineRun:
    certificate = sign_client(requested.outputs["csr"], PARTNER_CA)
    return mesh.run_link(partner_program(**with_signed(certificate)))


def _client_objects(run: OfflineRun, kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in mesh.of_kind(run, kind)}


def test_before_the_partner_signs_only_the_key_and_request_exist(requested: OfflineRun) -> None:
    request = x509.load_pem_x509_csr(requested.outputs["csr"].encode())
    assert request.subject.rfc4514_string() == "CN=payments.example.com"
    assert "csr" not in requested.secret_outputs
    assert "export its csr_pem, have the partner sign it" in requested.outputs["not_ready"]
    assert mesh.kubernetes_objects(requested) == []
    assert requested.outputs["objects"] == {}
    custom = sorted(r.type for r in requested.registrations if r.custom)
    assert custom == [
        "pulumi:providers:kubernetes",
        "tls:index/certRequest:CertRequest",
        "tls:index/privateKey:PrivateKey",
    ]


def test_the_signed_certificate_declares_the_client_side_only(signed: OfflineRun) -> None:
    declared = sorted(
        f"{r.inputs['kind']}/{r.inputs['metadata']['name']}"
        for r in mesh.kubernetes_objects(signed)
    )
    assert declared == [
        "AuthorizationPolicy/clearing-egress-clients",
        "Deployment/clearing-egress",
        "DestinationRule/clearing-clearing-origination",
        "DestinationRule/clearing-egress-subsets",
        "Gateway/clearing-clearing-egress",
        "Namespace/clearing-egress",
        "PodDisruptionBudget/clearing-egress",
        "Role/clearing-egress-secret-reader",
        "RoleBinding/clearing-egress-secret-reader",
        "Secret/clearing-client-tls",
        "Service/clearing-egress",
        "ServiceAccount/clearing-egress",
        "ServiceEntry/clearing-clearing",
        "ServiceEntry/clearing-clearing-link",
        "VirtualService/clearing-clearing",
    ]
    assert signed.outputs["not_ready"] is None


def test_origination_sends_the_partner_sni_and_requires_its_server_names(
    signed: OfflineRun,
) -> None:
    rule = _client_objects(signed, "DestinationRule")["clearing-clearing-origination"]["spec"]
    assert rule["host"] == HOST
    (port,) = rule["trafficPolicy"]["portLevelSettings"]
    assert port["port"] == {"number": 8443}
    assert port["tls"] == {
        "mode": "MUTUAL",
        "credentialName": "clearing-client-tls",
        "sni": SNI,
        "subjectAltNames": SERVER_NAMES,
    }
    link_entry = _client_objects(signed, "ServiceEntry")["clearing-clearing-link"]["spec"]
    assert link_entry["hosts"] == [HOST]
    assert link_entry["endpoints"] == [{"address": HOST, "ports": {"tls": 8443}}]
    app_entry = _client_objects(signed, "ServiceEntry")["clearing-clearing"]["spec"]
    assert app_entry["ports"] == [{"number": 9000, "name": "tcp", "protocol": "TCP"}]


def test_the_secret_holds_the_signed_certificate_the_secret_key_and_the_partner_ca(
    requested: OfflineRun, signed: OfflineRun
) -> None:
    (secret,) = [r for r in mesh.kubernetes_objects(signed) if r.inputs["kind"] == "Secret"]
    data = secret.inputs["stringData"]
    assert data["ca.crt"].strip() == PARTNER_CA.cert_pem.strip()
    certificate = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    key = serialization.load_pem_private_key(data["tls.key"].encode(), password=None)
    assert certificate.public_key() == key.public_key()
    assert certificate.issuer == PARTNER_CA.cert.subject
    (private_key,) = signed.of_type("tls:index/privateKey:PrivateKey")
    assert "privateKeyPem" in private_key.secret_outputs
    assert "stringData" in secret.secret_inputs


def test_without_sni_and_names_the_host_is_both() -> None:
    endpoint = {"host": HOST, "port": 8443, "ca_bundle_pem": PARTNER_CA.cert_pem}
    ca: Any = {"subject": {"common_name": "Link CA"}}

    def program() -> None:
        provider = k8s.Provider("client-cluster", kubeconfig="{}")
        issuer = CertificateAuthority("link-ca", ca)
        args = partner_args(
            provider,
            endpoint=endpoint,
            issuer=issuer,
            client_identity={"dns_name": "payments.link.example.com"},
        )
        del args["signed_by_partner"]
        PartnerLink("clearing", args, clock=_clock)  # type: ignore[arg-type]

    run = mesh.run_link(program)
    rule = _client_objects(run, "DestinationRule")["clearing-clearing-origination"]["spec"]
    tls = rule["trafficPolicy"]["portLevelSettings"][0]["tls"]
    assert (tls["sni"], tls["subjectAltNames"]) == (HOST, [HOST])
    (secret,) = [r for r in mesh.kubernetes_objects(run) if r.inputs["kind"] == "Secret"]
    assert secret.inputs["stringData"]["ca.crt"].strip() == PARTNER_CA.cert_pem.strip()
    leaves = [r.name for r in run.of_type("meshlink:index:LeafCertificate")]
    assert leaves == ["clearing-client-client-cert"]


def test_every_object_passes_both_istio_crd_sets_and_kubernetes(
    signed: OfflineRun, istio_crds: Path
) -> None:
    mesh.assert_every_object_valid(signed)


def _refusal(**overrides: Any) -> str:
    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(partner_program(**overrides))
    return str(error.value)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda csr: sign_client(csr, make_ca("Somebody Else's CA")),
            "is not signed by the partner's CA in endpoint.ca_bundle_pem",
        ),
        (
            lambda csr: sign_client(csr, PARTNER_CA, usages=(ExtendedKeyUsageOID.SERVER_AUTH,)),
            "has no clientAuth extended key usage",
        ),
        (lambda csr: sign_client(csr, PARTNER_CA, usages=()), "has no clientAuth"),
        (lambda csr: sign_client(csr, PARTNER_CA, days=-1), "expired on"),
        (lambda csr: "not a certificate", "is not a PEM certificate"),
    ],
)
def test_bad_signed_certificates_are_refused_naming_the_setting(
    requested: OfflineRun, make: Callable[[str], str], expected: str
) -> None:
    message = _refusal(**with_signed(make(requested.outputs["csr"])))
    assert "signed_by_partner.signed_cert_pem: " in message
    assert expected in message


def test_a_certificate_signed_for_another_key_fails_before_it_reaches_the_cluster() -> None:
    other_request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name.from_rfc4514_string("CN=payments.example.com")
    )
    other_csr = other_request.sign(make_key(), hashes.SHA256())
    pem = other_csr.public_bytes(serialization.Encoding.PEM).decode()
    certificate = sign_client(pem, PARTNER_CA)
    with pytest.raises(SignedCertificateMismatch, match="was not issued for this link's key"):
        mesh.run_link(partner_program(**with_signed(certificate)))


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("endpoint.host", "203.0.113.7", "endpoint.host: '203.0.113.7' is an IP address"),
        ("endpoint.host", "169.254.169.254", "endpoint.host: '169.254.169.254' is the metadata"),
        ("endpoint.host", "localhost.", "endpoint.host:"),
        ("endpoint.host", "127.0.0.1", "endpoint.host: '127.0.0.1' is a link-local or loopback"),
        ("endpoint.host", "db.prod.svc.cluster.local", "is a Kubernetes Service"),
        ("endpoint.port", 70000, "endpoint.port: Input should be less than or equal to 65535"),
        ("endpoint.port", 15021, "endpoint.port: 15021 is reserved by Istio"),
        ("app_port", 8443, "app_port: equals endpoint.port (8443)"),
        ("endpoint.sni", "not a name", "endpoint.sni:"),
        ("endpoint.ca_bundle_pem", "nope", "endpoint.ca_bundle_pem: expected the partner's CA"),
        ("client.provider", "a kubeconfig", "client.provider: expected a kubernetes.Provider"),
    ],
)
def test_bad_endpoint_settings_are_refused_naming_the_setting(
    path: str, value: Any, expected: str
) -> None:
    def program() -> None:
        provider = k8s.Provider("client-cluster", kubeconfig="{}")
        args = mesh.with_setting(partner_args(provider), path, value)
        PartnerLink("clearing", args, clock=_clock)  # type: ignore[arg-type]

    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(program)
    assert expected in str(error.value)
    assert len(error.value.problems) == 1, error.value.problems


def test_a_link_ca_and_the_partner_signature_together_are_refused() -> None:
    def program() -> None:
        provider = k8s.Provider("client-cluster", kubeconfig="{}")
        issuer = CertificateAuthority("link-ca", {"subject": {"common_name": "Link CA"}})
        PartnerLink("clearing", partner_args(provider, issuer=issuer), clock=_clock)  # type: ignore[arg-type]

    with pytest.raises(MeshlinkValidationError, match="give exactly one of issuer"):
        mesh.run_link(program)
