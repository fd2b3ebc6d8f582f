"""The split-ownership stacks' configurations (``stacks/pki``, ``stacks/server``,
``stacks/client``), and what one stack reads from another: the pki stack's output keys,
the gateway credentials made of them, and the link contract each cluster stack holds the
stacks it reads to (``contract``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pulumi

from meshlink.config.ca import CaSettings, read_ca_settings, read_leaf_lifetime
from meshlink.config.clusters import (
    ClusterConfig,
    fleet_of,
    read_client_policy,
    read_cluster,
    read_fleet_project,
)
from meshlink.config.contract import (
    CONTRACT_OUTPUTS,
    LinkTerms,
    ReadStack,
    require_agreement,
    service_terms,
)
from meshlink.config.declare import (
    ingress_address_args,
    managed_mesh_trust_domain,
    service_args,
    source_ranges,
)
from meshlink.config.reader import ConfigReader, finish
from meshlink.config.rules import read_dns, read_gateways, read_link_name, read_services
from meshlink.config.sections import (
    ClientSection,
    ClusterSection,
    DnsSection,
    GatewaysSection,
    IngressSection,
    RotationSection,
    ServerSection,
    TlsSection,
    check_stack_name,
)
from meshlink.config.split_clients import (
    DEFAULT_CLIENT,
    SplitClient,
    admitted_identities,
    check_client_name,
    read_pki_clients,
    read_server_clients,
    union_of_addresses,
)
from meshlink.gcp import IngressAddress, MeshCluster
from meshlink.gcp.network import MeshNetworkSettings
from meshlink.mesh import LinkClientArgs, LinkCredentialArgs, LinkServerArgs
from meshlink.mesh.hardening import ClientNetworkPolicy
from meshlink.mesh.services import LinkedService
from meshlink.pki import LeafCertificateArgs, LinkIssuer
from meshlink.pki.leaf import LeafLifetime
from meshlink.stack_outputs import StackOutputs
from meshlink.validation import check_fqdn


@dataclass(frozen=True)
class PkiStackConfig:
    """The security team's stack: the link CA, the server certificate and one client
    certificate per client cluster."""

    namespace: str
    ca: CaSettings
    rotation: RotationSection
    server_fqdns: list[str]
    clients: list[SplitClient]
    leaf_lifetime: LeafLifetime = field(default_factory=LeafLifetime)

    def server_leaf_args(self, issuer: LinkIssuer) -> LeafCertificateArgs:
        args: LeafCertificateArgs = {
            "issuer": issuer,
            "role": "server",
            "dns_names": list(self.server_fqdns),
            **self.leaf_lifetime.model_dump(),  # type: ignore[typeddict-item]
        }
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        return args

    def client_leaf_args(self, issuer: LinkIssuer, client: SplitClient) -> LeafCertificateArgs:
        args: LeafCertificateArgs = {
            "issuer": issuer,
            "role": "client",
            **self.leaf_lifetime.model_dump(),  # type: ignore[typeddict-item]
        }
        if client.identity.dns_name is not None:
            args["dns_names"] = [client.identity.dns_name]
        else:
            args["uris"] = [client.identity.san]
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        return args


def load_pki_config(namespace: str | None = None) -> PkiStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    ca = read_ca_settings(reader)
    rotation = reader.section(RotationSection, "rotation", required=False)
    lifetime = read_leaf_lifetime(reader, ca)
    fqdns = reader.strings("server_fqdns", required=True, check=check_fqdn)
    clients = read_pki_clients(reader)
    finish(reader)
    assert ca is not None and rotation is not None and fqdns is not None and clients is not None
    assert lifetime is not None
    return PkiStackConfig(reader.namespace, ca, rotation, fqdns, clients, lifetime)


PKI_OUTPUTS_SHARED = ("ca_certificate_pem", "trust_bundle_pem", "server_fqdns", "client_sans")
"""The pki stack's outputs every cluster stack reads."""


