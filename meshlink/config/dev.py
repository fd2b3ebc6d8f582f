"""The dev stack's configuration (``__main__.py``): both clusters, the CA, the link and the
demo in one program, and the rules only a program with both clusters can check (the two
networks apart, one fleet per cluster, the demo against the linked service)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi

from meshlink.config.ca import CaSettings, read_ca_settings, read_leaf_lifetime
from meshlink.config.clusters import (
    DERIVED_NETWORK_KEYS,
    ClusterConfig,
    fleet_of,
    network_values,
    read_client_policy,
    read_cluster,
    read_fleet_project,
)
from meshlink.config.declare import (
    ingress_address_args,
    managed_mesh_trust_domain,
    service_args,
    source_ranges,
)
from meshlink.config.reader import WHERE, ConfigReader, finish
from meshlink.config.rules import read_dns, read_gateways, read_link_name, read_services
from meshlink.config.sections import (
    ClientSection,
    ClusterSection,
    DemoSection,
    DnsSection,
    GatewaysSection,
    RotationSection,
    ServerSection,
    TlsSection,
)
from meshlink.demo import DEMO_MYSQL_PORT, DEMO_MYSQL_SELECTOR
from meshlink.gcp import IngressAddress, MeshCluster, check_networks_disjoint
from meshlink.gcp.network import MeshNetworkSettings
from meshlink.mesh import MeshLinkArgs
from meshlink.mesh.hardening import ClientNetworkPolicy
from meshlink.mesh.identity import ClientIdentity
from meshlink.mesh.naming import LinkNames
from meshlink.mesh.services import LinkedService
from meshlink.pki import LinkIssuer
from meshlink.pki.leaf import LeafLifetime
from meshlink.validation import MeshlinkValidationError

NAMESPACE = "meshlink"
"""The dev stack's configuration namespace (its project name)."""


SHARED_VPC_REQUIREMENT = (
    "https://cloud.google.com/service-mesh/docs/managed/provision-managed-anthos-service-mesh"
)
"""Managed Cloud Service Mesh: clusters of different projects joined to one mesh "must be
registered to the same fleet host project, and the clusters must be in a shared VPC
configuration together on the same network" (Requirements)."""


MESH_FLEET_LIMITATION = "https://cloud.google.com/service-mesh/docs/supported-features-mcp"
"""Managed Cloud Service Mesh, Limitations: "All Cloud Service Mesh clusters for one mesh
must be registered to the same fleet at all times ... Other clusters in the project of a
Cloud Service Mesh cluster must not be registered to a different fleet."."""


def _check_two_fleets(
    reader: ConfigReader,
    client: ClusterSection | None,
    server: ClusterSection | None,
    shared_fleet: str | None,
) -> None:
    """Each side is a fleet and a mesh of its own: one message naming the keys otherwise."""
    if client is None or server is None:
        return
    keys = f"{reader.path('client')}.fleet_project, {reader.path('server')}.fleet_project"
    if shared_fleet is not None:
        reader.problems.append(
            f"{reader.path('fleet_project')}: one fleet for both clusters would make one "
            f"mesh of projects {client.project!r} and {server.project!r}, which managed "
            "Cloud Service Mesh supports only for clusters in a shared VPC on one network "
            f"({SHARED_VPC_REQUIREMENT}); the two sides have networks of their own. Remove "
            f"it: each side's fleet is its own project, or set {keys}"
        )
        return
    if client.project == server.project:
        reader.problems.append(
            f"{reader.path('client')}.project, {reader.path('server')}.project: both "
            f"clusters are in project {client.project!r}. The link needs a mesh per side, "
            "each in a fleet of its own, and managed Cloud Service Mesh does not let another "
            "cluster in the project of a Cloud Service Mesh cluster register to a different "
            f"fleet ({MESH_FLEET_LIMITATION}); put the sides in two projects"
        )
        return
    client_fleet, server_fleet = fleet_of(client), fleet_of(server)
    if client_fleet == server_fleet:
        reader.problems.append(
            f"{keys}: both clusters would register to the fleet of {client_fleet!r}, one "
            f"mesh across projects {client.project!r} and {server.project!r}, which managed "
            "Cloud Service Mesh supports only for clusters in a shared VPC on one network "
            f"({SHARED_VPC_REQUIREMENT}); the two sides have networks of their own. Give "
            "each side a fleet project of its own (unset: the side's own project)"
        )


