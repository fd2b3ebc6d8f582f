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
from meshlink.gcp import IngressAddress, MeshCluster
from meshlink.gcp._validation import check_host_address
from meshlink.gcp.network import MeshNetworkSettings
from meshlink.mesh import LinkClientArgs, LinkCredentialArgs, LinkServerArgs
from meshlink.mesh.hardening import ClientNetworkPolicy
from meshlink.mesh.identity import ClientIdentity
from meshlink.mesh.services import LinkedService
from meshlink.pki import LeafCertificateArgs, LinkIssuer
from meshlink.pki.leaf import LeafLifetime
from meshlink.stack_outputs import StackOutputs
from meshlink.validation import check_fqdn


def _address(value: str) -> str:
    """A host address, for ``reader.strings``, which wants the value back."""
    check_host_address(value)
    return value


@dataclass(frozen=True)
class PkiStackConfig:
    """The security team's stack: the link CA and the two gateway certificates."""

    namespace: str
    ca: CaSettings
    rotation: RotationSection
    server_fqdns: list[str]
    client_identity: ClientIdentity
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

    def client_leaf_args(self, issuer: LinkIssuer) -> LeafCertificateArgs:
        args: LeafCertificateArgs = {
            "issuer": issuer,
            "role": "client",
            **self.leaf_lifetime.model_dump(),  # type: ignore[typeddict-item]
        }
        if self.client_identity.dns_name is not None:
            args["dns_names"] = [self.client_identity.dns_name]
        else:
            args["uris"] = [self.client_identity.san]
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        return args


def load_pki_config(namespace: str | None = None) -> PkiStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    ca = read_ca_settings(reader)
    rotation = reader.section(RotationSection, "rotation", required=False)
    lifetime = read_leaf_lifetime(reader, ca)
    fqdns = reader.strings("server_fqdns", required=True, check=check_fqdn)
    identity = reader.section(ClientIdentity, "client_identity", required=True)
    finish(reader)
    assert ca is not None and rotation is not None and fqdns is not None and identity is not None
    assert lifetime is not None
    return PkiStackConfig(reader.namespace, ca, rotation, fqdns, identity, lifetime)


PKI_OUTPUTS_PLAIN = (
    "ca_certificate_pem",
    "trust_bundle_pem",
    "server_full_chain_pem",
    "client_full_chain_pem",
    "server_fqdns",
    "client_san",
)
PKI_OUTPUTS_SECRET = ("server_private_key_pem", "client_private_key_pem")
"""What the pki stack exports for the cluster stacks; the keys are secret on both ends."""


def read_pki_stack(pki_stack: str) -> dict[str, pulumi.Output[Any]]:
    """The pki stack's outputs a cluster stack takes, through one ``StackOutputs`` named
    ``pki``. It declares the keys secret itself, so they stay secret whatever the pki stack
    marked."""
    pki = StackOutputs("pki", pki_stack, plain=PKI_OUTPUTS_PLAIN, secret=PKI_OUTPUTS_SECRET)
    return {key: pki.require(key) for key in (*PKI_OUTPUTS_PLAIN, *PKI_OUTPUTS_SECRET)}


@dataclass(frozen=True)
class ServerStackConfig:
    """The server team's stack: its cluster, the ingress address and the ingress side."""

    namespace: str
    server: ClusterConfig
    fleet_project: str
    services: list[LinkedService]
    client_identity: ClientIdentity
    client_nat_addresses: list[str]
    pki_stack: str
    gateways: GatewaysSection
    tls: TlsSection
    link_name: str

    @property
    def projects(self) -> list[str]:
        return list(dict.fromkeys([self.server.project, self.fleet_project]))

    @property
    def link_terms(self) -> LinkTerms:
        """What this stack states about the link: its services and the client it admits."""
        return LinkTerms(services=service_terms(self.services), client_san=self.client_identity.san)

    @property
    def served_services(self) -> list[dict[str, Any]]:
        """The ``services`` output, which the client stack compares with its own."""
        return [terms.model_dump() for terms in service_terms(self.services)]

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
        return cast(
            LinkServerArgs,
            {
                "services": service_args(self.services),
                "credential": credential,
                "client_trust_bundle_pem": client_trust_bundle_pem,
                "allowed_client_identities": [self.client_identity.san],
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
    identity = reader.section(ClientIdentity, "client_identity", required=True)
    nat = reader.strings("client_nat_addresses", required=True, check=_address)
    pki_stack = reader.text("pki_stack", required=True, check=check_stack_name)
    gateways = read_gateways(reader)
    tls = reader.section(TlsSection, "tls", required=False)
    finish(reader)
    assert server is not None and network is not None and services is not None
    assert identity is not None and nat is not None and pki_stack is not None
    assert gateways is not None and tls is not None
    return ServerStackConfig(
        namespace=reader.namespace,
        server=ClusterConfig("server", server, network),
        fleet_project=fleet or fleet_of(server),
        services=services,
        client_identity=identity,
        client_nat_addresses=nat,
        pki_stack=pki_stack,
        gateways=gateways,
        tls=tls,
        link_name=link_name,
    )


SERVER_OUTPUTS_PLAIN = ("ingress_address", "services")
"""What the client stack reads from the server stack."""


@dataclass(frozen=True)
class ClientStackConfig:
    """The client team's stack: its cluster, the private DNS names and the egress side."""

    namespace: str
    client: ClusterConfig
    network_policy: ClientNetworkPolicy
    fleet_project: str
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
        """What this stack states about the link: the services it reaches."""
        return LinkTerms(services=service_terms(self.services))

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
        services=services,
        dns=dns,
        pki_stack=pki_stack,
        server_stack=server_stack,
        gateways=gateways,
        link_name=link_name,
    )


def credential_from(outputs: Mapping[str, pulumi.Output[Any]], side: str) -> LinkCredentialArgs:
    """A gateway credential from the pki stack's outputs (``server`` or ``client``)."""
    return {
        "full_chain_pem": outputs[f"{side}_full_chain_pem"],
        "private_key_pem": outputs[f"{side}_private_key_pem"],
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