def pki_outputs_read(holder: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The pki stack's outputs that the stack of ``holder`` reads, plain and secret:
    ``server``, or a client's name. Each gateway's certificate and key are exported under
    its holder's name (``server_full_chain_pem``, ``orders_private_key_pem``), so a stack
    reads its own key and no other."""
    return (*PKI_OUTPUTS_SHARED, f"{holder}_full_chain_pem"), (f"{holder}_private_key_pem",)


def read_pki_stack(pki_stack: str, holder: str) -> dict[str, pulumi.Output[Any]]:
    """The pki stack's outputs the stack of ``holder`` (``server`` or a client's name) takes,
    through one ``StackOutputs`` named ``pki``. It declares the key secret itself, so it
    stays secret whatever the pki stack marked."""
    plain, secret = pki_outputs_read(holder)
    pki = StackOutputs("pki", pki_stack, plain=plain, secret=secret)
    shared = {key: pki.require(key) for key in PKI_OUTPUTS_SHARED}
    own = [key for key in (*plain, *secret) if key not in shared]
    if holder == "server":
        return {**shared, **{key: pki.require(key) for key in own}}

    def own_output(key: str) -> pulumi.Output[Any]:
        # A client the pki stack issued no certificate for has none to read: the link
        # contract fails the run naming client_name, rather than a missing output.
        return shared["client_sans"].apply(
            lambda issued: (
                "" if isinstance(issued, dict) and holder not in issued else pki.require(key)
            )
        )

    return {**shared, **{key: own_output(key) for key in own}}


@dataclass(frozen=True)
class ServerStackConfig:
    """The server team's stack: its cluster, the ingress address and the ingress side."""

    namespace: str
    server: ClusterConfig
    fleet_project: str
    services: list[LinkedService]
    clients: list[SplitClient]
    pki_stack: str
    gateways: GatewaysSection
    tls: TlsSection
    link_name: str

    @property
    def projects(self) -> list[str]:
        return list(dict.fromkeys([self.server.project, self.fleet_project]))

    @property
    def link_terms(self) -> LinkTerms:
        """What this stack states about the link: its services and the clients it admits."""
        return LinkTerms(
            services=service_terms(self.services),
            client_sans={c.name: c.identity.san for c in self.clients},
            client_settings={c.name: c.identity_setting for c in self.clients},
        )

    @property
    def served_services(self) -> list[dict[str, Any]]:
        """The ``services`` output, which the client stack compares with its own."""
        return [terms.model_dump() for terms in service_terms(self.services)]

    @property
    def client_services(self) -> dict[str, list[str]]:
        """The ``client_services`` output: per client, the services it may use, which its
        client stack compares with its own."""
        names = [s.name for s in self.services]
        return {c.name: [n for n in names if c.may_use(n)] for c in self.clients}

    @property
    def client_nat_addresses(self) -> list[str]:
        """The ingress gateway's allowlist: the union of the clients' egress addresses."""
        return union_of_addresses(self.clients)

    @property
    def ingress_section(self) -> IngressSection:
        return cast(ServerSection, self.server.section).ingress

    def link_server_args(
        self,
        *,
        credential: LinkCredentialArgs,
        client_trust_bundle_pem: pulumi.Input[str],
        cluster: MeshCluster,
        ingress: IngressAddress,
    ) -> LinkServerArgs:
        everywhere, per_service = admitted_identities(self.clients, [s.name for s in self.services])
        return cast(
            LinkServerArgs,
            {
                "services": service_args(self.services),
                "credential": credential,
                "client_trust_bundle_pem": client_trust_bundle_pem,
                "allowed_client_identities": everywhere,
                "service_client_identities": per_service,
                "ingress_gateway": {
                    **self.gateways.ingress,
                    "source_ranges": source_ranges(ingress, len(self.client_nat_addresses)),
                    **ingress_address_args(ingress),
                },
                "readiness": {"kubeconfig": cluster.control_plane_kubeconfig},
                "cluster_name": cluster.cluster_name,
                "object_prefix": self.link_name,
                "min_tls_version": self.tls.min_version,
                "cipher_suites": list(self.tls.cipher_suites),
                "istio_api_version": self.gateways.istio_api_version,
                "trust_domains": [managed_mesh_trust_domain(self.fleet_project), "cluster.local"],
            },
        )


def _split_stack_cluster(
    reader: ConfigReader, key: str, model: type[ClusterSection]
) -> tuple[str | None, ClusterSection | None, MeshNetworkSettings | None]:
    """The fleet project and the one cluster a cluster team's stack owns. Unless
    ``fleet_project`` says otherwise, the fleet is that side's own project: the stack has no
    other project to default to."""
    fleet = read_fleet_project(reader)
    section, network = read_cluster(reader, key, model, fleet_project=fleet)
    return fleet, section, network


def load_server_config(namespace: str | None = None) -> ServerStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    fleet, server, network = _split_stack_cluster(reader, "server", ServerSection)
    services = read_services(reader)
    link_name = read_link_name(reader, services)
    clients = read_server_clients(reader, None if services is None else [s.name for s in services])
    pki_stack = reader.text("pki_stack", required=True, check=check_stack_name)
    gateways = read_gateways(reader)
    tls = reader.section(TlsSection, "tls", required=False)
    finish(reader)
    assert server is not None and network is not None and services is not None
    assert clients is not None and pki_stack is not None
    assert gateways is not None and tls is not None
    return ServerStackConfig(
        namespace=reader.namespace,
        server=ClusterConfig("server", server, network),
        fleet_project=fleet or fleet_of(server),
        services=services,
        clients=clients,
        pki_stack=pki_stack,
        gateways=gateways,
        tls=tls,
        link_name=link_name,
    )


