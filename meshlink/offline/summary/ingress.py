"""The ingress: each load balancer Service, its address and allowed source ranges, and the
private DNS records that send clients to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshlink.offline.engine import OfflineRun, unwrap_secrets
from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary.markdown import code_list

# GKE's LoadBalancer Service parameters
# (https://cloud.google.com/kubernetes-engine/docs/concepts/service-load-balancer-parameters):
# the reserved address by name, and the annotation that makes the load balancer internal.
_STATIC_IP_ANNOTATION = "networking.gke.io/load-balancer-ip-addresses"
_INTERNAL_ANNOTATION = "networking.gke.io/load-balancer-type"


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


def ingress_section(objects: list[RenderedObject], run: OfflineRun) -> list[str]:
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
            allowed = code_list(ranges)
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
            f"{code_list(record.inputs.get('rrdatas', []))} (private zone "
            f"`{zone.inputs.get('name')}`, visible in {code_list(networks)})"
        )
    if not records:
        return []
    return ["", "Private DNS A records:", "", *sorted(records)]