def _demo(reader: ConfigReader, services: Sequence[LinkedService] | None) -> DemoSection | None:
    demo = reader.section(DemoSection, "demo", required=False)
    if demo is None or not demo.enabled or services is None:
        return demo
    prefix = f"{reader.path('demo')}."
    matches = [i for i, s in enumerate(services) if s.name == demo.service]
    if not matches:
        names = [s.name for s in services]
        reader.problems.append(f"{prefix}service: {demo.service!r} is not one of {names}")
        return demo
    index = matches[0]
    service = services[index]
    where = f"{reader.path('services')}[{index}]"
    if service.target_host != demo.target_host:
        linked = service.target_host or f"the external {service.target_external!r}"
        reader.problems.append(
            f"{where}.target_host: the demo MySQL server is {demo.target_host!r} "
            f"({prefix}server_namespace), but the link targets {linked!r}"
        )
    if service.target_labels is not None and not (
        service.target_labels.items() <= DEMO_MYSQL_SELECTOR.items()
    ):
        reader.problems.append(
            f"{where}.target_labels: the demo MySQL pods are selected by "
            f"{DEMO_MYSQL_SELECTOR}; {service.target_labels} would leave them unprotected"
        )
    if service.target_port != DEMO_MYSQL_PORT:
        reader.problems.append(
            f"{where}.target_port: the demo MySQL server listens on {DEMO_MYSQL_PORT}, not "
            f"{service.target_port}"
        )
    if demo.client_namespace == demo.server_namespace:
        reader.problems.append(
            f"{prefix}client_namespace: must differ from server_namespace: the server side's "
            "namespace name says nothing about the client cluster, but a reader would think so"
        )
    return demo


def _check_demo_beside_gateways(
    reader: ConfigReader,
    demo: DemoSection | None,
    gateways: GatewaysSection | None,
    link_name: str | None,
) -> None:
    """A demo namespace that is also a gateway's would be declared twice; say so before
    anything is declared (the render would otherwise find it only when writing files)."""
    if demo is None or not demo.enabled or gateways is None or link_name is None:
        return
    names = LinkNames(link_name)
    for side, default in (
        ("egress", names.egress_gateway_default()),
        ("ingress", names.ingress_gateway_default()),
    ):
        settings = getattr(gateways, side)
        namespace = settings.get("namespace") or default
        for key in ("server_namespace", "client_namespace"):
            if namespace == getattr(demo, key):
                reader.problems.append(
                    f"{reader.path('gateways')}.{side}.namespace: {namespace!r} is also "
                    f"{reader.path('demo')}.{key}; the gateway needs a namespace of its own "
                    "(its Role reads every Secret there)"
                )


@dataclass(frozen=True)
class DevStackConfig:
    """The all-in-one stack: both clusters, the CA and the link in one program."""

    namespace: str
    client: ClusterConfig
    server: ClusterConfig
    client_namespaces: list[str]
    """The link's client namespaces, the demo's included."""
    network_policy: ClientNetworkPolicy
    client_section: ClientSection
    server_section: ServerSection
    client_fleet_project: str
    """The client side's fleet host project: its own fleet, feature and mesh."""
    server_fleet_project: str
    """The server side's fleet host project: its own fleet, feature and mesh."""
    services: list[LinkedService]
    client_identity: ClientIdentity
    dns: DnsSection
    ca: CaSettings
    rotation: RotationSection
    gateways: GatewaysSection
    tls: TlsSection
    link_name: str
    demo: DemoSection
    leaf_lifetime: LeafLifetime = field(default_factory=LeafLifetime)

    @property
    def projects(self) -> list[str]:
        return list(
            dict.fromkeys(
                [
                    self.client.project,
                    self.server.project,
                    self.client_fleet_project,
                    self.server_fleet_project,
                ]
            )
        )

    def fleet_project(self, cluster: ClusterConfig) -> str:
        return self.client_fleet_project if cluster.name == "client" else self.server_fleet_project

    @property
    def fqdns(self) -> list[str]:
        return [s.fqdn for s in self.services]

    @property
    def nat_address_count(self) -> int:
        return self.client.network.nat_address_count

    def link_args(
        self,
        *,
        issuer: LinkIssuer,
        client_cluster: MeshCluster,
        server_cluster: MeshCluster,
        ingress: IngressAddress,
        client_waits_for: Sequence[pulumi.Resource] = (),
        server_waits_for: Sequence[pulumi.Resource] = (),
    ) -> MeshLinkArgs:
        args: dict[str, Any] = {
            "services": service_args(self.services),
            "client": {
                "provider": client_cluster.provider,
                "namespaces": self.client_namespaces,
                "egress_gateway": dict(self.gateways.egress),
                "network_policy": dict(self.client_section.network_policy),
                "readiness": {"kubeconfig": client_cluster.control_plane_kubeconfig},
                "cluster_name": client_cluster.cluster_name,
                "depends_on": list(client_waits_for),
            },
            "server": {
                "provider": server_cluster.provider,
                "ingress_gateway": {
                    **self.gateways.ingress,
                    "source_ranges": source_ranges(ingress, self.nat_address_count),
                    **ingress_address_args(ingress),
                },
                "readiness": {"kubeconfig": server_cluster.control_plane_kubeconfig},
                "cluster_name": server_cluster.cluster_name,
                "depends_on": list(server_waits_for),
                "trust_domains": [
                    managed_mesh_trust_domain(self.server_fleet_project),
                    "cluster.local",
                ],
            },
            "link_ca": issuer,
            "client_identity": self.client_identity.model_dump(exclude_none=True),
            "min_tls_version": self.tls.min_version,
            "cipher_suites": list(self.tls.cipher_suites),
            "istio_api_version": self.gateways.istio_api_version,
            "object_prefix": self.link_name,
        }
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        args["leaf_lifetime"] = self.leaf_lifetime.model_dump()
        return cast(MeshLinkArgs, args)


