"""Following the ingress route past the VirtualService: when its destination host is
declared by a ServiceEntry the ingress gateway sees, the traffic goes to that entry's
endpoint, a target outside the server mesh, and the rehearsal names that endpoint.

The Istio facts relied on, from the ServiceEntry reference
(https://istio.io/latest/docs/reference/config/networking/service-entry/) and the
DestinationRule reference
(https://istio.io/latest/docs/reference/config/networking/destination-rule/):

- ``resolution: STATIC`` sends traffic to the addresses of ``endpoints``; ``DNS`` resolves
  the endpoints' addresses, or the hosts themselves when there are no endpoints; ``NONE``
  forwards to the connection's original destination address, which a gateway that
  terminated TLS does not have (ServiceEntry, "Resolution").
- An endpoint's ``ports`` map a service port's name to the port the endpoint listens
  on; without it, the endpoint listens on the service port's number (WorkloadEntry,
  "ports").
- ``exportTo`` makes the entry visible to proxies in its own namespace (``.``), every
  namespace (``*``) or the namespaces listed; left out, to every namespace (mesh config
  ``defaultServiceExportTo`` may say otherwise; the rehearsal assumes the default).
- A DestinationRule for the host whose TLS mode is ``SIMPLE`` or ``MUTUAL`` makes the
  gateway originate TLS to the endpoint (DestinationRule, "ClientTLSSettings").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshlink.offline.rehearse.render import KubeObject, Render
from meshlink.offline.rehearse.wiring.objects import (
    as_list,
    as_mapping,
    as_strings,
    host_matches,
    port_number,
)

NEVER_RESOLVES = ".invalid"
"""RFC 6761, section 6.4: no name under ``.invalid`` resolves, so only a ServiceEntry can
give such a route host an endpoint."""

ORIGINATED_TLS_MODES = frozenset({"SIMPLE", "MUTUAL"})


@dataclass(frozen=True)
class TargetOrigination:
    """The TLS the ingress gateway originates to an external target: the rule that says
    so, the target's endpoint, and what the gateway verifies it with."""

    rule: KubeObject
    setting: str
    """Where in the rule the TLS settings are (``trafficPolicy.tls`` or a port's)."""
    mode: str
    address: str
    port: int
    credential_name: str
    """The Secret, in the rule's namespace, whose ``cacert`` verifies the target."""
    sni: str
    subject_alt_names: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.rule.ref} {self.setting}"


@dataclass(frozen=True)
class RouteEnd:
    """Where the ingress gateway sends a link's traffic, as the rehearsal reports it, and
    the TLS it originates to get there (None for plain TCP or a Service of the mesh)."""

    description: str
    tls: TargetOrigination | None = None


def _visible(obj: KubeObject, namespaces: Sequence[str]) -> bool:
    export_to = as_strings(obj.spec.get("exportTo"))
    if not export_to or "*" in export_to:
        return True
    visible_in = {obj.namespace if entry == "." else entry for entry in export_to}
    return any(namespace in visible_in for namespace in namespaces)


def _service_entry(
    render: Render, cluster: str, host: str, namespaces: Sequence[str]
) -> KubeObject | None:
    for entry in render.of_kind("ServiceEntry", cluster=cluster):
        hosts = as_strings(entry.spec.get("hosts"))
        if any(host_matches(h, host) for h in hosts) and _visible(entry, namespaces):
            return entry
    return None


def _entry_port(
    entry: KubeObject, port: int | None, where: str, problems: list[str]
) -> Mapping[str, Any] | None:
    ports = [as_mapping(p) for p in as_list(entry.spec.get("ports"))]
    if port is None and len(ports) == 1:
        return ports[0]
    for candidate in ports:
        if port_number(candidate) == port:
            return candidate
    numbers = [port_number(p) for p in ports]
    problems.append(
        f"{where}: routes to {entry.ref} on port {port if port else '(unset)'}, but the "
        f"entry declares port(s) {numbers}; the ingress gateway would have no endpoint for it"
    )
    return None


