"""The negative cases at the ingress: what each presents, and why its refusal counts
(the egress side's, with decoys, are in :mod:`meshlink.offline.rehearse.decoys`).

Each negative case changes one thing against a control that is accepted (the link's
own client certificate at the ingress; a decoy presenting the real server credential
at the egress), so a refusal can only come from that one change. A refusal counts
only when the client's observation and the gateway's log both give the expected
reason.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.layout import LOG_WAIT, Layout
from meshlink.offline.rehearse.minting import Minted
from meshlink.offline.rehearse.probes import (
    LogWatch,
    ProbeOutcome,
    plain_probe,
    tls_probe,
)
from meshlink.offline.rehearse.results import CaseResult
from meshlink.offline.rehearse.wiring import TLS_VERSIONS

X509_ERRORS = {
    2: "unable to get issuer certificate",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    26: "unsupported certificate purpose",
}
UNTRUSTED = {2, 18, 19, 20, 21}
PYTHON_TLS = {
    "TLSV1_0": ssl.TLSVersion.TLSv1,
    "TLSV1_1": ssl.TLSVersion.TLSv1_1,
    "TLSV1_2": ssl.TLSVersion.TLSv1_2,
    "TLSV1_3": ssl.TLSVersion.TLSv1_3,
}


def _x509(code: str | None) -> str:
    try:
        number = int(code or "0")
    except ValueError:
        return str(code)
    return f"X509 error {number} ({X509_ERRORS.get(number, 'see openssl verify')})"


def _ingress_log_text(entries: Sequence[dict[str, str]]) -> str:
    if not entries:
        return "no HAProxy log entry"
    e = entries[0]
    if e.get("event") == "error":
        text = f"HAProxy: {e.get('error')}"
        if e.get("cert_error") not in (None, "", "0"):
            text += f", {_x509(e.get('cert_error'))}"
        elif e.get("ssl_error"):
            text += f", {e['ssl_error'].rsplit('::', 1)[-1]}"
        return text
    return (
        f"HAProxy: handshake done ({e.get('tls')}), client SANs [{e.get('client_sans')}] "
        f"{e.get('san_verdict')}, {e.get('bytes_to_client')} bytes to the client"
    )


Reason = Callable[[ProbeOutcome, Sequence[dict[str, str]]], bool]


def _error_field(entries: Sequence[dict[str, str]], key: str) -> str:
    return next((e.get(key, "") for e in entries if e.get("event") == "error"), "")


def _ingress_case(
    title: str,
    outcome: ProbeOutcome,
    entries: Sequence[dict[str, str]],
    *,
    expect_refused: bool,
    reason: Reason,
    note: str = "",
) -> CaseResult:
    if not outcome.connected:
        return CaseResult(
            "ingress", title, expected(expect_refused), "error", outcome.summary(), False
        )
    accepted = outcome.greeting
    evidence = f"{note}{'; ' if note else ''}{outcome.summary()}; {_ingress_log_text(entries)}"
    right = reason(outcome, entries)
    if expect_refused:
        result = "accepted" if accepted else ("refused" if right else "refused, other reason")
        passed = not accepted and right
    else:
        result = "accepted" if accepted and right else "refused"
        passed = accepted and right
    return CaseResult("ingress", title, expected(expect_refused), result, evidence, passed)


def expected(refused: bool) -> str:
    return "refused" if refused else "accepted"


WEAK_SUITES_CASE = "TLS 1.2 with CBC or non-ECDHE suites only"
OUTSIDE_PINNED_SUITES = (
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
)
"""TLS 1.2 suites outside meshlink's pinned list (OpenSSL names, which are Envoy's)."""


@dataclass(frozen=True)
class IngressProbe:
    """One connection to the ingress, made when the case runs, and the reason its outcome
    must show."""

    title: str
    connect: Callable[[], ProbeOutcome]
    reason: Reason
    expect_refused: bool = True
    note: str = ""


def refused_for_its_san(outcome: ProbeOutcome, entries: Sequence[dict[str, str]]) -> bool:
    """The certificate was trusted and the handshake done, then the Lua SAN check closed
    the connection before any byte of the service reached the client."""
    return any(
        e.get("san_verdict") == "not-allowed" and e.get("bytes_to_client") == "0" for e in entries
    )


def _cert_error(*codes: int) -> Reason:
    return lambda o, e: _error_field(e, "cert_error") in {str(c) for c in codes}


def _client_certificate_probes(layout: Layout, minted: Minted) -> list[IngressProbe]:
    """The control, then each client certificate the ingress must refuse."""
    plan, port, sni = layout.plan, layout.ingress_port, layout.plan.sni

    def presenting(credential: pki.Credential | None) -> Callable[[], ProbeOutcome]:
        return partial(tls_probe, port, sni=sni, credential=credential)

    return [
        IngressProbe(
            "the link's own client certificate (control)",
            presenting(plan.client),
            expect_refused=False,
            reason=lambda o, e: any(x.get("san_verdict") == "allowed" for x in e),
        ),
        IngressProbe(
            "no client certificate",
            presenting(None),
            reason=lambda o, e: "peer did not return a certificate" in _error_field(e, "ssl_error"),
        ),
        IngressProbe(
            "client certificate from another CA",
            presenting(minted.other_ca_client),
            reason=_cert_error(*UNTRUSTED),
            note=f"issued by {pki.describe_issuer(minted.other_ca_client.leaf)}",
        ),
        IngressProbe(
            "expired client certificate (real issuer)",
            presenting(minted.expired_client),
            reason=_cert_error(10),
        ),
        IngressProbe(
            "EKU serverAuth only (real issuer)",
            presenting(minted.server_auth_client),
            reason=_cert_error(26),
        ),
    ]


def _plaintext_probe(layout: Layout) -> IngressProbe:
    return IngressProbe(
        "plaintext TCP",
        partial(
            plain_probe,
            layout.ingress_port,
            payload=b"\x0a\x00\x00\x01plaintext client\r\n",
            wait=0.5,
        ),
        # HAProxy read bytes that are not a TLS ClientHello and sent nothing back.
        reason=lambda o, e: (
            _error_field(e, "error") == "SSL handshake failure"
            and bool(_error_field(e, "ssl_error"))
            and not o.received
        ),
    )


def _protocol_version_cases(layout: Layout) -> list[IngressProbe | CaseResult]:
    """TLS versions below the Gateway's minimum; TLS 1.1 is a finding, not a probe, where
    the minimum permits it."""
    plan, port, sni = layout.plan, layout.ingress_port, layout.plan.sni
    minimum = plan.min_version.replace("TLSV1_", "TLS 1.")
    cases: list[IngressProbe | CaseResult] = []
    if TLS_VERSIONS.index(plan.min_version) <= TLS_VERSIONS.index("TLSV1_1"):
        # Not probed: this OpenSSL refuses TLS 1.1 at its default security level whatever
        # the setting, where Envoy would accept it; the Gateway's own setting is the finding.
        cases.append(
            CaseResult(
                "ingress",
                f"TLS 1.1 (minimum {minimum})",
                "refused",
                "permitted",
                f"the Gateway's minProtocolVersion {plan.min_version} permits TLS 1.1",
                False,
            )
        )
    for version in ("TLSV1_1", "TLSV1_2"):
        if TLS_VERSIONS.index(version) >= TLS_VERSIONS.index(plan.min_version):
            continue
        label = version.replace("TLSV1_", "TLS 1.")
        cases.append(
            IngressProbe(
                f"{label} (minimum {minimum})",
                partial(
                    tls_probe,
                    port,
                    sni=sni,
                    credential=plan.client,
                    minimum=PYTHON_TLS["TLSV1_0"] if version == "TLSV1_1" else PYTHON_TLS[version],
                    maximum=PYTHON_TLS[version],
                    legacy=True,
                ),
                reason=lambda o, e: (
                    "unsupported protocol" in _error_field(e, "ssl_error")
                    or "protocol version" in (o.tls_error or "")
                ),
            )
        )
    return cases


def _weak_suites_probes(layout: Layout) -> list[IngressProbe]:
    """The link's own certificate, TLS 1.2, and only suites a pinned list leaves out: CBC
    suites and suites without ECDHE, all of which Envoy's default list accepts."""
    plan = layout.plan
    if TLS_VERSIONS.index(plan.min_version) > TLS_VERSIONS.index("TLSV1_2"):
        return []
    outside = [s for s in OUTSIDE_PINNED_SUITES if s not in plan.cipher_suites]
    return [
        IngressProbe(
            WEAK_SUITES_CASE,
            partial(
                tls_probe,
                layout.ingress_port,
                sni=plan.sni,
                credential=plan.client,
                minimum=PYTHON_TLS["TLSV1_2"],
                maximum=PYTHON_TLS["TLSV1_2"],
                ciphers=":".join(outside),
            ),
            note=f"offers {', '.join(outside)}",
            reason=lambda o, e: (
                "handshake failure" in (o.tls_error or "")
                or "no shared cipher" in _error_field(e, "ssl_error")
            ),
        )
    ]


