"""Partner endpoints: links whose server half meshlink does not declare.

An origination that no Gateway of the render serves ends at a partner's mutual-TLS
endpoint (:class:`meshlink.mesh.PartnerLink`). The render cannot hold the partner's server
key, so the rehearsal takes a stand-in credential for each partner host
(``--partner HOST=CERT.pem,KEY.pem``: a server certificate the partner's CA signed, and
its key). HAProxy plays the partner with it in front of MariaDB, requiring a client
certificate under the partner's CA as the render gives it (``ca.crt`` of the client
Secret, the CA that verifies the partner). The egress side is the render's origination,
as for any link.

Checked: MySQL traffic crosses the link (the positive check); the partner stand-in
refuses a client without a certificate and one whose certificate its CA did not sign;
the egress refuses an impostor whose server certificate the partner's CA did not sign.
The cases that need the partner CA's key (an expired or mis-named certificate under the
real CA) cannot be minted and are not rehearsed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse import issuing, pki
from meshlink.offline.rehearse.layout import LOG_WAIT, running_haproxy
from meshlink.offline.rehearse.negatives import UNTRUSTED
from meshlink.offline.rehearse.positive import positive_check
from meshlink.offline.rehearse.probes import (
    DECOY_PAYLOAD,
    DecoyServer,
    LogWatch,
    ProbeOutcome,
    plain_probe,
    tls_probe,
)
from meshlink.offline.rehearse.processes import MariaDB, Tools
from meshlink.offline.rehearse.render import Render
from meshlink.offline.rehearse.results import CaseResult, LinkResult
from meshlink.offline.rehearse.wiring import (
    WiringError,
    check_origination,
    gateway_servers,
    originations,
    read_client_side,
)
from meshlink.offline.rehearse.wiring.checks import check_service_entry
from meshlink.offline.rehearse.wiring.objects import Origination, any_host_matches

PARTNER_CLUSTER = "partner (stand-in)"
STAND_IN_TLS = ("TLSV1_2", "TLSV1_3")
"""The versions the stand-in offers: the partner's own are not in the render."""

NOT_REHEARSED = (
    "partner endpoint: the partner's own TLS settings (versions, suites, which client "
    "names it admits) are not in the render; the stand-in accepts TLS 1.2 and 1.3 and any "
    "client certificate under the partner's CA. Cases that need the partner CA's key (an "
    "expired or mis-named certificate under it) are not rehearsed."
)


class StandInError(ValueError):
    """A ``--partner`` value that cannot be used; the message names it."""


@dataclass(frozen=True)
class StandIn:
    """What plays the partner's server: its certificate chain and key."""

    host: str
    chain: tuple[pki.x509.Certificate, ...]
    key: pki.PrivateKeyTypes
    source: str


def parse_stand_in(value: str) -> StandIn:
    """``HOST=CERT.pem,KEY.pem``: the certificate (and any intermediates) and its key."""
    host, _, files = value.partition("=")
    cert_path, _, key_path = files.partition(",")
    if not host or not cert_path or not key_path:
        raise StandInError(f"--partner {value!r}: expected HOST=CERT.pem,KEY.pem")
    where = f"--partner {host}"
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


def _names_match(cert: pki.x509.Certificate, wanted: Sequence[str]) -> bool:
    sans = pki.subject_alt_names(cert)
    return any(
        pki.normalise_san(s) == pki.normalise_san(n) or pki.dns_name_matches(s, n)
        for s in sans
        for n in wanted
    )


