"""From rendered objects to rehearsal plans, refusing broken wiring before anything starts.

Each link is found the way the gateways would find it: the egress gateway originates
mutual TLS because a DestinationRule says ``MUTUAL``; the ingress gateway picks its
server by SNI among the ``MUTUAL`` Gateway servers; the VirtualService bound to that
Gateway routes the terminated TCP. Everything the two Secrets must agree on is then
checked with the same TLS library HAProxy uses, so a link that would fail in the
clusters fails here first, with a message that names the object and the setting.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from meshlink.offline.rehearse.pki import Credential
from meshlink.offline.rehearse.render import Render
from meshlink.offline.rehearse.wiring.checks import (
    TLS_VERSIONS,
    Issuer,
    check_service_entry,
    cross_check,
)
from meshlink.offline.rehearse.wiring.external import RouteEnd, TargetOrigination
from meshlink.offline.rehearse.wiring.objects import (
    GatewayServer,
    Origination,
    gateway_host,
    gateway_servers,
    originations,
)
from meshlink.offline.rehearse.wiring.steps import (
    check_gateway_tls,
    check_link_port,
    check_origination,
    choose_ingress_server,
    read_client_side,
    read_server_credential,
    route_target,
)

__all__ = [
    "TLS_VERSIONS",
    "GatewayServer",
    "Issuer",
    "LinkPlan",
    "Origination",
    "RouteEnd",
    "TargetOrigination",
    "WiringError",
    "check_gateway_tls",
    "check_link_port",
    "check_origination",
    "choose_ingress_server",
    "gateway_servers",
    "originations",
    "plan_links",
    "read_client_side",
    "read_server_credential",
    "route_target",
]


class WiringError(ValueError):
    """The render would not carry traffic (or would carry it unsafely); nothing was started."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the render's wiring is broken; nothing was started:\n{lines}")


@dataclass
class LinkPlan:
    fqdn: str
    sni: str
    client_cluster: str
    server_cluster: str
    destination_rule: str
    egress_gateway: str
    client_secret: str
    client: Credential
    server_names: list[str]
    link_port: int
    gateway: str
    gateway_hosts: list[str]
    min_version: str
    max_version: str
    cipher_suites: list[str]
    allowed_client_sans: list[str]
    server_secret: str
    server: Credential
    virtual_service: str
    target: str
    client_issuer: Issuer
    server_issuer: Issuer
    target_tls: TargetOrigination | None = None
    """The TLS the ingress gateway originates to an external target, if it does."""
    notes: list[str] = field(default_factory=list)


def _plan_one(render: Render, origination: Origination, problems: list[str]) -> LinkPlan | None:
    """The link the origination starts, checked step by step; None (with problems) when
    any step finds one."""
    start = len(problems)
    notes: list[str] = []
    asked = check_origination(origination, problems, notes)
    client = read_client_side(render, origination, asked.credential_name, problems)
    server = choose_ingress_server(render, origination, asked.sni, problems)
    if server is None:
        return None
    # The ingress picks its server by SNI, so the link is looked up by SNI first.
    lookup = asked.sni or origination.host
    link_port = check_link_port(server, origination, lookup, problems, notes)
    if link_port is None:
        return None
    check_service_entry(render, origination, link_port, problems)
    gateway_tls = check_gateway_tls(server, problems, notes)
    server_credential, server_secret = read_server_credential(render, server, problems)
    virtual_service, target = route_target(render, server, lookup, link_port, problems, notes)

    client_issuer = server_issuer = None
    if client.credential is not None and server_credential is not None:
        client_issuer, server_issuer = cross_check(
            render,
            client.credential,
            server_credential,
            client_ref=client.secret,
            server_ref=server_secret,
            server_names=asked.server_names,
            sni=lookup,
            allowed=gateway_tls.allowed_client_sans,
            dr_where=origination.ref,
            gw_where=server.ref,
            problems=problems,
        )

    if len(problems) > start:
        return None
    assert client.credential is not None and server_credential is not None
    assert target is not None and client_issuer is not None and server_issuer is not None
    return LinkPlan(
        fqdn=origination.host,
        sni=lookup,
        client_cluster=origination.rule.cluster,
        server_cluster=server.gateway.cluster,
        destination_rule=origination.ref,
        egress_gateway=client.egress_gateway,
        client_secret=client.secret,
        client=client.credential,
        server_names=asked.server_names,
        link_port=link_port,
        gateway=server.ref,
        gateway_hosts=[gateway_host(h) for h in server.hosts],
        min_version=gateway_tls.min_version,
        max_version=gateway_tls.max_version,
        cipher_suites=gateway_tls.cipher_suites,
        allowed_client_sans=gateway_tls.allowed_client_sans,
        server_secret=server_secret,
        server=server_credential,
        virtual_service=virtual_service,
        target=target.description,
        target_tls=target.tls,
        client_issuer=client_issuer,
        server_issuer=server_issuer,
        notes=notes,
    )


def plan_links(render: Render, *, partner_hosts: Collection[str] = ()) -> list[LinkPlan]:
    """Every link in the render, or :class:`WiringError` listing every problem found.
    Originations to ``partner_hosts`` end at partner endpoints, which
    :mod:`meshlink.offline.rehearse.partner` plans."""
    found = originations(render)
    if not found:
        raise WiringError(
            [
                "no DestinationRule in any cluster originates TLS with mode MUTUAL: there is no "
                "link to rehearse"
            ]
        )
    problems: list[str] = []
    plans = []
    seen: set[tuple[str, str, int | None]] = set()
    for origination in found:
        key = (origination.rule.cluster, origination.host, origination.port)
        if key in seen or origination.host in partner_hosts:
            continue
        seen.add(key)
        plan = _plan_one(render, origination, problems)
        if plan is not None:
            plans.append(plan)
    if problems:
        raise WiringError(problems)
    return plans
