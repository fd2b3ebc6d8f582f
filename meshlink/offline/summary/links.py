"""The linked services, as the rendered Istio objects declare them, and one traffic
diagram per cluster pair."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from meshlink.offline.rendered import RenderedObject


@dataclass(frozen=True)
class LinkView:
    """One linked service as the rendered Istio objects declare it."""

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


def read_links(objects: Iterable[RenderedObject]) -> list[LinkView]:
    objects = list(objects)
    # A host may be declared by several ServiceEntries (meshlink splits the app port and
    # the link port by visibility): their ports are read together.
    entries: dict[str, tuple[str, dict[str, Any]]] = {}
    for o in objects:
        if o.manifest.get("kind") != "ServiceEntry":
            continue
        spec = o.manifest.get("spec", {})
        for host in spec.get("hosts", []):
            cluster, merged = entries.get(host, (o.cluster, {"ports": []}))
            merged["ports"] = [*merged["ports"], *spec.get("ports", [])]
            entries[host] = (cluster, merged)
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
    external = _external_targets(objects)
    links = []
    for o in objects:
        if o.manifest.get("kind") != "Gateway":
            continue
        for server in o.manifest.get("spec", {}).get("servers", []):
            tls = _tls_of(server)
            if tls.get("mode") != "MUTUAL":
                continue
            for fqdn in server.get("hosts", []):
                route_host, route_port = routes.get(f"{o.cluster}/{fqdn}", ("?", "?"))
                outside = external.get(f"{o.cluster}/{route_host}")
                client_cluster, entry = entries.get(fqdn, ("?", {}))
                app_ports = [
                    str(p["number"]) for p in entry.get("ports", []) if p.get("protocol") == "TCP"
                ]
                links.append(
                    LinkView(
                        fqdn=fqdn,
                        server_cluster=o.cluster,
                        link_port=server["port"]["number"],
                        min_tls=tls.get("minProtocolVersion", "TLS_AUTO"),
                        allowed_clients=tuple(tls.get("subjectAltNames", [])),
                        target=(
                            f"{outside[0] if outside else route_host}:{route_port}"
                            if route_host != "?"
                            else "?"
                        ),
                        client_cluster=client_cluster,
                        app_port=", ".join(app_ports) or "?",
                        target_external=outside is not None,
                        target_tls=outside is not None and outside[1],
                    )
                )
    return sorted(links, key=lambda link: link.fqdn)


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
