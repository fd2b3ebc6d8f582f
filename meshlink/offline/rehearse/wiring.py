"""From rendered objects to rehearsal plans, refusing broken wiring before anything starts.

Each link is found the way the gateways would find it: the egress gateway originates
mutual TLS because a DestinationRule says ``MUTUAL``; the ingress gateway picks its
server by SNI among the ``MUTUAL`` Gateway servers; the VirtualService bound to that
Gateway routes the terminated TCP. Everything the two Secrets must agree on is then
checked with the same TLS library HAProxy uses, so a link that would fail in the
clusters fails here first, with a message that names the object and the setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from meshlink.offline.rehearse.pki import (
    CLIENT_AUTH,
    REDACTED_MARKER,
    SERVER_AUTH,
    Credential,
    PemError,
    client_context,
    describe,
    dns_name_matches,
    eku_names,
    extended_key_usages,
    find_issuer,
    handshake_in_memory,
    key_for_certificate,
    load_certificates,
    load_private_key,
    normalise_san,
    server_context,
    subject_alt_names,
)
from meshlink.offline.rehearse.render import KubeObject, Render

EGRESS_GATEWAY_PORT = 15443
"""The port on which the egress gateway accepts ISTIO_MUTUAL from sidecars."""

TLS_VERSIONS = ("TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
"""Istio's names, lowest first. TLS_AUTO means Envoy's server default, TLS 1.2..1.3."""

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


class WiringError(ValueError):
    """The render would not carry traffic (or would carry it unsafely); nothing was started."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the render's wiring is broken; nothing was started:\n{lines}")


@dataclass(frozen=True)
class Issuer:
    """A CA whose key the render holds, so bad certificates can be minted under it."""

    certificate: x509.Certificate
    key: PrivateKeyTypes


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
    notes: list[str] = field(default_factory=list)


# --- small readers -----------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [str(v) for v in _list(value)]


