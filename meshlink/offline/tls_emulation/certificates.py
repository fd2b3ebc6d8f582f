"""The three certificate resources, around Go's ``createCertificate`` as the provider
calls it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from meshlink.offline.tls_emulation.common import (
    CERT_REQUEST,
    LOCALLY_SIGNED_CERT,
    SELF_SIGNED_CERT,
    PrivateKey,
    PublicKey,
    fail,
    hash_for_state,
    int_input,
)
from meshlink.offline.tls_emulation.keys import (
    key_algorithm_name,
    load_private_key,
    sign_kwargs,
    signature_hash,
)
from meshlink.offline.tls_emulation.names import general_names, subject_from_request, subject_name

KEY_USAGES: dict[str, str] = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
    "encipher_only": "encipher_only",
    "decipher_only": "decipher_only",
}
"""allowed_uses name -> ``cryptography.x509.KeyUsage`` argument."""

EXTENDED_KEY_USAGES: dict[str, ObjectIdentifier] = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec_end_system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec_tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec_user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft_server_gated_crypto": ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape_server_gated_crypto": ObjectIdentifier("2.16.840.1.113730.4.1"),
    "microsoft_commercial_code_signing": ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
    "microsoft_kernel_code_signing": ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
}
"""allowed_uses name -> ExtendedKeyUsage OID, as Go's ``x509.ExtKeyUsage`` values."""