def _name_probes(layout: Layout, minted: Minted) -> list[IngressProbe]:
    """A client SAN the Gateway does not allow, and an SNI it does not serve."""
    plan, port, sni = layout.plan, layout.ingress_port, layout.plan.sni
    probes = [
        IngressProbe(
            "client SAN not allowed (real issuer)",
            partial(tls_probe, port, sni=sni, credential=minted.unlisted_san_client),
            note=f"presents {minted.unlisted_san}",
            reason=refused_for_its_san,
        )
    ]
    if "*" not in plan.gateway_hosts:
        probes.append(
            IngressProbe(
                "SNI not among the Gateway's hosts",
                partial(tls_probe, port, sni=f"not-{sni}", credential=plan.client),
                note=f"SNI not-{sni}, the link's own client certificate",
                reason=lambda o, e: "unrecognized name" in (o.tls_error or ""),
            )
        )
    return probes


def run_ingress_probe(probe: IngressProbe, log: LogWatch) -> CaseResult:
    mark = log.mark()
    outcome = probe.connect()
    entries = (
        log.for_client("ingress", outcome.client_port, since=mark, timeout=LOG_WAIT)
        if outcome.connected
        else []
    )
    return _ingress_case(
        probe.title,
        outcome,
        entries,
        expect_refused=probe.expect_refused,
        reason=probe.reason,
        note=probe.note,
    )


def ingress_cases(layout: Layout, log: LogWatch, minted: Minted) -> list[CaseResult]:
    """Every ingress case, in the report's order; each probe connects when its turn comes."""
    cases: list[IngressProbe | CaseResult] = [
        *_client_certificate_probes(layout, minted),
        _plaintext_probe(layout),
        *_protocol_version_cases(layout),
        *_weak_suites_probes(layout),
        *_name_probes(layout, minted),
    ]
    return [
        case if isinstance(case, CaseResult) else run_ingress_probe(case, log) for case in cases
    ]
