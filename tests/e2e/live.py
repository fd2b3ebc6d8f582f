"""Reading what a local control plane holds, to compare it with what meshlink declared."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

import kubernetes
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from tests.e2e.clusters import LocalCluster

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


def _resource(client: DynamicClient, manifest: Mapping[str, Any]) -> Any:
    return client.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])


def read(cluster: LocalCluster, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The live object named by ``manifest``, or None when the cluster does not hold it."""
    metadata = manifest["metadata"]
    with cluster.api_client() as api:
        client = DynamicClient(api)
        try:
            found = _resource(client, manifest).get(
                name=metadata["name"], namespace=metadata.get("namespace")
            )
        except (NotFoundError, ResourceNotFoundError):
            return None
        live: dict[str, Any] = found.to_dict()
        return live


def differences(expected: Any, live: Any, path: str = "") -> Iterator[str]:
    """Where ``live`` does not hold what ``expected`` declares. Fields only the server sets
    (status, uid, managedFields, defaults) are extra in ``live`` and are not differences."""
    if isinstance(expected, Mapping):
        if not isinstance(live, Mapping):
            yield f"{path or '<root>'}: expected an object, found {live!r}"
            return
        for key, value in expected.items():
            yield from differences(value, live.get(key), f"{path}.{key}".lstrip("."))
    elif isinstance(expected, list):
        if not isinstance(live, list) or len(live) != len(expected):
            yield f"{path}: expected {len(expected)} items, found {live!r}"
            return
        for index, (want, have) in enumerate(zip(expected, live, strict=True)):
            yield from differences(want, have, f"{path}[{index}]")
    elif expected != live and str(expected) != str(live):
        yield f"{path}: declared {expected!r}, live {live!r}"


def declared_view(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the API server is expected to store for a declared manifest: a Secret's
    ``stringData`` is stored base64-encoded under ``data``."""
    view = dict(manifest)
    if manifest.get("kind") == "Secret" and "stringData" in manifest:
        view.pop("stringData")
        view["data"] = {
            key: base64.b64encode(str(value).encode()).decode()
            for key, value in manifest["stringData"].items()
        }
    return view


def managed_objects(cluster: LocalCluster) -> list[str]:
    """Every namespaced object and namespace on the cluster that meshlink labelled as its own,
    across every served kind (Istio kinds included), as ``Kind namespace/name``."""
    found: list[str] = []
    with cluster.api_client() as api:
        client = DynamicClient(api)
        for resource in client.resources.search():
            verbs = getattr(resource, "verbs", None) or []
            if "list" not in verbs or "/" in resource.name or resource.kind.endswith("List"):
                continue
            try:
                listed = resource.get(label_selector=MANAGED_BY_LABEL)
            except kubernetes.client.ApiException:
                continue
            for item in listed.items:
                labels = item.metadata.labels or {}
                if labels.get(MANAGED_BY_LABEL) == "meshlink":
                    namespace = item.metadata.namespace or ""
                    found.append(f"{resource.kind} {namespace}/{item.metadata.name}".strip())
    return sorted(set(found))


def rejections_by_dry_run(cluster: LocalCluster, manifests: list[dict[str, Any]]) -> list[str]:
    """Create each manifest on ``cluster`` as a server-side dry run with strict field
    validation (``kubectl apply --dry-run=server --validate=strict``): the API server checks
    the object against its CRD (schema, CEL rules, unknown fields) and stores nothing.
    Namespaces the manifests need are created for the check and deleted after it."""
    problems: list[str] = []
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        custom = kubernetes.client.CustomObjectsApi(api)
        client = DynamicClient(api)
        listed: Any = core.list_namespace()
        existing = {str(ns.metadata.name) for ns in listed.items}
        wanted = {m["metadata"]["namespace"] for m in manifests} - existing
        for namespace in sorted(wanted):
            core.create_namespace(
                kubernetes.client.V1Namespace(
                    metadata=kubernetes.client.V1ObjectMeta(name=namespace)
                )
            )
        try:
            for manifest in manifests:
                group, version = manifest["apiVersion"].split("/")
                plural = _resource(client, manifest).name
                try:
                    custom.create_namespaced_custom_object(
                        group,
                        version,
                        manifest["metadata"]["namespace"],
                        plural,
                        manifest,
                        dry_run="All",
                        field_validation="Strict",
                    )
                except kubernetes.client.ApiException as refused:
                    problems.append(
                        f"{manifest['kind']} {manifest['metadata']['name']}: {refused.body}"
                    )
        finally:
            for namespace in sorted(wanted):
                core.delete_namespace(namespace)
    return problems
