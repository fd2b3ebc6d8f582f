"""Build MeshLink programs for tests: N services between two clusters, plus functions to
read the resulting registrations the way the API server would see them.

Reused by the mesh, render and stack tests, so the examples stay the same everywhere.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from meshlink.mesh import MeshLink, MeshLinkArgs
from meshlink.offline.engine import OfflineMocks, OfflineRun, Registration, run_program
from tests.support.istio_schema import assert_valid

CUSTOM_RESOURCE_TYPE_PREFIX = "kubernetes:"
ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/")
GATE_TYPE = "pulumi-python:dynamic/meshlink:IstioCrdGate"
K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)

CLIENT_SAN = "client-a.link.example.com"
CLIENT_NAMESPACES = ("orders", "billing")
CLIENT_EGRESS_CIDRS = ("203.0.113.10/32", "203.0.113.11/32")
STATIC_IP = "198.51.100.20"

_SERVICE_CATALOGUE = (
    ("mysql", "mysql.link.example.com", 3306, 13306, "mysql.db.svc.cluster.local", 3306),
    ("postgres", "postgres.link.example.com", 5432, 15432, "pg.db.svc.cluster.local", 5432),
    ("redis", "redis.link.example.com", 6379, 16379, "redis.cache.svc.cluster.local", 6379),
)


def services(count: int) -> list[dict[str, Any]]:
    """The first ``count`` services of a fixed catalogue (MySQL first)."""
    if not 1 <= count <= len(_SERVICE_CATALOGUE):
        raise ValueError(f"between 1 and {len(_SERVICE_CATALOGUE)} services")
    keys = ("name", "fqdn", "app_port", "link_port", "target_host", "target_port")
    return [
        {**dict(zip(keys, entry, strict=True)), "target_labels": {"app": entry[0]}}
        for entry in _SERVICE_CATALOGUE[:count]
    ]


def link_args(
    client_provider: k8s.Provider,
    server_provider: k8s.Provider,
    *,
    service_count: int = 1,
    **overrides: Any,
) -> MeshLinkArgs:
    """MeshLink arguments for the example link: a CA created under the link, a deployed
    ingress gateway with a static address, kubeconfigs for both readiness gates."""
    args: dict[str, Any] = {
        "services": services(service_count),
        "client": {
            "provider": client_provider,
            "namespaces": list(CLIENT_NAMESPACES),
            # The full lock-down (off by default), so that the tests see its policies.
            "network_policy": {"enabled": True},
            "readiness": {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
            "cluster_name": "client-cluster",
        },
        "server": {
            "provider": server_provider,
            "ingress_gateway": {
                "source_ranges": list(CLIENT_EGRESS_CIDRS),
                "static_ip": STATIC_IP,
            },
            "readiness": {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
            "cluster_name": "server-cluster",
        },
        "link_ca": {"subject": {"common_name": "Example Link Root CA"}},
        "client_identity": {"dns_name": CLIENT_SAN},
        "rotation": "2026-01",
    }
    args.update(overrides)
    return args  # type: ignore[return-value]


def with_setting(args: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``args`` with ``value`` at the dotted ``path`` (``a.b[0].c``);
    providers and other resources are shared, not copied."""
    out: dict[str, Any] = {
        k: (v if isinstance(v, pulumi.Resource) else copy.copy(v)) for k, v in args.items()
    }
    out = _deep_copy(out)
    target: Any = out
    parts = _split(path)
    for part in parts[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return out


_DELETE = object()
DELETE: Any = _DELETE
"""Pass as the value to :func:`with_setting` to remove the setting."""


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        while "[" in piece:
            head, _, rest = piece.partition("[")
            if head:
                parts.append(head)
            index, _, piece = rest.partition("]")
            parts.append(int(index))
        if piece:
            parts.append(piece)
    return parts


def link_program(
    *, service_count: int = 1, name: str = "mysql-link", **overrides: Any
) -> Callable[[], None]:
    """A program declaring both providers and one MeshLink; exports its outputs."""

    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        link = MeshLink(name, link_args(client, server, service_count=service_count, **overrides))
        pulumi.export("ingress_address", link.ingress_address)
        pulumi.export("fqdns", link.fqdns)
        pulumi.export("ca_certificate_pem", link.ca_certificate_pem)
        pulumi.export("objects", link.objects)

    return program


def run_link(program: Callable[[], None]) -> OfflineRun:
    return run_program(
        program, project="meshlink-test", stack="test", mocks=OfflineMocks(now=NOW, seed="mesh")
    )


def is_istio(registration: Registration) -> bool:
    return str(registration.inputs.get("apiVersion", "")).startswith(ISTIO_GROUPS)


def istio_objects(run: OfflineRun) -> list[Registration]:
    return [r for r in run.registrations if r.custom and is_istio(r)]


def kubernetes_objects(run: OfflineRun) -> list[Registration]:
    """Every Kubernetes object (not providers, not components)."""
    return [
        r for r in run.registrations if r.custom and r.type.startswith(CUSTOM_RESOURCE_TYPE_PREFIX)
    ]


def manifest(registration: Registration) -> dict[str, Any]:
    """The object as it would be applied, rebuilt from the registration's inputs."""
    inputs = registration.inputs
    document: dict[str, Any] = {
        "apiVersion": inputs["apiVersion"],
        "kind": inputs["kind"],
        "metadata": _plain(inputs["metadata"]),
    }
    for key, value in inputs.items():
        if key not in {"apiVersion", "kind", "metadata"}:
            document[key] = _plain(value)
    return document


def _plain(value: Any) -> Any:
    """Protobuf numbers come back as floats; Kubernetes and the CRDs want integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def of_kind(run: OfflineRun, kind: str) -> list[dict[str, Any]]:
    return [manifest(r) for r in kubernetes_objects(run) if r.inputs.get("kind") == kind]


def provider_names(run: OfflineRun) -> dict[str, str]:
    """Provider URN -> logical name of each Kubernetes provider."""
    return {r.urn: r.name for r in run.of_type(K8S_PROVIDER_TYPE)}


def cluster_of(run: OfflineRun, registration: Registration) -> str:
    return provider_names(run).get(registration.provider_urn, "<default provider>")


def by_cluster(run: OfflineRun) -> Iterator[tuple[str, dict[str, Any]]]:
    for registration in kubernetes_objects(run):
        yield cluster_of(run, registration), manifest(registration)


def assert_every_object_valid(run: OfflineRun, kubernetes_version: str = "1.33.0") -> None:
    """Every Istio object of ``run`` against both Istio CRD sets, every other Kubernetes
    object against the Kubernetes schema, strictly (unknown fields are errors)."""
    import kubernetes_validate

    for registration in kubernetes_objects(run):
        if is_istio(registration):
            assert_valid(manifest(registration))
        else:
            kubernetes_validate.validate(manifest(registration), kubernetes_version, strict=True)
