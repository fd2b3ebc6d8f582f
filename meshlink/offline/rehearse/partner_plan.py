"""Partner endpoints in a render: which originations end at one, and the stand-in that
plays each partner (:mod:`meshlink.offline.rehearse.partner` rehearses them).

An origination that no Gateway of the render serves ends at a partner's endpoint. The
stand-in must be what the egress gateway would accept from the partner: signed under the
partner's CA as the render gives it (``ca.crt`` of the client Secret) and carrying one of
the names the origination requires.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.render import Render
from meshlink.offline.rehearse.wiring import (
    WiringError,
    check_origination,
    gateway_servers,
    originations,
    read_client_side,
)
from meshlink.offline.rehearse.wiring.checks import check_service_entry
from meshlink.offline.rehearse.wiring.objects import Origination, any_host_matches


class StandInError(ValueError):
    """A ``--partner`` value that cannot be used; the message names it."""


@dataclass(frozen=True)
class StandIn:
    """What plays the partner's server: its certificate chain and key."""

    host: str
    chain: tuple[pki.x509.Certificate, ...]
    key: pki.PrivateKeyTypes
    source: str


def parse_stand_in(value: str, *, flag: str = "--partner") -> StandIn:
    """``HOST=CERT.pem,KEY.pem``: the certificate (and any intermediates) and its key;
    ``flag`` names the option it came from in errors."""
    host, _, files = value.partition("=")
    cert_path, _, key_path = files.partition(",")
    if not host or not cert_path or not key_path:
        raise StandInError(f"{flag} {value!r}: expected HOST=CERT.pem,KEY.pem")
    where = f"{flag} {host}"
    try:
        cert_text = Path(cert_path).read_text()
        key_text = Path(key_path).read_text()
        chain = tuple(pki.load_certificates(cert_text, what=f"{where}: {cert_path}"))
        key = pki.load_private_key(key_text, what=f"{where}: {key_path}")
    except (OSError, ValueError) as error:
        raise StandInError(f"{where}: {error}") from None
    if pki.key_for_certificate(chain[0], [key]) is None:
        raise StandInError(f"{where}: {key_path} is not the key of {pki.describe(chain[0])}")
    return StandIn(host=host, chain=chain, key=key, source=cert_path)


@dataclass
class PartnerPlan:
    fqdn: str
    sni: str
    client_cluster: str
    destination_rule: str
    egress_gateway: str
    client_secret: str
    client: pki.Credential
    server_names: list[str]
    port: int
    stand_in: pki.Credential
    """The stand-in's chain and key; its trust is the partner's CA from the render."""
    stand_in_source: str
    notes: list[str] = field(default_factory=list)


def _served(render: Render, origination: Origination, sni: str) -> bool:
    """Whether a MUTUAL Gateway server of the render would take this origination."""
    lookup = sni or origination.host
    return any(any_host_matches(s.hosts, lookup) for s in gateway_servers(render, mode="MUTUAL"))


def names_match(cert: pki.x509.Certificate, wanted: Sequence[str]) -> bool:
    sans = pki.subject_alt_names(cert)
    return any(
        pki.normalise_san(s) == pki.normalise_san(n) or pki.dns_name_matches(s, n)
        for s in sans
        for n in wanted
    )


def issued_under(
    chain: Sequence[pki.x509.Certificate], trust: Sequence[pki.x509.Certificate]
) -> bool:
    """Whether ``chain`` (leaf first) is signed link by link up to one of ``trust``."""
    for child, parent in itertools.pairwise(chain):
        if pki.find_issuer(child, [parent]) is None:
            return False
    return pki.find_issuer(chain[-1], trust) is not None


def _plan_one(
    render: Render, origination: Origination, stand_in: StandIn, problems: list[str]
) -> PartnerPlan | None:
    start = len(problems)
    notes: list[str] = []
    asked = check_origination(origination, problems, notes)
    client = read_client_side(render, origination, asked.credential_name, problems)
    if origination.port is None:
        problems.append(
            f"{origination.ref}: applies to every port of {origination.host}; a partner "
            "endpoint is rehearsed on the port its origination names"
        )
        return None
    check_service_entry(render, origination, origination.port, problems)
    if client.credential is None:
        return None
    partner_ca = client.credential.trust
    where = f"--partner {stand_in.host}: {stand_in.source}"
    if not issued_under(stand_in.chain, partner_ca):
        problems.append(
            f"{where} is not signed by the partner CA the render trusts (ca.crt of "
            f"{client.secret}); give a server certificate that CA signed"
        )
    if asked.server_names and not names_match(stand_in.chain[0], asked.server_names):
        problems.append(
            f"{where} carries {pki.subject_alt_names(stand_in.chain[0])}, none of the names "
            f"{asked.server_names} that {origination.ref} requires"
        )
    if not issued_under(client.credential.chain, partner_ca):
        problems.append(
            f"{client.secret}: the client certificate is not signed by the partner CA in its "
            "ca.crt; the stand-in admits only client certificates under that CA"
        )
    if len(problems) > start:
        return None
    return PartnerPlan(
        fqdn=origination.host,
        sni=asked.sni or origination.host,
        client_cluster=origination.rule.cluster,
        destination_rule=origination.ref,
        egress_gateway=client.egress_gateway,
        client_secret=client.secret,
        client=client.credential,
        server_names=asked.server_names,
        port=origination.port,
        stand_in=pki.Credential(chain=stand_in.chain, key=stand_in.key, trust=partner_ca),
        stand_in_source=stand_in.source,
        notes=notes,
    )


def partner_hosts(render: Render) -> set[str]:
    """The hosts of the originations that no Gateway of the render serves."""
    return {
        o.host for o in originations(render) if not _served(render, o, str(o.tls.get("sni") or ""))
    }


def plan_partner_links(render: Render, stand_ins: Mapping[str, StandIn]) -> list[PartnerPlan]:
    """Every origination to a partner endpoint, with its stand-in; :class:`WiringError`
    names each one without a stand-in, and each stand-in no origination uses."""
    problems: list[str] = []
    plans: list[PartnerPlan] = []
    seen: set[tuple[str, str, int | None]] = set()
    hosts = partner_hosts(render)
    for origination in originations(render):
        key = (origination.rule.cluster, origination.host, origination.port)
        if origination.host not in hosts or key in seen:
            continue
        seen.add(key)
        stand_in = stand_ins.get(origination.host)
        if stand_in is None:
            problems.append(
                f"{origination.ref}: no Gateway in the render serves {origination.host!r}; "
                "for a partner endpoint meshlink does not declare, give a stand-in for the "
                f"partner: --partner {origination.host}=CERT.pem,KEY.pem (a server "
                "certificate the partner's CA signed, and its key)"
            )
            continue
        plan = _plan_one(render, origination, stand_in, problems)
        if plan is not None:
            plans.append(plan)
    for host in sorted(set(stand_ins) - hosts):
        problems.append(
            f"--partner {host}: no DestinationRule of the render originates to it without a "
            "Gateway of the render serving it"
        )
    if problems:
        raise WiringError(problems)
    return plans
