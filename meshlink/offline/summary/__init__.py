"""``summary.md``: one page for the reviewer of a rendered link.

Everything here is read back from what the program declared (the rendered manifests,
the GCP resources' inputs, the stand-ins' outputs and the issued certificates), not from
meshlink's own arguments or the stack configuration, so the summary describes what would
be applied, for any program that uses meshlink. Sections: clusters, linked services (one
row per service and client cluster), one traffic diagram per cluster pair, the links
leaving the platform (to a partner's endpoint), ingress (address, allowed source ranges,
private DNS), client namespaces and what their NetworkPolicy allows and blocks,
workloads, certificates with the days left at the render clock, GCP projects, regions
and clusters.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from meshlink.offline.engine import OfflineRun
from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary.certificates import (
    EXPIRY_WARNING_DAYS,
    CertificateView,
    certificate_row,
    certificates,
    expiry_warnings,
)
from meshlink.offline.summary.gcp import gcp_sections, gke_cluster_of_provider
from meshlink.offline.summary.ingress import ingress_section
from meshlink.offline.summary.links import (
    LinkView,
    PartnerLinkView,
    read_links,
    read_partner_links,
    traffic_diagram,
)
from meshlink.offline.summary.namespaces import client_namespaces_section
from meshlink.offline.summary.workloads import workloads_section

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "CertificateView",
    "LinkView",
    "PartnerLinkView",
    "certificates",
    "expiry_warnings",
    "write_summary",
]


def _clusters_section(result_objects: list[RenderedObject], run: OfflineRun) -> list[str]:
    per_cluster = Counter(o.cluster for o in result_objects)
    istio_per_cluster = Counter(
        o.cluster for o in result_objects if ".istio.io/" in str(o.manifest.get("apiVersion"))
    )
    gke = gke_cluster_of_provider(run)
    lines = [
        "## Clusters",
        "",
        "| cluster | Kubernetes objects | of which Istio | GKE cluster |",
        "|---|---|---|---|",
    ]
    for cluster, count in sorted(per_cluster.items()):
        behind = gke.get(cluster)
        where = (
            f"`{behind.inputs.get('name', behind.name)}` in `{behind.inputs.get('project', '?')}`, "
            f"`{behind.inputs.get('location', '?')}`"
            if behind is not None
            else "—"
        )
        lines.append(f"| `{cluster}` | {count} | {istio_per_cluster[cluster]} | {where} |")
    return lines


def _linked_services_section(links: list[LinkView]) -> list[str]:
    return [
        "## Linked services",
        "",
        "| FQDN (SNI, server SAN) | client cluster, app port | server cluster, link port | "
        "min TLS | allowed client SANs | target |",
        "|---|---|---|---|---|---|",
        *(
            f"| `{link.fqdn}` | `{link.client_cluster}` :{link.app_port} | "
            f"`{link.server_cluster}` :{link.link_port} | {link.min_tls} | "
            f"{', '.join(f'`{c}`' for c in link.allowed_clients) or '—'} | {link.target_cell} |"
            for link in links
        ),
    ]


def _leaving_section(partner_links: list[PartnerLinkView]) -> list[str]:
    """The links to endpoints outside the platform, which meshlink verifies but does not
    declare; empty without any."""
    if not partner_links:
        return []
    return [
        "## Links leaving the platform",
        "",
        "The client cluster's egress gateway originates mutual TLS to an endpoint that no "
        "rendered Gateway serves: a partner's. Nothing is declared on the far side; the "
        "partner's certificate is verified against the CA and the names below.",
        "",
        "| endpoint | client cluster, app port | SNI | expected server SANs |",
        "|---|---|---|---|",
        *(
            f"| `{link.host}:{link.port}` | `{link.client_cluster}` :{link.app_port} | "
            f"`{link.sni}` | {', '.join(f'`{n}`' for n in link.server_names) or '—'} |"
            for link in partner_links
        ),
    ]


def _certificates_section(run: OfflineRun, now: dt.datetime) -> list[str]:
    return [
        "## Certificates",
        "",
        f"Days left at the render clock; `meshlink render` warns below {EXPIRY_WARNING_DAYS}.",
        "",
        "| name | role | subject | SANs | EKU | key | valid from | expires | days left | "
        "SHA-256 fingerprint |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(certificate_row(view) for view in certificates(run, now)),
    ]


def _gcp_resources_section(run: OfflineRun) -> list[str]:
    """How many of each GCP resource type the program declares; empty without any."""
    gcp_types = Counter(r.type for r in run.registrations if r.type.startswith("gcp:"))
    if not gcp_types:
        return []
    return [
        "## GCP resources",
        "",
        "| type | count |",
        "|---|---|",
        *(f"| `{t}` | {n} |" for t, n in sorted(gcp_types.items())),
    ]


def write_summary(
    out: Path,
    run: OfflineRun,
    *,
    result_objects: list[RenderedObject],
    title: str,
    now: dt.datetime,
) -> None:
    links = read_links(result_objects)
    clock = f"{now.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
    lines = [
        f"# meshlink render: {title}",
        "",
        f"Render clock: {clock}. Certificates are valid from it, and the days left are "
        "counted from it.",
        "",
        *_clusters_section(result_objects, run),
        "",
        *_linked_services_section(links),
        "",
        "## Traffic path",
        "",
        *traffic_diagram(links),
    ]
    for section in (
        _leaving_section(read_partner_links(result_objects)),
        ingress_section(result_objects, run),
        client_namespaces_section(result_objects),
        workloads_section(result_objects),
    ):
        if section:
            lines += ["", *section]
    lines += ["", *_certificates_section(run, now)]
    for section in (gcp_sections(run), _gcp_resources_section(run)):
        if section:
            lines += ["", *section]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
