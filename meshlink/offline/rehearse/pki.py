"""Certificates for the rehearsal: reading rendered PEMs, and asking OpenSSL (the library
HAProxy links against) whether a chain verifies. ``issuing`` mints new ones.

Chains are judged by an in-memory TLS handshake rather than by a separate path
validator, so the verdict is the one the TLS stack would reach: the same purpose
(EKU) rules, the same expiry rules, the same chain building.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

REDACTED_MARKER = "<redacted: render with --include-private-keys>"


class PemError(ValueError):
    """A PEM value that could not be read; the message never quotes key material."""


def load_certificates(pem: str, *, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as error:
        raise PemError(f"{what} is not a PEM certificate list ({error})") from None
    if not certs:
        raise PemError(f"{what} holds no certificate")
    return certs


def load_private_key(pem: str, *, what: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        # The underlying message may echo parts of the input; say only what failed.
        raise PemError(f"{what} is not an unencrypted PEM private key") from None


def public_key_der(key: PrivateKeyTypes | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificates_to_pem(certs: Iterable[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def private_key_to_pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def describe_issuer(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string() or "an unnamed issuer"


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """SAN entries as Istio writes them: DNS names, URIs, IP addresses, e-mail addresses."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = []
    for general_name in ext:
        if isinstance(general_name, x509.IPAddress):
            names.append(str(general_name.value))
        elif isinstance(
            general_name, x509.DNSName | x509.UniformResourceIdentifier | x509.RFC822Name
        ):
            names.append(general_name.value)
    return names


def normalise_san(value: str) -> str:
    """IP addresses compare by value (``::1`` equals ``0:0::1``); everything else exactly."""
    try:
        return ipaddress.ip_address(value).exploded
    except ValueError:
        return value


def dns_name_matches(pattern: str, name: str) -> bool:
    """RFC 6125 matching of a certificate DNS name (which may be ``*.x``) against ``name``."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def extended_key_usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    """None when the certificate has no EKU extension (TLS stacks then allow any use)."""
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def eku_names(usages: Sequence[x509.ObjectIdentifier] | None) -> str:
    if usages is None:
        return "no EKU extension"
    return ", ".join(u._name for u in usages)


def not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def find_issuer(
    cert: x509.Certificate, candidates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The candidate that actually signed ``cert`` (names alone can collide across CAs)."""
    for candidate in candidates:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None


def key_for_certificate(
    cert: x509.Certificate, keys: Iterable[PrivateKeyTypes]
) -> PrivateKeyTypes | None:
    wanted = public_key_der(cert)
    for key in keys:
        if public_key_der(key) == wanted:
            return key
    return None


SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class Credential:
    """What a gateway Secret holds, parsed: the presented chain, its key and the trust bundle."""

    chain: tuple[x509.Certificate, ...]
    key: PrivateKeyTypes
    trust: tuple[x509.Certificate, ...]

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    def chain_pem(self) -> str:
        return certificates_to_pem(self.chain)

    def trust_pem(self) -> str:
        return certificates_to_pem(self.trust)

    def key_pem(self) -> str:
        return private_key_to_pem(self.key)

    def with_chain(self, leaf: x509.Certificate, key: PrivateKeyTypes) -> Credential:
        """The same intermediates and trust, a different leaf: so only the leaf is at fault."""
        return Credential(chain=(leaf, *self.chain[1:]), key=key, trust=self.trust)


# --- OpenSSL in memory -------------------------------------------------------------------


def _write_private(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def load_chain_into(context: ssl.SSLContext, credential: Credential) -> None:
    """``SSLContext`` reads keys only from files: a private temporary file, removed at once."""
    with tempfile.TemporaryDirectory(prefix="meshlink-cred-") as tmp:
        cert = _write_private(Path(tmp), "chain.pem", credential.chain_pem())
        key = _write_private(Path(tmp), "key.pem", credential.key_pem())
        context.load_cert_chain(cert, key)


def server_context(
    credential: Credential,
    *,
    verify_client: bool,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = minimum
    load_chain_into(context, credential)
    if verify_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=credential.trust_pem())
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(
    credential: Credential | None,
    *,
    trust: Credential | None,
    check_hostname: bool = False,
) -> ssl.SSLContext:
    """``trust`` None means: do not verify the server (to test the other direction alone)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = check_hostname and trust is not None
    if trust is None:
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=trust.trust_pem())
    if credential is not None:
        load_chain_into(context, credential)
    return context


@dataclass(frozen=True)
class MemoryHandshake:
    client_error: str | None
    server_error: str | None

    @property
    def ok(self) -> bool:
        return self.client_error is None and self.server_error is None


def _ssl_error_text(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"{error.verify_message} (X509 verify code {error.verify_code})"
    return error.reason or str(error)


def handshake_in_memory(
    server: ssl.SSLContext, client: ssl.SSLContext, *, server_name: str | None
) -> MemoryHandshake:
    """One full TLS handshake between two contexts through memory buffers, no sockets."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_side=False, server_hostname=server_name)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    client_done = server_done = False
    for _ in range(16):
        if not client_done:
            try:
                c.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as error:
                return MemoryHandshake(_ssl_error_text(error), None)
        s_in.write(c_out.read())
        if not server_done:
            try:
                s.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as error:
                return MemoryHandshake(None, _ssl_error_text(error))
        c_in.write(s_out.read())
        if client_done and server_done:
            return MemoryHandshake(None, None)
    return MemoryHandshake("handshake did not finish", None)