def subject_key_id(public_key: PublicKey) -> bytes:
    """The provider's subject key identifier: SHA-1 over the public key bits (RFC 5280
    method 1), with Go's encoding of an Ed25519 key as an OCTET STRING."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha1(b"\x04\x20" + raw, usedforsecurity=False).digest()
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


def _format_time(value: dt.datetime) -> str:
    """Go's ``time.Time.MarshalText`` (RFC 3339 with trimmed fractional seconds), in UTC."""
    value = value.astimezone(dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _allowed_uses(typ: str, name: str, inputs: Mapping[str, Any]) -> list[str]:
    uses = inputs.get("allowedUses")
    if not isinstance(uses, list):
        raise fail(typ, name, "allowedUses is required")
    unknown = [u for u in uses if u not in KEY_USAGES and u not in EXTENDED_KEY_USAGES]
    if unknown:
        raise fail(
            typ,
            name,
            f"allowedUses: {unknown[0]!r} is not one of "
            + ", ".join(sorted([*KEY_USAGES, *EXTENDED_KEY_USAGES])),
        )
    return [str(u) for u in uses]


@dataclass(frozen=True)
class _Settings:
    """The certificate inputs every certificate resource shares, checked."""

    validity_hours: int
    early_renewal_hours: int
    max_path_length: int
    uses: list[str]
    is_ca: bool
    set_subject_key_id: bool


def _read_settings(typ: str, name: str, inputs: Mapping[str, Any]) -> _Settings:
    validity_hours = int_input(typ, name, inputs, "validityPeriodHours", -1)
    if validity_hours < 0:
        raise fail(typ, name, "validityPeriodHours is required and must be at least 0")
    early_renewal = int_input(typ, name, inputs, "earlyRenewalHours", 0)
    if early_renewal < 0:
        raise fail(typ, name, "earlyRenewalHours must be at least 0")
    max_path = int_input(typ, name, inputs, "maxPathLength", -1)
    if max_path < -1:
        raise fail(typ, name, "maxPathLength must be at least -1")
    return _Settings(
        validity_hours=validity_hours,
        early_renewal_hours=early_renewal,
        max_path_length=max_path,
        uses=_allowed_uses(typ, name, inputs),
        is_ca=bool(inputs.get("isCaCertificate") or False),
        set_subject_key_id=bool(inputs.get("setSubjectKeyId") or False),
    )


def _key_identifiers(
    typ: str,
    name: str,
    settings: _Settings,
    *,
    subject: x509.Name,
    public_key: PublicKey,
    self_signed: bool,
    issuer_ski: bytes | None,
    set_authority_key_id: bool,
) -> tuple[bytes | None, bytes | None]:
    """The subject and authority key identifiers, or None where the certificate has none."""
    if settings.is_ca and len(subject) == 0:
        raise fail(
            typ,
            name,
            "Invalid Certificate Subject: Must contain at least one Distinguished Name "
            "when creating Certificate Authority (CA)",
        )
    wants_ski = settings.is_ca or settings.set_subject_key_id
    ski = subject_key_id(public_key) if wants_ski else None
    if not self_signed:
        return ski, issuer_ski or None
    if not set_authority_key_id:
        return ski, None
    if ski is None:
        raise fail(
            typ, name, "Invalid Certificate Authority: Could not determine Authority Key Identifier"
        )
    return ski, ski


def _serial_number(
    seed: str,
    name: str,
    *,
    public_key: PublicKey,
    issuer: x509.Name,
    subject: x509.Name,
    not_before: dt.datetime,
) -> int:
    """A serial that the same inputs always give, where the provider draws a random one."""
    public_der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    serial_source = hmac.new(
        seed.encode(),
        b"\0".join(
            [
                b"serial",
                name.encode(),
                public_der,
                issuer.public_bytes(),
                subject.public_bytes(),
                not_before.isoformat().encode(),
            ]
        ),
        hashlib.sha256,
    ).digest()
    return int.from_bytes(serial_source[:16], "big") or 1


def _with_usages(
    typ: str, name: str, builder: x509.CertificateBuilder, settings: _Settings
) -> x509.CertificateBuilder:
    """The key usage, extended key usage and basic constraints extensions."""
    key_usage_flags = {flag: False for flag in KEY_USAGES.values()}
    for use in settings.uses:
        if use in KEY_USAGES:
            key_usage_flags[KEY_USAGES[use]] = True
    if any(key_usage_flags.values()):
        try:
            builder = builder.add_extension(x509.KeyUsage(**key_usage_flags), critical=True)
        except ValueError as error:
            raise fail(typ, name, f"allowedUses: {error}") from None
    ekus = [EXTENDED_KEY_USAGES[u] for u in settings.uses if u in EXTENDED_KEY_USAGES]
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    max_path = settings.max_path_length
    path_length = max_path if settings.is_ca and max_path > 0 else None
    return builder.add_extension(
        x509.BasicConstraints(ca=settings.is_ca, path_length=path_length), critical=True
    )


def _with_identities(
    builder: x509.CertificateBuilder,
    *,
    ski: bytes | None,
    aki: bytes | None,
    subject: x509.Name,
    sans: Sequence[x509.GeneralName],
) -> x509.CertificateBuilder:
    """The key identifier and subject alternative name extensions, where present."""
    if ski is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    if aki is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(aki, None, None), critical=False
        )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(list(sans)), critical=len(subject) == 0
        )
    return builder


def _create_certificate(
    typ: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    subject: x509.Name,
    sans: Sequence[x509.GeneralName],
    public_key: PublicKey,
    issuer_name: x509.Name | None,
    issuer_key: PrivateKey,
    issuer_ski: bytes | None,
    set_authority_key_id: bool,
    seed: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """Go's ``createCertificate`` as the provider calls it (see the module docstring)."""
    settings = _read_settings(typ, name, inputs)
    not_before = now.astimezone(dt.UTC)
    not_after = not_before + dt.timedelta(hours=settings.validity_hours)
    issuer = subject if issuer_name is None else issuer_name
    ski, aki = _key_identifiers(
        typ,
        name,
        settings,
        subject=subject,
        public_key=public_key,
        self_signed=issuer_name is None,
        issuer_ski=issuer_ski,
        set_authority_key_id=set_authority_key_id,
    )
    serial = _serial_number(
        seed, name, public_key=public_key, issuer=issuer, subject=subject, not_before=not_before
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before.replace(microsecond=0))
        .not_valid_after(not_after.replace(microsecond=0))
    )
    builder = _with_usages(typ, name, builder, settings)
    builder = _with_identities(builder, ski=ski, aki=aki, subject=subject, sans=sans)
    certificate = builder.sign(issuer_key, signature_hash(issuer_key), **sign_kwargs(issuer_key))
    return {
        "certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": _format_time(not_before),
        "validityEndTime": _format_time(not_after),
        "readyForRenewal": False,
        "id": str(serial),
        "earlyRenewalHours": settings.early_renewal_hours,
        "isCaCertificate": settings.is_ca,
        "maxPathLength": settings.max_path_length,
        "setSubjectKeyId": settings.set_subject_key_id,
    }


