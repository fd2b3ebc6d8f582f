"""The steps of planning one link, each reading one object's settings and refusing those
the link cannot work (or be safe) without."""

from __future__ import annotations

from dataclasses import dataclass

from meshlink.offline.rehearse.pki import Credential
from meshlink.offline.rehearse.render import Render
from meshlink.offline.rehearse.wiring.checks import (
    bound_virtual_services,
    tcp_target,
    tls_version_settings,
)
from meshlink.offline.rehearse.wiring.credentials import read_credential
from meshlink.offline.rehearse.wiring.external import RouteEnd, follow_to_endpoint
from meshlink.offline.rehearse.wiring.objects import (
    GatewayServer,
    Origination,
    any_host_matches,
    as_mapping,
    as_strings,
    gateway_host,
    gateway_namespaces,
    gateway_servers,
)

EGRESS_GATEWAY_PORT = 15443
"""The port on which the egress gateway accepts ISTIO_MUTUAL from sidecars."""

GATEWAY_TLS_SETTINGS_REHEARSED = frozenset(
    {
        "mode",
        "credentialName",
        "minProtocolVersion",
        "maxProtocolVersion",
        "subjectAltNames",
        "cipherSuites",
    }
)
DESTINATION_RULE_TLS_SETTINGS_REHEARSED = frozenset(
    {"mode", "credentialName", "sni", "subjectAltNames"}
)


@dataclass(frozen=True)
class OriginationTLS:
    """What the egress gateway's origination settings ask of the link."""

    credential_name: str
    sni: str
    server_names: list[str]


def check_origination(
    origination: Origination, problems: list[str], notes: list[str]
) -> OriginationTLS:
    """The DestinationRule's TLS settings, refusing those the link cannot work (or be
    safe) without."""
    where = origination.ref
    tls = origination.tls
    credential_name = str(tls.get("credentialName") or "")
    if not credential_name:
        problems.append(
            f"{where}: no credentialName; the rehearsal (and managed gateways) read the "
            "client credential from a Secret"
        )
    sni = str(tls.get("sni") or "")
    if not sni:
        problems.append(f"{where}: no sni; the ingress gateway selects the link's server by SNI")
    server_names = as_strings(tls.get("subjectAltNames"))
    if not server_names:
        problems.append(
            f"{where}: no subjectAltNames; without them the egress gateway does not check "
            "the server certificate's name (istio#35436)"
        )
    if tls.get("insecureSkipVerify") is True:
        problems.append(f"{where}: insecureSkipVerify is true; the server would not be verified")
    for key in sorted(set(tls) - DESTINATION_RULE_TLS_SETTINGS_REHEARSED - {"insecureSkipVerify"}):
        notes.append(f"{where}.{key} is not rehearsed")
    return OriginationTLS(credential_name, sni, server_names)


@dataclass(frozen=True)
class ClientSide:
    egress_gateway: str
    """The egress Gateway server that originates the link; empty when none was found or
    there is no credential to read."""
    credential: Credential | None
    secret: str


def read_client_side(
    render: Render, origination: Origination, credential_name: str, problems: list[str]
) -> ClientSide:
    """The egress Gateway serving the host to sidecars, and the client Secret in every
    namespace its pods run in."""
    cluster = origination.rule.cluster
    host = origination.host
    egress = [
        s
        for s in gateway_servers(render, mode="ISTIO_MUTUAL", cluster=cluster)
        if s.port == EGRESS_GATEWAY_PORT and any_host_matches(s.hosts, host)
    ]
    if not egress:
        problems.append(
            f"{origination.ref}: no egress Gateway in cluster {cluster!r} with a server on "
            f"port {EGRESS_GATEWAY_PORT}, mode ISTIO_MUTUAL and host {host}; cannot tell "
            "which gateway originates the link, nor where its Secret must be"
        )
        return ClientSide("", None, "")
    if not credential_name:
        return ClientSide("", None, "")
    namespaces = sorted({ns for s in egress for ns in gateway_namespaces(render, s.gateway)})
    credential, secret = read_credential(
        render,
        cluster=cluster,
        namespaces=namespaces,
        name=credential_name,
        role="client",
        used_by=origination.ref,
        problems=problems,
    )
    return ClientSide(egress[0].ref, credential, secret)