def _int(value: Any) -> int | None:
    """An integer, also when a serialiser wrote it as ``13306.0``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _port_number(value: Any) -> int | None:
    return _int(_mapping(value).get("number"))


def gateway_host(entry: str) -> str:
    """Gateway hosts may carry a namespace qualifier (``ns/host``, ``./host``, ``*/host``)."""
    return entry.split("/", 1)[1] if "/" in entry else entry


def host_matches(pattern: str, name: str) -> bool:
    """Istio host matching: ``*`` matches all; ``*.x`` matches any name ending in ``.x``."""
    pattern, name = pattern.lower(), name.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return pattern == name


def _any_host_matches(patterns: Iterable[str], name: str) -> bool:
    return any(host_matches(gateway_host(p), name) for p in patterns)


def _labels_match(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def gateway_namespaces(render: Render, gateway: KubeObject) -> list[str]:
    """Where the gateway's pods run, hence where its ``credentialName`` Secret must be.

    The Deployments whose pod-template labels match the Gateway's selector; the
    Gateway's own namespace when none is rendered (an existing, reused gateway).
    """
    selector = _mapping(gateway.spec.get("selector"))
    found = sorted(
        {
            d.namespace
            for d in render.of_kind("Deployment", cluster=gateway.cluster)
            if _labels_match(
                selector,
                _mapping(_mapping(_mapping(d.spec.get("template")).get("metadata")).get("labels")),
            )
        }
    )
    return found or [gateway.namespace]


@dataclass(frozen=True)
class GatewayServer:
    gateway: KubeObject
    index: int
    server: Mapping[str, Any]

    @property
    def tls(self) -> Mapping[str, Any]:
        return _mapping(self.server.get("tls"))

    @property
    def hosts(self) -> list[str]:
        return _strings(self.server.get("hosts"))

    @property
    def port(self) -> int | None:
        return _port_number(self.server.get("port"))

    @property
    def ref(self) -> str:
        return f"{self.gateway.ref} servers[{self.index}]"


def gateway_servers(
    render: Render, *, mode: str, cluster: str | None = None
) -> list[GatewayServer]:
    out = []
    for gateway in render.of_kind("Gateway", cluster=cluster):
        for index, server in enumerate(_list(gateway.spec.get("servers"))):
            server = _mapping(server)
            if str(_mapping(server.get("tls")).get("mode", "")).upper() == mode:
                out.append(GatewayServer(gateway, index, server))
    return out


@dataclass(frozen=True)
class Origination:
    rule: KubeObject
    where: str
    port: int | None
    tls: Mapping[str, Any]

    @property
    def host(self) -> str:
        return str(self.rule.spec.get("host", ""))

    @property
    def ref(self) -> str:
        return f"{self.rule.ref} {self.where}"


def originations(render: Render) -> list[Origination]:
    out = []
    for rule in render.of_kind("DestinationRule"):
        policy = _mapping(rule.spec.get("trafficPolicy"))
        tls = _mapping(policy.get("tls"))
        if str(tls.get("mode", "")).upper() == "MUTUAL":
            out.append(Origination(rule, "trafficPolicy.tls", None, tls))
        for index, setting in enumerate(_list(policy.get("portLevelSettings"))):
            setting = _mapping(setting)
            tls = _mapping(setting.get("tls"))
            if str(tls.get("mode", "")).upper() == "MUTUAL":
                out.append(
                    Origination(
                        rule,
                        f"trafficPolicy.portLevelSettings[{index}].tls",
                        _port_number(setting.get("port")),
                        tls,
                    )
                )
    return out


# --- Secrets -----------------------------------------------------------------------------


def _first(values: Mapping[str, str], *keys: str) -> tuple[str | None, str | None]:
    for key in keys:
        if key in values:
            return key, values[key]
    return None, None


def _read_credential(
    render: Render,
    *,
    cluster: str,
    namespaces: Sequence[str],
    name: str,
    role: str,
    used_by: str,
    problems: list[str],
) -> tuple[Credential | None, str]:
    """The Secret ``name`` in every namespace the gateway runs in, parsed and checked."""
    secrets = [s for s in render.of_kind("Secret", cluster=cluster) if s.name == name]
    credential: Credential | None = None
    ref = f"Secret {'/'.join(namespaces)}/{name} (cluster {cluster!r})"
    for namespace in namespaces:
        secret = next((s for s in secrets if s.namespace == namespace), None)
        if secret is None:
            elsewhere = sorted({s.namespace for s in secrets})
            hint = (
                f"; a Secret of that name is rendered in namespace(s) {', '.join(elsewhere)}, "
                "but a credentialName Secret must be in the namespace of the gateway that "
                "uses it"
                if elsewhere
                else ""
            )
            problems.append(
                f"{role} Secret {namespace}/{name} (credentialName of {used_by}) is missing "
                f"from cluster {cluster!r}{hint}"
            )
            continue
        ref = secret.ref
        parsed = _parse_secret(render, secret, role=role, problems=problems)
        credential = credential or parsed
    return credential, ref


def _parse_secret(
    render: Render, secret: KubeObject, *, role: str, problems: list[str]
) -> Credential | None:
    values = secret.secret_values()
    where = f"{role} {secret.ref}"
    redacted = sorted(k for k, v in values.items() if REDACTED_MARKER in v)
    if redacted:
        problems.append(
            f"{where} holds redacted values ({', '.join(redacted)}): "
            "render with --include-private-keys to rehearse"
        )
        return None
    lowered = secret.name.lower()
    if lowered.startswith(("istio", "prometheus")) or lowered.endswith("-cacert"):
        problems.append(
            f"{where}: Istio ignores credentialName Secrets whose name starts with 'istio' or "
            "'prometheus' or ends in '-cacert'"
        )
    if "token" in values:
        problems.append(f"{where}: a credential Secret must not hold a key named 'token'")

    cert_key, cert_pem = _first(values, "tls.crt", "cert")
    key_key, key_pem = _first(values, "tls.key", "key")
    ca_key, ca_pem = _first(values, "ca.crt", "cacert")
    ca_where = f"{where} {ca_key}"
    if ca_pem is None:
        # Istio also reads the trust bundle from a separate '<name>-cacert' Secret.
        companion = next(
            (
                s
                for s in render.of_kind("Secret", cluster=secret.cluster)
                if s.namespace == secret.namespace and s.name == f"{secret.name}-cacert"
            ),
            None,
        )
        if companion is not None:
            ca_key, ca_pem = _first(companion.secret_values(), "ca.crt", "cacert")
            ca_where = f"{role} {companion.ref} {ca_key}"
    missing = [
        label
        for label, value in (
            ("tls.crt", cert_pem),
            ("tls.key", key_pem),
            ("ca.crt (the bundle that verifies the peer)", ca_pem),
        )
        if value is None
    ]
    if missing:
        problems.append(f"{where} has no {', '.join(missing)}")
        return None
    assert cert_pem is not None and key_pem is not None and ca_pem is not None
    try:
        chain = load_certificates(cert_pem, what=f"{where} {cert_key}")
        key = load_private_key(key_pem, what=f"{where} {key_key}")
        trust = load_certificates(ca_pem, what=ca_where)
    except PemError as error:
        problems.append(str(error))
        return None
    credential = Credential(chain=tuple(chain), key=key, trust=tuple(trust))
    if key_for_certificate(credential.leaf, [key]) is None:
        problems.append(
            f"{where}: {key_key} is not the private key of the first certificate in {cert_key} "
            f"({describe(credential.leaf)})"
        )
        return None
    return credential


# --- cross checks ------------------------------------------------------------------------


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


def _tls_version_settings(
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


def _bound_virtual_services(render: Render, server: GatewayServer, sni: str) -> list[KubeObject]:
    gateway = server.gateway
    out = []
    for vs in render.of_kind("VirtualService", cluster=gateway.cluster):
        refs = _strings(vs.spec.get("gateways"))
        bound = any(
            ref == f"{gateway.namespace}/{gateway.name}"
            or (ref == gateway.name and vs.namespace == gateway.namespace)
            for ref in refs
        )
        if bound and any(host_matches(h, sni) for h in _strings(vs.spec.get("hosts"))):
            out.append(vs)
    return out


def _tcp_target(vs: KubeObject, *, port: int | None, where: str, problems: list[str]) -> str | None:
    mismatched: list[int] = []
    for index, route in enumerate(_list(vs.spec.get("tcp"))):
        route = _mapping(route)
        matches = [_mapping(m) for m in _list(route.get("match"))]
        ports = [p for p in (_int(m.get("port")) for m in matches) if p is not None]
        if matches and ports and port not in ports:
            mismatched.extend(ports)
            continue
        destinations = [_mapping(_mapping(r).get("destination")) for r in _list(route.get("route"))]
        if not destinations or not destinations[0].get("host"):
            problems.append(f"{vs.ref} tcp[{index}]: the route has no destination host")
            return None
        destination = destinations[0]
        dest_port = _port_number(destination.get("port"))
        return f"{destination['host']}:{dest_port if dest_port else '(service port)'}"
    if mismatched:
        problems.append(
            f"{where}: {vs.ref} matches tcp port(s) {sorted(set(mismatched))} but the Gateway "
            f"serves the link on port {port}; no route would match"
        )
    elif _list(vs.spec.get("tls")):
        problems.append(
            f"{where}: {vs.ref} has only tls: routes; TLS terminated by a MUTUAL Gateway is "
            "routed by tcp: routes (istio#24500)"
        )
    else:
        problems.append(f"{where}: {vs.ref} has no tcp: route")
    return None


def _check_service_entry(
    render: Render, origination: Origination, link_port: int, problems: list[str]
) -> None:
    for entry in render.of_kind("ServiceEntry", cluster=origination.rule.cluster):
        if origination.host not in _strings(entry.spec.get("hosts")):
            continue
        ports = [_mapping(p) for p in _list(entry.spec.get("ports"))]
        tls_ports = [p for p in ports if str(p.get("protocol", "")).upper() == "TLS"]
        if tls_ports and all(_int(p.get("number")) != link_port for p in tls_ports):
            numbers = [_int(p.get("number")) for p in tls_ports]
            problems.append(
                f"{entry.ref}: its TLS port(s) {numbers} differ from the link port {link_port} "
                "the ingress Gateway serves"
            )
        names = {str(p.get("name")) for p in tls_ports if p.get("name")}
        for index, endpoint in enumerate(_list(entry.spec.get("endpoints"))):
            endpoint_ports = _mapping(_mapping(endpoint).get("ports"))
            for name in names & set(endpoint_ports):
                if _int(endpoint_ports[name]) != link_port:
                    problems.append(
                        f"{entry.ref} endpoints[{index}].ports.{name} is "
                        f"{endpoint_ports[name]}, but the ingress Gateway serves the link on "
                        f"port {link_port}"
                    )


# --- the plan ----------------------------------------------------------------------------


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
    server_names = _strings(tls.get("subjectAltNames"))
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
        if s.port == EGRESS_GATEWAY_PORT and _any_host_matches(s.hosts, host)
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
    credential, secret = _read_credential(
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
    candidates = [s for s in mutual if _any_host_matches(s.hosts, lookup)]
    exact = [s for s in candidates if any(gateway_host(h) == lookup for h in s.hosts)]
    chosen = exact or candidates
    if chosen:
        return chosen[0]
    if not sni:
        problems.append(
            f"{origination.ref}: no Gateway in any cluster has a MUTUAL server for {host!r}"
        )
        return None
    by_host = [s for s in mutual if _any_host_matches(s.hosts, host)]
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
    protocol = str(_mapping(server.server.get("port")).get("protocol", "")).upper()
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
    min_version, max_version = _tls_version_settings(tls, where=server.ref, problems=problems)
    allowed = _strings(tls.get("subjectAltNames"))
    if not allowed:
        notes.append(
            f"{server.ref} has no subjectAltNames: any certificate under its ca.crt is accepted"
        )
    for key in sorted(set(tls) - GATEWAY_TLS_SETTINGS_REHEARSED):
        notes.append(f"{server.ref}.tls.{key} is not rehearsed")
    return GatewayTLS(min_version, max_version, _strings(tls.get("cipherSuites")), allowed)


def read_server_credential(
    render: Render, server: GatewayServer, problems: list[str]
) -> tuple[Credential | None, str]:
    """The server Secret named by the Gateway's credentialName, and how to name it."""
    name = str(server.tls.get("credentialName") or "")
    if not name:
        problems.append(f"{server.ref}: no credentialName for the server certificate")
        return None, ""
    return _read_credential(
        render,
        cluster=server.gateway.cluster,
        namespaces=gateway_namespaces(render, server.gateway),
        name=name,
        role="server",
        used_by=server.ref,
        problems=problems,
    )