def create_self_signed_cert(
    name: str, inputs: Mapping[str, Any], seed: str, now: dt.datetime
) -> dict[str, Any]:
    key = load_private_key(SELF_SIGNED_CERT, name, "privateKeyPem", inputs.get("privateKeyPem"))
    outputs = _create_certificate(
        SELF_SIGNED_CERT,
        name,
        inputs,
        subject=subject_name(inputs.get("subject")),
        sans=general_names(SELF_SIGNED_CERT, name, inputs),
        public_key=key.public_key(),
        issuer_name=None,
        issuer_key=key,
        issuer_ski=None,
        set_authority_key_id=bool(inputs.get("setAuthorityKeyId") or False),
        seed=seed,
        now=now,
    )
    outputs["keyAlgorithm"] = key_algorithm_name(key)
    outputs["setAuthorityKeyId"] = bool(inputs.get("setAuthorityKeyId") or False)
    return outputs


def create_cert_request(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    key = load_private_key(CERT_REQUEST, name, "privateKeyPem", inputs.get("privateKeyPem"))
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        subject_name(inputs.get("subject"))
    )
    sans = general_names(CERT_REQUEST, name, inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    request = builder.sign(key, signature_hash(key), **sign_kwargs(key))
    return {
        "certRequestPem": request.public_bytes(serialization.Encoding.PEM).decode(),
        "keyAlgorithm": key_algorithm_name(key),
        "id": hash_for_state(request.public_bytes(serialization.Encoding.DER)),
    }


def create_locally_signed_cert(
    name: str, inputs: Mapping[str, Any], seed: str, now: dt.datetime
) -> dict[str, Any]:
    typ = LOCALLY_SIGNED_CERT
    try:
        request = x509.load_pem_x509_csr(str(inputs.get("certRequestPem") or "").encode())
    except ValueError:
        raise fail(typ, name, "Failed to parse certificate request PEM") from None
    ca_key = load_private_key(typ, name, "caPrivateKeyPem", inputs.get("caPrivateKeyPem"))
    try:
        ca_cert = x509.load_pem_x509_certificate(str(inputs.get("caCertPem") or "").encode())
    except ValueError:
        raise fail(typ, name, "Failed to parse CA certificate PEM") from None
    try:
        ca_ski: bytes | None = ca_cert.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        ca_ski = None
    try:
        requested = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        requested = x509.SubjectAlternativeName([])
    dns = [x509.DNSName(v) for v in requested.get_values_for_type(x509.DNSName)]
    ips = [x509.IPAddress(v) for v in requested.get_values_for_type(x509.IPAddress)]
    uris = [
        x509.UniformResourceIdentifier(v)
        for v in requested.get_values_for_type(x509.UniformResourceIdentifier)
    ]
    sans: list[x509.GeneralName] = [*dns, *ips, *uris]
    public_key = request.public_key()
    if not isinstance(
        public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    ):
        raise fail(typ, name, "certificate request has an unsupported public key type")
    outputs = _create_certificate(
        typ,
        name,
        inputs,
        subject=subject_name(subject_from_request(request.subject)),
        sans=sans,
        public_key=public_key,
        issuer_name=ca_cert.subject,
        issuer_key=ca_key,
        issuer_ski=ca_ski,
        set_authority_key_id=False,
        seed=seed,
        now=now,
    )
    outputs["caKeyAlgorithm"] = key_algorithm_name(ca_key)
    return outputs