def _issued_under(
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
    if not _issued_under(stand_in.chain, partner_ca):
        problems.append(
            f"{where} is not signed by the partner CA the render trusts (ca.crt of "
            f"{client.secret}); give a server certificate that CA signed"
        )
    if asked.server_names and not _names_match(stand_in.chain[0], asked.server_names):
        problems.append(
            f"{where} carries {pki.subject_alt_names(stand_in.chain[0])}, none of the names "
            f"{asked.server_names} that {origination.ref} requires"
        )
    if not _issued_under(client.credential.chain, partner_ca):
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


# --- the rehearsal ---------------------------------------------------------------------


@dataclass
class PartnerLayout:
    """A partner link's listeners: the stand-in, the egress in front of it, and a decoy."""

    index: int
    plan: PartnerPlan
    ingress_port: int
    egress_port: int
    decoy_egress_port: int
    decoy_port: int

    @property
    def ingress_name(self) -> str:
        return f"partner{self.index}_standin"

    @property
    def egress_name(self) -> str:
        return f"partner{self.index}_egress"


def _write(path: Path, text: str, *, private: bool = False) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _configs(
    layouts: Sequence[PartnerLayout], workdir: Path, mariadb_port: int
) -> tuple[hp.HaproxyConfig, hp.HaproxyConfig]:
    # No allowed-SAN list: the stand-in admits any client certificate under the CA.
    lua = _write(workdir / "partner-client-san.lua", hp.render_client_san_lua({}))
    ingress, egress = hp.HaproxyConfig(lua=lua), hp.HaproxyConfig()
    for layout in layouts:
        plan, base = layout.plan, workdir / f"partner{layout.index}"
        base.mkdir()
        server_pem = _write(
            base / "stand-in.pem", plan.stand_in.chain_pem() + plan.stand_in.key_pem(), private=True
        )
        crt_list = _write(base / "stand-in.crtlist", hp.crt_list_line(server_pem, [plan.sni]))
        partner_ca = _write(base / "partner-ca.pem", plan.stand_in.trust_pem())
        client_pem = _write(
            base / "client.pem", plan.client.chain_pem() + plan.client.key_pem(), private=True
        )
        ingress.ingress.append(
            hp.IngressFrontend(
                name=layout.ingress_name,
                port=layout.ingress_port,
                crt_list=crt_list,
                ca_file=partner_ca,
                min_version=STAND_IN_TLS[0],
                max_version=STAND_IN_TLS[1],
                backend_port=mariadb_port,
                hosts=(plan.sni,),
            )
        )
        dns_names = [n for n in plan.server_names if "://" not in n]
        for name, port, server_port in (
            (layout.egress_name, layout.egress_port, layout.ingress_port),
            (f"partner{layout.index}_decoy", layout.decoy_egress_port, layout.decoy_port),
        ):
            egress.egress.append(
                hp.EgressFrontend(
                    name=name,
                    port=port,
                    server_port=server_port,
                    crt=client_pem,
                    ca_file=partner_ca,
                    sni=plan.sni,
                    verify_host=dns_names[0] if dns_names else plan.sni,
                )
            )
    return ingress, egress


@contextlib.contextmanager
def running_stand_ins(
    tools: Tools, layouts: Sequence[PartnerLayout], workdir: Path, mariadb_port: int
) -> Iterator[tuple[LogWatch, LogWatch]]:
    """The partner stand-ins and their egress, running; their logs, stand-ins first."""
    ingress, egress = _configs(layouts, workdir, mariadb_port)
    with (
        running_haproxy(
            tools, "partner-stand-ins", ingress, workdir, [x.ingress_port for x in layouts]
        ) as ingress_log,
        running_haproxy(
            tools,
            "partner-egress",
            egress,
            workdir,
            [p for x in layouts for p in (x.egress_port, x.decoy_egress_port)],
        ) as egress_log,
    ):
        yield ingress_log, egress_log


def _error_field(entries: Sequence[dict[str, str]], key: str) -> str:
    return next((e.get(key, "") for e in entries if e.get("event") == "error"), "")


def _stand_in_case(
    title: str,
    layout: PartnerLayout,
    log: LogWatch,
    connect: Callable[[], ProbeOutcome],
    *,
    refused_because: Callable[[Sequence[dict[str, str]]], bool] | None,
) -> CaseResult:
    """One connection to the stand-in; ``refused_because`` is None for the control, else
    the reason the stand-in's log must give."""
    outcome = connect()
    entries = log.for_client("ingress", outcome.client_port, timeout=LOG_WAIT)
    evidence = f"{outcome.summary()}; stand-in log: {entries[0] if entries else 'no entry'}"
    expected = "accepted" if refused_because is None else "refused"
    if refused_because is None:
        passed = outcome.greeting and any(e.get("san_verdict") == "allowed" for e in entries)
        result = "accepted" if passed else "refused"
    else:
        right = refused_because(entries)
        passed = outcome.connected and not outcome.greeting and right
        result = (
            "accepted" if outcome.greeting else ("refused" if right else "refused, other reason")
        )
    return CaseResult("partner", title, expected, result, evidence, passed)


def _impostor_case(layout: PartnerLayout, log: LogWatch, impostor: pki.Credential) -> CaseResult:
    """The egress must refuse a server whose certificate the partner's CA did not sign."""
    decoy = DecoyServer(impostor, layout.decoy_port)
    with decoy.running():
        outcome = plain_probe(layout.decoy_egress_port, payload=None, wait=3.0)
        seen = decoy.wait_for_connection(1, timeout=LOG_WAIT)
    entries = log.for_client("egress", outcome.client_port, timeout=LOG_WAIT)
    server_error = next((e.get("server_ssl_error", "") for e in entries), "")
    reached = outcome.received.startswith(DECOY_PAYLOAD)
    right = (
        not reached
        and seen is not None
        and not seen.handshake_done
        and "certificate verify failed" in server_error
    )
    result = "accepted" if reached else ("refused" if right else "refused, other reason")
    evidence = (
        f"impostor presents {pki.subject_alt_names(impostor.leaf)} issued by "
        f"{pki.describe_issuer(impostor.leaf)}; egress: {server_error or 'no TLS error'}"
    )
    return CaseResult(
        "egress",
        "partner impostor: server certificate from another CA",
        "refused",
        result,
        evidence,
        right,
    )


def rehearse_partner(
    db: MariaDB, layout: PartnerLayout, stand_in_log: LogWatch, egress_log: LogWatch
) -> LinkResult:
    plan = layout.plan
    result = LinkResult(
        fqdn=plan.fqdn,
        sni=plan.sni,
        client_cluster=plan.client_cluster,
        server_cluster=PARTNER_CLUSTER,
        destination_rule=plan.destination_rule,
        egress_gateway=plan.egress_gateway,
        client_secret=plan.client_secret,
        gateway=f"stand-in for the partner's endpoint ({plan.stand_in_source})",
        server_secret=plan.stand_in_source,
        virtual_service="",
        target=f"MariaDB, in place of the partner's service on port {plan.port}",
        link_port=plan.port,
        min_version=STAND_IN_TLS[0],
        allowed_client_sans=[],
        server_names=plan.server_names,
        listeners={
            "mariadb": db.port,
            "partner stand-in": layout.ingress_port,
            "egress app port": layout.egress_port,
        },
        notes=[*plan.notes, NOT_REHEARSED],
    )
    result.positive = positive_check(db, layout, stand_in_log)
    now = dt.datetime.now(dt.UTC)
    other_key = issuing.new_key()
    other_ca = issuing.mint_ca("meshlink rehearsal unrelated CA", key=other_key, now=now)
    key = issuing.new_key()

    def under_other_ca(
        sans: Sequence[str], usage: pki.x509.ObjectIdentifier
    ) -> pki.x509.Certificate:
        return issuing.mint_leaf(
            "meshlink rehearsal",
            sans=sans,
            usages=[usage],
            key=key,
            issuer=other_ca,
            issuer_key=other_key,
            not_before=now - dt.timedelta(hours=1),
            not_after=now + dt.timedelta(days=1),
        )

    other_client = pki.Credential(
        (under_other_ca(pki.subject_alt_names(plan.client.leaf), pki.CLIENT_AUTH),),
        key,
        plan.client.trust,
    )
    impostor = pki.Credential(
        (under_other_ca(pki.subject_alt_names(plan.stand_in.leaf), pki.SERVER_AUTH),),
        key,
        plan.stand_in.trust,
    )

    def presenting(credential: pki.Credential | None) -> Callable[[], ProbeOutcome]:
        return partial(tls_probe, layout.ingress_port, sni=plan.sni, credential=credential)

    result.cases = [
        _stand_in_case(
            "the link's own client certificate (control)",
            layout,
            stand_in_log,
            presenting(plan.client),
            refused_because=None,
        ),
        _stand_in_case(
            "no client certificate",
            layout,
            stand_in_log,
            presenting(None),
            refused_because=lambda e: (
                "peer did not return a certificate" in _error_field(e, "ssl_error")
            ),
        ),
        _stand_in_case(
            "client certificate the partner's CA did not sign",
            layout,
            stand_in_log,
            presenting(other_client),
            refused_because=lambda e: _error_field(e, "cert_error") in {str(c) for c in UNTRUSTED},
        ),
        _impostor_case(layout, egress_log, impostor),
    ]
    return result
