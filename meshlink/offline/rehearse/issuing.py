"""Keys, CAs and leaves minted for the rehearsal: the certificates the negative cases
present, and the reference PKI the timing compares the render's against."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def new_key(kind: str = "ec-p256") -> CertificateIssuerPrivateKeyTypes:
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    raise ValueError(f"unknown key kind {kind!r}")


def _serial(name: str, salt: str) -> int:
    # Deterministic but distinct per name, so two minted certificates never share a serial.
    digest = hashlib.sha256(f"{salt}/{name}".encode()).digest()
    return int.from_bytes(digest[:16], "big") >> 1 or 1


def general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        if "://" in name:
            out.append(x509.UniformResourceIdentifier(name))
        else:
            try:
                out.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                out.append(x509.DNSName(name))
    return out


def mint_ca(
    common_name: str,
    *,
    key: CertificateIssuerPrivateKeyTypes,
    now: dt.datetime,
    days: int = 30,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial(common_name, "ca"))
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _signature_hash(key))
    )


def mint_leaf(
    common_name: str,
    *,
    sans: Sequence[str],
    usages: Sequence[x509.ObjectIdentifier],
    key: CertificateIssuerPrivateKeyTypes,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(_serial(common_name + repr(sorted(sans)) + repr(usages), "leaf"))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names(sans)), critical=False
        )
    return builder.sign(issuer_key, _signature_hash(issuer_key))
