"""Fan-in: the certificates of the other client clusters of a render, presented to a
link's ingress.

When several client clusters use one server, each service's Gateway lists in
``subjectAltNames`` only the clients allowed to use it. A client's own certificate is
valid (the link CA issued it, for client authentication, in date), so only that list
stands between it and a service it may not use: each other client that the list leaves
out presents its real certificate, read from its cluster's credential Secret, and must
be refused after the handshake for its SAN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.layout import Layout
from meshlink.offline.rehearse.negatives import IngressProbe, refused_for_its_san, run_ingress_probe
from meshlink.offline.rehearse.probes import LogWatch, tls_probe
from meshlink.offline.rehearse.results import CaseResult
from meshlink.offline.rehearse.wiring import LinkPlan


@dataclass(frozen=True)
class ClientCertificate:
    """One client cluster's own credential, as its egress gateway presents it."""

    cluster: str
    secret: str
    credential: pki.Credential

    @property
    def sans(self) -> list[str]:
        return pki.subject_alt_names(self.credential.leaf)


def client_certificates(plans: Sequence[LinkPlan]) -> list[ClientCertificate]:
    """Each client cluster's credential, once, from the first link it originates."""
    found: dict[str, ClientCertificate] = {}
    for plan in plans:
        found.setdefault(
            plan.client_cluster,
            ClientCertificate(plan.client_cluster, plan.client_secret, plan.client),
        )
    return list(found.values())


def not_allowed(plan: LinkPlan, clients: Sequence[ClientCertificate]) -> list[ClientCertificate]:
    """The other clients none of whose SANs the link's Gateway admits. A Gateway that lists
    no SANs admits every certificate the link CA issued: then there are none."""
    if not plan.allowed_client_sans:
        return []
    allowed = {pki.normalise_san(san) for san in plan.allowed_client_sans}
    return [
        client
        for client in clients
        if client.cluster != plan.client_cluster
        and not any(pki.normalise_san(san) in allowed for san in client.sans)
    ]


def other_client_cases(
    layout: Layout, log: LogWatch, clients: Sequence[ClientCertificate]
) -> list[CaseResult]:
    """One refused case per other client the link's Gateway does not admit."""
    plan = layout.plan
    probes = [
        IngressProbe(
            f"client cluster {client.cluster!r}: its own certificate, not allowed here",
            partial(tls_probe, layout.ingress_port, sni=plan.sni, credential=client.credential),
            reason=refused_for_its_san,
            note=(
                f"presents {', '.join(client.sans)} issued by "
                f"{pki.describe_issuer(client.credential.leaf)}, from {client.secret}"
            ),
        )
        for client in not_allowed(plan, clients)
    ]
    return [run_ingress_probe(probe, log) for probe in probes]