def choose_ingress_server(
    render: Render, origination: Origination, sni: str, problems: list[str]
) -> GatewayServer | None:
    """The MUTUAL Gateway server the ingress gateway would select: by SNI (the host when
    there is none), an exact host before a wildcard."""
    host = origination.host
    lookup = sni or host
    mutual = gateway_servers(render, mode="MUTUAL")
    candidates = [s for s in mutual if any_host_matches(s.hosts, lookup)]
    exact = [s for s in candidates if any(gateway_host(h) == lookup for h in s.hosts)]
    chosen = exact or candidates
    if chosen:
        return chosen[0]
    if not sni:
        problems.append(
            f"{origination.ref}: no Gateway in any cluster has a MUTUAL server for {host!r}"
        )
        return None
    by_host = [s for s in mutual if any_host_matches(s.hosts, host)]
    if by_host:
        problems.append(
            f"{origination.ref}: sni {sni!r} is not among the hosts {by_host[0].hosts} of "
            f"{by_host[0].ref}; the ingress gateway would not select that server"
        )
    else:
        problems.append(
            f"{origination.ref}: no Gateway in any cluster has a MUTUAL server for {sni!r}"
        )
    return None


def check_link_port(
    server: GatewayServer,
    origination: Origination,
    lookup: str,
    problems: list[str],
    notes: list[str],
) -> int | None:
    """The port the Gateway serves the link on, checked against the origination's port;
    None when the server has no port number (nothing else can be checked then)."""
    link_port = server.port
    if link_port is None:
        problems.append(f"{server.ref}: the server has no port.number")
        return None
    protocol = str(as_mapping(server.server.get("port")).get("protocol", "")).upper()
    if protocol != "TLS":
        problems.append(
            f"{server.ref}: port protocol is {protocol or 'unset'}; a link terminated into "
            "tcp: routes needs protocol TLS"
        )
    if origination.port is not None and origination.port != link_port:
        problems.append(
            f"{origination.ref}: originates TLS on port {origination.port}, but {server.ref} "
            f"serves {lookup} on port {link_port}"
        )
    elif origination.port is None:
        notes.append(
            f"{origination.ref} applies to every port of {origination.host}; rehearsing the "
            f"Gateway port {link_port}"
        )
    return link_port


@dataclass(frozen=True)
class GatewayTLS:
    """The ingress Gateway server's TLS settings, as the rehearsal's HAProxy applies them."""

    min_version: str
    max_version: str
    cipher_suites: list[str]
    allowed_client_sans: list[str]
    """Empty: any certificate under the server's ca.crt is accepted."""


def check_gateway_tls(server: GatewayServer, problems: list[str], notes: list[str]) -> GatewayTLS:
    tls = server.tls
    min_version, max_version = tls_version_settings(tls, where=server.ref, problems=problems)
    allowed = as_strings(tls.get("subjectAltNames"))
    if not allowed:
        notes.append(
            f"{server.ref} has no subjectAltNames: any certificate under its ca.crt is accepted"
        )
    for key in sorted(set(tls) - GATEWAY_TLS_SETTINGS_REHEARSED):
        notes.append(f"{server.ref}.tls.{key} is not rehearsed")
    return GatewayTLS(min_version, max_version, as_strings(tls.get("cipherSuites")), allowed)


def read_server_credential(
    render: Render, server: GatewayServer, problems: list[str]
) -> tuple[Credential | None, str]:
    """The server Secret named by the Gateway's credentialName, and how to name it."""
    name = str(server.tls.get("credentialName") or "")
    if not name:
        problems.append(f"{server.ref}: no credentialName for the server certificate")
        return None, ""
    return read_credential(
        render,
        cluster=server.gateway.cluster,
        namespaces=gateway_namespaces(render, server.gateway),
        name=name,
        role="server",
        used_by=server.ref,
        problems=problems,
    )


def route_target(
    render: Render,
    server: GatewayServer,
    lookup: str,
    link_port: int,
    problems: list[str],
    notes: list[str],
) -> tuple[str, RouteEnd | None]:
    """The VirtualService bound to the Gateway for the link host, and where its tcp:
    route sends the terminated traffic: a Service of the server mesh, or the endpoint of
    the ServiceEntry that declares the route's host (None when it sends it nowhere)."""
    bound = bound_virtual_services(render, server, lookup)
    if not bound:
        problems.append(
            f"{server.ref}: no VirtualService in cluster {server.gateway.cluster!r} is bound "
            f"to this Gateway for host {lookup}; terminated traffic would go nowhere"
        )
        return "", None
    destination = tcp_target(bound[0], port=link_port, where=server.ref, problems=problems)
    if destination is None:
        return bound[0].ref, None
    host, port = destination
    target = follow_to_endpoint(
        render,
        cluster=server.gateway.cluster,
        namespaces=gateway_namespaces(render, server.gateway),
        host=host,
        port=port,
        where=f"{bound[0].ref} (bound to {server.ref})",
        problems=problems,
        notes=notes,
    )
    return bound[0].ref, target