def route_target(
    render: Render, server: GatewayServer, lookup: str, link_port: int, problems: list[str]
) -> tuple[str, str | None]:
    """The VirtualService bound to the Gateway for the link host, and where its tcp:
    route sends the terminated traffic (None when it sends it nowhere)."""
    bound = _bound_virtual_services(render, server, lookup)
    if not bound:
        problems.append(
            f"{server.ref}: no VirtualService in cluster {server.gateway.cluster!r} is bound "
            f"to this Gateway for host {lookup}; terminated traffic would go nowhere"
        )
        return "", None
    return bound[0].ref, _tcp_target(bound[0], port=link_port, where=server.ref, problems=problems)


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
    _check_service_entry(render, origination, link_port, problems)
    gateway_tls = check_gateway_tls(server, problems, notes)
    server_credential, server_secret = read_server_credential(render, server, problems)
    virtual_service, target = route_target(render, server, lookup, link_port, problems)

    client_issuer = server_issuer = None
    if client.credential is not None and server_credential is not None:
        client_issuer, server_issuer = _cross_check(
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
        target=target,
        client_issuer=client_issuer,
        server_issuer=server_issuer,
        notes=notes,
    )


def _cross_check(
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

    # Each direction alone, so a failure names the bundle at fault.
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


def plan_links(render: Render) -> list[LinkPlan]:
    """Every link in the render, or :class:`WiringError` listing every problem found."""
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
        if key in seen:
            continue
        seen.add(key)
        plan = _plan_one(render, origination, problems)
        if plan is not None:
            plans.append(plan)
    if problems:
        raise WiringError(problems)
    return plans
