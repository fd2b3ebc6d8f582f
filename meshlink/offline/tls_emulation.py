"""Offline emulation of the four pulumi-tls resources meshlink declares.

``PrivateKey``, ``SelfSignedCert``, ``CertRequest`` and ``LocallySignedCert`` are
computed here with ``cryptography`` from the inputs the engine receives (wire names,
camelCase), and return the output properties the provider returns, with real PEMs. The
mock engine uses it so that tests and ``meshlink render`` work on real certificates:
chains verify, SANs and key usages can be read back, keys match their certificates.

It follows the Terraform tls provider (which pulumi-tls bridges) and the Go
``crypto/x509`` package it is built on:

- ``allowedUses`` maps each name to a KeyUsage bit or an ExtendedKeyUsage purpose, in
  the order given; KeyUsage is marked critical, ExtendedKeyUsage is not.
- Every certificate carries BasicConstraints, marked critical: ``CA:TRUE`` when
  ``isCaCertificate``, otherwise ``CA:FALSE``.
- ``maxPathLength`` (default -1) is written only for a CA and only when it is above 0:
  the provider never sets Go's ``MaxPathLenZero``, so a requested 0 is *omitted*, which
  means "no limit".
- A CA certificate always gets a SubjectKeyIdentifier; other certificates only with
  ``setSubjectKeyId``. The identifier is the SHA-1 of the subject public key bits (RFC
  5280 method 1; for Ed25519, of the key wrapped in an OCTET STRING, as Go does).
- A locally signed certificate gets an AuthorityKeyIdentifier whenever its CA
  certificate has a SubjectKeyIdentifier (Go copies it); a self-signed one only with
  ``setAuthorityKeyId``, which fails when there is no SubjectKeyIdentifier.
- A CA certificate needs a non-empty subject.
- The subject is written in Go's order (C, ST, L, STREET, PostalCode, O, OU, CN,
  SERIALNUMBER, then the e-mail address) with Go's string types (PrintableString when
  the value allows it, UTF8String otherwise). A locally signed certificate takes the
  subject, DNS names, IP addresses and URIs of the request and nothing else from it.
- The subject alternative names are critical only when the subject is empty.
- The signature hash follows the signing key: SHA-256 for RSA, P-224 and P-256,
  SHA-384 for P-384, SHA-512 for P-521; RSA signs with PKCS #1 v1.5.
- Validity starts at the given clock and lasts ``validityPeriodHours``;
  ``validityStartTime``/``validityEndTime`` are RFC 3339 strings.
- ``id`` is the serial number (certificates), the SHA-1 of the DER public key (keys) or
  of the DER request (requests), in hex, as the provider sets it.
- ``privateKeyPem`` is PKCS #1 for RSA, SEC 1 for ECDSA and PKCS #8 for Ed25519; the
  OpenSSH forms are empty for P-224, which OpenSSH does not support.

Where it differs from the real provider, on purpose:

- **Deterministic.** Keys derive from HMAC-SHA-256(seed, resource name) through a
  SHAKE-256 stream: an ECDSA scalar drawn from it, an Ed25519 seed taken from it, RSA
  primes found by a sieved Miller-Rabin search over it. Serial numbers are a hash of
  the seed, the name and the certificate's content (128 bits, like the provider's random
  ones). ECDSA signatures use RFC 6979 deterministic nonces instead of Go's randomised
  ones, and the OpenSSH private key's check integers are derived rather than random.
  Two runs with the same seed, names, inputs and clock give byte-identical PEMs. These
  keys are for tests and rendering only: never deploy them.
- **One name, one key.** A replacement (a new ``replacement_trigger``) gives the same key
  again, because the key depends on the name and not on the engine's history.
- **Stateless.** Every call is a create: ``readyForRenewal`` is false, as the provider
  reports right after creating; the emulation does not model later plans, refreshes or
  early renewal (pulumi-tls#39 is about exactly that behaviour).
- **Not modelled:** the write-only ``*Wo`` inputs, name constraints, the provider's
  warning when ``caCertPem`` is not a CA, and Go's acceptance of ``encipher_only`` or
  ``decipher_only`` without ``key_agreement`` (``cryptography`` refuses that combination
  and so does the emulation).
- **Hash of the id.** Go trims Unicode white space around the DER before hashing it for
  ``id``; the emulation trims ASCII white space only.
- **Errors.** Inputs the provider would refuse raise :class:`EmulationError` with a
  message naming the resource and the input; the engine reports it as the program
  error, much as a failed create would be.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class EmulationError(ValueError):
    """An input the real provider would refuse."""


# --- allowed_uses ------------------------------------------------------------------------

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

ECDSA_CURVES: dict[str, ec.EllipticCurve] = {
    "P224": ec.SECP224R1(),
    "P256": ec.SECP256R1(),
    "P384": ec.SECP384R1(),
    "P521": ec.SECP521R1(),
}

_SSH_CURVE_NAMES = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}


# --- deterministic randomness -------------------------------------------------------------


class _Stream:
    """A deterministic byte stream: SHAKE-256 over a key and a block counter."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0

    def read(self, n: int) -> bytes:
        out = hashlib.shake_256(self._key + struct.pack(">Q", self._counter)).digest(n)
        self._counter += 1
        return out

    def integer(self, bits: int) -> int:
        raw = int.from_bytes(self.read((bits + 7) // 8), "big")
        return raw >> ((8 - bits % 8) % 8)


def _stream(seed: str, name: str, purpose: str) -> _Stream:
    key = hmac.new(seed.encode(), f"{purpose}\0{name}".encode(), hashlib.sha256).digest()
    return _Stream(key)


@functools.cache
def _small_primes(limit: int = 1 << 16) -> tuple[int, ...]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\0\0"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return tuple(i for i in range(3, limit) if sieve[i])


def _probably_prime(n: int, stream: _Stream, rounds: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        a = 2 + stream.integer(n.bit_length()) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(stream: _Stream, bits: int, public_exponent: int) -> int:
    """A prime of exactly ``bits`` bits with its top two bits set (so that the product of
    two such primes has exactly twice as many bits), and ``p - 1`` coprime to the public
    exponent. Candidates are sieved in windows by the small primes before Miller-Rabin,
    which keeps a 2048-bit prime to about a second of CPU."""
    window = 4096
    primes = _small_primes()
    while True:
        base = stream.integer(bits) | (3 << (bits - 2)) | 1
        # Index i stands for base + 2i; mark the indices divisible by a small prime.
        composite = bytearray(window)
        for p in primes:
            start = (-base * pow(2, -1, p)) % p
            composite[start::p] = b"\1" * len(range(start, window, p))
        for i in range(window):
            if composite[i]:
                continue
            candidate = base + 2 * i
            if candidate.bit_length() != bits:
                break
            if (candidate - 1) % public_exponent == 0:
                continue
            if _probably_prime(candidate, stream, rounds=1) and _probably_prime(
                candidate, stream, rounds=5
            ):
                return candidate


def _rsa_key(stream: _Stream, bits: int) -> rsa.RSAPrivateKey:
    e = 65537
    while True:
        p = _prime(stream, bits - bits // 2, e)
        q = _prime(stream, bits // 2, e)
        if p == q or (p * q).bit_length() != bits:
            continue
        d = pow(e, -1, math.lcm(p - 1, q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(e, p * q),
        )
        return numbers.private_key()


@functools.lru_cache(maxsize=256)
def _generated_key_der(seed: str, name: str, algorithm: str, curve: str, bits: int) -> bytes:
    """PKCS #8 DER of the key for this (seed, name, algorithm): cached, because RSA prime
    searches cost seconds and tests declare the same keys many times."""
    stream = _stream(seed, name, f"private-key/{algorithm}/{curve}/{bits}")
    key: PrivateKey
    if algorithm == "ECDSA":
        curve_obj = ECDSA_CURVES[curve]
        # In [1, 2^(n-1)): always below the group order of the NIST curves.
        scalar = 1 + stream.integer(curve_obj.key_size + 64) % ((1 << (curve_obj.key_size - 1)) - 1)
        key = ec.derive_private_key(scalar, curve_obj)
    elif algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.from_private_bytes(stream.read(32))
    else:
        key = _rsa_key(stream, bits)
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- helpers ------------------------------------------------------------------------------


def _fail(typ: str, name: str, message: str) -> EmulationError:
    short = typ.rsplit(":", 1)[-1]
    return EmulationError(f"{short} {name!r}: {message}")


def _load_private_key(typ: str, name: str, field: str, pem: Any) -> PrivateKey:
    if not isinstance(pem, str) or not pem.strip():
        raise _fail(typ, name, f"{field} is required")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        # The message of a key parser may quote the input: never pass it on.
        raise _fail(typ, name, f"failed to parse {field}: not a PEM private key") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise _fail(typ, name, f"{field}: unsupported private key type {type(key).__name__}")
    return key


def key_algorithm_name(key: PrivateKey | PublicKey) -> str:
    """The provider's ``keyAlgorithm`` value for a key."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ECDSA"
    return "ED25519"


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name == "secp384r1":
            return hashes.SHA384()
        if key.curve.name == "secp521r1":
            return hashes.SHA512()
    return hashes.SHA256()


def _sign_kwargs(key: PrivateKey) -> dict[str, Any]:
    return {"ecdsa_deterministic": True} if isinstance(key, ec.EllipticCurvePrivateKey) else {}


def subject_key_id(public_key: PublicKey) -> bytes:
    """The provider's subject key identifier: SHA-1 over the public key bits (RFC 5280
    method 1), with Go's encoding of an Ed25519 key as an OCTET STRING."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha1(b"\x04\x20" + raw, usedforsecurity=False).digest()
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


def _hash_for_state(value: bytes) -> str:
    return hashlib.sha1(value.strip(), usedforsecurity=False).hexdigest()


_PRINTABLE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?")


def _attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute:
    """A name attribute encoded the way Go's asn1 package encodes a plain string."""
    string_type = _ASN1Type.PrintableString if set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    if oid == NameOID.COUNTRY_NAME and string_type is _ASN1Type.UTF8String:
        # cryptography insists on PrintableString for C; Go would write UTF8String.
        string_type = _ASN1Type.PrintableString
    return x509.NameAttribute(oid, value, _type=string_type)


_SUBJECT_ORDER: tuple[tuple[str, ObjectIdentifier], ...] = (
    ("country", NameOID.COUNTRY_NAME),
    ("province", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("streetAddresses", NameOID.STREET_ADDRESS),
    ("postalCode", NameOID.POSTAL_CODE),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("commonName", NameOID.COMMON_NAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
    ("emailAddress", NameOID.EMAIL_ADDRESS),
)


def _subject_name(subject: Mapping[str, Any] | None) -> x509.Name:
    """The subject as Go's ``pkix.Name.ToRDNSequence`` writes it: one RDN per field, all
    street addresses in one multi-valued RDN, empty fields left out."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for field, oid in _SUBJECT_ORDER:
        value = (subject or {}).get(field)
        if value is None or value == "" or value == []:
            continue
        values = list(value) if isinstance(value, list) else [value]
        rdns.append(x509.RelativeDistinguishedName([_attribute(oid, str(v)) for v in values]))
    return x509.Name(rdns)


def _subject_from_request(name: x509.Name) -> dict[str, Any]:
    """The fields Go's ``pkix.Name`` keeps when it parses a request's subject."""
    fields: dict[str, Any] = {}
    by_oid = {oid: field for field, oid in _SUBJECT_ORDER if field != "emailAddress"}
    for attribute in name:
        field = by_oid.get(attribute.oid)
        if field is None:
            continue
        value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
        if field in {"commonName", "serialNumber"}:
            fields[field] = value
        elif field == "streetAddresses":
            fields.setdefault(field, []).append(value)
        else:
            # Go keeps every value; the provider only ever writes one per field.
            fields.setdefault(field, value)
    return fields


def _general_names(typ: str, name: str, inputs: Mapping[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in inputs.get("dnsNames") or []]
    for ip in inputs.get("ipAddresses") or []:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise _fail(typ, name, f"Invalid IP address: failed to parse {ip!r}") from None
    names.extend(x509.UniformResourceIdentifier(u) for u in inputs.get("uris") or [])
    return names


def _format_time(value: dt.datetime) -> str:
    """Go's ``time.Time.MarshalText`` (RFC 3339 with trimmed fractional seconds), in UTC."""
    value = value.astimezone(dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _int_input(typ: str, name: str, inputs: Mapping[str, Any], key: str, default: int) -> int:
    value = inputs.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _fail(typ, name, f"{key} must be a whole number, got {value!r}")
    return int(value)


def _allowed_uses(typ: str, name: str, inputs: Mapping[str, Any]) -> list[str]:
    uses = inputs.get("allowedUses")
    if not isinstance(uses, list):
        raise _fail(typ, name, "allowedUses is required")
    unknown = [u for u in uses if u not in KEY_USAGES and u not in EXTENDED_KEY_USAGES]
    if unknown:
        raise _fail(
            typ,
            name,
            f"allowedUses: {unknown[0]!r} is not one of "
            + ", ".join(sorted([*KEY_USAGES, *EXTENDED_KEY_USAGES])),
        )
    return [str(u) for u in uses]


# --- certificates -------------------------------------------------------------------------


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
    validity_hours = _int_input(typ, name, inputs, "validityPeriodHours", -1)
    if validity_hours < 0:
        raise _fail(typ, name, "validityPeriodHours is required and must be at least 0")
    early_renewal = _int_input(typ, name, inputs, "earlyRenewalHours", 0)
    if early_renewal < 0:
        raise _fail(typ, name, "earlyRenewalHours must be at least 0")
    max_path = _int_input(typ, name, inputs, "maxPathLength", -1)
    if max_path < -1:
        raise _fail(typ, name, "maxPathLength must be at least -1")
    uses = _allowed_uses(typ, name, inputs)
    is_ca = bool(inputs.get("isCaCertificate") or False)
    set_ski = bool(inputs.get("setSubjectKeyId") or False)

    not_before = now.astimezone(dt.UTC)
    not_after = not_before + dt.timedelta(hours=validity_hours)
    self_signed = issuer_name is None
    issuer = subject if issuer_name is None else issuer_name

    if is_ca and len(subject) == 0:
        raise _fail(
            typ,
            name,
            "Invalid Certificate Subject: Must contain at least one Distinguished Name "
            "when creating Certificate Authority (CA)",
        )
    ski = subject_key_id(public_key) if is_ca or set_ski else None
    aki: bytes | None = None
    if self_signed:
        if set_authority_key_id:
            if ski is None:
                raise _fail(
                    typ,
                    name,
                    "Invalid Certificate Authority: Could not determine Authority Key Identifier",
                )
            aki = ski
    elif issuer_ski:
        aki = issuer_ski

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
    serial = int.from_bytes(serial_source[:16], "big") or 1

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before.replace(microsecond=0))
        .not_valid_after(not_after.replace(microsecond=0))
    )
    key_usage_flags = {flag: False for flag in KEY_USAGES.values()}
    for use in uses:
        if use in KEY_USAGES:
            key_usage_flags[KEY_USAGES[use]] = True
    if any(key_usage_flags.values()):
        try:
            builder = builder.add_extension(x509.KeyUsage(**key_usage_flags), critical=True)
        except ValueError as error:
            raise _fail(typ, name, f"allowedUses: {error}") from None
    ekus = [EXTENDED_KEY_USAGES[u] for u in uses if u in EXTENDED_KEY_USAGES]
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    path_length = max_path if is_ca and max_path > 0 else None
    builder = builder.add_extension(
        x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True
    )
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
    certificate = builder.sign(issuer_key, _signature_hash(issuer_key), **_sign_kwargs(issuer_key))

    return {
        "certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": _format_time(not_before),
        "validityEndTime": _format_time(not_after),
        "readyForRenewal": False,
        "id": str(serial),
        "earlyRenewalHours": early_renewal,
        "isCaCertificate": is_ca,
        "maxPathLength": max_path,
        "setSubjectKeyId": set_ski,
    }


# --- resources ----------------------------------------------------------------------------


def _openssh_private_key(key: PrivateKey, seed: str, name: str) -> str:
    """OpenSSH's private key format with the check integers derived, not random."""
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    lines = text.strip().splitlines()
    blob = bytearray(base64.b64decode("".join(lines[1:-1])))
    offset = len(b"openssh-key-v1\0")
    for _ in range(3):  # cipher name, kdf name, kdf options
        (length,) = struct.unpack(">I", blob[offset : offset + 4])
        offset += 4 + length
    offset += 4  # number of keys
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    offset += 4 + length + 4  # public key, then the private section's length
    check = _stream(seed, name, "openssh-check").read(4)
    blob[offset : offset + 8] = check + check
    body = base64.b64encode(bytes(blob)).decode()
    wrapped = "\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    return f"{lines[0]}\n{wrapped}\n{lines[-1]}\n"


def _ssh_public(public_key: PublicKey) -> tuple[str, str, str]:
    """``publicKeyOpenssh`` and the two fingerprints, or empty strings for P-224."""
    if isinstance(public_key, ec.EllipticCurvePublicKey) and (
        public_key.curve.name not in _SSH_CURVE_NAMES
    ):
        return "", "", ""
    line = public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    blob = base64.b64decode(line.split()[1])
    md5 = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    md5_text = ":".join(md5[i : i + 2] for i in range(0, len(md5), 2))
    sha256 = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return line + "\n", md5_text, f"SHA256:{sha256}"


def _private_key(name: str, inputs: Mapping[str, Any], seed: str) -> dict[str, Any]:
    algorithm = inputs.get("algorithm")
    if algorithm not in {"RSA", "ECDSA", "ED25519"}:
        raise _fail(
            PRIVATE_KEY, name, f"algorithm must be RSA, ECDSA or ED25519, got {algorithm!r}"
        )
    curve = str(inputs.get("ecdsaCurve") or "P224")
    bits = _int_input(PRIVATE_KEY, name, inputs, "rsaBits", 2048)
    if algorithm == "ECDSA" and curve not in ECDSA_CURVES:
        raise _fail(
            PRIVATE_KEY, name, f"invalid ECDSA curve {curve!r}; supported: P224, P256, P384, P521"
        )
    if algorithm == "RSA" and bits < 1024:
        raise _fail(PRIVATE_KEY, name, f"rsaBits {bits} is too small to generate a key")
    der = _generated_key_der(
        seed,
        name,
        algorithm,
        curve if algorithm == "ECDSA" else "",
        bits if algorithm == "RSA" else 0,
    )
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    )
    public_key = key.public_key()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        traditional = serialization.PrivateFormat.PKCS8
    else:
        traditional = serialization.PrivateFormat.TraditionalOpenSSL
    public_der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    openssh_public, md5, sha256 = _ssh_public(public_key)
    return {
        "algorithm": algorithm,
        "ecdsaCurve": curve,
        "rsaBits": bits,
        "privateKeyPem": key.private_bytes(
            serialization.Encoding.PEM, traditional, serialization.NoEncryption()
        ).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "privateKeyOpenssh": _openssh_private_key(key, seed, name) if openssh_public else "",
        "publicKeyPem": public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": openssh_public,
        "publicKeyFingerprintMd5": md5,
        "publicKeyFingerprintSha256": sha256,
        "id": _hash_for_state(public_der),
    }


def _self_signed_cert(
    name: str, inputs: Mapping[str, Any], seed: str, now: dt.datetime
) -> dict[str, Any]:
    key = _load_private_key(SELF_SIGNED_CERT, name, "privateKeyPem", inputs.get("privateKeyPem"))
    outputs = _create_certificate(
        SELF_SIGNED_CERT,
        name,
        inputs,
        subject=_subject_name(inputs.get("subject")),
        sans=_general_names(SELF_SIGNED_CERT, name, inputs),
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


def _cert_request(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    key = _load_private_key(CERT_REQUEST, name, "privateKeyPem", inputs.get("privateKeyPem"))
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        _subject_name(inputs.get("subject"))
    )
    sans = _general_names(CERT_REQUEST, name, inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    request = builder.sign(key, _signature_hash(key), **_sign_kwargs(key))
    return {
        "certRequestPem": request.public_bytes(serialization.Encoding.PEM).decode(),
        "keyAlgorithm": key_algorithm_name(key),
        "id": _hash_for_state(request.public_bytes(serialization.Encoding.DER)),
    }


def _locally_signed_cert(
    name: str, inputs: Mapping[str, Any], seed: str, now: dt.datetime
) -> dict[str, Any]:
    typ = LOCALLY_SIGNED_CERT
    try:
        request = x509.load_pem_x509_csr(str(inputs.get("certRequestPem") or "").encode())
    except ValueError:
        raise _fail(typ, name, "Failed to parse certificate request PEM") from None
    ca_key = _load_private_key(typ, name, "caPrivateKeyPem", inputs.get("caPrivateKeyPem"))
    try:
        ca_cert = x509.load_pem_x509_certificate(str(inputs.get("caCertPem") or "").encode())
    except ValueError:
        raise _fail(typ, name, "Failed to parse CA certificate PEM") from None
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
        raise _fail(typ, name, "certificate request has an unsupported public key type")
    outputs = _create_certificate(
        typ,
        name,
        inputs,
        subject=_subject_name(_subject_from_request(request.subject)),
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


_HANDLERS: dict[str, Callable[[str, Mapping[str, Any], str, dt.datetime], dict[str, Any]]] = {
    PRIVATE_KEY: lambda name, inputs, seed, now: _private_key(name, inputs, seed),
    SELF_SIGNED_CERT: _self_signed_cert,
    CERT_REQUEST: lambda name, inputs, seed, now: _cert_request(name, inputs),
    LOCALLY_SIGNED_CERT: _locally_signed_cert,
}


def emulate(typ: str, name: str, inputs: dict[str, Any], *, seed: str, now: dt.datetime) -> dict:
    """The outputs the provider would return on creating ``typ`` named ``name``.

    The result holds the inputs (as the provider's state does) plus the computed
    properties, under the provider's wire names.
    """
    handler = _HANDLERS.get(typ)
    if handler is None:
        raise NotImplementedError(f"the offline pulumi-tls emulation does not cover {typ}")
    if now.tzinfo is None:
        raise ValueError("the emulation clock must be timezone-aware")
    outputs = dict(inputs)
    outputs.update(handler(name, inputs, seed, now))
    return outputs


def split_pem_certificates(text: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order (empty text gives none)."""
    return x509.load_pem_x509_certificates(text.encode()) if text.strip() else []


__all__ = [
    "CERT_REQUEST",
    "LOCALLY_SIGNED_CERT",
    "PRIVATE_KEY",
    "SELF_SIGNED_CERT",
    "EmulationError",
    "emulate",
    "key_algorithm_name",
    "split_pem_certificates",
    "subject_key_id",
]