SERVER_OUTPUTS_PLAIN = ("ingress_address", "services", "client_services")
"""What the client stack reads from the server stack."""


@dataclass(frozen=True)
class ClientStackConfig:
    """The client team's stack: its cluster, the private DNS names and the egress side."""

    namespace: str
    client: ClusterConfig
    network_policy: ClientNetworkPolicy
    fleet_project: str
    client_name: str
    services: list[LinkedService]
    dns: DnsSection
    pki_stack: str
    server_stack: str | None
    gateways: GatewaysSection
    link_name: str

    @property
    def projects(self) -> list[str]:
        return list(dict.fromkeys([self.client.project, self.fleet_project]))

    @property
    def fqdns(self) -> list[str]:
        return [s.fqdn for s in self.services]

    @property
    def link_terms(self) -> LinkTerms:
        """What this stack states about the link: which client it is, the services it
        reaches."""
        return LinkTerms(services=service_terms(self.services), client_name=self.client_name)

    def link_client_args(
        self,
        *,
        credential: LinkCredentialArgs,
        server_trust_bundle_pem: pulumi.Input[str],
        cluster: MeshCluster,
    ) -> LinkClientArgs:
        section = cast(ClientSection, self.client.section)
        return cast(
            LinkClientArgs,
            {
                "services": service_args(self.services),
                "credential": credential,
                "server_trust_bundle_pem": server_trust_bundle_pem,
                "namespaces": list(section.namespaces),
                "egress_gateway": dict(self.gateways.egress),
                "network_policy": dict(section.network_policy),
                "readiness": {"kubeconfig": cluster.control_plane_kubeconfig},
                "cluster_name": cluster.cluster_name,
                "object_prefix": self.link_name,
                "istio_api_version": self.gateways.istio_api_version,
            },
        )


def load_client_config(namespace: str | None = None) -> ClientStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    fleet, client, network = _split_stack_cluster(reader, "client", ClientSection)
    policy = read_client_policy(reader, cast(ClientSection | None, client))
    if client is not None and not cast(ClientSection, client).namespaces:
        reader.problems.append(
            f"{reader.path('client')}.namespaces: name at least one namespace of client workloads"
        )
    client_name = reader.text("client_name", required=False, check=check_client_name)
    services = read_services(reader, server_side=False)
    link_name = read_link_name(reader, services)
    dns = read_dns(reader, services, policy)
    pki_stack = reader.text("pki_stack", required=True, check=check_stack_name)
    server_stack = reader.text("server_stack", required=False, check=check_stack_name)
    gateways = read_gateways(reader)
    finish(reader)
    assert client is not None and network is not None and services is not None
    assert dns is not None and pki_stack is not None and gateways is not None
    return ClientStackConfig(
        namespace=reader.namespace,
        client=ClusterConfig("client", client, network),
        network_policy=policy,
        fleet_project=fleet or fleet_of(client),
        client_name=client_name or DEFAULT_CLIENT,
        services=services,
        dns=dns,
        pki_stack=pki_stack,
        server_stack=server_stack,
        gateways=gateways,
        link_name=link_name,
    )


def credential_from(outputs: Mapping[str, pulumi.Output[Any]], holder: str) -> LinkCredentialArgs:
    """A gateway credential from the pki stack's outputs (``server`` or a client's name)."""
    return {
        "full_chain_pem": outputs[f"{holder}_full_chain_pem"],
        "private_key_pem": outputs[f"{holder}_private_key_pem"],
    }


def check_link_contract(
    here: LinkTerms, *, namespace: str, read: Sequence[ReadStack]
) -> pulumi.Output[None]:
    """Compare this stack's terms with the outputs of the stacks it reads once they
    resolve: a mismatch fails the run (and so ``pulumi preview``) with one
    :class:`~meshlink.config.contract.LinkContractError` listing every disagreement."""
    resolved = pulumi.Output.all(
        *(
            pulumi.Output.all(**{k: v for k, v in stack.outputs.items() if k in CONTRACT_OUTPUTS})
            for stack in read
        )
    )
    return resolved.apply(
        lambda values: require_agreement(
            here,
            [replace(stack, outputs=outputs) for stack, outputs in zip(read, values, strict=True)],
            here_name=namespace,
        )
    )
