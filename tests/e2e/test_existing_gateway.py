"""An ingress gateway the server team already runs: meshlink adds its link ports to that
Service with a server-side-apply patch under a pinned field manager, and ``pulumi destroy``
takes back exactly those ports, leaving the Service and its other managers as they were."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from tests.e2e.clusters import LocalCluster, ensure_crds
from tests.e2e.engine import Engine, StepRecorder
from tests.e2e.link_program import Credentials, ExistingGateway, LinkCase, link_program
from tests.e2e.toolchain import Toolchain
from tests.support import mesh

NAMESPACE = "ops-ingress"
SERVICE = "ops-ingressgateway"
LABELS = {"istio": "ops-ingressgateway"}
OPS_MANAGER = "ops-team"


def _service_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": {"team": "ops"}},
        "spec": {
            "type": "LoadBalancer",
            "selector": LABELS,
            "ports": [
                {"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
            ],
        },
    }


def _read(cluster: LocalCluster) -> dict[str, Any]:
    with cluster.api_client() as api:
        services = DynamicClient(api).resources.get(api_version="v1", kind="Service")
        found: dict[str, Any] = services.get(name=SERVICE, namespace=NAMESPACE).to_dict()
        return found


def _ports(service: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((p["name"], p["port"]) for p in service["spec"]["ports"])


def _managers(service: dict[str, Any]) -> set[str]:
    return {entry["manager"] for entry in service["metadata"].get("managedFields") or []}


@pytest.fixture(scope="module")
def existing_service(clusters: dict[str, LocalCluster]) -> Iterator[dict[str, Any]]:
    server = clusters["server"]
    with server.api_client() as api:
        client = DynamicClient(api)
        namespaces = client.resources.get(api_version="v1", kind="Namespace")
        namespaces.server_side_apply(
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            field_manager=OPS_MANAGER,
        )
        services = client.resources.get(api_version="v1", kind="Service")
        services.server_side_apply(
            body=_service_manifest(), namespace=NAMESPACE, field_manager=OPS_MANAGER
        )
    yield _read(server)
    with server.api_client() as api:
        DynamicClient(api).resources.get(api_version="v1", kind="Namespace").delete(NAMESPACE)


def test_link_ports_are_added_and_taken_back_exactly(
    engine: Engine,
    toolchain: Toolchain,
    clusters: dict[str, LocalCluster],
    existing_service: dict[str, Any],
) -> None:
    server = clusters["server"]
    for cluster in clusters.values():
        ensure_crds(cluster, toolchain)
    fqdns = [service["fqdn"] for service in mesh.services(2)]
    case = LinkCase(
        client_kubeconfig=clusters["client"].kubeconfig,
        server_kubeconfig=server.kubeconfig,
        credentials=Credentials.issue(fqdns),
        existing_gateway=ExistingGateway(
            namespace=NAMESPACE,
            service_name=SERVICE,
            labels=LABELS,
            service_account=SERVICE,
            address="198.51.100.30",
        ),
    )
    stack = engine.stack("meshlink-e2e-existing", "gateway", link_program(case), {})
    before = existing_service
    try:
        stack.up(on_output=print)
        during = _read(server)
        link_ports = {(f"tls-{s['name']}", s["link_port"]) for s in mesh.services(2)}
        added = set(_ports(during)) - set(_ports(before))
        assert {port for _, port in added} == {port for _, port in link_ports}, added
        assert set(_ports(before)) <= set(_ports(during))
        assert OPS_MANAGER in _managers(during)
        assert _managers(during) - _managers(before), "meshlink's field manager is missing"
        # pulumi-kubernetes diffs a Patch resource against the live object pruned to the
        # patch's shape *by list position* (provider/pkg/provider/util.go, pruneSlice): the
        # Service's first ports are the other manager's, so every preview shows the patch's
        # spec.ports as changed. It is the only change, and applying it changes nothing.
        recorder = StepRecorder()
        preview = stack.preview(diff=True, on_event=recorder, on_output=print)
        changed = [(s.op, s.type) for s in recorder.changed()]
        assert changed == [("update", "kubernetes:core/v1:ServicePatch")], changed
        assert "~ ports: [" in preview.stdout
        stack.up(on_output=print)
        again = _read(server)
        assert _ports(again) == _ports(during)
        assert _managers(again) == _managers(during)
    finally:
        stack.destroy(on_output=print)
    after = _read(server)
    assert _ports(after) == _ports(before)
    assert _managers(after) == _managers(before)
    assert after["spec"]["selector"] == before["spec"]["selector"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert (after["metadata"].get("annotations") or {}) == (
        before["metadata"].get("annotations") or {}
    )
