"""The cross checks: what the two Secrets, the TLS settings, the VirtualService and the
ServiceEntry must agree on for the link to carry traffic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from meshlink.offline.rehearse.pki import (
    CLIENT_AUTH,
    SERVER_AUTH,
    Credential,
    client_context,
    describe,
    dns_name_matches,
    eku_names,
    extended_key_usages,
    find_issuer,
    handshake_in_memory,
    key_for_certificate,
    normalise_san,
    server_context,
    subject_alt_names,
)
from meshlink.offline.rehearse.render import KubeObject, Render
from meshlink.offline.rehearse.wiring.objects import (
    GatewayServer,
    Origination,
    as_int,
    as_list,
    as_mapping,
    as_strings,
    host_matches,
    port_number,
)

TLS_VERSIONS = ("TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
"""Istio's names, lowest first. TLS_AUTO means Envoy's server default, TLS 1.2..1.3."""


@dataclass(frozen=True)
class Issuer:
    """A CA whose key the render holds, so bad certificates can be minted under it."""

    certificate: x509.Certificate
    key: PrivateKeyTypes


def _server_name_matches(cert_sans: Sequence[str], wanted: Sequence[str]) -> bool:
    for name in wanted:
        for san in cert_sans:
            if "://" in name or "://" in san:
                if san == name:
                    return True
            elif normalise_san(san) == normalise_san(name) or dns_name_matches(san, name):
                return True
    return False


def _client_san_allowed(cert_sans: Sequence[str], allowed: Sequence[str]) -> bool:
    wanted = {normalise_san(a) for a in allowed}
    return any(normalise_san(s) in wanted for s in cert_sans)


def _check_usage(
    cert: x509.Certificate, usage: x509.ObjectIdentifier, *, where: str, problems: list[str]
) -> None:
    usages = extended_key_usages(cert)
    if usages is not None and usage not in usages:
        problems.append(
            f"{where}: the certificate's extended key usage is {eku_names(usages)}; "
            f"TLS stacks refuse it unless it includes {usage._name}"
        )


def _issuer_with_key(
    render: Render,
    credential: Credential,
    *,
    where: str,
    problems: list[str],
    extra: Iterable[x509.Certificate] = (),
) -> Issuer | None:
    candidates = [*credential.chain[1:], *credential.trust, *render.certificates, *extra]
    issuer = find_issuer(credential.leaf, candidates)
    if issuer is None:
        problems.append(
            f"{where}: the CA that issued {describe(credential.leaf)} is neither in the chain, "
            "the trust bundle nor certs/"
        )
        return None
    key = key_for_certificate(issuer, render.private_keys)
    if key is None:
        hint = (
            "render with --include-private-keys"
            if not render.has_private_keys_dir
            else "it is not among private-keys/*.pem"
        )
        problems.append(
            f"{where}: the private key of the issuing CA {describe(issuer)} is needed to mint "
            f"the negative-case certificates under the real issuer; {hint}"
        )
        return None
    return Issuer(issuer, key)


def tls_version_settings(
    tls: Mapping[str, Any], *, where: str, problems: list[str]
) -> tuple[str, str]:
    minimum = str(tls.get("minProtocolVersion") or "TLS_AUTO").upper()
    maximum = str(tls.get("maxProtocolVersion") or "TLS_AUTO").upper()
    for label, value in (("minProtocolVersion", minimum), ("maxProtocolVersion", maximum)):
        if value != "TLS_AUTO" and value not in TLS_VERSIONS:
            problems.append(f"{where} tls.{label}: {value!r} is not an Istio TLS version")
    minimum = "TLSV1_2" if minimum not in TLS_VERSIONS else minimum
    maximum = "TLSV1_3" if maximum not in TLS_VERSIONS else maximum
    if TLS_VERSIONS.index(maximum) < TLS_VERSIONS.index(minimum):
        problems.append(f"{where}: maxProtocolVersion {maximum} is below minProtocolVersion")
    return minimum, maximum


def bound_virtual_services(render: Render, server: GatewayServer, sni: str) -> list[KubeObject]:
    gateway = server.gateway
    out = []
    for vs in render.of_kind("VirtualService", cluster=gateway.cluster):
        refs = as_strings(vs.spec.get("gateways"))
        bound = any(
            ref == f"{gateway.namespace}/{gateway.name}"
            or (ref == gateway.name and vs.namespace == gateway.namespace)
            for ref in refs
        )
        if bound and any(host_matches(h, sni) for h in as_strings(vs.spec.get("hosts"))):
            out.append(vs)
    return out


def tcp_target(
    vs: KubeObject, *, port: int | None, where: str, problems: list[str]
) -> tuple[str, int | None] | None:
    """The host and port (None: the service's port) of the first tcp: route for ``port``."""
    mismatched: list[int] = []
    for index, route in enumerate(as_list(vs.spec.get("tcp"))):
        route = as_mapping(route)
        matches = [as_mapping(m) for m in as_list(route.get("match"))]
        ports = [p for p in (as_int(m.get("port")) for m in matches) if p is not None]
        if matches and ports and port not in ports:
            mismatched.extend(ports)
            continue
        destinations = [
            as_mapping(as_mapping(r).get("destination")) for r in as_list(route.get("route"))
        ]
        if not destinations or not destinations[0].get("host"):
            problems.append(f"{vs.ref} tcp[{index}]: the route has no destination host")
            return None
        destination = destinations[0]
        return str(destination["host"]), port_number(destination.get("port"))
    if mismatched:
        problems.append(
            f"{where}: {vs.ref} matches tcp port(s) {sorted(set(mismatched))} but the Gateway "
            f"serves the link on port {port}; no route would match"
        )
    elif as_list(vs.spec.get("tls")):
        problems.append(
            f"{where}: {vs.ref} has only tls: routes; TLS terminated by a MUTUAL Gateway is "
            "routed by tcp: routes (istio#24500)"
        )
    else:
        problems.append(f"{where}: {vs.ref} has no tcp: route")
    return None


def check_service_entry(
    render: Render, origination: Origination, link_port: int, problems: list[str]
) -> None:
    for entry in render.of_kind("ServiceEntry", cluster=origination.rule.cluster):
        if origination.host not in as_strings(entry.spec.get("hosts")):
            continue
        ports = [as_mapping(p) for p in as_list(entry.spec.get("ports"))]
        tls_ports = [p for p in ports if str(p.get("protocol", "")).upper() == "TLS"]
        if tls_ports and all(as_int(p.get("number")) != link_port for p in tls_ports):
            numbers = [as_int(p.get("number")) for p in tls_ports]
            problems.append(
                f"{entry.ref}: its TLS port(s) {numbers} differ from the link port {link_port} "
                "the ingress Gateway serves"
            )
        names = {str(p.get("name")) for p in tls_ports if p.get("name")}
        for index, endpoint in enumerate(as_list(entry.spec.get("endpoints"))):
            endpoint_ports = as_mapping(as_mapping(endpoint).get("ports"))
            for name in names & set(endpoint_ports):
                if as_int(endpoint_ports[name]) != link_port:
                    problems.append(
                        f"{entry.ref} endpoints[{index}].ports.{name} is "
                        f"{endpoint_ports[name]}, but the ingress Gateway serves the link on "
                        f"port {link_port}"
                    )


def _check_names(
    client: Credential,
    server: Credential,
    *,
    client_ref: str,
    server_ref: str,
    server_names: Sequence[str],
    allowed: Sequence[str],
    dr_where: str,
    gw_where: str,
    problems: list[str],
) -> None:
    """Each certificate's SANs against the names the other side expects, and its usage."""
    server_sans = subject_alt_names(server.leaf)
    if server_names and not _server_name_matches(server_sans, server_names):
        problems.append(
            f"server {server_ref}: the certificate's SANs {server_sans} do not match the "
            f"subjectAltNames {list(server_names)} of {dr_where}; the egress gateway would "
            "refuse the ingress"
        )
    client_sans = subject_alt_names(client.leaf)
    if allowed and not _client_san_allowed(client_sans, allowed):
        problems.append(
            f"client {client_ref}: the certificate's SANs {client_sans} are not among the "
            f"subjectAltNames {list(allowed)} of {gw_where}; the ingress would refuse the "
            "egress gateway"
        )
    _check_usage(server.leaf, SERVER_AUTH, where=f"server {server_ref}", problems=problems)
    _check_usage(client.leaf, CLIENT_AUTH, where=f"client {client_ref}", problems=problems)


def _check_trust(
    client: Credential,
    server: Credential,
    *,
    client_ref: str,
    server_ref: str,
    sni: str,
    problems: list[str],
) -> None:
    """Each direction alone, so a failure names the bundle at fault."""
    result = handshake_in_memory(
        server_context(server, verify_client=False),
        client_context(client, trust=client),
        server_name=sni,
    )
    if result.client_error:
        problems.append(
            f"client {client_ref}: its ca.crt does not verify the server chain of {server_ref} "
            f"({result.client_error})"
        )
    result = handshake_in_memory(
        server_context(server, verify_client=True),
        client_context(client, trust=None),
        server_name=sni,
    )
    if result.server_error:
        problems.append(
            f"server {server_ref}: its ca.crt does not verify the client chain of {client_ref} "
            f"({result.server_error})"
        )


def cross_check(
    render: Render,
    client: Credential,
    server: Credential,
    *,
    client_ref: str,
    server_ref: str,
    server_names: Sequence[str],
    sni: str,
    allowed: Sequence[str],
    dr_where: str,
    gw_where: str,
    problems: list[str],
) -> tuple[Issuer | None, Issuer | None]:
    _check_names(
        client,
        server,
        client_ref=client_ref,
        server_ref=server_ref,
        server_names=server_names,
        allowed=allowed,
        dr_where=dr_where,
        gw_where=gw_where,
        problems=problems,
    )
    _check_trust(
        client, server, client_ref=client_ref, server_ref=server_ref, sni=sni, problems=problems
    )
    now = dt.datetime.now(dt.UTC)
    for label, credential, ref in (("client", client, client_ref), ("server", server, server_ref)):
        if credential.leaf.not_valid_after_utc <= now:
            problems.append(f"{label} {ref}: the certificate expired")
    client_issuer = _issuer_with_key(
        render, client, where=f"client {client_ref}", problems=problems
    )
    server_issuer = _issuer_with_key(
        render, server, where=f"server {server_ref}", problems=problems
    )
    return client_issuer, server_issuer
