"""The program the real-engine tests deploy: both halves of a link on two clusters, declared
the way an organisation's program declares them on clusters it already has (two
``kubernetes.Provider``s from kubeconfigs), with the gateway certificates issued elsewhere
and handed in as secrets, as the split ``stacks/server`` and ``stacks/client`` do.

Only this program tells the Kubernetes provider not to wait for what needs a kubelet
(Deployments becoming available, LoadBalancer addresses): the local control planes run no
pods. The library never does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.mesh import LinkClient, LinkServer
from tests.support import mesh
from tests.support.rehearsal_fixture import (
    ca_certificate,
    key_pem,
    leaf_certificate,
    new_key,
    pem,
)

CLIENT_URI = "spiffe://link.example.com/cluster/e2e-client"
CLIENT_NAMESPACES = ("orders",)
SOURCE_RANGES = ("203.0.113.10/32",)
STATIC_IP = "198.51.100.20"
LINK_NAME = "e2e"

# Types that wait for a running pod or a cloud load balancer, neither of which exists here.
_NEEDS_A_KUBELET = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ServicePatch",
}


@dataclass(frozen=True)
class Credentials:
    """A link CA and the two gateway leaves, made outside the program (as another team's
    stack would), as PEM text."""

    trust_bundle_pem: str
    server_chain_pem: str
    server_key_pem: str
    client_chain_pem: str
    client_key_pem: str

    @classmethod
    def issue(cls, fqdns: list[str], serial: int = 1) -> Credentials:
        now = dt.datetime.now(dt.UTC)
        root_key = new_key()
        root = ca_certificate("E2E Link Root CA", root_key, issuer=None, now=now, serial=serial)
        server_key, client_key = new_key(), new_key()
        server = leaf_certificate(
            "e2e server",
            server_key,
            sans=[x509.DNSName(fqdn) for fqdn in fqdns],
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            issuer=(root, root_key),
            now=now,
            serial=serial + 1,
        )
        client = leaf_certificate(
            "e2e client",
            client_key,
            sans=[x509.UniformResourceIdentifier(CLIENT_URI)],
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            issuer=(root, root_key),
            now=now,
            serial=serial + 2,
        )
        return cls(
            trust_bundle_pem=pem(root),
            server_chain_pem=pem(server) + pem(root),
            server_key_pem=key_pem(server_key),
            client_chain_pem=pem(client) + pem(root),
            client_key_pem=key_pem(client_key),
        )


@dataclass(frozen=True)
class ExistingGateway:
    """An ingress gateway Service the server cluster already runs."""

    namespace: str
    service_name: str
    labels: dict[str, str]
    service_account: str
    address: str


@dataclass(frozen=True)
class LinkCase:
    client_kubeconfig: str
    server_kubeconfig: str
    credentials: Credentials
    service_count: int = 2
    existing_gateway: ExistingGateway | None = None
    readiness_timeout_seconds: int = 120

    def with_changes(self, **changes: Any) -> LinkCase:
        return replace(self, **changes)

    @property
    def services(self) -> list[dict[str, Any]]:
        return mesh.services(self.service_count)


def skip_kubelet_waits(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ not in _NEEDS_A_KUBELET:
        return None
    props: dict[str, Any] = dict(args.props)
    metadata: dict[str, Any] = dict(props.get("metadata") or {})
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        "pulumi.com/skipAwait": "true",
    }
    props["metadata"] = metadata
    return pulumi.ResourceTransformResult(props=props, opts=args.opts)


def link_program(case: LinkCase, *, skip_await: bool = True) -> Callable[[], None]:
    """``skip_await=False`` gives the program exactly as a user would write it (the offline
    render of it is what the live objects are compared with)."""

    def program() -> None:
        if skip_await:
            pulumi.runtime.register_resource_transform(skip_kubelet_waits)
        client_kubeconfig = pulumi.Output.secret(case.client_kubeconfig)
        server_kubeconfig = pulumi.Output.secret(case.server_kubeconfig)
        # As the README tells an organisation to declare its providers.
        client_cluster = k8s.Provider(
            "client-cluster", kubeconfig=client_kubeconfig, enable_secret_mutable=True
        )
        server_cluster = k8s.Provider(
            "server-cluster", kubeconfig=server_kubeconfig, enable_secret_mutable=True
        )
        issued = case.credentials
        server_args: dict[str, Any] = {
            "services": case.services,
            "credential": {
                "full_chain_pem": issued.server_chain_pem,
                "private_key_pem": pulumi.Output.secret(issued.server_key_pem),
            },
            "client_trust_bundle_pem": issued.trust_bundle_pem,
            "allowed_client_identities": [CLIENT_URI],
            "readiness": {
                "kubeconfig": server_kubeconfig,
                "timeout_seconds": case.readiness_timeout_seconds,
                "poll_seconds": 1,
            },
            "cluster_name": "server",
        }
        if case.existing_gateway is None:
            server_args["ingress_gateway"] = {
                "source_ranges": list(SOURCE_RANGES),
                "static_ip": STATIC_IP,
            }
        else:
            gateway = case.existing_gateway
            server_args["existing_ingress_gateway"] = {
                "namespace": gateway.namespace,
                "service_name": gateway.service_name,
                "labels": gateway.labels,
                "service_account": gateway.service_account,
                "address": gateway.address,
            }
        server = LinkServer(
            LINK_NAME,
            server_args,  # type: ignore[arg-type]
            opts=pulumi.ResourceOptions(provider=server_cluster),
        )
        client_args: dict[str, Any] = {
            "services": case.services,
            "credential": {
                "full_chain_pem": issued.client_chain_pem,
                "private_key_pem": pulumi.Output.secret(issued.client_key_pem),
            },
            "server_trust_bundle_pem": issued.trust_bundle_pem,
            "namespaces": list(CLIENT_NAMESPACES),
            "readiness": {
                "kubeconfig": client_kubeconfig,
                "timeout_seconds": case.readiness_timeout_seconds,
                "poll_seconds": 1,
            },
            "cluster_name": "client",
        }
        client = LinkClient(
            LINK_NAME,
            client_args,  # type: ignore[arg-type]
            opts=pulumi.ResourceOptions(provider=client_cluster),
        )
        pulumi.export("server_objects", server.objects)
        pulumi.export("client_objects", client.objects)

    return program
