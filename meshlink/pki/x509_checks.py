"""Checks of certificates and keys that users hand to meshlink, before anything is declared.

Every message says what is wrong and which setting it is about. None of them quotes a
private key or anything derived from one: the key's parse errors are replaced by a fixed
sentence, and only public facts (sizes, curves, dates, subjects) are named.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CaPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CaPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_STRONG_CURVES = {"secp256r1", "secp384r1", "secp521r1"}
_WEAK_HASHES = (hashes.SHA1, hashes.MD5)

Clock = Callable[[], dt.datetime]
"""Gives "now" for validity checks; tests pass a fixed one."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hours_left(cert: x509.Certificate, now: dt.datetime) -> int:
    """Whole hours from ``now`` until ``cert`` expires (0 once it has)."""
    seconds = (cert.not_valid_after_utc - now).total_seconds()
    return max(0, int(seconds // 3600))


class CertificateProblem(ValueError):
    """One problem with one setting; ``setting`` names it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def load_certificates(text: str, setting: str) -> list[x509.Certificate]:
    """All certificates in a PEM text, or a clear problem when there is none or it is not
    PEM (certificates are public, but their text is still not echoed)."""
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        raise CertificateProblem(setting, "is not a PEM certificate (no BEGIN CERTIFICATE block)")
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise CertificateProblem(
            setting, "holds a BEGIN CERTIFICATE block that is not a valid certificate"
        ) from None


def load_certificate(text: str, setting: str) -> x509.Certificate:
    """Exactly one certificate."""
    certificates = load_certificates(text, setting)
    if len(certificates) != 1:
        raise CertificateProblem(
            setting,
            f"holds {len(certificates)} certificates; give only the CA certificate here and "
            "its intermediates in chain_pem",
        )
    return certificates[0]


def load_private_key(text: str, setting: str) -> CaPrivateKey:
    """An unencrypted RSA or ECDSA private key. Errors never include the key text."""
    if not isinstance(text, str) or "PRIVATE KEY-----" not in text:
        raise CertificateProblem(setting, "is not a PEM private key (no PRIVATE KEY block)")
    if "ENCRYPTED" in text:
        raise CertificateProblem(
            setting,
            "is encrypted; store the decrypted key as a Pulumi secret instead "
            "(pulumi config set --secret)",
        )
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateProblem(setting, "is not a valid PEM private key") from None
    if not isinstance(key, CaPrivateKey):
        raise CertificateProblem(
            setting,
            f"is a {_key_kind(key)} key; a link CA key must be ECDSA (P-256, P-384) or RSA",
        )
    return key


def _key_kind(key: object) -> str:
    name = type(key).__name__
    for prefix in ("Ed25519", "Ed448", "X25519", "X448", "DSA", "DH"):
        if name.startswith(prefix) or name.startswith(f"_{prefix}"):
            return prefix
    return name


def key_strength_problem(key: object, *, allow_weak_keys: bool) -> str | None:
    """Why a public key is not acceptable for the link CA, or ``None``."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048 and not allow_weak_keys:
            return (
                f"its RSA key has {key.key_size} bits; at least 2048 are required "
                "(allow_weak_keys: true overrides)"
            )
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _STRONG_CURVES and not allow_weak_keys:
            return (
                f"its ECDSA curve {key.curve.name} is weak; use P-256, P-384 or P-521 "
                "(allow_weak_keys: true overrides)"
            )
        return None
    return f"its {_key_kind(key)} key is not supported; the link CA key must be ECDSA or RSA"


def same_public_key(a: object, b: object) -> bool:
    """Whether two public keys are the same key (compared by their DER)."""
    if not isinstance(a, CaPublicKey) or not isinstance(b, CaPublicKey):
        return False
    encoding, fmt = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(encoding, fmt) == b.public_bytes(encoding, fmt)


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


@dataclass(frozen=True)
class CaChecks:
    """What a CA certificate must satisfy to sign link certificates."""

    now: dt.datetime
    allow_weak_keys: bool = False

    def problems(self, cert: x509.Certificate, setting: str) -> list[str]:
        found: list[str] = []
        try:
            basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = basic.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            found.append(
                f"{setting}: {describe(cert)} is not a CA certificate "
                "(basicConstraints CA:TRUE is missing)"
            )
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.key_cert_sign:
                found.append(
                    f"{setting}: {describe(cert)} may not sign certificates "
                    "(keyUsage has no keyCertSign)"
                )
        except x509.ExtensionNotFound:
            found.append(
                f"{setting}: {describe(cert)} has no keyUsage extension; strict verifiers "
                "require keyCertSign on a CA"
            )
        found.extend(self.validity_problems(cert, setting))
        weak = key_strength_problem(cert.public_key(), allow_weak_keys=self.allow_weak_keys)
        if weak:
            found.append(f"{setting}: {describe(cert)}: {weak}")
        weak_hash = isinstance(cert.signature_hash_algorithm, _WEAK_HASHES)
        algorithm = cert.signature_hash_algorithm
        if weak_hash and algorithm and not is_self_signed(cert) and not self.allow_weak_keys:
            found.append(
                f"{setting}: {describe(cert)} is signed with "
                f"{algorithm.name.upper()}, which strict verifiers reject"
            )
        return found

    def validity_problems(self, cert: x509.Certificate, setting: str) -> list[str]:
        if self.now > cert.not_valid_after_utc:
            return [
                f"{setting}: {describe(cert)} expired on {cert.not_valid_after_utc.isoformat()}"
            ]
        if self.now < cert.not_valid_before_utc:
            return [
                f"{setting}: {describe(cert)} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}"
            ]
        return []


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chain_problems(
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    root: x509.Certificate,
    *,
    setting: str,
) -> list[str]:
    """Whether ``cert`` -> each intermediate in order -> ``root`` is a chain of signatures."""
    path = [cert, *intermediates, root]
    for child, parent in itertools.pairwise(path):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return [
                f"{setting}: {describe(child)} is not signed by {describe(parent)}; give the "
                "intermediates nearest first in chain_pem and the root in root_cert_pem"
            ]
    if not is_self_signed(root):
        return [f"{setting}: the root {describe(root)} is not self-signed"]
    return []
