"""The linked services, as the rendered Istio objects declare them, one traffic diagram
per cluster pair, and the links that leave the platform (to a partner's endpoint that no
rendered Gateway serves)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from meshlink.offline.rendered import RenderedObject


@dataclass(frozen=True)
class LinkView:
    """One linked service as the rendered Istio objects declare it, seen from one client
    cluster: a service several client clusters use (fan-in) has one view per client."""

    fqdn: str
    server_cluster: str
    link_port: int
    min_tls: str
    allowed_clients: tuple[str, ...]
    target: str
    client_cluster: str
    app_port: str
    target_external: bool = False
    """The target is outside the server mesh (an external host or IP address)."""
    target_tls: bool = False
    """The ingress gateway originates TLS to the (external) target."""

    @property
    def target_cell(self) -> str:
        """The target as the summary's table shows it, with its kind when external."""
        if not self.target_external:
            return f"`{self.target}`"
        return f"`{self.target}` (external, {'TLS' if self.target_tls else 'plain TCP'})"


def _tls_of(server: Mapping[str, Any]) -> Mapping[str, Any]:
    tls = server.get("tls")
    return tls if isinstance(tls, Mapping) else {}


def _client_entries(objects: list[RenderedObject]) -> dict[str, dict[str, list[Any]]]:
    """host -> client cluster -> the ports its ServiceEntries declare for the host. A host
    may be declared by several ServiceEntries of one cluster (meshlink splits the app port
    and the link port by visibility), and by one cluster per client (fan-in)."""
    entries: dict[str, dict[str, list[Any]]] = {}
    for o in objects:
        if o.manifest.get("kind") != "ServiceEntry":
            continue
        spec = o.manifest.get("spec", {})
        for host in spec.get("hosts", []):
            ports = entries.setdefault(host, {}).setdefault(o.cluster, [])
            ports += spec.get("ports", [])
    return entries


def _routes(objects: list[RenderedObject]) -> dict[str, tuple[str, object]]:
    """``cluster/host`` -> the (host, port) its VirtualService sends TCP to."""
    routes: dict[str, tuple[str, object]] = {}
    for o in objects:
        if o.manifest.get("kind") != "VirtualService":
            continue
        spec = o.manifest.get("spec", {})
        for route in spec.get("tcp", []):
            for destination in route.get("route", []):
                target = destination.get("destination", {})
                port = target.get("port", {}).get("number", "?")
                for host in spec.get("hosts", []):
                    routes.setdefault(f"{o.cluster}/{host}", (str(target.get("host")), port))
    return routes


def _mutual_servers(objects: list[RenderedObject]) -> list[tuple[str, dict[str, Any]]]:
    """(cluster, server) of every Gateway server that terminates the link's mutual TLS."""
    return [
        (o.cluster, server)
        for o in objects
        if o.manifest.get("kind") == "Gateway"
        for server in o.manifest.get("spec", {}).get("servers", [])
        if _tls_of(server).get("mode") == "MUTUAL"
    ]


def read_links(objects: Iterable[RenderedObject]) -> list[LinkView]:
    objects = list(objects)
    entries = _client_entries(objects)
    routes = _routes(objects)
    external = _external_targets(objects)
    links = []
    for cluster, server in _mutual_servers(objects):
        tls = _tls_of(server)
        for fqdn in server.get("hosts", []):
            route_host, route_port = routes.get(f"{cluster}/{fqdn}", ("?", "?"))
            outside = external.get(f"{cluster}/{route_host}")
            clients = {c: p for c, p in entries.get(fqdn, {}).items() if c != cluster}
            for client_cluster, ports in sorted(clients.items()) or [("?", [])]:
                app_ports = [str(p["number"]) for p in ports if p.get("protocol") == "TCP"]
                links.append(
                    LinkView(
                        fqdn=fqdn,
                        server_cluster=cluster,
                        link_port=server["port"]["number"],
                        min_tls=tls.get("minProtocolVersion", "TLS_AUTO"),
                        allowed_clients=tuple(tls.get("subjectAltNames", [])),
                        target=(
                            f"{outside[0] if outside else route_host}:{route_port}"
                            if route_host != "?"
                            else "?"
                        ),
                        client_cluster=client_cluster,
                        app_port=", ".join(dict.fromkeys(app_ports)) or "?",
                        target_external=outside is not None,
                        target_tls=outside is not None and outside[1],
                    )
                )
    return sorted(links, key=lambda link: (link.fqdn, link.client_cluster))


@dataclass(frozen=True)
class PartnerLinkView:
    """A link whose far end no rendered Gateway serves: the client cluster's egress gateway
    originates mutual TLS to an endpoint outside the platform."""

    host: str
    port: int
    client_cluster: str
    sni: str
    server_names: tuple[str, ...]
    app_port: str


