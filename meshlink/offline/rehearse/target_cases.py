"""The case of a target that speaks TLS: the ingress gateway must refuse a target whose
certificate the target's CA did not sign, so that no row crosses to an impostor.

The positive check already sends the link's rows through the target's stand-in (it only
speaks TLS, with the credential ``--target`` gave); here the link's own client reaches a
copy of the ingress frontend whose target presents the same names from another CA.
"""

from __future__ import annotations

from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.layout import LOG_WAIT, Layout
from meshlink.offline.rehearse.probes import LogWatch, tls_probe
from meshlink.offline.rehearse.results import CaseResult

IMPOSTOR_CASE = "target impostor: a target certificate from another CA"


def target_cases(layout: Layout, log: LogWatch) -> list[CaseResult]:
    """The impostor-target case of a link with a TLS target's stand-in; none otherwise."""
    if layout.target is None:
        return []
    plan = layout.plan
    mark = log.mark()
    outcome = tls_probe(layout.impostor_ingress_port, sni=plan.sni, credential=plan.client)
    entries = log.for_client("ingress", outcome.client_port, since=mark, timeout=LOG_WAIT)
    sessions = [e for e in entries if e.get("event") == "session"]
    target_error = next((e.get("target_ssl_error", "") for e in sessions), "")
    refused = "certificate verify failed" in target_error
    passed = outcome.handshake_done and not outcome.greeting and refused
    result = "accepted" if outcome.greeting else ("refused" if refused else "refused, other reason")
    evidence = (
        f"the link's own client certificate; target impostor presents "
        f"{pki.subject_alt_names(layout.target.credential.leaf)} from an unrelated CA; "
        f"client: {outcome.summary()}; ingress to target: {target_error or 'no TLS error'}"
    )
    return [CaseResult("ingress", IMPOSTOR_CASE, "refused", result, evidence, passed)]