def _read_networks(
    reader: ConfigReader, client: ClusterSection | None, server: ClusterSection | None
) -> dict[str, MeshNetworkSettings]:
    """Both sides' network settings, checked apart; empty where a side is missing, where
    either sets a key the side derives (read_cluster reports those), or on a problem."""
    if client is None or server is None:
        return {}
    if set(DERIVED_NETWORK_KEYS) & (set(client.network) | set(server.network)):
        return {}
    client_values = network_values(client, "client")
    server_values = network_values(server, "server")
    try:
        check_networks_disjoint(
            client_values,
            server_values,
            names=(f"{reader.path('client')}.network", f"{reader.path('server')}.network"),
            where=WHERE,
        )
        return {
            "client": MeshNetworkSettings.model_validate(client_values),
            "server": MeshNetworkSettings.model_validate(server_values),
        }
    except MeshlinkValidationError as error:
        reader.problems.extend(error.problems)
        return {}


def _client_namespaces(
    reader: ConfigReader, client: ClientSection | None, demo: DemoSection | None
) -> list[str]:
    """The link's client namespaces, the enabled demo's included; at least one."""
    if client is None:
        return []
    namespaces = list(client.namespaces)
    if demo is not None and demo.enabled and demo.client_namespace not in namespaces:
        namespaces.append(demo.client_namespace)
    if not namespaces:
        reader.problems.append(
            f"{reader.path('client')}.namespaces: name at least one namespace of client "
            f"workloads (or enable {reader.path('demo')})"
        )
    return namespaces


def load_dev_config(namespace: str = NAMESPACE) -> DevStackConfig:
    """Read and validate the dev stack's configuration, or raise one error listing every
    problem."""
    reader = ConfigReader(namespace)
    shared_fleet = read_fleet_project(reader)
    client, _ = read_cluster(
        reader, "client", ClientSection, fleet_project=None, check_network=False
    )
    server, _ = read_cluster(
        reader, "server", ServerSection, fleet_project=None, check_network=False
    )
    _check_two_fleets(reader, client, server, shared_fleet)
    networks = _read_networks(reader, client, server)
    policy = read_client_policy(reader, cast(ClientSection | None, client))
    services = read_services(reader)
    link_name = read_link_name(reader, services)
    identity = reader.section(ClientIdentity, "client_identity", required=True)
    dns = read_dns(reader, services, policy)
    ca = read_ca_settings(reader)
    rotation = reader.section(RotationSection, "rotation", required=False)
    lifetime = read_leaf_lifetime(reader, ca)
    gateways = read_gateways(reader)
    tls = reader.section(TlsSection, "tls", required=False)
    demo = _demo(reader, services)
    _check_demo_beside_gateways(reader, demo, gateways, link_name)
    namespaces = _client_namespaces(reader, cast(ClientSection | None, client), demo)
    finish(reader)
    assert client is not None and server is not None and services is not None
    assert identity is not None and dns is not None and ca is not None and demo is not None
    assert rotation is not None and gateways is not None and tls is not None
    assert lifetime is not None
    return DevStackConfig(
        namespace=namespace,
        client=ClusterConfig("client", client, networks["client"]),
        server=ClusterConfig("server", server, networks["server"]),
        client_namespaces=namespaces,
        network_policy=policy,
        client_section=cast(ClientSection, client),
        server_section=cast(ServerSection, server),
        client_fleet_project=fleet_of(client),
        server_fleet_project=fleet_of(server),
        services=services,
        client_identity=identity,
        dns=dns,
        ca=ca,
        rotation=rotation,
        gateways=gateways,
        tls=tls,
        link_name=link_name,
        demo=demo,
        leaf_lifetime=lifetime,
    )