def _originated_tls(
    render: Render, cluster: str, host: str, port: int, namespaces: Sequence[str]
) -> tuple[KubeObject, str, Mapping[str, Any]] | None:
    """The DestinationRule that originates TLS from the gateway to ``host:port``: the
    rule, where in it, and its TLS settings."""
    for rule in render.of_kind("DestinationRule", cluster=cluster):
        if not host_matches(str(rule.spec.get("host", "")), host) or not _visible(rule, namespaces):
            continue
        policy = as_mapping(rule.spec.get("trafficPolicy"))
        candidates = [
            (f"trafficPolicy.portLevelSettings[{index}].tls", as_mapping(setting))
            for index, setting in enumerate(as_list(policy.get("portLevelSettings")))
            if port_number(as_mapping(setting).get("port")) == port
        ] + [("trafficPolicy.tls", policy)]
        for where, setting in candidates:
            tls = as_mapping(setting.get("tls"))
            if str(tls.get("mode", "")).upper() in ORIGINATED_TLS_MODES:
                return rule, where, tls
    return None


def _endpoint(
    entry: KubeObject,
    entry_port: Mapping[str, Any],
    host: str,
    resolution: str,
    problems: list[str],
) -> tuple[str, int] | None:
    """The address and port of the entry's first endpoint (the host itself for DNS
    resolution without endpoints); None, with a problem, when there is none."""
    service_port = port_number(entry_port) or 0
    endpoints = [as_mapping(e) for e in as_list(entry.spec.get("endpoints"))]
    if endpoints:
        address = str(endpoints[0].get("address", ""))
        named_port = as_mapping(endpoints[0].get("ports")).get(str(entry_port.get("name", "")))
        endpoint_port = named_port if isinstance(named_port, int) else service_port
    elif resolution == "DNS":
        address, endpoint_port = host, service_port
    else:
        address, endpoint_port = "", 0
    if resolution not in {"STATIC", "DNS"} or not address:
        problems.append(
            f"{entry.ref}: resolution {resolution} with "
            f"{'no endpoint address' if not address else 'endpoints'}; the ingress gateway "
            "would have no address to send the link's traffic to (it terminated TLS, so "
            "there is no original destination)"
        )
        return None
    return address, endpoint_port


def follow_to_endpoint(
    render: Render,
    *,
    cluster: str,
    namespaces: Sequence[str],
    host: str,
    port: int | None,
    where: str,
    problems: list[str],
    notes: list[str],
) -> RouteEnd | None:
    """Where the ingress gateway in ``namespaces`` of ``cluster`` sends a route to
    ``host:port``; None (with a problem) when it would send it nowhere. A host no
    ServiceEntry declares is a Service of the mesh, named as the route names it."""
    entry = _service_entry(render, cluster, host, namespaces)
    if entry is None:
        if host.lower().rstrip(".").endswith(NEVER_RESOLVES):
            problems.append(
                f"{where}: routes to {host}, which no ServiceEntry in cluster {cluster!r} "
                f"visible to namespace(s) {list(namespaces)} declares, and a name under "
                f"{NEVER_RESOLVES} never resolves; the ingress gateway would have no endpoint"
            )
            return None
        return RouteEnd(f"{host}:{port if port else '(service port)'}")
    entry_port = _entry_port(entry, port, where, problems)
    if entry_port is None:
        return None
    service_port = port_number(entry_port) or 0
    resolution = str(entry.spec.get("resolution") or "NONE").upper()
    endpoint = _endpoint(entry, entry_port, host, resolution, problems)
    if endpoint is None:
        return None
    address, endpoint_port = endpoint
    endpoints = as_list(entry.spec.get("endpoints"))
    if len(endpoints) > 1:
        notes.append(f"{entry.ref} has {len(endpoints)} endpoints; MariaDB plays the first")
    if resolution == "DNS":
        notes.append(f"{entry.ref}: the gateway resolves {address} by DNS; not rehearsed")
    originated = _originated_tls(render, cluster, host, service_port, namespaces)
    tls = None
    if originated is not None:
        rule, setting, settings = originated
        tls = TargetOrigination(
            rule=rule,
            setting=setting,
            mode=str(settings.get("mode")).upper(),
            address=address,
            port=endpoint_port,
            credential_name=str(settings.get("credentialName") or ""),
            sni=str(settings.get("sni") or ""),
            subject_alt_names=tuple(as_strings(settings.get("subjectAltNames"))),
        )
    location = str(entry.spec.get("location") or "MESH_EXTERNAL")
    return RouteEnd(
        f"{address}:{endpoint_port} ({entry.ref}, resolution {resolution}, "
        f"{location.lower().replace('_', ' ')})",
        tls,
    )
