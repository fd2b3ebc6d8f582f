"""The certificates the negative cases present, minted under the real issuers (and one
unrelated CA) so that each differs from an accepted credential in one thing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from meshlink.offline.rehearse import issuing, pki
from meshlink.offline.rehearse.wiring import LinkPlan


@dataclass
class Minted:
    other_ca_client: pki.Credential
    expired_client: pki.Credential
    server_auth_client: pki.Credential
    unlisted_san_client: pki.Credential
    unlisted_san: str
    wrong_name_server: pki.Credential
    wrong_name: str
    other_ca_server: pki.Credential


def _unlisted_identity(plan: LinkPlan) -> str:
    """An identity shaped like the real client's, in the same trust domain, not allowed."""
    sans = pki.subject_alt_names(plan.client.leaf)
    allowed = {pki.normalise_san(a) for a in plan.allowed_client_sans}
    base = next((s for s in sans if s.startswith("spiffe://")), None)
    for n in range(100):
        tag = "intruder" if n == 0 else f"intruder-{n}"
        if base:
            trust_domain = base.split("/")[2]
            candidate = f"spiffe://{trust_domain}/ns/{tag}/sa/{tag}"
        else:
            candidate = f"{tag}.{plan.fqdn}"
        if pki.normalise_san(candidate) not in allowed:
            return candidate
    raise RuntimeError("could not invent an identity outside the allowed list")


def under_unrelated_ca(
    credential: pki.Credential, usage: pki.x509.ObjectIdentifier, now: dt.datetime | None = None
) -> pki.Credential:
    """``credential``'s names on a leaf valid now from a CA made here that nothing in the
    render trusts, with ``credential``'s trust bundle: what a peer must refuse as issued
    by another CA."""
    now = now or dt.datetime.now(dt.UTC)
    other_key, key = issuing.new_key(), issuing.new_key()
    other_ca = issuing.mint_ca("meshlink rehearsal unrelated CA", key=other_key, now=now)
    leaf = issuing.mint_leaf(
        "meshlink rehearsal",
        sans=pki.subject_alt_names(credential.leaf),
        usages=[usage],
        key=key,
        issuer=other_ca,
        issuer_key=other_key,
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=1),
    )
    return pki.Credential((leaf,), key, credential.trust)


def mint_negatives(plan: LinkPlan, now: dt.datetime | None = None) -> Minted:
    now = now or dt.datetime.now(dt.UTC)
    key = issuing.new_key()
    client_sans = pki.subject_alt_names(plan.client.leaf)
    fresh = (now - dt.timedelta(hours=1), now + dt.timedelta(days=1))

    def leaf(
        sans: Sequence[str],
        usage: pki.x509.ObjectIdentifier,
        issuer: pki.x509.Certificate,
        issuer_key: CertificateIssuerPrivateKeyTypes,
        window: tuple[dt.datetime, dt.datetime] = fresh,
    ) -> pki.x509.Certificate:
        return issuing.mint_leaf(
            "meshlink rehearsal",
            sans=sans,
            usages=[usage],
            key=key,
            issuer=issuer,
            issuer_key=issuer_key,
            not_before=window[0],
            not_after=window[1],
        )

    c_issuer, c_key = plan.client_issuer.certificate, _issuer_key(plan.client_issuer.key)
    s_issuer, s_key = plan.server_issuer.certificate, _issuer_key(plan.server_issuer.key)
    unlisted = _unlisted_identity(plan)
    wrong_name = f"not-{plan.fqdn}"
    expired_window = (now - dt.timedelta(days=2), now - dt.timedelta(days=1))
    return Minted(
        other_ca_client=under_unrelated_ca(plan.client, pki.CLIENT_AUTH, now),
        expired_client=plan.client.with_chain(
            leaf(client_sans, pki.CLIENT_AUTH, c_issuer, c_key, expired_window), key
        ),
        server_auth_client=plan.client.with_chain(
            leaf(client_sans, pki.SERVER_AUTH, c_issuer, c_key), key
        ),
        unlisted_san_client=plan.client.with_chain(
            leaf([unlisted], pki.CLIENT_AUTH, c_issuer, c_key), key
        ),
        unlisted_san=unlisted,
        wrong_name_server=plan.server.with_chain(
            leaf([wrong_name], pki.SERVER_AUTH, s_issuer, s_key), key
        ),
        wrong_name=wrong_name,
        other_ca_server=under_unrelated_ca(plan.server, pki.SERVER_AUTH, now),
    )


def _issuer_key(key: pki.PrivateKeyTypes) -> CertificateIssuerPrivateKeyTypes:
    if not isinstance(
        key,
        ec.EllipticCurvePrivateKey
        | rsa.RSAPrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise RuntimeError(f"cannot sign certificates with a {type(key).__name__}")
    return key
