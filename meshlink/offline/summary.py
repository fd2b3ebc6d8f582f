"""``summary.md``: one page for the reviewer of a rendered link.

Everything here is read back from what the program declared (the rendered manifests and
the issued certificates), not from meshlink's own arguments, so the summary describes
what would be applied.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.engine import OfflineRun

if TYPE_CHECKING:
    from meshlink.offline.render import RenderedObject

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
}


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


def _links(objects: Iterable[RenderedObject]) -> list[LinkView]:
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


def _key_description(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return type(key).__name__


def _certificate_row(name: str, pem: str) -> str:
    certificate = x509.load_pem_x509_certificate(pem.encode())
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        sans += [f"URI:{n}" for n in san.get_values_for_type(x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        sans = []
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku = [_EKU_NAMES.get(oid, oid.dotted_string) for oid in usages]
    except x509.ExtensionNotFound:
        eku = []
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        role = "CA" if constraints.ca else "leaf"
    except x509.ExtensionNotFound:
        role = "leaf"
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    return (
        f"| `{name}` | {role} | {certificate.subject.rfc4514_string()} | "
        f"{', '.join(sans) or '—'} | {', '.join(eku) or '—'} | {_key_description(certificate)} | "
        f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} → "
        f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC | `{fingerprint}` |"
    )


def _diagram(links: list[LinkView]) -> list[str]:
    lines = ["```mermaid", "flowchart LR"]
    for index, link in enumerate(links):
        c, s = f"c{index}", f"s{index}"
        lines += [
            f'  subgraph {c}["cluster {link.client_cluster}"]',
            f'    {c}app["client pod"] -->|"plain TCP :{link.app_port}"| {c}sc["client sidecar"]',
            f'    {c}sc ==>|"mesh mTLS (client mesh CA), SNI {link.fqdn}"| {c}egw["egress gateway :15443"]',  # noqa: E501
            "  end",
            f'  subgraph {s}["cluster {link.server_cluster}"]',
            f'    {s}igw["ingress gateway :{link.link_port}"] ==>|"mesh mTLS (server mesh CA)"| '
            f'{s}svc["{link.target}"]',
            "  end",
            f'  {c}egw ==>|"link mTLS (link CA), SNI {link.fqdn}, min {link.min_tls}"| {s}igw',
        ]
    lines.append("```")
    return lines


def write_summary(
    out: Path,
    run: OfflineRun,
    *,
    result_objects: list[RenderedObject],
    title: str,
    now: dt.datetime,
) -> None:
    links = _links(result_objects)
    per_cluster = Counter(o.cluster for o in result_objects)
    istio_per_cluster = Counter(
        o.cluster for o in result_objects if ".istio.io/" in str(o.manifest.get("apiVersion"))
    )
    lines = [
        f"# meshlink render: {title}",
        "",
        "Certificates are valid from the render clock, "
        f"{now.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}.",
        "",
        "## Clusters",
        "",
        "| cluster | Kubernetes objects | of which Istio |",
        "|---|---|---|",
    ]
    lines += [f"| `{c}` | {n} | {istio_per_cluster[c]} |" for c, n in sorted(per_cluster.items())]
    lines += [
        "",
        "## Linked services",
        "",
        "| FQDN (SNI, server SAN) | client cluster, app port | server cluster, link port | "
        "min TLS | allowed client SANs | target |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{link.fqdn}` | `{link.client_cluster}` :{link.app_port} | "
        f"`{link.server_cluster}` :{link.link_port} | {link.min_tls} | "
        f"{', '.join(f'`{c}`' for c in link.allowed_clients) or '—'} | `{link.target}` |"
        for link in links
    ]
    lines += ["", "## Traffic path", "", *_diagram(links), "", "## Certificates", ""]
    lines += [
        "| name | role | subject | SANs | EKU | key | validity | SHA-256 fingerprint |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # Sorted by name: registration order depends on when each Output resolves.
    certificates = sorted(
        (r.name, r.outputs["certPem"])
        for r in run.registrations
        if r.type.startswith("tls:") and "certPem" in r.outputs
    )
    lines += [_certificate_row(name, pem) for name, pem in certificates]
    gcp_types = Counter(r.type for r in run.registrations if r.type.startswith("gcp:"))
    if gcp_types:
        lines += ["", "## GCP resources", "", "| type | count |", "|---|---|"]
        lines += [f"| `{t}` | {n} |" for t, n in sorted(gcp_types.items())]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
