"""The issued certificates, and how long each has left at the render clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.engine import OfflineRun

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
}

EXPIRY_WARNING_DAYS = 30
"""``render`` warns about a certificate that expires within this many days of its clock."""


@dataclass(frozen=True)
class CertificateView:
    """One issued certificate and how long it has left at the render clock."""

    name: str
    certificate: x509.Certificate
    days_left: int

    @property
    def expires(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


def certificates(run: OfflineRun, now: dt.datetime) -> list[CertificateView]:
    """Every certificate the program issued, sorted by name (registration order depends on
    when each Output resolves)."""
    views = []
    for name, pem in sorted(
        (r.name, r.outputs["certPem"])
        for r in run.registrations
        if r.type.startswith("tls:") and "certPem" in r.outputs
    ):
        certificate = x509.load_pem_x509_certificate(pem.encode())
        left = certificate.not_valid_after_utc - now.astimezone(dt.UTC)
        views.append(CertificateView(name, certificate, left.days))
    return views


def expiry_warnings(run: OfflineRun, now: dt.datetime) -> list[str]:
    """One line per certificate that expires within :data:`EXPIRY_WARNING_DAYS` of ``now``."""
    warnings = []
    for view in certificates(run, now):
        expires = f"{view.expires:%Y-%m-%d %H:%M} UTC"
        if view.days_left < 0:
            warnings.append(
                f"certificate {view.name} expired on {expires}, before the render clock"
            )
        elif view.days_left < EXPIRY_WARNING_DAYS:
            warnings.append(
                f"certificate {view.name} expires on {expires}, {view.days_left} days after the "
                f"render clock (less than {EXPIRY_WARNING_DAYS})"
            )
    return warnings


def _key_description(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return type(key).__name__


def certificate_row(view: CertificateView) -> str:
    certificate = view.certificate
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        sans += [f"URI:{n}" for n in san.get_values_for_type(x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        sans = []
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku = [_EKU_NAMES.get(oid, oid.dotted_string) for oid in usages]
    except x509.ExtensionNotFound:
        eku = []
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        role = "CA" if constraints.ca else "leaf"
    except x509.ExtensionNotFound:
        role = "leaf"
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    if view.days_left < 0:
        left = "**expired**"
    elif view.days_left < EXPIRY_WARNING_DAYS:
        left = f"**{view.days_left}** (less than {EXPIRY_WARNING_DAYS})"
    else:
        left = str(view.days_left)
    return (
        f"| `{view.name}` | {role} | {certificate.subject.rfc4514_string()} | "
        f"{', '.join(sans) or '—'} | {', '.join(eku) or '—'} | {_key_description(certificate)} | "
        f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC | "
        f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC | {left} | `{fingerprint}` |"
    )
