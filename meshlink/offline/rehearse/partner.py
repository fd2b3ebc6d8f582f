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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.decoys import decoy_case
from meshlink.offline.rehearse.layout import LOG_WAIT, running_haproxy, write_file
from meshlink.offline.rehearse.minting import under_unrelated_ca
from meshlink.offline.rehearse.negatives import UNTRUSTED
from meshlink.offline.rehearse.partner_plan import PartnerPlan
from meshlink.offline.rehearse.positive import positive_check
from meshlink.offline.rehearse.probes import (
    LogWatch,
    ProbeOutcome,
    tls_probe,
)
from meshlink.offline.rehearse.processes import MariaDB, Tools
from meshlink.offline.rehearse.results import CaseResult, LinkResult

PARTNER_CLUSTER = "partner (stand-in)"
STAND_IN_TLS = ("TLSV1_2", "TLSV1_3")
"""The versions the stand-in offers: the partner's own are not in the render."""

NOT_REHEARSED = (
    "partner endpoint: the partner's own TLS settings (versions, suites, which client "
    "names it admits) are not in the render; the stand-in accepts TLS 1.2 and 1.3 and any "
    "client certificate under the partner's CA. Cases that need the partner CA's key (an "
    "expired or mis-named certificate under it) are not rehearsed."
)


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


def _configs(
    layouts: Sequence[PartnerLayout], workdir: Path, mariadb_port: int
) -> tuple[hp.HaproxyConfig, hp.HaproxyConfig]:
    # No allowed-SAN list: the stand-in admits any client certificate under the CA.
    lua = write_file(workdir / "partner-client-san.lua", hp.render_client_san_lua({}))
    ingress, egress = hp.HaproxyConfig(lua=lua), hp.HaproxyConfig()
    for layout in layouts:
        plan, base = layout.plan, workdir / f"partner{layout.index}"
        base.mkdir()
        server_pem = write_file(
            base / "stand-in.pem", plan.stand_in.chain_pem() + plan.stand_in.key_pem(), private=True
        )
        crt_list = write_file(base / "stand-in.crtlist", hp.crt_list_line(server_pem, [plan.sni]))
        partner_ca = write_file(base / "partner-ca.pem", plan.stand_in.trust_pem())
        client_pem = write_file(
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
    log: LogWatch,
    connect: Callable[[], ProbeOutcome],
    *,
    refused_because: Callable[[Sequence[dict[str, str]]], bool] | None,
) -> CaseResult:
    """One connection to the stand-in; ``refused_because`` is None for the control, else
    the reason the stand-in's log must give."""
    mark = log.mark()
    outcome = connect()
    entries = log.for_client("ingress", outcome.client_port, since=mark, timeout=LOG_WAIT)
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


def _result(db: MariaDB, layout: PartnerLayout) -> LinkResult:
    """What the render says of the partner link, before anything is rehearsed."""
    plan = layout.plan
    return LinkResult(
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


def _untrusted(entries: Sequence[dict[str, str]]) -> bool:
    return _error_field(entries, "cert_error") in {str(code) for code in UNTRUSTED}


def _no_certificate(entries: Sequence[dict[str, str]]) -> bool:
    return "peer did not return a certificate" in _error_field(entries, "ssl_error")


def rehearse_partner(
    db: MariaDB, layout: PartnerLayout, stand_in_log: LogWatch, egress_log: LogWatch
) -> LinkResult:
    plan = layout.plan
    result = _result(db, layout)
    result.positive = positive_check(db, layout, stand_in_log)
    # The first the stand-in must refuse, the second the egress.
    other_client = under_unrelated_ca(plan.client, pki.CLIENT_AUTH)
    impostor = under_unrelated_ca(plan.stand_in, pki.SERVER_AUTH)

    def presenting(credential: pki.Credential | None) -> Callable[[], ProbeOutcome]:
        return partial(tls_probe, layout.ingress_port, sni=plan.sni, credential=credential)

    own, none = "the link's own client certificate (control)", "no client certificate"
    result.cases = [
        _stand_in_case(own, stand_in_log, presenting(plan.client), refused_because=None),
        _stand_in_case(none, stand_in_log, presenting(None), refused_because=_no_certificate),
        _stand_in_case(
            "client certificate the partner's CA did not sign",
            stand_in_log,
            presenting(other_client),
            refused_because=_untrusted,
        ),
        # The egress must refuse a server whose certificate the partner's CA did not sign.
        decoy_case(
            "partner impostor: server certificate from another CA",
            impostor,
            decoy_port=layout.decoy_port,
            decoy_egress_port=layout.decoy_egress_port,
            log=egress_log,
            expect_refused=True,
            alert_ok=lambda alert: "unknown ca" in alert,
        ),
    ]
    return result
