"""``summary.md``: one page for the reviewer of a rendered link.

Everything here is read back from what the program declared (the rendered manifests,
the GCP resources' inputs, the stand-ins' outputs and the issued certificates), not from
meshlink's own arguments or the stack configuration, so the summary describes what would
be applied, for any program that uses meshlink. Sections: clusters, linked services, one
traffic diagram per cluster pair, ingress (address, allowed source ranges, private DNS),
client namespaces and what their NetworkPolicy allows and blocks, workloads,
certificates with the days left at the render clock, GCP projects, regions and clusters.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.engine import OfflineRun, Registration, unwrap_secrets
from meshlink.offline.rendered import RenderedObject

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


def _certificate_row(view: CertificateView) -> str:
    certificate = view.certificate
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
    if view.days_left < 0:
        left = "**expired**"
    elif view.days_left < EXPIRY_WARNING_DAYS:
        left = f"**{view.days_left}** (less than {EXPIRY_WARNING_DAYS})"
    else:
        left = str(view.days_left)
    return (
        f"| `{view.name}` | {role} | {certificate.subject.rfc4514_string()} | "
        f"{', '.join(sans) or '—'} | {', '.join(eku) or '—'} | {_key_description(certificate)} | "
        f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC | "
        f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC | {left} | `{fingerprint}` |"
    )


EXPIRY_WARNING_DAYS = 30
"""``render`` warns about a certificate that expires within this many days of its clock."""

_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# GKE's LoadBalancer Service parameters
# (https://cloud.google.com/kubernetes-engine/docs/concepts/service-load-balancer-parameters):
# the reserved address by name, and the annotation that makes the load balancer internal.
_STATIC_IP_ANNOTATION = "networking.gke.io/load-balancer-ip-addresses"
_INTERNAL_ANNOTATION = "networking.gke.io/load-balancer-type"


@dataclass(frozen=True)
class CertificateView:
    """One issued certificate and how long it has left at the render clock."""

    name: str
    certificate: x509.Certificate
    days_left: int

    @property
    def expires(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


def certificates(run: OfflineRun, now: dt.datetime) -> list[CertificateView]:
    """Every certificate the program issued, sorted by name (registration order depends on
    when each Output resolves)."""
    views = []
    for name, pem in sorted(
        (r.name, r.outputs["certPem"])
        for r in run.registrations
        if r.type.startswith("tls:") and "certPem" in r.outputs
    ):
        certificate = x509.load_pem_x509_certificate(pem.encode())
        left = certificate.not_valid_after_utc - now.astimezone(dt.UTC)
        views.append(CertificateView(name, certificate, left.days))
    return views


def expiry_warnings(run: OfflineRun, now: dt.datetime) -> list[str]:
    """One line per certificate that expires within :data:`EXPIRY_WARNING_DAYS` of ``now``."""
    warnings = []
    for view in certificates(run, now):
        expires = f"{view.expires:%Y-%m-%d %H:%M} UTC"
        if view.days_left < 0:
            warnings.append(
                f"certificate {view.name} expired on {expires}, before the render clock"
            )
        elif view.days_left < EXPIRY_WARNING_DAYS:
            warnings.append(
                f"certificate {view.name} expires on {expires}, {view.days_left} days after the "
                f"render clock (less than {EXPIRY_WARNING_DAYS})"
            )
    return warnings


def _code(values: Iterable[Any]) -> str:
    return ", ".join(f"`{v}`" for v in values) or "—"


def _gcp_sections(run: OfflineRun) -> list[str]:
    """Projects, regions and GKE clusters, from the inputs of the GCP resources declared."""
    gcp = [r for r in run.registrations if r.type.startswith("gcp:") and r.custom]
    if not gcp:
        return []
    lines = [
        "## GCP projects, regions and clusters",
        "",
        "| project | regions and zones | resources |",
        "|---|---|---|",
    ]
    per_project: dict[str, list[Registration]] = {}
    for r in gcp:
        per_project.setdefault(str(r.inputs.get("project", "(provider default)")), []).append(r)
    for project, registrations in sorted(per_project.items()):
        places = sorted(
            {
                str(r.inputs[key])
                for r in registrations
                for key in ("region", "location", "zone")
                if isinstance(r.inputs.get(key), str)
            }
        )
        lines.append(f"| `{project}` | {_code(places)} | {len(registrations)} |")
    clusters = [r for r in gcp if r.type == "gcp:container/cluster:Cluster"]
    if clusters:
        lines += [
            "",
            "| GKE cluster | project | location | network | API endpoint reachable from |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(clusters, key=lambda r: str(r.inputs.get("name", r.name))):
            private = r.inputs.get("privateClusterConfig") or {}
            authorized = (r.inputs.get("masterAuthorizedNetworksConfig") or {}).get(
                "cidrBlocks", []
            )
            if private.get("enablePrivateEndpoint"):
                reach = "private endpoint only"
            elif authorized:
                reach = _code(block.get("cidrBlock") for block in authorized)
            else:
                reach = "**anywhere** (no authorised networks)"
            network = str(r.inputs.get("network", "?")).rsplit("/", 1)[-1]
            lines.append(
                f"| `{r.inputs.get('name', r.name)}` | `{r.inputs.get('project', '?')}` | "
                f"`{r.inputs.get('location', '?')}` | `{network}` | {reach} |"
            )
    return lines


def _gke_cluster_of_provider(run: OfflineRun) -> dict[str, Registration]:
    """The GKE cluster behind each Kubernetes provider, by provider name: the cluster the
    provider depends on, or else the one declared by the same component."""
    clusters = run.of_type("gcp:container/cluster:Cluster")
    found: dict[str, Registration] = {}
    for provider in run.of_type("pulumi:providers:kubernetes"):
        for cluster in clusters:
            if run.depends_on(provider.urn, cluster.urn) or (
                provider.parent and cluster.parent == provider.parent
            ):
                found[provider.name] = cluster
                break
    return found


def _address_of(service: Mapping[str, Any], run: OfflineRun, component_addresses: list[str]) -> str:
    metadata = service.get("metadata", {})
    spec = service.get("spec", {})
    reserved = metadata.get("annotations", {}).get(_STATIC_IP_ANNOTATION)
    if reserved:
        for address in run.of_type("gcp:compute/address:Address"):
            if address.inputs.get("name") == reserved and address.outputs.get("address"):
                return (
                    f"{address.outputs['address']} (reserved address `{reserved}`, "
                    "stand-in until `pulumi up`)"
                )
        return f"reserved address `{reserved}`"
    if spec.get("loadBalancerIP"):
        return f"{spec['loadBalancerIP']} (`spec.loadBalancerIP`)"
    if len(component_addresses) == 1:
        return f"{component_addresses[0]} (given to meshlink)"
    return "assigned by the cloud at `pulumi up`"


def _ingress_section(objects: list[RenderedObject], run: OfflineRun) -> list[str]:
    component_addresses = sorted(
        {
            value
            for outputs in run.component_outputs.values()
            if isinstance(value := unwrap_secrets(outputs.get("ingress_address")), str)
        }
    )
    lines = [
        "## Ingress",
        "",
        "| cluster | Service | load balancer | address | allowed source ranges | ports |",
        "|---|---|---|---|---|---|",
    ]
    rows = []
    for o in objects:
        spec = o.manifest.get("spec", {})
        patch = o.path.name.endswith(".patch.yaml")
        if o.manifest.get("kind") != "Service" or not (spec.get("type") == "LoadBalancer" or patch):
            continue
        metadata = o.manifest.get("metadata", {})
        annotations = metadata.get("annotations", {})
        internal = str(annotations.get(_INTERNAL_ANNOTATION, "")).lower() == "internal"
        kind = "internal" if internal else "external"
        if patch:
            kind = "existing Service, ports added by patch"
        ranges = spec.get("loadBalancerSourceRanges")
        if ranges:
            allowed = _code(ranges)
        elif patch:
            allowed = "as the existing Service sets them"
        else:
            allowed = "**any address** (no `loadBalancerSourceRanges`)"
        ports = ", ".join(str(p.get("port")) for p in spec.get("ports", []))
        rows.append(
            f"| `{o.cluster}` | `{metadata.get('namespace', '?')}/{metadata.get('name')}` | "
            f"{kind} | {_address_of(o.manifest, run, component_addresses)} | {allowed} | "
            f"{ports or '—'} |"
        )
    if not rows:
        return []
    return [*lines, *sorted(rows), *_dns_lines(run)]


def _dns_lines(run: OfflineRun) -> list[str]:
    """The private DNS records that send clients to an address, so the reader can check
    they point at the ingress address above."""
    zones = {
        str(z.inputs.get("name")): z
        for z in run.of_type("gcp:dns/managedZone:ManagedZone")
        if z.inputs.get("visibility") == "private"
    }
    records = []
    for record in run.of_type("gcp:dns/recordSet:RecordSet"):
        zone = zones.get(str(record.inputs.get("managedZone")))
        if zone is None or record.inputs.get("type") != "A":
            continue
        networks = [
            str(n.get("networkUrl", "?")).rsplit("/", 1)[-1]
            for n in (zone.inputs.get("privateVisibilityConfig") or {}).get("networks", [])
        ]
        records.append(
            f"- `{str(record.inputs.get('name', '?')).rstrip('.')}` → "
            f"{_code(record.inputs.get('rrdatas', []))} (private zone "
            f"`{zone.inputs.get('name')}`, visible in {_code(networks)})"
        )
    if not records:
        return []
    return ["", "Private DNS A records:", "", *sorted(records)]


def _peer(peer: Mapping[str, Any]) -> str:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        excepted = block.get("except")
        return f"`{block.get('cidr')}`" + (f" except {_code(excepted)}" if excepted else "")
    parts = []
    if "podSelector" in peer:
        labels = peer["podSelector"].get("matchLabels", {})
        pods = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        parts.append(f"pods `{pods}`" if pods else "every pod")
    if "namespaceSelector" in peer:
        labels = peer["namespaceSelector"].get("matchLabels", {})
        name = labels.get("kubernetes.io/metadata.name")
        if name:
            parts.append(f"in namespace `{name}`")
        elif labels:
            selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            parts.append(f"in namespaces `{selector}`")
        else:
            parts.append("in every namespace")
    elif "podSelector" in peer:
        parts.append("of the same namespace")
    return " ".join(parts)


def _rule(rule: Mapping[str, Any], peers_key: str) -> str:
    peers = rule.get(peers_key)
    where = " or ".join(_peer(p) for p in peers) if peers else "anywhere"
    ports = rule.get("ports")
    which = (
        ", ".join(f"{p.get('port', 'any')}/{p.get('protocol', 'TCP')}" for p in ports)
        if ports
        else "every port"
    )
    return f"{where} on {which}"


def _network_policy_lines(policy: Mapping[str, Any]) -> list[str]:
    spec = policy.get("spec", {})
    labels = spec.get("podSelector", {}).get("matchLabels", {})
    selected = (
        f"the pods `{','.join(f'{k}={v}' for k, v in sorted(labels.items()))}`"
        if labels
        else "**every pod** of the namespace, including workloads already there"
    )
    name = policy.get("metadata", {}).get("name")
    lines = [f"- NetworkPolicy `{name}` selects {selected}."]
    # Kubernetes' semantics (https://kubernetes.io/docs/concepts/services-networking/
    # network-policies/): without policyTypes a policy is Ingress, plus Egress when it has
    # egress rules; a pod a policy selects for a direction is isolated in it, and what the
    # policies selecting it allow is added up.
    types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    for direction, rules_key, peers_key, verb, preposition in (
        ("Egress", "egress", "to", "outbound", "to"),
        ("Ingress", "ingress", "from", "inbound", "from"),
    ):
        if direction not in types:
            continue
        rules = spec.get(rules_key) or []
        if not rules:
            lines.append(f"  - It blocks **every {verb} connection** of the selected pods.")
            continue
        lines.append(f"  - {verb.capitalize()} connections are allowed only {preposition}:")
        lines += [f"    - {_rule(rule, peers_key)}" for rule in rules]
        lines.append(
            f"  - Every other {verb} connection of the selected pods is **blocked** (unless "
            "another NetworkPolicy selecting them allows it)."
        )
    return lines


def _client_namespaces_section(objects: list[RenderedObject]) -> list[str]:
    """The namespaces a linked host is exported to, and what NetworkPolicy this program
    declares in each."""
    visible: dict[tuple[str, str], set[str]] = {}
    for o in objects:
        if o.manifest.get("kind") != "ServiceEntry":
            continue
        spec = o.manifest.get("spec", {})
        tcp = [str(p.get("number")) for p in spec.get("ports", []) if p.get("protocol") == "TCP"]
        if not tcp:
            continue
        for namespace in spec.get("exportTo", ["*"]):
            if namespace == ".":
                namespace = o.manifest.get("metadata", {}).get("namespace", "?")
            for host in spec.get("hosts", []):
                visible.setdefault((o.cluster, namespace), set()).update(
                    f"{host}:{port}" for port in tcp
                )
    policies: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for o in objects:
        if o.manifest.get("kind") == "NetworkPolicy":
            namespace = o.manifest.get("metadata", {}).get("namespace", "?")
            policies.setdefault((o.cluster, namespace), []).append(o.manifest)
    if not visible and not policies:
        return []
    lines = ["## Client namespaces and their NetworkPolicy", ""]
    for cluster, namespace in sorted(set(visible) | set(policies)):
        title = "every namespace" if namespace == "*" else f"namespace `{namespace}`"
        lines += [f"### `{cluster}`: {title}", ""]
        if (cluster, namespace) in visible:
            lines.append(
                f"- Linked services visible here: {_code(sorted(visible[cluster, namespace]))}."
            )
        declared = sorted(
            policies.get((cluster, namespace), []), key=lambda m: str(m["metadata"]["name"])
        )
        if not declared:
            lines.append(
                "- No NetworkPolicy declared by this program: outbound connections are as "
                "the namespace's own policies allow."
            )
        for policy in declared:
            lines += _network_policy_lines(policy)
        lines.append("")
    return lines[:-1]


def _workloads_section(objects: list[RenderedObject]) -> list[str]:
    rows = []
    for o in objects:
        if o.manifest.get("kind") not in _WORKLOAD_KINDS:
            continue
        metadata = o.manifest.get("metadata", {})
        spec = o.manifest.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        images = [c.get("image", "?") for c in pod.get("containers", [])]
        # Istio's gateway injection replaces the image "auto" with the proxy image
        # ("The auto image is a placeholder. The sidecar injector replaces it":
        # https://istio.io/latest/docs/reference/config/analysis/ist0146/).
        images = [
            "auto (the Istio proxy, injected)" if image == "auto" else image for image in images
        ]
        replicas = spec.get("replicas", "—" if o.manifest["kind"] == "DaemonSet" else 1)
        part_of = metadata.get("labels", {}).get("app.kubernetes.io/part-of", "—")
        rows.append(
            f"| `{o.cluster}` | `{metadata.get('namespace', '?')}` | "
            f"{o.manifest['kind']} `{metadata.get('name')}` | {replicas} | {_code(images)} | "
            f"{part_of} |"
        )
    if not rows:
        return []
    return [
        "## Workloads",
        "",
        "`part of` is the `app.kubernetes.io/part-of` label: `meshlink-demo` marks the demo "
        "workloads, which a real link does without.",
        "",
        "| cluster | namespace | workload | replicas | images | part of |",
        "|---|---|---|---|---|---|",
        *sorted(rows),
    ]


def _diagram(links: list[LinkView]) -> list[str]:
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
    gke = _gke_cluster_of_provider(run)
    clock = f"{now.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
    lines = [
        f"# meshlink render: {title}",
        "",
        f"Render clock: {clock}. Certificates are valid from it, and the days left are "
        "counted from it.",
        "",
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
    lines += ["", "## Traffic path", "", *_diagram(links)]
    for section in (
        _ingress_section(result_objects, run),
        _client_namespaces_section(result_objects),
        _workloads_section(result_objects),
    ):
        if section:
            lines += ["", *section]
    lines += [
        "",
        "## Certificates",
        "",
        f"Days left at the render clock; `meshlink render` warns below {EXPIRY_WARNING_DAYS}.",
        "",
        "| name | role | subject | SANs | EKU | key | valid from | expires | days left | "
        "SHA-256 fingerprint |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_certificate_row(view) for view in certificates(run, now)]
    gcp_section = _gcp_sections(run)
    if gcp_section:
        lines += ["", *gcp_section]
    gcp_types = Counter(r.type for r in run.registrations if r.type.startswith("gcp:"))
    if gcp_types:
        lines += ["", "## GCP resources", "", "| type | count |", "|---|---|"]
        lines += [f"| `{t}` | {n} |" for t, n in sorted(gcp_types.items())]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
