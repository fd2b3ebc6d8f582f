"""External targets that speak TLS, and the stand-in that plays each one.

When the ingress gateway originates TLS to a target outside the server mesh (a
DestinationRule with ``SIMPLE`` TLS for the target's ServiceEntry host), the render holds
the CA that verifies the target but not the target's key. The rehearsal therefore takes a
stand-in credential for each such target's endpoint address (``--target
ADDRESS=CERT.pem,KEY.pem``: a server certificate the target's CA signed, and its key),
parsed as ``--partner`` is. It is checked before anything starts: it must chain to the CA
in the rule's ``credentialName`` Secret and carry one of the rule's ``subjectAltNames``.
Without it the target is played in plain TCP, and the link's notes say so.

The Secret is read as Istio reads it for ``SIMPLE`` origination at a gateway: the Secret
``<credentialName>-cacert`` if there is one, else ``<credentialName>``, key ``cacert`` or
``ca.crt`` (``GetCaCert`` and ``ExtractRoot`` in istio/istio
``pilot/pkg/credentials/kube/secrets.go``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.partner_plan import StandIn, issued_under, names_match
from meshlink.offline.rehearse.render import Render
from meshlink.offline.rehearse.wiring import LinkPlan, TargetOrigination, WiringError

CA_KEYS = ("cacert", "ca.crt")


@dataclass(frozen=True)
class TargetStandInPlan:
    """How a TLS target is played: the stand-in's chain and key, trusting the CA the
    ingress gateway verifies the target with."""

    origination: TargetOrigination
    ca_secret: str
    credential: pki.Credential
    verify_host: str | None
    """The one name HAProxy checks; None when the rule lists no DNS name."""
    source: str


def _is_dns_name(name: str) -> bool:
    if "://" in name:
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


def _target_ca(
    render: Render, origination: TargetOrigination, where: str, problems: list[str]
) -> tuple[list[pki.x509.Certificate], str] | None:
    """The CA certificates the gateway verifies the target with, and the Secret's ref."""
    rule = origination.rule
    name = origination.credential_name
    secrets = {
        s.name: s
        for s in render.of_kind("Secret", cluster=rule.cluster)
        if s.namespace == rule.namespace
    }
    secret = secrets.get(f"{name}-cacert") or secrets.get(name)
    if not name or secret is None:
        problems.append(
            f"{where}: {origination.ref} verifies the target with Secret "
            f"{rule.namespace}/{name or '(no credentialName)'}, which the render does not hold"
        )
        return None
    values = secret.secret_values()
    key = next((k for k in CA_KEYS if k in values), None)
    if key is None:
        problems.append(f"{where}: {secret.ref} has no {' or '.join(CA_KEYS)}")
        return None
    try:
        return pki.load_certificates(values[key], what=f"{secret.ref} {key}"), secret.ref
    except pki.PemError as error:
        problems.append(f"{where}: {error}")
        return None


def _plan_one(
    render: Render, origination: TargetOrigination, stand_in: StandIn, problems: list[str]
) -> TargetStandInPlan | None:
    where = f"--target {stand_in.host}: {stand_in.source}"
    found = _target_ca(render, origination, where, problems)
    if found is None:
        return None
    trust, ca_secret = found
    start = len(problems)
    if not issued_under(stand_in.chain, trust):
        problems.append(
            f"{where} is not signed by the target CA the render trusts ({ca_secret}); give a "
            "server certificate that CA signed"
        )
    wanted = origination.subject_alt_names
    if wanted and not names_match(stand_in.chain[0], wanted):
        problems.append(
            f"{where} carries {pki.subject_alt_names(stand_in.chain[0])}, none of the names "
            f"{list(wanted)} that {origination.ref} requires"
        )
    if len(problems) > start:
        return None
    carried = [n for n in wanted if _is_dns_name(n) and names_match(stand_in.chain[0], [n])]
    return TargetStandInPlan(
        origination=origination,
        ca_secret=ca_secret,
        credential=pki.Credential(chain=stand_in.chain, key=stand_in.key, trust=tuple(trust)),
        verify_host=carried[0] if carried else None,
        source=stand_in.source,
    )


def _not_rehearsed(origination: TargetOrigination) -> str:
    return (
        f"{origination.ref}: the ingress gateway originates {origination.mode} TLS to the "
        f"target, verified with Secret {origination.credential_name or '(none)'}; NOT "
        "rehearsed: the render does not hold the target's key, so MariaDB plays the target "
        f"in plain TCP; --target {origination.address}=CERT.pem,KEY.pem (a server "
        "certificate the target's CA signed, and its key) rehearses it"
    )


def _rehearsed(plan: TargetStandInPlan) -> str:
    origination = plan.origination
    checked = (
        f"HAProxy checks the name {plan.verify_host!r}"
        if plan.verify_host
        else "HAProxy checks no name (the rule lists no DNS name; the stand-in's names were "
        "checked before the start)"
    )
    return (
        f"{origination.ref}: the ingress gateway originates {origination.mode} TLS to the "
        f"target, verified with {plan.ca_secret}; a TLS stand-in ({plan.source}) plays the "
        f"target in front of MariaDB; {checked}"
    )


def plan_target_stand_ins(
    render: Render, plans: Sequence[LinkPlan], stand_ins: Mapping[str, StandIn]
) -> list[TargetStandInPlan | None]:
    """For each link, in order, the stand-in of its TLS target (None when its target is
    not a TLS one or no stand-in was given); each link's notes say which. Raises
    :class:`WiringError` naming every stand-in that does not fit, or that no TLS target
    of the render has at its address."""
    problems: list[str] = []
    found: list[TargetStandInPlan | None] = []
    for plan in plans:
        origination = plan.target_tls
        stand_in = stand_ins.get(origination.address) if origination else None
        target = None
        if origination is not None and stand_in is not None:
            target = _plan_one(render, origination, stand_in, problems)
        if origination is not None:
            plan.notes.append(_rehearsed(target) if target else _not_rehearsed(origination))
        found.append(target)
    addresses = {p.target_tls.address for p in plans if p.target_tls is not None}
    for address in sorted(set(stand_ins) - addresses):
        problems.append(
            f"--target {address}: no external target of the render that speaks TLS has that "
            f"address (those that do: {sorted(addresses) or 'none'})"
        )
    if problems:
        raise WiringError(problems)
    return found
