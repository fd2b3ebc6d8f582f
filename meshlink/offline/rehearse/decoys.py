"""The egress side's refusal cases: a decoy stands where the ingress gateway should be,
presenting a server certificate the egress must refuse (or, for the control, accept), so
that the origination's server verification is shown to work."""

from __future__ import annotations

from collections.abc import Callable

from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.layout import LOG_WAIT, Layout
from meshlink.offline.rehearse.minting import Minted
from meshlink.offline.rehearse.negatives import expected
from meshlink.offline.rehearse.probes import DECOY_PAYLOAD, DecoyServer, LogWatch, plain_probe
from meshlink.offline.rehearse.results import CaseResult


def egress_cases(layout: Layout, log: LogWatch, minted: Minted) -> list[CaseResult]:
    plan = layout.plan
    cases: list[tuple[str, pki.Credential, bool, Callable[[str], bool]]] = [
        ("decoy with the real server credential (control)", plan.server, False, lambda _: True),
        (
            "server certificate for another name (real issuer)",
            minted.wrong_name_server,
            True,
            lambda alert: "unknown ca" not in alert,
        ),
        (
            "server certificate from another CA",
            minted.other_ca_server,
            True,
            lambda alert: "unknown ca" in alert,
        ),
    ]
    return [
        decoy_case(
            title,
            credential,
            decoy_port=layout.decoy_port,
            decoy_egress_port=layout.decoy_egress_port,
            log=log,
            expect_refused=expect_refused,
            alert_ok=alert_ok,
        )
        for title, credential, expect_refused, alert_ok in cases
    ]


def decoy_case(
    title: str,
    credential: pki.Credential,
    *,
    decoy_port: int,
    decoy_egress_port: int,
    log: LogWatch,
    expect_refused: bool,
    alert_ok: Callable[[str], bool],
) -> CaseResult:
    """A decoy presenting ``credential`` in place of the server, reached through the
    egress frontend at ``decoy_egress_port``: refused (by the egress, which verifies the
    server, with the alert ``alert_ok`` accepts) or, for the control, accepted."""
    decoy = DecoyServer(credential, decoy_port)
    mark = log.mark()
    with decoy.running():
        outcome = plain_probe(decoy_egress_port, payload=None, wait=3.0)
        seen = decoy.wait_for_connection(1, timeout=LOG_WAIT)
    entries = (
        log.for_client("egress", outcome.client_port, since=mark, timeout=LOG_WAIT)
        if outcome.connected
        else []
    )
    server_error = next((e.get("server_ssl_error", "") for e in entries), "")
    reached = outcome.received.startswith(DECOY_PAYLOAD)
    decoy_text = (
        "decoy never reached"
        if seen is None
        else ("decoy: handshake done" if seen.handshake_done else f"decoy got: {seen.error}")
    )
    evidence = (
        f"decoy presents {pki.subject_alt_names(credential.leaf)} issued by "
        f"{pki.describe_issuer(credential.leaf)}; "
        f"{'decoy data reached the client' if reached else 'client got nothing'}; "
        f"{decoy_text}; HAProxy: {server_error or 'no server-side TLS error'}"
    )
    if expect_refused:
        right = (
            not reached
            and seen is not None
            and not seen.handshake_done
            and "certificate verify failed" in server_error
            and alert_ok(seen.error or "")
        )
        result = "accepted" if reached else ("refused" if right else "refused, other reason")
        passed = right
    else:
        passed = reached and seen is not None and seen.handshake_done
        result = "accepted" if passed else "refused"
    return CaseResult("egress", title, expected(expect_refused), result, evidence, passed)
