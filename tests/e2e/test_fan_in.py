"""Fan-in on the real engine: one server cluster admitting two client clusters, each with a
certificate of its own, then one client removed. The preview deletes exactly that client's
objects and updates only the server objects that named it (the Gateway of the one service it
used, and the load balancer's source ranges); ``up`` applies exactly that.

The halves are declared as split ownership declares them (``LinkServer`` with
``service_client_identities``, one ``LinkClient`` per client cluster, certificates issued
elsewhere), because there is no pulumi-tls provider plugin here for ``FanInLink``'s own
issuing (README, "The real engine"); ``FanInLink`` declares the same objects, as
``tests/test_mesh_fan_in.py`` shows on the mock engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from kubernetes.dynamic import DynamicClient

from meshlink.mesh import LinkClient, LinkServer
from tests.e2e import live
from tests.e2e.clusters import LocalCluster, create_namespaces, ensure_crds, local_cluster
from tests.e2e.engine import Engine, StepRecorder
from tests.e2e.link_program import CLIENT_NAMESPACES, STATIC_IP, skip_kubelet_waits
from tests.e2e.toolchain import Toolchain
from tests.support import mesh
from tests.support.rehearsal_fixture import ca_certificate, key_pem, leaf_certificate, new_key, pem

PREFIX = "fanin"
MYSQL, POSTGRES = mesh.services(2)
# client -> (services it may use, its egress range)
CLIENTS = {
    "orders": (["mysql", "postgres"], "203.0.113.10/32"),
    "reports": (["mysql"], "203.0.113.20/32"),
}


def identity(client: str) -> str:
    return f"spiffe://link.example.com/cluster/{client}"


@dataclass(frozen=True)
class Issued:
    trust_bundle_pem: str
    server: tuple[str, str]
    clients: dict[str, tuple[str, str]]
    """Per client, its chain and key."""


def issue() -> Issued:
    now = dt.datetime.now(dt.UTC)
    root_key = new_key()
    root = ca_certificate("Fan-in Link Root CA", root_key, issuer=None, now=now, serial=1)

    def leaf(name: str, san: x509.GeneralName, usage: Any, serial: int) -> tuple[str, str]:
        key = new_key()
        cert = leaf_certificate(
            name, key, sans=[san], usage=usage, issuer=(root, root_key), now=now, serial=serial
        )
        return pem(cert) + pem(root), key_pem(key)

    # One certificate, naming both FQDNs, serves both services (the credential layout).
    server_key = new_key()
    server_cert = leaf_certificate(
        "fan-in server",
        server_key,
        sans=[x509.DNSName(MYSQL["fqdn"]), x509.DNSName(POSTGRES["fqdn"])],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        issuer=(root, root_key),
        now=now,
        serial=3,
    )
    server = (pem(server_cert) + pem(root), key_pem(server_key))
    clients = {
        name: leaf(
            f"fan-in {name}",
            x509.UniformResourceIdentifier(identity(name)),
            ExtendedKeyUsageOID.CLIENT_AUTH,
            10 + index,
        )
        for index, name in enumerate(CLIENTS)
    }
    return Issued(trust_bundle_pem=pem(root), server=server, clients=clients)


def admitted(clients: tuple[str, ...]) -> dict[str, list[str]]:
    """Per service, the identities of the clients that may use it (as ``FanInLink`` admits)."""
    return {
        service["name"]: [identity(c) for c in clients if service["name"] in CLIENTS[c][0]]
        for service in (MYSQL, POSTGRES)
    }


def _credential(chain_and_key: tuple[str, str]) -> dict[str, Any]:
    chain, key = chain_and_key
    return {"full_chain_pem": chain, "private_key_pem": pulumi.Output.secret(key)}


def fan_in_program(
    clusters: dict[str, LocalCluster], issued: Issued, clients: tuple[str, ...]
) -> Callable[[], None]:
    def program() -> None:
        pulumi.runtime.register_resource_transform(skip_kubelet_waits)
        server_cluster = k8s.Provider(
            "server-cluster",
            kubeconfig=pulumi.Output.secret(clusters["server"].kubeconfig),
            enable_secret_mutable=True,
        )
        LinkServer(
            PREFIX,
            {  # type: ignore[arg-type]
                "services": [MYSQL, POSTGRES],
                "credential": _credential(issued.server),
                "client_trust_bundle_pem": issued.trust_bundle_pem,
                "service_client_identities": admitted(clients),
                "ingress_gateway": {
                    "source_ranges": [CLIENTS[c][1] for c in clients],
                    "static_ip": STATIC_IP,
                },
                "cluster_name": "server",
            },
            opts=pulumi.ResourceOptions(provider=server_cluster),
        )
        for client in clients:
            provider = k8s.Provider(
                f"{client}-cluster",
                kubeconfig=pulumi.Output.secret(clusters[client].kubeconfig),
                enable_secret_mutable=True,
            )
            LinkClient(
                f"{PREFIX}-{client}",
                {  # type: ignore[arg-type]
                    "services": [s for s in (MYSQL, POSTGRES) if s["name"] in CLIENTS[client][0]],
                    "credential": _credential(issued.clients[client]),
                    "server_trust_bundle_pem": issued.trust_bundle_pem,
                    "namespaces": list(CLIENT_NAMESPACES),
                    "object_prefix": PREFIX,
                    "cluster_name": client,
                },
                opts=pulumi.ResourceOptions(provider=provider),
            )

    return program


@pytest.fixture(scope="module")
def fan_in_clusters(
    clusters: dict[str, LocalCluster],
    toolchain: Toolchain,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, LocalCluster]]:
    """The suite's server cluster, its client cluster as ``orders``, and a third control
    plane as ``reports``."""
    with local_cluster("reports", toolchain, tmp_path_factory.mktemp("fan-in")) as reports:
        create_namespaces(reports, list(CLIENT_NAMESPACES))
        found = {"server": clusters["server"], "orders": clusters["client"], "reports": reports}
        for cluster in found.values():
            ensure_crds(cluster, toolchain)
        yield found


def _gateway_sans(server: LocalCluster) -> dict[str, list[str]]:
    with server.api_client() as api:
        gateways = DynamicClient(api).resources.get(
            api_version="networking.istio.io/v1", kind="Gateway"
        )
        listed = gateways.get(namespace=f"{PREFIX}-ingress").to_dict()["items"]
    return {
        g["metadata"]["name"]: g["spec"]["servers"][0]["tls"]["subjectAltNames"] for g in listed
    }


def _source_ranges(server: LocalCluster) -> list[str]:
    with server.api_client() as api:
        services = DynamicClient(api).resources.get(api_version="v1", kind="Service")
        found = services.get(name=f"{PREFIX}-ingress", namespace=f"{PREFIX}-ingress").to_dict()
    ranges: list[str] = found["spec"]["loadBalancerSourceRanges"]
    return ranges


def _has_link_objects(cluster: LocalCluster) -> bool:
    return bool(live.managed_objects(cluster))


def test_removing_a_client_deletes_exactly_its_objects_and_unnames_it_on_the_server(
    engine: Engine, fan_in_clusters: dict[str, LocalCluster], tmp_path: Path
) -> None:
    issued = issue()
    both = fan_in_program(fan_in_clusters, issued, ("orders", "reports"))
    stack = engine.stack("meshlink-e2e-fan-in", "fan-in", both, {})
    server = fan_in_clusters["server"]
    try:
        stack.up(on_output=print)
        assert _gateway_sans(server) == {
            f"{PREFIX}-mysql-ingress": [identity("orders"), identity("reports")],
            f"{PREFIX}-postgres-ingress": [identity("orders")],
        }
        assert sorted(_source_ranges(server)) == sorted(r for _, r in CLIENTS.values())
        assert _has_link_objects(fan_in_clusters["reports"])

        stack.workspace.program = fan_in_program(fan_in_clusters, issued, ("orders",))
        recorder = StepRecorder()
        preview = stack.preview(diff=True, on_event=recorder, on_output=print)
        (tmp_path / "preview.txt").write_text(preview.stdout)
        deleted = {s.name for s in recorder.of("delete")}
        updated = {(s.type, s.name) for s in recorder.of("update")}
        assert deleted and all(
            name.startswith(f"{PREFIX}-reports") or name == "reports-cluster" for name in deleted
        ), deleted
        assert updated == {
            ("kubernetes:networking.istio.io/v1:Gateway", f"{PREFIX}-mysql-ingress-gateway"),
            ("kubernetes:core/v1:Service", f"{PREFIX}-ingress-service"),
        }, updated
        assert not recorder.of("create") and not recorder.of("replace"), recorder.changed()

        stack.up(on_output=print)
        assert _gateway_sans(server) == {
            f"{PREFIX}-mysql-ingress": [identity("orders")],
            f"{PREFIX}-postgres-ingress": [identity("orders")],
        }
        assert _source_ranges(server) == [CLIENTS["orders"][1]]
        assert not _has_link_objects(fan_in_clusters["reports"])
        assert _has_link_objects(fan_in_clusters["orders"])
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("fan-in")
