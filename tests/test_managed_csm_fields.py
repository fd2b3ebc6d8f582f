"""Nothing meshlink emits relies on an Istio field or annotation that managed Cloud Service
Mesh publishes as unsupported.

Source: "Unsupported Istio APIs in Managed Cloud Service Mesh"
(https://cloud.google.com/service-mesh/docs/onboarding/unsupported-istio-apis), which
Google calls a non-exhaustive list of fields unsupported by the TRAFFIC_DIRECTOR (and
ISTIOD) managed control plane, and, from its v1.29 edition on, an allow-list of the
annotations it supports ("All other annotations not in this list are unsupported").

Only the entries below were read from that page; its ServiceEntry, VirtualService,
Sidecar and later annotation rows could not be read in full here, so this is a check
against the published entries named below, not a proof of support. The fields the link's
security rests on are also backed by a second control that does not depend on the
control plane (README, "Managed Cloud Service Mesh compatibility").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import mesh

GOLDEN = Path(__file__).resolve().parent / "golden" / "dev" / "kubernetes"

UNSUPPORTED_FIELDS: dict[str, tuple[re.Pattern[str], ...]] = {
    # DestinationRule rows: every localityLbSetting field (distribute, failover,
    # failoverPriority, enabled; at trafficPolicy, subsets and portLevelSettings level) and
    # trafficPolicy.tunnel.protocol.
    "DestinationRule": (
        re.compile(r"(^|\.)loadBalancer\.localityLbSetting(\.|$)"),
        re.compile(r"(^|\.)trafficPolicy\.tunnel(\.|$)"),
    ),
    # Gateway rows.
    "Gateway": (
        re.compile(r"^servers\.tls\.verifyCertificateHash$"),
        re.compile(r"^servers\.tls\.verifyCertificateSpki$"),
    ),
}

SUPPORTED_ISTIO_ANNOTATIONS = frozenset(
    {
        "inject.istio.io/templates",
        "install.operator.istio.io/chart-owner",
        "install.operator.istio.io/owner-generation",
        "install.operator.istio.io/version",
        "istio.io/dry-run",
        "istio.io/rev",
        "proxy.istio.io/config",
        "proxy.istio.io/overrides",
        "sidecar.istio.io/agentLogLevel",
        "sidecar.istio.io/enableCoreDump",
        "sidecar.istio.io/inject",
        "sidecar.istio.io/interceptionMode",
        "sidecar.istio.io/logLevel",
        "sidecar.istio.io/proxyCPU",
        "sidecar.istio.io/proxyCPULimit",
        "sidecar.istio.io/proxyImageType",
        "sidecar.istio.io/proxyMemory",
        "sidecar.istio.io/proxyMemoryLimit",
        "sidecar.istio.io/status",
        "status.sidecar.istio.io/port",
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/excludeInterfaces",
    }
)
"""The rows of the annotation allow-list that could be read (the list continues past
``traffic.sidecar.istio.io/excludeInterfaces``)."""


def field_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every set field as a dotted path; list items share their list's path, as the
    page writes them (``servers.tls.verifyCertificateHash``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from field_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from field_paths(item, prefix)


def istio_annotations(manifest: dict[str, Any]) -> Iterator[str]:
    """Istio annotations on the object and on any pod template it carries."""
    sources = [manifest.get("metadata", {})]
    template = manifest.get("spec", {}).get("template")
    if isinstance(template, dict):
        sources.append(template.get("metadata", {}))
    for metadata in sources:
        for key in metadata.get("annotations") or {}:
            if "istio.io/" in key:
                yield key


def problems(manifest: dict[str, Any]) -> list[str]:
    kind = manifest.get("kind", "")
    found = [
        f"{kind} {path}"
        for path in field_paths(manifest.get("spec", {}))
        for pattern in UNSUPPORTED_FIELDS.get(kind, ())
        if pattern.search(path)
    ]
    found += [
        f"{kind} annotation {key}"
        for key in istio_annotations(manifest)
        if key not in SUPPORTED_ISTIO_ANNOTATIONS
    ]
    return found


def _golden_manifests() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(GOLDEN.rglob("*.yaml"))]


def test_the_dev_render_uses_no_published_unsupported_field_or_annotation() -> None:
    manifests = _golden_manifests()
    kinds = {m["kind"] for m in manifests}
    assert {"Gateway", "DestinationRule", "Deployment"} <= kinds
    assert [p for m in manifests for p in problems(m)] == []


def test_a_multi_service_link_uses_no_published_unsupported_field() -> None:
    run = mesh.run_link(mesh.link_program(service_count=3))
    manifests = [m for _, m in mesh.by_cluster(run)]
    assert any(m["kind"] == "Gateway" for m in manifests)
    assert [p for m in manifests for p in problems(m)] == []


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (
            {
                "kind": "Gateway",
                "spec": {"servers": [{"tls": {"mode": "MUTUAL", "verifyCertificateSpki": ["x"]}}]},
            },
            ["Gateway servers.tls.verifyCertificateSpki"],
        ),
        (
            {
                "kind": "DestinationRule",
                "spec": {
                    "subsets": [
                        {
                            "name": "a",
                            "trafficPolicy": {
                                "loadBalancer": {"localityLbSetting": {"enabled": True}}
                            },
                        }
                    ]
                },
            },
            [
                "DestinationRule subsets.trafficPolicy.loadBalancer.localityLbSetting",
                "DestinationRule subsets.trafficPolicy.loadBalancer.localityLbSetting.enabled",
            ],
        ),
        (
            {
                "kind": "Deployment",
                "spec": {
                    "template": {"metadata": {"annotations": {"sidecar.istio.io/userVolume": "[]"}}}
                },
            },
            ["Deployment annotation sidecar.istio.io/userVolume"],
        ),
    ],
)
def test_the_check_finds_published_unsupported_fields(
    manifest: dict[str, Any], expected: list[str]
) -> None:
    assert problems(manifest) == expected
