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
    routes: dict[str, str] = {}
    for o in objects:
        if o.manifest.get("kind") != "VirtualService":
            continue
        spec = o.manifest.get("spec", {})
        for route in spec.get("tcp", []):
            for destination in route.get("route", []):
                target = destination.get("destination", {})
                port = target.get("port", {}).get("number", "?")
                for host in spec.get("hosts", []):
                    routes.setdefault(f"{o.cluster}/{host}", f"{target.get('host')}:{port}")
    links = []
    for o in objects:
        if o.manifest.get("kind") != "Gateway":
            continue
        for server in o.manifest.get("spec", {}).get("servers", []):
            tls = _tls_of(server)
            if tls.get("mode") != "MUTUAL":
                continue
            for fqdn in server.get("hosts", []):
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
                        target=routes.get(f"{o.cluster}/{fqdn}", "?"),
                        client_cluster=client_cluster,
                        app_port=", ".join(app_ports) or "?",
                    )
                )
    return sorted(links, key=lambda link: link.fqdn)


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
        lines += [f'    {s}t{n}["{link.target}"]' for n, link in enumerate(pair_links)]
        lines.append("  end")
        for n, link in enumerate(pair_links):
            lines += [
                f'  {c}app -->|"plain TCP {link.fqdn}:{link.app_port}"| {c}sc',
                f'  {c}sc ==>|"mesh mTLS (client mesh CA), SNI {link.fqdn}"| {c}egw',
                f'  {c}egw ==>|"link mTLS (link CA), SNI {link.fqdn}, :{link.link_port}, '
                f'min {link.min_tls}"| {s}igw',
                f'  {s}igw ==>|"mesh mTLS (server mesh CA)"| {s}t{n}',
            ]
        lines.append("```")
    return lines