def read_partner_links(objects: Iterable[RenderedObject]) -> list[PartnerLinkView]:
    """Every origination of mutual TLS (a DestinationRule port with TLS mode ``MUTUAL``)
    whose server name no rendered Gateway serves on that port."""
    objects = list(objects)
    served = {
        (host, server["port"]["number"])
        for _, server in _mutual_servers(objects)
        for host in server.get("hosts", [])
    }
    entries = _client_entries(objects)
    found = []
    for o in objects:
        spec = o.manifest.get("spec", {})
        if o.manifest.get("kind") != "DestinationRule":
            continue
        for setting in spec.get("trafficPolicy", {}).get("portLevelSettings", []):
            tls = setting.get("tls", {})
            port = setting.get("port", {}).get("number")
            sni = tls.get("sni") or spec.get("host")
            if tls.get("mode") != "MUTUAL" or (sni, port) in served:
                continue
            ports = entries.get(spec.get("host"), {}).get(o.cluster, [])
            app_ports = [str(p["number"]) for p in ports if p.get("protocol") == "TCP"]
            found.append(
                PartnerLinkView(
                    host=str(spec.get("host")),
                    port=int(port),
                    client_cluster=o.cluster,
                    sni=str(sni),
                    server_names=tuple(tls.get("subjectAltNames", [])),
                    app_port=", ".join(dict.fromkeys(app_ports)) or "?",
                )
            )
    return sorted(found, key=lambda link: (link.host, link.port, link.client_cluster))


def _external_targets(objects: list[RenderedObject]) -> dict[str, tuple[str, bool]]:
    """``cluster/host`` -> (address, whether TLS is originated to it) for each target
    outside the mesh: a host that a ServiceEntry puts into an ingress gateway's registry
    with a real address as its one endpoint. meshlink's own link-port ServiceEntries name
    the FQDN as their endpoint, so they are not mistaken for one."""
    originated = {
        f"{o.cluster}/{o.manifest.get('spec', {}).get('host')}"
        for o in objects
        if o.manifest.get("kind") == "DestinationRule"
        and any(
            setting.get("tls", {}).get("mode") == "SIMPLE"
            for setting in o.manifest.get("spec", {})
            .get("trafficPolicy", {})
            .get("portLevelSettings", [])
        )
    }
    found: dict[str, tuple[str, bool]] = {}
    for o in objects:
        spec = o.manifest.get("spec", {})
        if o.manifest.get("kind") != "ServiceEntry" or spec.get("location") != "MESH_EXTERNAL":
            continue
        addresses = [e.get("address") for e in spec.get("endpoints", [])]
        for host in spec.get("hosts", []):
            if len(addresses) == 1 and addresses[0] != host:
                key = f"{o.cluster}/{host}"
                found[key] = (str(addresses[0]), key in originated)
    return found


def traffic_diagram(links: list[LinkView]) -> list[str]:
    """One flowchart per pair of clusters: each cluster appears once, with one edge per
    linked service between them."""
    pairs: dict[tuple[str, str], list[LinkView]] = {}
    for link in links:
        pairs.setdefault((link.client_cluster, link.server_cluster), []).append(link)
    lines: list[str] = []
    for index, ((client, server), pair_links) in enumerate(sorted(pairs.items())):
        c, s = f"p{index}c", f"p{index}s"
        ports = ", ".join(f":{p}" for p in sorted({link.link_port for link in pair_links}))
        if lines:
            lines.append("")
        lines += [
            f"### `{client}` → `{server}`",
            "",
            "```mermaid",
            "flowchart LR",
            f'  subgraph {c}["cluster {client}"]',
            f'    {c}app["client pod"]',
            f'    {c}sc["client sidecar"]',
            f'    {c}egw["egress gateway :15443"]',
            "  end",
            f'  subgraph {s}["cluster {server}"]',
            f'    {s}igw["ingress gateway {ports}"]',
        ]
        lines += [
            f'    {s}t{n}["{link.target}"]'
            for n, link in enumerate(pair_links)
            if not link.target_external
        ]
        lines.append("  end")
        lines += [
            f'  {s}t{n}["external {link.target}"]'
            for n, link in enumerate(pair_links)
            if link.target_external
        ]
        for n, link in enumerate(pair_links):
            lines += [
                f'  {c}app -->|"plain TCP {link.fqdn}:{link.app_port}"| {c}sc',
                f'  {c}sc ==>|"mesh mTLS (client mesh CA), SNI {link.fqdn}"| {c}egw',
                f'  {c}egw ==>|"link mTLS (link CA), SNI {link.fqdn}, :{link.link_port}, '
                f'min {link.min_tls}"| {s}igw',
                _last_hop(f"{s}igw", f"{s}t{n}", link),
            ]
        lines.append("```")
    return lines


def _last_hop(gateway: str, target: str, link: LinkView) -> str:
    if not link.target_external:
        return f'  {gateway} ==>|"mesh mTLS (server mesh CA)"| {target}'
    if link.target_tls:
        return f'  {gateway} ==>|"TLS (target\'s CA)"| {target}'
    return f'  {gateway} -->|"plain TCP"| {target}'
