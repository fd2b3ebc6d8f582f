"""Helpers for tests that look at the link PKI's certificates: run a program on the offline
engine with the pulumi-tls emulation, read certificates and keys back as ``cryptography``
objects, verify chains with the strict RFC 5280 verifier, and make stand-alone CAs (good
and bad) to feed the bring-your-own-CA components.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.verification import (
    ClientVerifier,
    PolicyBuilder,
    ServerVerifier,
    Store,
    VerifiedClient,
)
from pulumi.runtime import rpc

from meshlink.offline import engine
from meshlink.offline.engine import OfflineMocks, OfflineRun, run_program
from tests.support import certs

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
"""The fixed clock of every PKI test: certificates start here."""

SEED = "pki-tests"

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"
SECRET = "kubernetes:core/v1:Secret"


def run_pki(program: Callable[[], Any], *, now: dt.datetime = NOW, seed: str = SEED) -> OfflineRun:
    """Run ``program`` on the offline engine with a fixed clock and seed."""
    return run_program(program, project="pki", stack="test", mocks=OfflineMocks(now=now, seed=seed))


def certificates(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []


def certificate(pem: str) -> x509.Certificate:
    (cert,) = certificates(pem)
    return cert


def cert_of(run: OfflineRun, name: str) -> x509.Certificate:
    """The certificate a pulumi-tls certificate resource called ``name`` produced."""
    for typ in (SELF_SIGNED_CERT, LOCALLY_SIGNED_CERT):
        matches = [r for r in run.of_type(typ) if r.name == name]
        if matches:
            return certificate(matches[0].outputs["certPem"])
    raise KeyError(name)


def key_of(run: OfflineRun, name: str) -> Any:
    """The private key a ``tls.PrivateKey`` called ``name`` produced."""
    pem = run.named(PRIVATE_KEY, name).outputs["privateKeyPem"]
    return serialization.load_pem_private_key(pem.encode(), password=None)


def public_der(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def extension(cert: x509.Certificate, kind: type[Any]) -> Any:
    return cert.extensions.get_extension_for_class(kind)


def _builder(roots: Sequence[x509.Certificate], at: dt.datetime) -> PolicyBuilder:
    return PolicyBuilder().store(Store(list(roots))).time(at)


def server_verifier(
    roots: Sequence[x509.Certificate], dns_name: str, at: dt.datetime = NOW
) -> ServerVerifier:
    return _builder(roots, at).build_server_verifier(x509.DNSName(dns_name))


def client_verifier(roots: Sequence[x509.Certificate], at: dt.datetime = NOW) -> ClientVerifier:
    return _builder(roots, at).build_client_verifier()


def verify_server(
    full_chain_pem: str, trust_pem: str, dns_name: str, at: dt.datetime = NOW
) -> list[x509.Certificate]:
    """The verified path of a server chain (``tls.crt``) for ``dns_name`` against a trust
    bundle (``ca.crt``), leaf first; raises ``VerificationError`` otherwise."""
    leaf, *intermediates = certificates(full_chain_pem)
    return server_verifier(certificates(trust_pem), dns_name, at).verify(leaf, intermediates)


def verify_client(full_chain_pem: str, trust_pem: str, at: dt.datetime = NOW) -> VerifiedClient:
    leaf, *intermediates = certificates(full_chain_pem)
    return client_verifier(certificates(trust_pem), at).verify(leaf, intermediates)


def contains_secret_marker(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret_marker(v) for v in value)
    return False


def plain_text(value: Any) -> str:
    """Every string inside a recorded value, joined, with secret markers removed."""
    value = engine.unwrap_secrets(value)
    if isinstance(value, dict):
        return "\n".join(plain_text(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(plain_text(v) for v in value)
    return value if isinstance(value, str) else ""


# --- stand-alone CAs for bring-your-own tests -----------------------------------------------


@dataclass
class MadeCa:
    """A CA made directly with ``cryptography``, as a user would bring it."""

    cert: x509.Certificate
    key: Any
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def cert_pem(self) -> str:
        return certs.pem(self.cert)

    @property
    def key_pem(self) -> str:
        return certs.key_pem(self.key)


def make_key(kind: str = "p256") -> Any:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    curves: dict[str, ec.EllipticCurve] = {
        "p224": ec.SECP224R1(),
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
    }
    return ec.generate_private_key(curves[kind])


def make_ca(
    common_name: str,
    *,
    key: Any = None,
    issuer: MadeCa | None = None,
    is_ca: bool = True,
    key_cert_sign: bool = True,
    not_before: dt.datetime = NOW - dt.timedelta(days=30),
    not_after: dt.datetime = NOW + dt.timedelta(days=3650),
    path_length: int | None = None,
) -> MadeCa:
    """A CA certificate (or, with ``is_ca=False``, an end-entity one) and its key, signed
    by ``issuer`` or by itself."""
    key = key or make_key()
    cert = certs.issue(
        common_name,
        key,
        issuer=(issuer.cert, issuer.key) if issuer else None,
        not_before=not_before,
        not_after=not_after,
        is_ca=is_ca,
        path_length=path_length,
        key_cert_sign=key_cert_sign,
    )
    return MadeCa(cert=cert, key=key)


def sign_csr_as_ca(csr_pem: str, root: MadeCa, *, not_after_days: int = 1825) -> str:
    """What a corporate root does offline with meshlink's request for an issuing CA."""
    request = x509.load_pem_x509_csr(csr_pem.encode())
    public_key = request.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(root.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=not_after_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()),
            critical=False,
        )
        .sign(root.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


__all__ = [
    "NOW",
    "MadeCa",
    "cert_of",
    "certificate",
    "certificates",
    "client_verifier",
    "key_of",
    "make_ca",
    "make_key",
    "run_pki",
    "server_verifier",
    "sign_csr_as_ca",
    "verify_client",
    "verify_server",
]
